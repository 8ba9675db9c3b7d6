"""Robot models from a task *instance*: the JSON description of its group and fields
(``describe_robot_fields``, what ``Task.model_defaults`` passes and ``model.json`` records) builds
the same model as the task object, survives JSON, and keeps non-permutation actions exact."""

import json
import math

import pytest
import torch
from robot_toys import ToyRobotTask
from symzoo.models.emlp import describe_robot_fields, emlp, robot_fields, robot_model_defaults

import symzoo
from symzoo.groups import signed_permutation_group
from symzoo.task import Field
from symzoo.testing import assert_equivariant


@pytest.mark.parametrize("group,kind", [("C2", "com"), ("K4", "id"), ("D4", "id")])
def test_the_description_builds_the_same_model_as_the_task(group, kind):
    task = ToyRobotTask(group, kind)
    desc = json.loads(json.dumps(describe_robot_fields(task)))  # what model.json holds
    assert desc["group"] == group and set(desc["inputs"]) == set(task.input_fields)
    a, b = emlp(task=task, hidden=16), emlp(task=desc, hidden=16)
    assert a.state_dict().keys() == b.state_dict().keys()
    b.load_state_dict(a.state_dict())  # the same architecture: the same function of the weights
    batch = task.example_batch(5, dtype=torch.float32)
    for k, v in a(batch).items():
        torch.testing.assert_close(b(batch)[k], v)
    assert b.symmetry == frozenset(task.group.factors)
    assert_equivariant(b, task)


def test_model_defaults_pass_the_instance_not_its_name():
    task = ToyRobotTask("K4", "com")
    for name in ("emlp", "mlp", "mlp+aug"):
        args = robot_model_defaults(task, name)
        assert isinstance(args["task"], dict)
        model = symzoo.create_model(name.split("+")[0], **args)
        assert model.in_dims == [8, 8]
    assert robot_model_defaults("quadruped-com", "emlp") == {"task": "quadruped-com"}  # published entries
    assert robot_model_defaults(task, "egnn") == {}


def test_a_rotation_that_is_no_permutation_is_kept_exactly():
    """C6 on a hexagonal robot: the momentum's 60° turn is written as a matrix, not {perm, signs}."""
    c, s = math.cos(math.pi / 3), math.sin(math.pi / 3)
    rot = [[c, -s, 0, 0, 0, 0], [s, c, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]]
    rot += [[0, 0, 0, c, -s, 0], [0, 0, 0, s, c, 0], [0, 0, 0, 0, 0, 1]]
    shift = {"perm": [5, 0, 1, 2, 3, 4]}
    grp, reps = signed_permutation_group("C6", {"turn": {"q": shift, "v": shift, "momentum": rot}})
    task = ToyRobotTask("C2", "com")
    task.group = grp
    task.input_fields = {"q": Field(reps["q"], "graph"), "qd": Field(reps["v"], "graph")}
    task.output_fields = {"momentum": Field(reps["momentum"], "graph")}
    desc = json.loads(json.dumps(describe_robot_fields(task)))
    assert desc["generators"]["turn"]["q"] == {"perm": [5, 0, 1, 2, 3, 4], "signs": [1] * 6}
    assert isinstance(desc["generators"]["turn"]["momentum"], list)
    group, _, outs = robot_fields(desc)
    torch.testing.assert_close(outs["momentum"].matrices, reps["momentum"].matrices)


def test_a_broken_description_is_one_sentence():
    with pytest.raises(ValueError, match="missing"):
        emlp(task={"group": "C2"})
    bad = describe_robot_fields(ToyRobotTask("C2", "com"))
    bad["inputs"]["q"] = "nope"
    with pytest.raises(ValueError, match="no generator actions"):
        emlp(task=bad)


@pytest.mark.parametrize("name", ["emlp", "mlp", "delan-eq"])
def test_a_model_built_from_a_task_object_saves_and_loads(tmp_path, name):
    from symzoo.modelio import load_model, save_model

    task = ToyRobotTask("K4", "id")
    extra = {"target": "robot"} if name == "mlp" else {}
    model = symzoo.create_model(name, task=task, hidden=8, **extra)
    assert isinstance(model.builder_kwargs["task"], dict)  # recorded as data, not as an object
    save_model(model, tmp_path, {"task": task.name})
    back = load_model(tmp_path)
    batch = task.example_batch(3, dtype=torch.float32)
    torch.testing.assert_close(back(batch)["tau"], model.eval()(batch)["tau"])


def test_double_on_one_model_leaves_the_next_alone():
    """escnn shares sampled bases between layers of equal representations; each emlp owns its own,
    so ``.double()`` (``trainer.precision=64``) on one model does not break the next one built."""
    task = ToyRobotTask("K4", "id")
    a = emlp(task=task, hidden=8).double()
    b = emlp(task=task, hidden=8).eval()  # expands its float32 basis: failed before
    assert b(task.example_batch(2, dtype=torch.float32))["tau"].dtype == torch.float32
    assert a.eval()(task.example_batch(2))["tau"].dtype == torch.float64
