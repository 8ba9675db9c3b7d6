"""Every registered model goes through the symzoo.testing toolkit (timm's registry pattern).

Each model is paired with the first task (sorted) of its domain that lists it
(``symzoo.list_models(task=...)``, from the declared fields).  Equivariance is asserted in
float32 and float64 for exactly the factors the model claims; for the other factors of the task's
group the error must be visibly non-zero (an honest contract).
"""

import pytest
import torch

import symzoo
from symzoo.registry import _MODELS, _load_all
from symzoo.testing import assert_batch_consistent, assert_equivariant, equivariance_errors

_load_all()


def _task_for(model_name):
    """The first task (sorted) of the model's domain that lists the model (e.g. ``delan`` skips a
    robot's forward-dynamics task for its first inverse-dynamics one, ``circnet`` the attractors
    that are not rings)."""
    domain = _MODELS[model_name].domain
    tasks = [t for t in (symzoo.get_task(n) for n in symzoo.list_tasks()) if t.domain == domain]
    for task in tasks:
        if hasattr(task, "group") and model_name in symzoo.list_models(task=task):
            return task
    raise AssertionError(f"model {model_name!r} (domain {domain!r}) has no registered task of its domain")


MODELS = symzoo.list_models()


@pytest.mark.parametrize("name", MODELS)
def test_model_declares_contract(name):
    model = symzoo.create_model(name)
    assert isinstance(getattr(model, "symmetry", None), frozenset), "models declare `symmetry` (frozenset)"
    # Euclidean factors, or the named generators of a finite group (e.g. a robot's mirrors)
    allowed = {"rotation", "reflection", "translation", "permutation"} | set(_task_for(name).group.factors)
    assert set(model.symmetry) <= allowed
    assert isinstance(model.irreps_out, dict) and model.irreps_out, "models declare irreps_out"


@pytest.mark.parametrize("name", MODELS)
def test_equivariant_where_claimed(name):
    torch.manual_seed(0)
    model, task = symzoo.create_model(name), _task_for(name)
    errs = assert_equivariant(model, task)
    assert set(errs) == {torch.float32, torch.float64}


@pytest.mark.parametrize("name", MODELS)
def test_not_equivariant_where_not_claimed(name):
    model, task = symzoo.create_model(name), _task_for(name)
    unclaimed = [f for f in task.group.factors if f not in model.symmetry]
    if not unclaimed:
        pytest.skip(f"{name} claims every factor of {task.group}")
    errs = equivariance_errors(model, task, factors=unclaimed)
    for f, e in errs.items():
        assert e > 1e-6, f"{name} does not claim {f} but its error is {e:.2g}"


@pytest.mark.parametrize("name", MODELS)
def test_batch_consistency(name):
    model, task = symzoo.create_model(name), _task_for(name)
    assert_batch_consistent(model, task)
