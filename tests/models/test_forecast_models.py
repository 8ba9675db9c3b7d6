"""Attractor forecasting models: exact equivariance under each system's group (float64 <= 1e-9,
every element, through symzoo.testing), honest contracts, the ESN's closed-form fit and a harness
run of a closed-form model."""

import pytest
import torch

import symzoo
from symzoo.testing import assert_batch_consistent, assert_equivariant, equivariance_errors


@pytest.fixture(autouse=True)
def _home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path_factory.getbasetemp() / "attractors-home"))


def _model(task_name, model_name, **kw):
    task = symzoo.get_task(task_name)
    torch.manual_seed(0)
    tr, _, _ = task.splits("tiny")
    return task, symzoo.create_model(model_name, **{**task.model_defaults(model_name, tr), **kw})


EQUIVARIANT = [
    ("lorenz", "eqmlp"),
    ("chen", "eqmlp"),
    ("thomas", "eqmlp"),
    ("halvorsen", "eqmlp"),
    ("lorenz96-8", "eqmlp"),
    ("lorenz96-8", "circnet"),
]


def test_circnet_commutes_with_shifts_on_any_ring():
    from torch_geometric.data import Data

    model = symzoo.create_model("circnet").double()
    x = torch.randn(3, 4, 5, dtype=torch.float64)  # an odd ring of 5 sites
    for k in range(5):
        a = model(Data(x=torch.roll(x, k, -1)))["x_next"]
        b = torch.roll(model(Data(x=x))["x_next"], k, -1)
        assert (a - b).abs().max() <= 1e-12


@pytest.mark.parametrize("task_name,model_name", EQUIVARIANT)
def test_exactly_equivariant_under_the_systems_group(task_name, model_name):
    task, model = _model(task_name, model_name)
    assert set(model.symmetry) == set(task.group.factors)
    errs = assert_equivariant(model, task)
    assert max(errs[torch.float64].values()) <= 1e-9
    assert_batch_consistent(model, task)


@pytest.mark.parametrize("task_name", ["lorenz", "thomas", "lorenz96-8"])
@pytest.mark.parametrize("model_name", ["mlp", "node", "esn"])
def test_baselines_claim_nothing_and_are_not_equivariant(task_name, model_name):
    task, model = _model(task_name, model_name)
    assert not model.symmetry
    for f, e in equivariance_errors(model, task).items():
        assert e > 1e-6, f"{model_name} on {task_name}: factor {f} error {e:.2g}"


def test_esn_ridge_fit_and_readouts():
    task, model = _model("lorenz", "esn", reservoir=100, seed=0)
    tr, va, _ = task.splits("tiny")
    b = va.__getitems__(list(range(len(va))))
    before = ((model(b)["x_next"] - b.x_next) ** 2).mean()
    model.fit_closed_form(task, tr)
    after = ((model(b)["x_next"] - b.x_next) ** 2).mean()
    assert after < 1e-2 * before and not any(p.requires_grad for p in model.parameters())
    plain = symzoo.create_model("esn", reservoir=50, readout="bias", seed=1)
    assert plain.b.abs().max() > 0 and symzoo.create_model("esn", reservoir=50).b.abs().max() == 0
    with pytest.raises(ValueError, match="readout"):
        symzoo.create_model("esn", readout="linear")


def test_closed_form_model_through_the_harness_and_rollout(tmp_path):
    from symzoo.cli import main

    out = tmp_path / "esn"
    code = main(
        [
            "train",
            "lorenz",
            "esn",
            "--preset",
            "tiny",
            "--quiet",
            "--out",
            str(out),
            "model.args.reservoir=60",
            "trainer.tensorboard=false",
        ]
    )
    assert code == 0
    from symzoo.eval.rollout import rollout_metrics

    from symzoo.modelio import load_model

    model = load_model(out)
    task = symzoo.get_task("lorenz")
    res = rollout_metrics(model, task, steps=40, n_traj=2, preset="tiny")
    assert {"vpt", "smape_1lt", "attractor_w1"} <= set(res) and res["time_unit"] == "Lyapunov times"


def test_wrong_window_is_a_one_line_error():
    from symzoo.errors import InputError

    task, model = _model("lorenz96-8", "circnet")
    batch = task.example_batch(2)
    batch.x = batch.x[:, :2]
    with pytest.raises(InputError, match="windows"):
        model(batch)
