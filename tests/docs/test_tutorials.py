"""The tutorials of the documentation site, executed as a user would: in a fresh folder, every
``python`` block of a page runs (in order, sharing one namespace per page), then every ``symzoo``
line of its ``bash`` blocks runs as written (``sh`` blocks are sketches for the reader's own files
and are not run).  Their data are tiny (the bundled files, ``--preset tiny``): measured on the shared
2-core machine, the pretrained and fine-tuning pages take about 12 s of CPU each, the comparison
page about 25 s (marked slow)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from symzoo.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _blocks(page: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


def _commands(page: str) -> list[list[str]]:
    lines = [ln.strip() for b in _blocks(page, "bash") for ln in b.splitlines()]
    return [shlex.split(ln.split("#")[0])[1:] for ln in lines if ln.startswith("symzoo ")]


def _run_python(page: str, capsys) -> list[str]:
    ns: dict = {"__name__": "__doc__"}
    printed = []
    for code in _blocks(page, "python"):
        exec(compile(code, page, "exec"), ns)
        printed.append(capsys.readouterr().out)
    return printed


def _run_commands(page: str, capsys) -> list[str]:
    outputs = []
    for argv in _commands(page):
        rc = main(argv)
        out = capsys.readouterr()
        assert rc == 0, (argv, out.err)
        outputs.append(out.out)
    return outputs


def test_pretrained_tutorial(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ase")
    monkeypatch.chdir(tmp_path)
    cmds = _commands("tutorials/pretrained.md")
    assert [c[:2] for c in cmds] == [["zoo", "list"], ["zoo", "info"], ["eval", "egnn.nbody-charged"]]
    printed = _run_python("tutorials/pretrained.md", capsys)
    # what the page says the Python prints is what it prints
    quoted = [b.strip() for b in _blocks("tutorials/pretrained.md", "text")]
    assert printed[0].strip() == quoted[0] and printed[1].strip() == quoted[1]
    outputs = _run_commands("tutorials/pretrained.md", capsys)
    assert "egnn.nbody-charged" in outputs[0] and "nequip.rmd17-ethanol" in outputs[0]
    assert "## Metrics" in outputs[1] and "symmetry" in outputs[1].lower()
    assert "pos_mse" in outputs[2] and "rotation" in outputs[2]


def test_finetune_tutorial(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ase")
    monkeypatch.chdir(tmp_path)
    cmds = _commands("tutorials/finetune.md")
    assert [c[0] for c in cmds] == ["finetune", "finetune", "eval"] and "--from-scratch" in cmds[1]
    exec_blocks = _blocks("tutorials/finetune.md", "python")
    ns: dict = {"__name__": "__doc__"}
    exec(compile(exec_blocks[0], "finetune.md", "exec"), ns)  # writes my_molecule.xyz
    assert (tmp_path / "my_molecule.xyz").is_file()
    outputs = _run_commands("tutorials/finetune.md", capsys)
    ft = json.loads((tmp_path / "runs" / "ft" / "model.json").read_text())
    scratch = json.loads((tmp_path / "runs" / "scratch" / "model.json").read_text())
    assert ft["base_model"] == "painn.rmd17-multi" and scratch["base_model"] is None
    a = json.loads((tmp_path / "runs" / "ft" / "eval.json").read_text())
    b = json.loads((tmp_path / "runs" / "scratch" / "eval.json").read_text())
    assert a["n_test"] == b["n_test"] > 0
    assert "force_mae_meV_per_A" in outputs[2]
    exec(compile(exec_blocks[1], "finetune.md", "exec"), ns)  # the fine-tuned run as a calculator
    assert capsys.readouterr().out.strip() == "(12, 3)"  # uracil: 12 atoms


@pytest.mark.slow  # about 25 s of CPU (four training cells with rollouts): `make test-all` runs it
def test_compare_tutorial(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cmds = _commands("tutorials/compare.md")
    assert [c[0] for c in cmds] == ["compare", "report"]
    outputs = _run_commands("tutorials/compare.md", capsys)
    out = tmp_path / "runs" / "compare-gravity"
    results = json.loads((out / "results.json").read_text())
    cells = {c["key"]: c for c in results["cells"]}
    assert {"ehnn/n50-s0", "hnn/n50-s0", "ehnn/n50-s0-orbit", "hnn/n50-s0-orbit"} <= set(cells)
    # what the page says of the equivariant model holds in any run: exact symmetry, conserved momentum
    eq = cells["ehnn/n50-s0"]
    assert max(eq["equivariance"].values()) < 1e-12 and eq["rollout"]["momentum_drift"] < 1e-9
    assert cells["hnn/n50-s0"]["equivariance"]["rotation"] > 1e-6
    assert (out / "report.md").is_file() and "orbit" in (out / "report.md").read_text().lower()
    assert "verdict:" in outputs[0] and "report.md" in outputs[1]
