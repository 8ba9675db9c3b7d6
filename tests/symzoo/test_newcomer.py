"""What a first user hits: the README's commands, the listings, help and pipes (issue 10)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import symzoo
from symzoo.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _env():
    return {**os.environ, "PYTHONWARNINGS": "ignore"}


def test_readme_equivariance_one_liner_runs():
    # the one-liner moved with the symmetry section from the README to the docs site (issue 25)
    readme = (ROOT / "docs" / "symmetry.md").read_text()
    (cmd,) = re.findall(
        r'`python -c "(import symzoo; from symzoo.testing import equivariance_errors[^"]+)"`', readme
    )
    r = subprocess.run([sys.executable, "-c", cmd], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "'egnn'" in r.stdout and "'rotation'" in r.stdout


def test_list_models_by_domain():
    nbody = symzoo.list_models(domain="nbody")
    assert {"egnn", "gnn", "mlp", "linear"} <= set(nbody)
    assert "nequip" not in nbody and "nequip" in symzoo.list_models()


def test_list_tasks_shows_the_members_of_task_families(capsys):
    names = symzoo.list_tasks()
    assert {"rmd17-aspirin", "rmd17-ethanol", "rmd17-uracil", "chain-pendulum-3"} <= set(names)
    assert main(["list", "tasks"]) == 0
    out = capsys.readouterr().out
    for m in ("aspirin", "malonaldehyde", "naphthalene", "salicylic", "toluene", "uracil"):
        assert re.search(rf"^  rmd17-{m} .*\(family rmd17-\*\)$", out, re.M), m
    assert symzoo.get_task("rmd17-aspirin").name == "rmd17-aspirin"


def test_train_help_lists_the_config_keys(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "nbody-charged", "egnn", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "config keys" in out and "for nbody-charged egnn" in out
    for key in ("optim.lr = ", "trainer.max_epochs = ", "data.batch_size = ", "model.args.hidden = "):
        assert key in out, key
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "trainer.ema_decay = None" in capsys.readouterr().out


class _ClosedPipe:
    def write(self, s):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_is_quiet_in_process(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["list"]) == 141
    assert capsys.readouterr().err == ""


def test_broken_pipe_is_quiet_from_the_shell():
    """``symzoo zoo cards ... | head -1``: the reader is gone before symzoo writes."""
    p = subprocess.Popen(
        [sys.executable, "-m", "symzoo", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )
    p.stdout.close()  # like `| head` exiting early
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141
    assert err == "", err
