"""Atomistic tasks: rMD17 units and splits, the data search path, extxyz loading and its errors,
the offline EMT copper task, the canonical-frame restriction and the loss/metrics."""

import numpy as np
import pytest
import torch
from symzoo.datasets.atoms import KCAL_MOL_TO_EV, find_data, read_structures

import symzoo
from symzoo.errors import InputError, SymzooError


def _rmd17_file(kind="train"):
    return find_data(f"rmd17/rmd17_ethanol_{kind}_01.npz")


def test_rmd17_units_and_splits():
    task = symzoo.get_task("rmd17-ethanol")
    train, val, test = task.splits("tiny")
    assert (len(train), len(val), len(test)) == (20, 10, 20)
    with np.load(_rmd17_file("test")) as f:
        e0, f0, z = f["energies"][0], f["forces"][0], f["nuclear_charges"]
    assert test[0].energy.shape == (1,) and test[0].forces.shape == (9, 3)
    assert float(test[0].energy) == pytest.approx(e0 * KCAL_MOL_TO_EV, rel=1e-12)
    assert np.allclose(test[0].forces.numpy(), f0 * KCAL_MOL_TO_EV)
    assert test[0].z.tolist() == z.tolist()
    # train and validation frames are disjoint and come from the train file
    key = lambda d: float(d.energy)  # noqa: E731
    assert not {key(d) for d in train} & {key(d) for d in val}
    small = symzoo.get_task("rmd17-ethanol", train_size=100, n_val=7)
    tr, va, te = small.splits("small")
    assert (len(tr), len(va), len(te)) == (100, 7, 1000)
    assert task.needs_grad and task.perm_labels == "z"
    assert task.units["force_mae_meV_per_A"] == "meV/Å"


def test_unknown_molecule_and_search_path(tmp_path, monkeypatch):
    with pytest.raises(SymzooError, match="did you mean 'ethanol'"):
        symzoo.get_task("rmd17-ethanoll")
    # data.task_args.root and $SYMZOO_DATA come before the bundled package data
    (tmp_path / "rmd17").mkdir()
    src = _rmd17_file("train")
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["energies"] = arrays["energies"] + 1.0
    for kind in ("train", "test"):
        np.savez(tmp_path / "rmd17" / f"rmd17_ethanol_{kind}_01.npz", **arrays)
    t = symzoo.get_task("rmd17-ethanol", root=str(tmp_path))
    assert float(t.splits("tiny")[2][0].energy) == pytest.approx((arrays["energies"][0]) * KCAL_MOL_TO_EV)
    monkeypatch.setenv("SYMZOO_DATA", str(tmp_path))
    assert find_data("rmd17/rmd17_ethanol_train_01.npz") == tmp_path / "rmd17" / "rmd17_ethanol_train_01.npz"
    with pytest.raises(SymzooError, match="not found"):
        find_data("rmd17/rmd17_nothing_train_01.npz", root=str(tmp_path))
    # an npz without forces is refused in one line
    del arrays["forces"]
    np.savez(tmp_path / "noforces.npz", **arrays)
    with pytest.raises(InputError, match="no forces"):
        read_structures(tmp_path / "noforces.npz")


def _write_xyz(path, n=12, forces=True, seed=0):
    from ase.build import molecule
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        at = molecule("H2O")
        at.positions += rng.normal(scale=0.05, size=at.positions.shape)
        at.calc = EMT()
        e, f = at.get_potential_energy(), at.get_forces()
        at.calc = SinglePointCalculator(at, energy=e, **({"forces": f} if forces else {}))
        frames.append(at)
    write(str(path), frames, format="extxyz")
    return frames


def test_xyz_task_and_missing_forces(tmp_path):
    frames = _write_xyz(tmp_path / "water.xyz")
    task = symzoo.get_task("xyz", path=str(tmp_path / "water.xyz"))
    train, val, test = task.splits("tiny")
    assert len(test) == 1 and len(val) == 5 and len(train) == 12 - 1 - 5
    energies = sorted(float(d.energy) for d in train + val + test)
    assert np.allclose(energies, sorted(a.get_potential_energy() for a in frames))
    _write_xyz(tmp_path / "noforces.xyz", n=3, forces=False)
    with pytest.raises(InputError, match="structure 0 has no forces"):
        symzoo.get_task("xyz", path=str(tmp_path / "noforces.xyz"))
    with pytest.raises(SymzooError, match="does not exist"):
        symzoo.get_task("xyz", path=str(tmp_path / "missing.xyz"))
    with pytest.raises(SymzooError, match="needs a file"):
        symzoo.get_task("xyz").splits("tiny")


def test_3bpa_reads_extxyz():
    task = symzoo.get_task("3bpa")
    train, val, test = task.splits("tiny")
    assert train[0].pos.shape == (27, 3) and not hasattr(train[0], "cell")
    assert -17700 < float(train[0].energy) < -17600  # eV


def test_emt_copper_is_periodic_and_cached():
    task = symzoo.get_task("emt-cu")
    train, val, test = task.splits("tiny")
    assert (len(train), len(val), len(test)) == (24, 8, 16)
    d = train[0]
    assert d.cell.shape == (1, 3, 3) and d.pbc.all() and (d.z == 29).all() and d.pos.shape == (32, 3)
    assert "cell" in task.input_fields
    again = symzoo.get_task("emt-cu").splits("tiny")[2]
    assert torch.equal(again[0].pos, test[0].pos)  # read back from the cache
    # EMT forces on a periodic cell sum to zero
    assert float(d.forces.sum(0).abs().max()) < 1e-8


