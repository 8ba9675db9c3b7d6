"""docs/byo_robot.md, executed: every ``symzoo`` line of its ``bash`` blocks runs as written (in a
folder holding the tiny hexapod fixture), and the error line it quotes is the one a user gets.
The ``sh`` block (a comparison, a minute of training) is not run here."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from symzoo.cli import main

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "byo_robot.md"
FIX = ROOT / "tests" / "fixtures" / "hexapod"


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S)
    lines = [ln.strip() for b in blocks for ln in b.splitlines()]
    return [shlex.split(ln)[1:] for ln in lines if ln.startswith("symzoo ")]


def test_the_doc_has_the_commands():
    verbs = [c[0] if c[0] != "robots" else " ".join(c[:2]) for c in _commands()]
    assert verbs == ["robots infer", "robots check", "train", "train", "eval", "finetune"]


def test_the_byo_robot_commands_run_as_written(tmp_path, monkeypatch, capsys):
    for f in ("hexapod.xml", "hexapod_reversed.yaml"):
        shutil.copy(FIX / f, tmp_path / f)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for argv in _commands():
        rc = main(argv)
        out = capsys.readouterr()
        assert rc == 0, (argv, out.err)
        outputs.append(out.out)
    assert "group C2 (order 2), 18 joints" in outputs[0]
    assert "agrees with its simulator" in outputs[1]
    emlp = json.loads((tmp_path / "runs" / "hexapod-emlp" / "eval.json").read_text())
    mlp = json.loads((tmp_path / "runs" / "hexapod-mlp" / "eval.json").read_text())
    assert emlp["equivariance"]["errors"]["sagittal"] < 1e-10  # on every element of C2
    assert mlp["equivariance"]["errors"]["sagittal"] > 1e-3
    assert "sagittal" in outputs[4] and "equivariance error" in outputs[4]
    ft = json.loads((tmp_path / "runs" / "hexapod-ft" / "model.json").read_text())
    assert len(ft["kwargs"]["task"]["generators"]["sagittal"]["q"]["perm"]) == 18
    # the error line the doc quotes
    quoted = next(ln for ln in DOC.read_text().splitlines() if ln.startswith("symzoo: error: robot spec"))
    rc = main(["train", "robot-com", "emlp", "data.task_args.spec=hexapod_reversed.yaml", "--preset", "tiny"])
    assert rc == 2 and capsys.readouterr().err.strip() == quoted
    assert (
        not (tmp_path / "runs" / "robot-com-emlp").exists() and len(list((tmp_path / "runs").iterdir())) == 3
    )


@pytest.mark.parametrize("name", ["hexapod.yaml", "hexapod_wrong_sign.yaml", "hexapod_reversed.yaml"])
def test_the_fixture_specs_load(name):
    from symzoo.datasets.robots import load_spec

    assert load_spec(FIX / name).n_joints == 18
