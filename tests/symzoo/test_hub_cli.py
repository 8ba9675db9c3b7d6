"""`symzoo zoo list|info|download`, `symzoo list pretrained` and `symzoo eval PRETRAINED`."""

from __future__ import annotations

import pytest

import symzoo
from symzoo import hub
from symzoo.cli import main


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    monkeypatch.delenv("SYMZOO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_zoo_list_shows_every_entry(capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.strip().splitlines()
    assert header.split() == ["name", "task", "symmetry", "key", "metric", "(test)", "size"]
    assert {r.split()[0] for r in rows} == set(symzoo.list_pretrained())
    egnn = next(r for r in rows if r.startswith("egnn.nbody-charged"))
    assert "E(3) x S_n" in egnn and "pos_mse" in egnn and "kB" in egnn
    gnn = next(r for r in rows if r.startswith("gnn.nbody-charged"))
    assert "S_n of E(3) x S_n" in gnn


def test_list_pretrained_command(capsys):
    assert main(["list", "pretrained"]) == 0
    out = capsys.readouterr().out
    for n in symzoo.list_pretrained():
        assert n in out


def test_zoo_info_and_download(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path))
    assert main(["zoo", "info", "egnn.nbody-charged"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# egnn.nbody-charged") and "## Metrics" in out
    assert main(["zoo", "download", "linear.nbody-charged"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and (hub.cache_dir("linear.nbody-charged") / "model.safetensors").is_file()
    assert main(["zoo", "info", "egnn.nbody"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_eval_pretrained_by_name(capsys, tmp_path):
    """`symzoo eval NAME` resolves the verified cache folder (tiny preset here; the registry's
    numbers on the entry's own preset are checked by the slow test below)."""
    assert (
        main(
            ["eval", "linear.nbody-charged", "--preset", "tiny", "--out", str(tmp_path / "e.json"), "--json"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert '"model": "linear"' in out and '"pos_mse"' in out and (tmp_path / "e.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", symzoo.list_pretrained())
def test_eval_reproduces_registry_metrics(name, tmp_path):
    from symzoo.eval.evaluate import evaluate_run

    e = hub.get_entry(name)
    report = evaluate_run(symzoo.pretrained_path(name), out=tmp_path / "eval.json")
    assert report["preset"] == e["metrics"]["preset"] and report["n_test"] == e["metrics"]["n_test"]
    for k, v in e["metrics"]["test"].items():
        assert report["metrics"][k] == pytest.approx(v, rel=1e-3), (name, k)
    assert main(["zoo", "verify", name]) == 0
