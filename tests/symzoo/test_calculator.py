"""ASE calculator and MD stability metric, on a model trained by `symzoo train ... --preset tiny`."""

import json

import numpy as np
import pytest
import torch

import symzoo
from symzoo.errors import SymzooError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from symzoo.train.config import load_config
    from symzoo.train.run import train

    cfg = load_config(
        "rmd17-ethanol",
        "nequip",
        preset="tiny",
        overrides=["trainer.max_epochs=1", "trainer.progress_bar=false", "trainer.tensorboard=false"],
    )
    return train(cfg, str(tmp_path_factory.mktemp("runs") / "nequip-tiny"), quiet=True)


def _ethanol_atoms(i=0):
    from ase import Atoms

    d = symzoo.get_task("rmd17-ethanol").splits("tiny")[2][i]
    return Atoms(numbers=d.z.numpy(), positions=d.pos.numpy()), d


def test_tiny_training_run_and_reference_energies(run_dir):
    report = json.loads((run_dir / "eval.json").read_text())
    assert report["model"] == "nequip" and report["n_test"] == 20
    assert {"energy_mae_meV", "force_mae_meV_per_A", "force_rmse_meV_per_A"} <= set(report["metrics"])
    assert max(report["equivariance"]["errors"].values()) < 1e-9
    from symzoo.modelio import load_model

    model = load_model(run_dir)
    # reference energies were fitted on the training set before training and saved with the weights
    assert model.known_species.nonzero().flatten().tolist() == [1, 6, 8]
    assert float(model.energy_scale) != 1.0


def test_calculator_matches_the_model_and_runs_md(run_dir):
    from ase import units
    from ase.md.verlet import VelocityVerlet

    from symzoo.calculators import SymzooCalculator
    from symzoo.modelio import load_model

    atoms, d = _ethanol_atoms()
    calc = SymzooCalculator(run_dir)
    atoms.calc = calc
    model = load_model(run_dir).double().eval()
    from torch_geometric.data import Batch

    out = model(Batch.from_data_list([d]))
    assert atoms.get_potential_energy() == pytest.approx(float(out["energy"]), abs=1e-9)
    assert np.allclose(atoms.get_forces(), out["forces"].detach().numpy(), atol=1e-9)
    VelocityVerlet(atoms, 0.25 * units.fs).run(5)
    assert np.isfinite(atoms.get_potential_energy()) and calc.n_calls >= 6
    # an element the model never saw is refused with a one-line error
    from ase import Atoms

    with pytest.raises(SymzooError, match="not in this model's training data"):
        bad = Atoms("CCl", positions=[[0, 0, 0], [1.8, 0, 0]])
        bad.calc = calc
        bad.get_potential_energy()
    with pytest.raises(SymzooError, match="NaN"):
        nan = atoms.copy()
        nan.positions[0, 0] = np.nan
        nan.calc = calc
        nan.get_potential_energy()


def test_calculator_stress_on_a_periodic_cell():
    from ase.build import bulk

    from symzoo.calculators import SymzooCalculator

    torch.manual_seed(0)
    model = symzoo.create_model("schnet", channels=8, layers=1, cutoff=4.0)
    cu = bulk("Cu", "fcc", a=3.61, cubic=True)
    cu.calc = SymzooCalculator(model)
    s = cu.get_stress()
    assert s.shape == (6,) and np.allclose(s[:3], s[0]) and np.allclose(s[3:], 0.0, atol=1e-12)
    assert np.abs(cu.get_forces()).max() < 1e-10  # perfect crystal: no net force on any atom
    # finite-difference check of the pressure under isotropic strain
    e = []
    for eps in (1e-5, -1e-5):
        c = cu.copy()
        c.set_cell(cu.cell * (1 + eps), scale_atoms=True)
        c.calc = SymzooCalculator(model)
        e.append(c.get_potential_energy())
    fd = (e[0] - e[1]) / (2e-5) / cu.get_volume() / 3
    assert fd == pytest.approx(s[0], rel=1e-4, abs=1e-9)


def test_md_stability_metric():
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from symzoo.eval.md import md_stability

    cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 1))
    good = md_stability(None, cu, steps=60, timestep_fs=2.0, temperature_K=300, calculator=EMT())
    assert good["stable"] and good["steps_run"] == 60 and good["n_bonds"] == 16 * 12 // 2
    assert abs(good["energy_drift_meV_per_atom_per_ps"]) < 1.0
    assert good["max_energy_deviation_meV_per_atom"] < 1.0
    # an untrained model tears the molecule apart: the event is detected and timed
    torch.manual_seed(0)
    atoms, _ = _ethanol_atoms()
    bad = md_stability(
        symzoo.create_model("schnet", channels=8, layers=1),
        atoms,
        steps=400,
        timestep_fs=1.0,
        temperature_K=300,
        log_every=20,
    )
    assert not bad["stable"] and bad["time_to_event_ps"] is not None and bad["time_to_event_ps"] <= 0.4
    assert bad["event"]


def test_calculator_is_an_ase_calculator_that_pickles_and_refuses_molecular_stress():
    import pickle

    from ase.calculators.calculator import Calculator, PropertyNotImplementedError

    from symzoo.calculators import SymzooCalculator

    assert issubclass(SymzooCalculator, Calculator)
    torch.manual_seed(0)
    calc = SymzooCalculator(symzoo.create_model("schnet", channels=8, layers=1, cutoff=4.0))
    atoms, _ = _ethanol_atoms()
    atoms.calc = calc
    e = atoms.get_potential_energy()
    with pytest.raises(PropertyNotImplementedError, match="periodic"):
        atoms.get_stress()
    again = pickle.loads(pickle.dumps(calc))
    assert isinstance(again, SymzooCalculator) and isinstance(again, Calculator)
    fresh = atoms.copy()
    fresh.calc = again
    assert fresh.get_potential_energy() == pytest.approx(e, abs=1e-10)
