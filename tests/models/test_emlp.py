"""emlp (escnn equivariant MLP) and the robot mlp on toy signed-permutation tasks (C2, K4, D4)."""

import pytest
import torch
from robot_toys import ToyRobotTask
from symzoo.models.emlp import EMLP, ExportedEMLP, RobotMLP, emlp, robot_mlp
from torch import nn

from symzoo.testing import assert_batch_consistent, assert_equivariant, equivariance_errors

GROUPS = ["C2", "K4", "D4"]


@pytest.fixture(scope="module")
def tasks():
    return {
        (g, k): ToyRobotTask(g, k) for g in GROUPS for k in ("id", "com") if not (g == "D4" and k == "com")
    }


@pytest.mark.parametrize(
    "group,kind", [("C2", "id"), ("K4", "id"), ("D4", "id"), ("C2", "com"), ("K4", "com")]
)
def test_emlp_equivariant_on_every_element(tasks, group, kind):
    torch.manual_seed(0)
    task = tasks[group, kind]
    model = emlp(task=task, hidden=32, layers=2)
    assert model.symmetry == frozenset(task.group.factors)
    errs = assert_equivariant(model, task)  # every element of the group, float32 and float64
    assert set(errs[torch.float64]) == set(task.group.factors) | {"all"}
    assert_batch_consistent(model, task)


def test_emlp_hidden_is_whole_regular_reps(tasks):
    model = emlp(task=tasks["K4", "id"], hidden=30, layers=1)
    assert model.net[0].out_type.size == 32  # ceil(30 / 4) regular representations of K4


def test_emlp_standardization_stays_equivariant(tasks):
    torch.manual_seed(1)
    task = tasks["K4", "com"]
    model = emlp(task=task, hidden=16)
    g = torch.Generator().manual_seed(3)
    data = {
        "q": torch.randn(50, 8, generator=g) * 2 + 1,
        "qd": torch.randn(50, 8, generator=g) * torch.arange(1, 9),
        "momentum": torch.randn(50, 6, generator=g) * 3 - 2,
    }
    model.fit_normalization(data)
    assert not torch.allclose(model.in_std, torch.ones(16))
    assert_equivariant(model, task)


def test_export_to_plain_torch(tasks):
    torch.manual_seed(2)
    task = tasks["K4", "id"]
    model = emlp(task=task, hidden=16).eval()
    model.fit_normalization(
        {"q": torch.randn(20, 8) + 0.5, "qd": torch.randn(20, 8), "tau": torch.randn(20, 8)}
    )
    exported = model.export()
    assert isinstance(exported, ExportedEMLP)
    assert all(type(m).__module__.startswith("torch.nn") for m in exported.net.modules())
    batch = task.example_batch(4, dtype=torch.float32)
    torch.testing.assert_close(exported(batch)["tau"], model(batch)["tau"], atol=1e-6, rtol=1e-5)
    assert_equivariant(exported, task)
    # the exported module is a plain state dict of Linear weights (deployable without escnn)
    assert {k.split(".")[-1] for k in exported.net.state_dict()} == {"weight", "bias"}


def test_robot_mlp_is_not_equivariant(tasks):
    torch.manual_seed(0)
    for kind in ("id", "com"):
        task = tasks["K4", kind]
        model = robot_mlp(task=task, hidden=32)
        assert isinstance(model, RobotMLP) and model.symmetry == frozenset()
        errs = equivariance_errors(model, task)
        assert min(errs.values()) > 1e-3, errs
        assert_batch_consistent(model, task)


def test_emlp_bad_arguments(tasks):
    task = tasks["C2", "id"]
    with pytest.raises(ValueError, match="hidden"):
        emlp(task=task, hidden=0)
    with pytest.raises(ValueError, match="activation"):
        emlp(task=task, act="tanh")
    from symzoo.symmetry import EuclideanRep  # noqa: F401  (a non-finite rep is refused)
    from symzoo.task import Field

    bad = ToyRobotTask("C2", "id")
    bad.input_fields = {**bad.input_fields, "pos": Field("vector", "graph")}
    with pytest.raises(ValueError, match="MatrixRep"):
        emlp(task=bad)
    assert isinstance(EMLP, type) and issubclass(EMLP, nn.Module)


def test_state_dict_and_copies_do_not_depend_on_the_mode(tasks):
    import copy

    torch.manual_seed(0)
    task = tasks["C2", "id"]
    model = emlp(task=task, hidden=16)
    batch = task.example_batch(3, dtype=torch.float32)
    model(batch)["tau"].sum().backward()
    keys_train = set(model.state_dict())
    model.eval()
    assert set(model.state_dict()) == keys_train  # escnn's eval cache is not saved
    copy.deepcopy(model)  # the cache is detached
    other = emlp(task=task, hidden=16).eval()
    other.load_state_dict(model.state_dict())  # loading in eval mode rebuilds the cache
    torch.testing.assert_close(other(batch)["tau"], model(batch)["tau"])


def test_escnn_names_are_fixed_by_the_matrices():
    # escnn layers name their buffers after the representations: saved weights must load in a
    # new process, so a representation's escnn name depends on its matrices only
    a, b = ToyRobotTask("K4", "id"), ToyRobotTask("K4", "id")
    ra, rb = a.input_fields["q"].rep, b.input_fields["q"].rep
    assert ra is not rb and ra.escnn_rep().name == rb.escnn_rep().name
    assert a.input_fields["q"].rep.escnn_rep().name != a.output_fields["tau"].rep.escnn_rep().name or (
        torch.equal(a.input_fields["q"].rep.matrices, a.output_fields["tau"].rep.matrices)
    )
    assert set(emlp(task=a, hidden=8).state_dict()) == set(emlp(task=b, hidden=8).state_dict())
