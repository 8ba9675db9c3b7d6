"""A user's robot (the hexapod MJCF of tests/fixtures, in no package, + its spec) through the commands
that train.py's own tests do not cover: ``audit --breaking`` and ``compare --breaking`` over a payload
declared in the user's spec, ``eval`` of a cell on other data (task arguments on the command line), a
leaderboard recipe, and a zoo build with ``scripts/build_zoo.py`` (whose entry still loads and
evaluates after the spec file moved).  ``train``, ``eval`` and ``finetune`` run in
test_byo_robot_doc.py; ``robots infer`` in test_robots_infer.py.  Tiny data, one epoch: paths, not
accuracy."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml

from symzoo.cli import main

ROOT = Path(__file__).parents[2]
FIX = ROOT / "tests" / "fixtures" / "hexapod"
#: the payload knob of the user's spec: a sphere on the left front femur (no mirror survives)
PAYLOAD = "payload: {body: lf_femur, pos: [0.0, 0.06, 0.02], residual: C1}\n"


@pytest.fixture
def robot(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    for f in ("hexapod.xml", "hexapod.yaml"):
        shutil.copy(FIX / f, tmp_path / f)
    (tmp_path / "hexapod_payload.yaml").write_text((FIX / "hexapod.yaml").read_text() + PAYLOAD)
    return tmp_path


def test_the_payload_of_a_users_spec_is_the_tasks_breaking_knob(robot, capsys):
    from symzoo import get_task
    from symzoo.errors import SymzooError

    task = get_task("robot-com", spec="hexapod_payload.yaml", payload=0.05)
    assert task.breaking is not None and task.breaking.arg == "payload"
    assert task.breaking_strength == 0.05 and task.group.order == 1  # no mirror survives
    unbroken = task.with_breaking(0)
    assert unbroken.breaking_strength == 0 and unbroken.group.order == 2
    with pytest.raises(SymzooError, match="declares no payload"):
        get_task("robot-com", spec="hexapod.yaml", payload=1.0)
    # the audit reads the knob: residual 0 unbroken, growing with the payload
    rc = main(["audit", "robot-com", "spec=hexapod_payload.yaml", "--breaking", "0,0.01,0.1", "--json"])
    assert rc == 0, capsys.readouterr().err
    audits = json.loads(capsys.readouterr().out)["audits"]
    res = [a["residual"] for a in audits]
    assert [a["strength"] for a in audits] == [0, 0.01, 0.1]
    assert res[0] < 1e-10 < res[1] < res[2] and audits[0]["recommendation"] == "exact"


def test_a_leaderboard_recipe_takes_the_users_robot(robot, capsys):
    recipe = {
        "name": "hexapod-lb",
        "preset": "tiny",
        "seeds": 1,
        "tasks": [
            {
                "domain": "robots",
                "task": "robot-com",
                "equivariant": "emlp",
                "plain": "mlp",
                "train_sizes": [32],
                "orbit": False,
                "overrides": ["trainer.max_epochs=1", "data.task_args.spec=hexapod.yaml"],
            }
        ],
    }
    (robot / "lb.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["leaderboard", "-c", "lb.yaml", "--out", "lb", "--jobs", "1"]) == 0, capsys.readouterr().err
    (entry,) = json.loads((robot / "lb" / "leaderboard.json").read_text())["tasks"]
    assert entry["group"] == "C2" and entry["cells_done"] == entry["cells_total"] == 2  # the hexapod's
    assert entry["gain"]["plain"]["32"]["mean"] > 0


def test_a_zoo_entry_built_from_the_users_robot(robot, monkeypatch, capsys):
    """scripts/build_zoo.py on an entry whose command trains the user's robot, into a zoo folder of
    the test's own (the shipped zoo is left alone); the entry loads after the spec file moved."""
    spec = importlib.util.spec_from_file_location("build_zoo_under_test", ROOT / "scripts" / "build_zoo.py")
    assert spec is not None and spec.loader is not None
    bz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bz)
    import symzoo
    from symzoo import hub

    zoo = robot / "zoo"
    zoo.mkdir()
    command = f"symzoo train robot-com emlp data.task_args.spec={robot / 'hexapod.yaml'} --preset tiny trainer.max_epochs=1"
    entry = dict(summary="emlp for a user's hexapod", builder="emlp", kwargs={}, task="robot-com", preset="tiny",
                 recipe=None, command=command, source="bundled", files={}, license="MIT", domain="a hexapod",
                 intended_use="tests", out_of_scope="anything else", limitations="one epoch", conservation="none")  # fmt: skip
    (zoo / "registry.yaml").write_text(yaml.safe_dump({"entries": {"emlp.hexapod-com": entry}}))
    monkeypatch.setattr(bz, "ZOO", zoo)
    monkeypatch.setattr(bz, "REGISTRY", zoo / "registry.yaml")
    monkeypatch.setattr(hub, "bundled_dir", lambda: zoo)
    hub.reload_registry()
    try:
        # the entry's command, run here (build_zoo runs it in a subprocess; `--run` exports a run)
        argv = command.split()[1:] + ["--out", "work/emlp.hexapod-com"]
        assert main(argv) == 0, capsys.readouterr().err
        assert bz.main(["emlp.hexapod-com", "--run", str(robot / "work" / "emlp.hexapod-com")]) == 0
        built = yaml.safe_load((zoo / "registry.yaml").read_text())["entries"]["emlp.hexapod-com"]
        assert built["equivariance"]["group"] == "C2"
        assert built["equivariance"]["relative_error"]["sagittal"] < 1e-10
        assert set(built["files"]) == {"weights", "config", "reference"}
        # the card's data line and the metrics name the preset the weights were trained and measured on
        assert built["metrics"]["preset"] == "tiny" and "Preset `tiny`" in built["training_data"]
        # the spec moves: the entry still loads (model.json describes the group and joint reps) and
        # evaluates on the spec at its new place (task arguments on `symzoo eval`)
        (robot / "moved").mkdir()
        for f in ("hexapod.xml", "hexapod.yaml"):
            shutil.move(robot / f, robot / "moved" / f)
        model = symzoo.load_pretrained("emlp.hexapod-com")
        assert sum(p.numel() for p in model.parameters()) == built["num_parameters"]
        rc = main(["eval", "emlp.hexapod-com", "spec=moved/hexapod.yaml", "--out", "ev.json"])
        assert rc == 0, capsys.readouterr().err
        ev = json.loads((robot / "ev.json").read_text())
        assert ev["metrics"]["momentum_mse"] == pytest.approx(
            built["metrics"]["test"]["momentum_mse"], rel=1e-4
        )
    finally:
        monkeypatch.undo()
        hub.reload_registry()


def test_check_model_takes_the_users_robot(robot, capsys):
    """`symzoo check-model MODEL --task robot-com data.task_args.spec=...`: the model is checked on the
    user's robot (its 18 joints and C2), not on the shipped quadruped of the same task name."""
    rc = main(["check-model", "emlp", "--task", "robot-com", "data.task_args.spec=hexapod.yaml", "hidden=16"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "on robot-com (C2)" in out and "equivariance[sagittal]" in out and "verdict: PASS" in out
    rc = main(["check-model", "mlp", "--task", "robot-com", "data.task_args.spec=hexapod.yaml"])
    out = capsys.readouterr().out
    (line,) = [ln for ln in out.splitlines() if "equivariance[sagittal]" in ln]
    # the plain baseline claims no symmetry: measured, reported, not failed
    assert rc == 0 and line.startswith("INFO") and "not claimed" in line
    assert float(line.split("float64 ")[1].split()[0]) > 1e-3
