"""No environment leaks (issue 24, item 1): an OmegaConf interpolation (``${...}``: a resolver such as
``${oc.env:...}``, spelled with or without spaces, or a reference to another key) never reaches a
run's configuration -- through a flag, a ``-c`` recipe, a copied run's ``config.yaml`` followed by
``--resume``, or a leaderboard recipe's overrides.  Each route exits 2 with one line, writes nothing
and the variable's value appears nowhere."""

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from symzoo.cli import main

CANARY = "canary-7d1f0c"
T = ["--preset", "tiny", "--quiet", "trainer.max_epochs=1", "trainer.tensorboard=false"]
SPELLINGS = [
    "${ oc.env:SYMZOO_CANARY}",  # the space got past the old check
    "${oc.env:SYMZOO_CANARY}",
    "${  oc.env:SYMZOO_CANARY,x}",
    "${oc.decode:'${oc.env:SYMZOO_CANARY}'}",
    "${seed}",  # a reference to another key
    "a${ oc.env:SYMZOO_CANARY }b",
]


@pytest.fixture(autouse=True)
def _canary(monkeypatch):
    monkeypatch.setenv("SYMZOO_CANARY", CANARY)


def _refused(argv, tmp: Path, capsys) -> str:
    before = {p: p.read_bytes() if p.is_file() else None for p in tmp.rglob("*")}
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    err = err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("symzoo: error: "), err
    assert "interpolations" in err and "not supported" in err, err
    assert CANARY not in out + err
    after = {p: p.read_bytes() if p.is_file() else None for p in tmp.rglob("*")}
    assert after == before, "files were written or changed"
    return err


def test_flag_route_every_spelling(tmp_path, capsys):
    for value in SPELLINGS:
        for key in ("base_model", "model.args.hidden", "data.task_args.path", "init_weights"):
            argv = ["train", "nbody-charged", "egnn", "--out", tmp_path / "out", *T, f"{key}={value}"]
            err = _refused(argv, tmp_path, capsys)
            assert key in err or key == "data.task_args.path", err


def test_recipe_route(tmp_path, capsys):
    for i, value in enumerate(SPELLINGS):
        rec = tmp_path / f"r{i}.yaml"
        rec.write_text(f"base_model: {json.dumps(value)}\n")
        _refused(
            ["train", "nbody-charged", "egnn", "-c", rec, "--out", tmp_path / "out", *T], tmp_path, capsys
        )
    # inside a preset block and a members block, and as a key
    for j, body in enumerate(
        [
            f"presets:\n  tiny:\n    base_model: '{SPELLINGS[0]}'\n",
            f"members:\n  nbody-*:\n    base_model: '{SPELLINGS[0]}'\n",
            f"model:\n  args:\n    '{SPELLINGS[0]}': 1\n",
        ]
    ):
        rec = tmp_path / f"block{j}.yaml"
        rec.write_text(body)
        _refused(
            ["train", "nbody-charged", "egnn", "-c", rec, "--out", tmp_path / "out", *T], tmp_path, capsys
        )


def test_resume_route_planted_config(tmp_path, capsys):
    """A copied run folder whose config.yaml was edited to hold a resolver: ``--resume`` refuses it
    before reading any of its values (a folder without checkpoints would otherwise start over)."""
    from symzoo.train.config import load_config

    cfg = load_config("nbody-charged", "egnn", preset="tiny", overrides=T[3:])
    for i, value in enumerate(SPELLINGS):
        run = tmp_path / f"run{i}"
        run.mkdir()
        text = OmegaConf.to_yaml(cfg).replace("base_model: null", f"base_model: {json.dumps(value)}")
        assert value in text
        (run / "config.yaml").write_text(text)
        _refused(["train", "--resume", run, "--quiet"], tmp_path, capsys)
    # the task name itself (read to compare with TASK MODEL) is never resolved either
    run = tmp_path / "run-task"
    run.mkdir()
    (run / "config.yaml").write_text(
        OmegaConf.to_yaml(cfg).replace("task: nbody-charged", "task: ${oc.env:SYMZOO_CANARY}")
    )
    _refused(["train", "--resume", run, "nbody-charged", "egnn"], tmp_path, capsys)


def test_resume_route_overrides(tmp_path, capsys):
    from symzoo.train.config import load_config

    cfg = load_config("nbody-charged", "egnn", preset="tiny", overrides=T[3:])
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    _refused(["train", "--resume", run, "optim.lr=${oc.env:SYMZOO_CANARY}"], tmp_path, capsys)


def test_leaderboard_route(tmp_path, capsys):
    """Overrides in a leaderboard recipe (top level or per task) and on its command line reach every
    cell's model.json: refused before any grid runs."""
    task = (
        "tasks:\n  - domain: nbody\n    task: nbody-charged\n    equivariant: egnn\n    plain: mlp\n"
        "    train_sizes: [20]\n"
    )
    out = tmp_path / "lb"
    for i, value in enumerate(SPELLINGS[:2]):
        top = tmp_path / f"top{i}.yaml"
        top.write_text(f"name: t\nseeds: 1\noverrides: [{json.dumps('base_model=' + value)}]\n" + task)
        _refused(["leaderboard", "-c", top, "--out", out], tmp_path, capsys)
        per = tmp_path / f"per{i}.yaml"
        per.write_text(
            "name: t\nseeds: 1\n" + task + f"    overrides: [{json.dumps('base_model=' + value)}]\n"
        )
        _refused(["leaderboard", "-c", per, "--out", out], tmp_path, capsys)
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: t\nseeds: 1\n" + task)
    _refused(["leaderboard", "-c", plain, "--out", out, f"base_model={SPELLINGS[0]}"], tmp_path, capsys)


def test_compare_and_finetune_routes(tmp_path, capsys):
    out = tmp_path / "out"
    _refused(
        [
            "compare",
            "nbody-charged",
            "--models",
            "egnn",
            "--train-sizes",
            "20",
            "--out",
            out,
            "--preset",
            "tiny",
            f"base_model={SPELLINGS[0]}",
        ],
        tmp_path,
        capsys,
    )
    _refused(
        ["finetune", "egnn.nbody-charged", "nbody-gravity", "--out", out, f"lr={SPELLINGS[0]}"],
        tmp_path,
        capsys,
    )
