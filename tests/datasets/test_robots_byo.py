"""A robot of the user's own (an MJCF file + a spec, shipped in no package) through the commands:
the spec is checked against the simulator before anything is written, models are built from the
task instance (its joints and group, not the shipped robot of the same task name), and ``emlp`` is
equivariant on every element of the user's group."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

import symzoo
from symzoo.cli import main
from symzoo.modelio import load_model
from symzoo.testing import assert_equivariant, equivariance_errors

FIX = Path(__file__).parents[1] / "fixtures" / "hexapod"


def _files(tmp: Path, *specs: str) -> Path:
    """The model file and ``specs`` copied into a user folder (as a user has them)."""
    d = tmp / "myrobot"
    d.mkdir()
    for f in ("hexapod.xml", *specs):
        shutil.copy(FIX / f, d / f)
    return d


@pytest.mark.parametrize(
    "spec,joint",
    [("hexapod_reversed.yaml", "joint '"), ("hexapod_wrong_sign.yaml", "_femur'")],
)
def test_a_spec_that_disagrees_with_the_model_is_refused_before_anything_is_written(
    tmp_path, monkeypatch, capsys, spec, joint
):
    d = _files(tmp_path, spec)
    home = tmp_path / "home"
    monkeypatch.setenv("SYMZOO_HOME", str(home))
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "robot-com",
            "emlp",
            f"data.task_args.spec={d / spec}",
            "--preset",
            "tiny",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert "disagrees with the simulator" in err and "generator 'sagittal'" in err and joint in err
    assert "differs by" in err  # the size of the mismatch
    assert not out.exists()  # no run folder
    assert not (home / "datasets").exists() or not any((home / "datasets").rglob("*.npz"))  # no data


def test_the_check_runs_every_time_cached_data_or_not(tmp_path, monkeypatch):
    """Every command's task checks the spec against the simulator, also when its data are cached;
    a model file edited afterwards (one thigh heavier) is refused."""
    import symzoo.datasets.robots_tasks as rt

    from symzoo.groups import SymmetrySpecError

    d = _files(tmp_path, "hexapod.yaml")
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    calls = []
    real = rt.check_spec
    monkeypatch.setattr(rt, "check_spec", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(2):  # the second task finds the data cached
        symzoo.get_task("robot-id", spec=str(d / "hexapod.yaml")).splits("tiny")
    assert len(calls) == 2
    assert len(list((tmp_path / "home").rglob("*.npz"))) == 1
    xml = (d / "hexapod.xml").read_text()
    (d / "hexapod.xml").write_text(xml.replace('size="0.02" mass="0.12"', 'size="0.02" mass="0.2"', 1))
    with pytest.raises(SymmetrySpecError, match="generator 'sagittal'"):
        symzoo.get_task("robot-id", spec=str(d / "hexapod.yaml")).splits("tiny")


def test_joints_are_bound_by_name_not_position(tmp_path):
    """The name-bound spec with its joints listed in reverse order is the same symmetry: it passes
    the check, and the model built for it is equivariant for *its* joint order."""
    d = _files(tmp_path, "hexapod.yaml")
    raw = yaml.safe_load((d / "hexapod.yaml").read_text())
    raw["joints"] = raw["joints"][::-1]
    (d / "reversed.yaml").write_text(yaml.safe_dump(raw))
    fwd = symzoo.get_task("robot-id", spec=str(d / "hexapod.yaml"))
    rev = symzoo.get_task("robot-id", spec=str(d / "reversed.yaml"))
    assert rev.check_simulator()["sagittal"] < 1e-10
    q_f, q_r = fwd.reps["q"].matrices[1], rev.reps["q"].matrices[1]
    torch.testing.assert_close(q_r, q_f.flip(0).flip(1))  # the same action in the reversed order
    train, _, _ = rev.splits("tiny")
    model = symzoo.create_model("emlp", hidden=16, **rev.model_defaults("emlp", train))
    assert_equivariant(model, rev)
    assert model.in_dims == [18, 18, 18]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The user's robot trained with emlp and mlp through the CLI (tiny, one epoch)."""
    tmp = tmp_path_factory.mktemp("byo")
    d = _files(tmp, "hexapod.yaml")
    runs = {}
    for model in ("emlp", "mlp"):
        out = tmp / f"run-{model}"
        argv = ["train", "robot-com", model, f"data.task_args.spec={d / 'hexapod.yaml'}", "--preset", "tiny"]
        rc = main(argv + ["trainer.max_epochs=1", "model.args.hidden=32", "--quiet", "--out", str(out)])
        assert rc == 0
        runs[model] = out
    return d, runs