def test_restrict_rotates_structures_and_forces_together():
    task = symzoo.get_task("rmd17-ethanol")
    train = task.splits("tiny")[0][:5]
    moved = task.restrict(train)
    for a, b in zip(train, moved):
        p = b.pos - b.pos.mean(0)
        cov = p.T @ p
        assert torch.allclose(
            cov - torch.diag(torch.diagonal(cov)), torch.zeros(3, 3, dtype=cov.dtype), atol=1e-9
        )
        assert torch.allclose(torch.cdist(a.pos, a.pos), torch.cdist(b.pos, b.pos), atol=1e-9)
        # forces rotate with the frame: the force-position inner products are unchanged
        qa = ((a.pos - a.pos.mean(0)) * a.forces).sum()
        assert float(qa) == pytest.approx(float((p * b.forces).sum()), abs=1e-9)
        assert float(a.energy) == float(b.energy)


def test_loss_and_metrics_units():
    from torch_geometric.data import Batch

    task = symzoo.get_task("rmd17-ethanol")
    batch = Batch.from_data_list(task.splits("tiny")[2][:2])
    out = {"energy": batch.energy + 0.009, "forces": batch.forces + 0.002}
    m = task.metrics(out, batch)
    assert float(m["energy_mae_meV"]) == pytest.approx(9.0, rel=1e-6)
    assert float(m["energy_per_atom_mae_meV"]) == pytest.approx(1.0, rel=1e-6)
    assert float(m["force_mae_meV_per_A"]) == pytest.approx(2.0, rel=1e-6)
    assert float(m["force_rmse_meV_per_A"]) == pytest.approx(2.0, rel=1e-6)
    assert float(task.loss(out, batch)) == pytest.approx(1e-6 + 4e-6, rel=1e-6)


def test_data_ships_with_the_package_and_is_found_without_any_setting(monkeypatch):
    """The search path is root, $SYMZOO_DATA, the bundled files, SYMZOO_HOME/datasets: nothing
    outside the package (the project's own ../shared) is ever looked at."""
    from symzoo.datasets.atoms import BUNDLED_DATA, RMD17_SHA256, data_search_path

    from symzoo.paths import sha256_file

    monkeypatch.delenv("SYMZOO_DATA", raising=False)
    places = data_search_path()
    assert places[0] == BUNDLED_DATA and len(places) == 2
    assert not any("shared" in p.parts for p in places)
    assert find_data("rmd17/rmd17_ethanol_train_01.npz").parent == BUNDLED_DATA / "rmd17"
    assert find_data("3bpa/train_300K.xyz").parent == BUNDLED_DATA / "3bpa"
    assert (BUNDLED_DATA / "rmd17" / "LICENSE").is_file() and (BUNDLED_DATA / "3bpa" / "LICENSE").is_file()
    bundled = sorted(p.name for p in (BUNDLED_DATA / "rmd17").glob("*.npz"))
    assert bundled == sorted(RMD17_SHA256) and len(bundled) == 14
    assert (
        sha256_file(BUNDLED_DATA / "rmd17" / "rmd17_ethanol_test_01.npz")
        == RMD17_SHA256["rmd17_ethanol_test_01.npz"]
    )


def _write_ref_xyz(path, n=12):
    """Frames whose calculator results (``energy``/``forces``, moved there by ASE's reader) differ
    from the reference labels ``REF_energy``/``REF_forces`` (+100 eV, forces + 1 eV/Å)."""
    from ase.build import molecule
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    rng = np.random.default_rng(1)
    frames, ref = [], []
    for _ in range(n):
        at = molecule("H2O")
        at.positions += rng.normal(scale=0.05, size=at.positions.shape)
        e, f = float(rng.normal()), rng.normal(size=(3, 3))
        at.info["REF_energy"] = e + 100.0
        at.arrays["REF_forces"] = f + 1.0
        at.calc = SinglePointCalculator(at, energy=e, forces=f)
        frames.append(at)
        ref.append((e + 100.0, f + 1.0, e, f))
    write(str(path), frames, format="extxyz")
    return ref


def test_xyz_honours_energy_and_forces_keys_next_to_calculator_results(tmp_path):
    ref = _write_ref_xyz(tmp_path / "ref.xyz")
    got = read_structures(tmp_path / "ref.xyz", energy_key="REF_energy", forces_key="REF_forces")
    for d, (e_ref, f_ref, _, _) in zip(got, ref):
        assert float(d.energy) == pytest.approx(e_ref, abs=1e-6)
        assert np.allclose(d.forces.numpy(), f_ref, atol=1e-6)
    # the default keys still read the calculator results
    plain = read_structures(tmp_path / "ref.xyz")
    assert float(plain[0].energy) == pytest.approx(ref[0][2], abs=1e-6)
    assert np.allclose(plain[0].forces.numpy(), ref[0][3], atol=1e-6)
    task = symzoo.get_task(
        "xyz", path=str(tmp_path / "ref.xyz"), energy_key="REF_energy", forces_key="REF_forces"
    )
    tr, va, te = task.splits("tiny")
    assert sorted(float(d.energy) for d in tr + va + te) == pytest.approx(sorted(r[0] for r in ref), abs=1e-6)
    # a requested key that is missing is a one-line error naming the keys the file has
    with pytest.raises(InputError, match="no energy 'DFT_energy'.*'REF_energy'") as e:
        read_structures(tmp_path / "ref.xyz", energy_key="DFT_energy")
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="no forces 'DFT_forces'.*'REF_forces'"):
        read_structures(tmp_path / "ref.xyz", energy_key="REF_energy", forces_key="DFT_forces")
