"""``Task.finalize_model``: the harness calls it once on the exported weights, after fitting.

For atoms tasks it re-fits the constant (per-species reference) part of the trained energy on the
training frames: forces unchanged, zero mean training energy error, the shift saved in
``model.safetensors`` (and recorded in ``eval.json``), applied once on resume; a no-op elsewhere."""

import json

import pytest
import torch
from torch_geometric.data import Batch

import symzoo
from symzoo.cli import main
from symzoo.modelio import load_model

FAST = [
    "--preset",
    "tiny",
    "--quiet",
    "trainer.max_epochs=2",
    "trainer.check_val_every_n_epoch=1",
    "trainer.tensorboard=false",
    "trainer.threads=1",
    "model.args.channels=8",
    "model.args.layers=1",
]


def _energy_forces(model, items):
    model.eval()
    out = model(Batch.from_data_list(items))
    return out["energy"].detach().double(), out["forces"].detach()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fin") / "run"
    assert main(["train", "rmd17-ethanol", "painn", "--out", str(out), *FAST]) == 0
    return out


def _before_finalize(run):
    """The exported model with the best checkpoint's weights (before ``finalize_model``)."""
    ck = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    model = load_model(run)
    model.load_state_dict({k[len("model.") :]: v for k, v in ck.items() if k.startswith("model.")})
    return model


def test_training_run_saves_the_refit_and_keeps_forces(run):
    task = symzoo.get_task("rmd17-ethanol", preset="tiny")
    train = task.splits("tiny")[0]
    ev = json.loads((run / "eval.json").read_text())
    fin = ev["finalize"]
    assert fin["species"] == [1, 6, 8] and len(fin["shift_eV"]) == 3
    after, before = load_model(run), _before_finalize(run)  # symzoo's loading of the saved weights
    delta = (after.atomic_reference - before.atomic_reference).double()
    assert torch.allclose(delta[[1, 6, 8]], torch.tensor(fin["shift_eV"], dtype=torch.float64), atol=1e-5)
    e1, f1 = _energy_forces(after, train)
    e0, f0 = _energy_forces(before, train)
    assert torch.equal(f1, f0)  # a constant per species: forces identical
    ref = torch.cat([d.energy for d in train]).double()
    assert abs(float((e0 - ref).mean()) - (-fin["mean_error_eV"])) < 2e-3
    assert abs(float((e1 - ref).mean())) < 2e-3  # train-set mean energy error ~ 0 after
    # the test metrics of eval.json are those of the saved weights (symzoo eval reproduces them)
    from symzoo.eval.evaluate import evaluate_dataset

    m = evaluate_dataset(after, task, task.splits("tiny")[2])
    assert m["energy_mae_meV"] == pytest.approx(ev["metrics"]["energy_mae_meV"], rel=1e-4, abs=1e-3)


def test_resume_applies_the_refit_once(run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    assert main(["train", "--resume", str(copy), "--quiet"]) == 0  # finished: re-exports
    fin = json.loads((copy / "eval.json").read_text())["finalize"]
    delta = (load_model(copy).atomic_reference - _before_finalize(copy).atomic_reference).double()
    assert torch.allclose(delta[[1, 6, 8]], torch.tensor(fin["shift_eV"], dtype=torch.float64), atol=1e-5)
    assert torch.equal(load_model(copy).atomic_reference, load_model(run).atomic_reference)


def test_mixture_gets_a_per_species_least_squares():
    task = symzoo.get_task("rmd17-multi", preset="tiny", molecules="ethanol,malonaldehyde,uracil")
    train = task.splits("tiny")[0]
    model = symzoo.create_model("painn", channels=8, layers=1)
    task.prepare_model(model, train)
    with torch.no_grad():  # a drift of the constant part, different per species
        model.atomic_reference[[1, 6, 7, 8]] += torch.tensor([0.3, -0.2, 0.5, 0.1])
    _, f0 = _energy_forces(model, train)
    info = task.finalize_model(model, train)
    assert info is not None and info["species"] == [1, 6, 7, 8]
    e1, f1 = _energy_forces(model, train)
    assert torch.equal(f1, f0)
    err = e1 - torch.cat([d.energy for d in train]).double()
    mol = torch.tensor([int(d.molecule) for d in train])
    for m in range(3):  # three compositions, four species: each molecule's mean error is fitted
        assert abs(float(err[mol == m].mean())) < 2e-3


def test_no_op_for_other_tasks_and_models():
    nbody = symzoo.get_task("nbody-charged", preset="tiny")
    model = symzoo.create_model("egnn", hidden=8, layers=1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert nbody.finalize_model(model, nbody.splits("tiny")[0]) is None
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    eth = symzoo.get_task("rmd17-ethanol", preset="tiny")
    train = eth.splits("tiny")[0]
    mlp = symzoo.create_model("mlp", **eth.model_defaults("mlp", train))
    assert eth.finalize_model(mlp, train) is None  # no per-species reference energies
    fresh = symzoo.create_model("painn", channels=8, layers=1)  # never fitted: nothing to re-fit
    assert eth.finalize_model(fresh, train) is None