def test_the_users_robot_trains_with_emlp_and_mlp_through_the_cli(trained):
    d, runs = trained
    task = symzoo.get_task("robot-com", spec=str(d / "hexapod.yaml"))
    task.splits("tiny")
    for run in runs.values():
        meta = json.loads((run / "model.json").read_text())
        desc = meta["kwargs"]["task"]  # the task instance's group and fields, not a task name
        assert isinstance(desc, dict) and desc["group"] == "C2"
        assert len(desc["generators"]["sagittal"]["q"]["perm"]) == 18
        ev = json.loads((run / "eval.json").read_text())
        assert torch.isfinite(torch.tensor(ev["metrics"]["momentum_mse"]))
    emlp, mlp = load_model(runs["emlp"]), load_model(runs["mlp"])
    assert emlp.in_dims == [18, 18] and emlp.out_dims == [6]
    errs = assert_equivariant(emlp, task)  # every element of C2, float32 and float64
    assert errs[torch.float64]["sagittal"] < 1e-10
    assert min(equivariance_errors(mlp, task).values()) > 1e-3  # the plain baseline is not


def test_a_run_rebuilds_without_the_spec_file(trained, tmp_path):
    """model.json holds the representations: the run's model loads after the spec is gone."""
    d, runs = trained
    run = tmp_path / "moved"
    shutil.copytree(runs["emlp"], run)
    spec = d / "hexapod.yaml"
    saved = spec.read_text()
    spec.unlink()
    try:
        model = load_model(run)
    finally:
        spec.write_text(saved)
    assert model.symmetry == frozenset({"sagittal"})


def test_the_shipped_quadruped_of_the_same_task_name_is_not_used(tmp_path):
    """robot-com without a spec is the quadruped (16 joints); with the user's spec the model is the
    user's (18 joints): the task name does not decide the architecture."""
    d = _files(tmp_path, "hexapod.yaml")
    mine = symzoo.get_task("robot-com", spec=str(d / "hexapod.yaml"))
    default = symzoo.get_task("robot-com")
    for name in ("emlp", "mlp", "delan"):
        if name == "delan":  # delan needs inverse-dynamics fields
            mine, default = (
                symzoo.get_task("robot-id", spec=str(d / "hexapod.yaml")),
                symzoo.get_task("robot-id"),
            )
        a = symzoo.create_model(name, **mine.model_defaults(name, None))
        b = symzoo.create_model(name, **default.model_defaults(name, None))
        assert a.irreps_in["q"].startswith("18x") and not b.irreps_in["q"].startswith("18x"), name


def test_the_quadruped_with_its_joints_reversed_gets_a_k4_model_of_its_own_order(tmp_path):
    """The issue's case: a 16-joint quadruped spec listing its joints in reverse order (bound by
    name) trained an emlp of the shipped joint order.  Now the model is built for the spec's order
    and is equivariant on every element of K4."""
    from symzoo.datasets.robots import ROBOTS_DIR

    raw = yaml.safe_load((ROBOTS_DIR / "quadruped.yaml").read_text())
    joints = raw["joints"]
    for act in raw["generators"].values():
        perm, signs = act["q"]["perm"], act["q"]["signs"]
        act["q"] = {
            "perm": {j: joints[p] for j, p in zip(joints, perm)},
            "signs": {j: s for j, s in zip(joints, signs) if s < 0},
        }
    raw["joints"] = joints[::-1]
    raw.pop("payload")
    (tmp_path / "quadruped_reversed.yaml").write_text(yaml.safe_dump(raw))
    task = symzoo.get_task("robot-id", spec=str(tmp_path / "quadruped_reversed.yaml"))
    assert max(task.check_simulator().values()) < 1e-10
    train, _, _ = task.splits("tiny")
    model = symzoo.create_model("emlp", hidden=16, **task.model_defaults("emlp", train))
    task.prepare_model(model, train)
    errs = assert_equivariant(model, task)
    assert set(errs[torch.float64]) == {"sagittal", "transversal", "all"}
