"""The robot models on the shipped MuJoCo robot tasks (K4 quadruped, C2 walker), built the way the
harness builds them (the task's model_defaults and prepare_model)."""

import pytest
import torch

import symzoo
from symzoo.compat import check_compatible
from symzoo.testing import assert_equivariant, equivariance_errors


def _build(name, task):
    train, _, _ = task.splits("tiny")
    model = symzoo.create_model(name.split("+")[0], **task.model_defaults(name, train))
    check_compatible(model, task)
    task.prepare_model(model, train)
    return model


@pytest.mark.parametrize(
    "task_name,model_name", [("quadruped-com", "emlp"), ("quadruped-id", "delan-eq"), ("walker-id", "emlp")]
)
def test_equivariant_models_on_robot_tasks(task_name, model_name):
    torch.manual_seed(0)
    task = symzoo.get_task(task_name)
    model = _build(model_name, task)
    assert model.symmetry == frozenset(task.group.factors)
    errs = assert_equivariant(model, task)
    assert set(errs[torch.float64]) == set(task.group.factors) | {"all"}


def test_mlp_and_delan_are_plain_baselines_on_robot_tasks():
    torch.manual_seed(0)
    task = symzoo.get_task("walker-id")
    for name in ("mlp", "delan"):
        model = _build(name, task)
        assert model.symmetry == frozenset()
        errs = equivariance_errors(model, task)
        assert min(errs.values()) > 1e-3, (name, errs)


def test_prepare_model_fits_the_scales():
    task = symzoo.get_task("walker-id")
    emlp, delan = _build("emlp", task), _build("delan", task)
    assert not torch.allclose(emlp.out_std, torch.ones_like(emlp.out_std))
    assert float(delan.scale) > 1.0  # rms torque over rms acceleration of the walker
    out = emlp.eval().export()(task.example_batch(4, dtype=torch.float32))["tau"]
    assert out.shape == (4, 6) and torch.isfinite(out).all()
