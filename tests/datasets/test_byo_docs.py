"""docs/byo_molecule.md, docs/byo_ode.md and docs/byo_flow.md, executed: in a fresh folder, every
``python`` block runs (it writes the tiny data), then every ``symzoo`` line of the ``bash`` blocks
runs as written; an error line a page quotes is the one a user gets.  ``sh`` blocks (downloads,
longer runs, optional extras) are not run."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from symzoo.cli import main

DOCS = Path(__file__).parents[2] / "docs"


def _blocks(page: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


def _commands(page: str) -> list[list[str]]:
    lines = [ln.strip() for b in _blocks(page, "bash") for ln in b.splitlines()]
    return [shlex.split(ln)[1:] for ln in lines if ln.startswith("symzoo ")]


def _quoted_error(page: str) -> str:
    return next(ln for b in _blocks(page, "text") for ln in b.splitlines() if ln.startswith("symzoo: error:"))


def _run_page(page: str, tmp_path, monkeypatch, capsys) -> list[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    for code in _blocks(page, "python"):
        exec(compile(code, page, "exec"), {"__name__": "__doc__"})
    outputs = []
    for argv in _commands(page):
        rc = main(argv)
        out = capsys.readouterr()
        assert rc == 0, (argv, out.err)
        outputs.append(out.out)
    return outputs


def test_byo_molecule_page(tmp_path, monkeypatch, capsys):
    assert [c[0] for c in _commands("byo_molecule.md")] == ["train", "eval", "train", "eval", "eval"]
    outputs = _run_page("byo_molecule.md", tmp_path, monkeypatch, capsys)
    xyz = json.loads((tmp_path / "runs" / "ethanol-xyz" / "eval.json").read_text())
    npz = json.loads((tmp_path / "runs" / "ethanol-npz" / "eval.json").read_text())
    # the same frames in the same units: the same data, whichever file
    assert xyz["n_test"] == npz["n_test"] == 4
    assert "force_mae_meV_per_A" in outputs[1] and "nequip on rmd17-ethanol" in outputs[3]
    mine = json.loads((tmp_path / "runs" / "schnet-on-my-file.json").read_text())  # a zoo entry, your file
    assert mine["task"] == "xyz" and mine["task_args"] == {"path": "ethanol_eV.xyz"}
    assert mine["metrics"]["force_mae_meV_per_A"] < 200  # read in eV: the ethanol model's own error
    # the npz without its units: the quoted refusal, and no run folder
    rc = main(["train", "xyz", "schnet", "data.task_args.path=ethanol_eV.npz", "--preset", "tiny",
               "--out", "runs/refused"])  # fmt: skip
    assert rc == 2 and capsys.readouterr().err.strip() == _quoted_error("byo_molecule.md")
    assert not (tmp_path / "runs" / "refused").exists()


def test_byo_ode_page(tmp_path, monkeypatch, capsys):
    assert [c[:2] for c in _commands("byo_ode.md")] == [
        ["train", "ode"],
        ["eval", "runs/lorenz-eqmlp"],
        ["train", "ode"],
    ]
    outputs = _run_page("byo_ode.md", tmp_path, monkeypatch, capsys)
    eq = json.loads((tmp_path / "runs" / "lorenz-eqmlp" / "eval.json").read_text())
    plain = json.loads((tmp_path / "runs" / "lorenz-mlp" / "eval.json").read_text())
    assert eq["equivariance"]["errors"]["mirror"] < 1e-12 < plain["equivariance"]["errors"]["mirror"]
    cfg = json.loads((tmp_path / "runs" / "lorenz-eqmlp" / "model.json").read_text())
    assert cfg["kwargs"]["factors"] == ["mirror"] and len(cfg["kwargs"]["rho"]) == 2  # from the instance
    assert "vpt" in outputs[1] and "Lyapunov times" in outputs[1]
    argv = [
        a.replace("mirror=[-1,-2,3]", "mirror=[-1,2,3]").replace("lorenz-mlp", "refused")
        for a in _commands("byo_ode.md")[2]
    ]
    rc = main(argv)
    assert rc == 2 and capsys.readouterr().err.strip() == _quoted_error("byo_ode.md")
    assert not (tmp_path / "runs" / "refused").exists()


def test_byo_flow_page(tmp_path, monkeypatch, capsys):
    assert [c[:2] for c in _commands("byo_flow.md")] == [
        ["train", "flow"],
        ["eval", "runs/my-flow"],
        ["train", "flow"],
    ]
    outputs = _run_page("byo_flow.md", tmp_path, monkeypatch, capsys)
    steer = json.loads((tmp_path / "runs" / "my-flow" / "eval.json").read_text())
    cnn = json.loads((tmp_path / "runs" / "my-flow-cnn" / "eval.json").read_text())
    assert steer["equivariance"]["errors"]["all"] < 1e-6 < cnn["equivariance"]["errors"]["all"]
    assert "corr_time_0.8" in outputs[1] and "enstrophy" in outputs[1]


@pytest.mark.parametrize("page", ["byo_molecule.md", "byo_ode.md", "byo_flow.md"])
def test_pages_only_quote_real_task_arguments(page):
    """Every ``data.task_args.<key>`` a page names is an argument of the task it documents."""
    import inspect

    from symzoo.datasets.atoms import XYZTask
    from symzoo.datasets.user_flow import UserFlowTask
    from symzoo.datasets.user_ode import UserODETask

    cls = {"byo_molecule.md": XYZTask, "byo_ode.md": UserODETask, "byo_flow.md": UserFlowTask}[page]
    params = set(inspect.signature(cls.__init__).parameters) | {
        "root",
        "train_size",
        "n_val",
        "n_test",
        "split_seed",
    }
    text = (DOCS / page).read_text()
    keys = {k.split(".")[0] for k in re.findall(r"data\.task_args\.([a-z0-9_.]+)", text)}
    assert keys and keys <= params | {"sha256"}, keys - params
