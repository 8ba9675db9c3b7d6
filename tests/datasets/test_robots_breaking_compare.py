"""``symzoo compare --breaking`` over the payload declared in a user's robot spec (the hexapod of
tests/fixtures), and ``symzoo eval`` of an unbroken cell on the payload data (task arguments on the
command line).  Tiny data, one epoch: paths, not accuracy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from symzoo.cli import main

FIX = Path(__file__).parents[1] / "fixtures" / "hexapod"
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


def test_compare_breaking_and_eval_on_other_data(robot, capsys):
    rc = main(["compare", "robot-com", "data.task_args.spec=hexapod_payload.yaml", "trainer.max_epochs=1",
               "--models", "emlp,mlp", "--train-sizes", "32", "--seeds", "1", "--preset", "tiny", "--no-orbit",
               "--breaking", "0,0.1", "--jobs", "1", "--threads", "1", "--out", "cmp"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((robot / "cmp" / "results.json").read_text())
    assert doc["breaking"]["knob"] == "payload" and doc["breaking"]["strengths"] == [0.0, 0.1]
    cells = {(c["model"], c["breaking"]) for c in doc["cells"] if c.get("status") == "ok"}
    assert cells == {("emlp", 0.0), ("emlp", 0.1), ("mlp", 0.0), ("mlp", 0.1)}
    # an unbroken cell evaluated on the payload data (task arguments on `symzoo eval`): its own
    # record stays, the other evaluation goes beside it
    (run,) = (robot / "cmp" / "cells" / "emlp").glob("n32-s0-b0")
    own = json.loads((run / "eval.json").read_text())
    assert main(["eval", str(run), "payload=0.1"]) == 0, capsys.readouterr().err
    assert json.loads((run / "eval.json").read_text()) == own
    (other,) = run.glob("eval-robot-com-tiny-*.json")
    rep = json.loads(other.read_text())
    assert rep["task_args"]["payload"] == 0.1 and rep["task_args"]["spec"] == "hexapod_payload.yaml"
    assert rep["metrics"]["momentum_mse"] != own["metrics"]["momentum_mse"]
    # the model keeps the robot's mirror (measured on the unbroken data, the payload data's group is C1)
    assert own["equivariance"]["errors"]["sagittal"] < 1e-10 and "sagittal" in rep["equivariance"]["claimed"]


def test_a_model_of_the_unbroken_group_fits_the_payload_data(robot):
    """The contract check: the task's residual (C1) representation is the model's (C2) restricted to
    a subgroup, so emlp built for the robot's group runs on payload data; not the other way round."""
    from symzoo import get_task
    from symzoo.contract import rep_fits

    unbroken = get_task("robot-com", spec="hexapod_payload.yaml")
    broken = unbroken.with_breaking(0.1)
    assert unbroken.reps["q"].group.order == 2 and broken.reps["q"].group.order == 1
    assert rep_fits(unbroken.reps["q"], broken.reps["q"])  # model C2, task C1
    assert not rep_fits(broken.reps["q"], unbroken.reps["q"])  # a C1 model claims nothing of C2's data
