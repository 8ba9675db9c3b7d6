"""The bad-input table (docs/bad_inputs.md): every case exits 2 with one line and leaves nothing.

Each case runs the real CLI in-process.  ``docs/bad_inputs.md`` is generated from these cases and
checked here; after changing a case or a message, regenerate it with
``SYMZOO_UPDATE_DOCS=1 python -m pytest tests/train/test_bad_inputs.py``.
"""

import json
import os
import re
from pathlib import Path

import pytest

from symzoo.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad_inputs.md"
T = ["--preset", "tiny", "--quiet", "trainer.tensorboard=false", "trainer.max_epochs=2"]
TRAIN = ["train", "nbody-charged", "egnn", "--out", "{out}", *T]
XYZ = ["train", "xyz", "schnet", "--out", "{out}", *T]
ROBOT = ["train", "robot-id", "mlp", "--out", "{out}", *T]
FRAME = "2\nenergy=-1.0 Properties=species:S:1:pos:R:3:forces:R:3\nH {x} 0 0 0 0 0\nH 0 0 0 0 0 0\n"

# (item of issue 11, argv, expected part of the message)
CASES = [
    ("5", [*TRAIN, "trainer.max_epochs=0"], "trainer.max_epochs must be >= 1"),
    ("5", [*TRAIN, "optim.lr=nan"], "optim.lr must be a finite number > 0"),
    ("5", [*TRAIN, "optim.lr=-1e-3"], "optim.lr must be a finite number > 0"),
    ("5", [*TRAIN, "trainer.devices=0"], "trainer.devices must be a count >= 1"),
    ("5", [*TRAIN, "trainer.precision=16-foo"], "trainer.precision must be one of"),
    ("5", [*TRAIN, "data.batch_size=0"], "data.batch_size must be >= 1"),
    ("5", [*TRAIN, "data.train_size=0"], "data.train_size must be >= 1"),
    ("5", [*TRAIN, "seed=-1"], "seed must be in [0, 2**32)"),
    (
        "11",
        [*TRAIN, "trainer.gradient_clip_val=-1"],
        "trainer.gradient_clip_val must be a finite number >= 0",
    ),
    ("11", [*TRAIN, "optim.warmup_epochs=-1"], "optim.warmup_epochs must be >= 0"),
    ("11", [*TRAIN, "data.eval_batch_size=0"], "data.eval_batch_size must be >= 1"),
    ("3, 11", [*TRAIN, "optim.lr=1e6"], "training diverged at epoch 0"),
    ("5, 6", ["train", "nbody-charged", "nequip", "--out", "{out}", *T], "does not fit task 'nbody-charged'"),
    ("6", ["train", "pendulum", "egnn", "--out", "{out}", *T], "does not fit task 'pendulum'"),
    (
        "6",
        [
            "compare",
            "nbody-charged",
            "--models",
            "egnn,nequip",
            "--train-sizes",
            "20",
            "--out",
            "{out}",
            "--preset",
            "tiny",
        ],
        "does not fit task 'nbody-charged'",
    ),
    (
        "6",
        ["finetune", "egnn.nbody-charged", "rmd17-ethanol", "--out", "{out}", "--quiet"],
        "does not fit task 'rmd17-ethanol'",
    ),
    (
        "6",
        ["eval", "egnn.nbody-charged", "--task", "rmd17-ethanol", "--out", "{out}/eval.json"],
        "does not fit task 'rmd17-ethanol'",
    ),
    ("12", [*TRAIN, "model.args.hidden=-3"], "invalid model.args"),
    ("12", [*TRAIN, "model.args.hidden=abc"], "model.args.hidden must be of type int"),
    ("12", [*TRAIN, "model.args.hidden=${oc.env:HOME}"], "interpolations (${...}"),
    (
        "12",
        ["train", "nbody-charged", "egnn", "-c", "{tmp}/env.yaml", "--out", "{out}", *T],
        "interpolations (${...}",
    ),
    ("5, 12", [*XYZ, "data.task_args.path={tmp}/close.xyz"], "structure 1: atoms 0 and 1 are 0.05 Å apart"),
    ("5", [*XYZ, "data.task_args.path={tmp}/nan.xyz"], "contains NaN or inf values"),
    ("5", [*XYZ, "data.task_args.path={tmp}/missing.xyz"], "missing.xyz does not exist"),
    ("2, 7", ["train", "--resume", "{tmp}/no-such-run", "--quiet"], "is not a run folder"),
    # issue 24: refused before the run folder exists (item 4), coerced data (3), interpolation (1)
    ("24.1", [*TRAIN, "base_model=${ oc.env:HOME}"], "interpolations (${...}"),
    ("24.1", [*TRAIN, "data.batch_size=${seed}"], "interpolations (${...}"),
    ("24.4", [*TRAIN, "trainer.strategy=foo"], "trainer.strategy must be auto or a Lightning strategy"),
    ("24.4", [*TRAIN, "trainer.accelerator=tpu"], "trainer.accelerator=tpu is not available"),
    (
        "24.4",
        [
            "compare",
            "nbody-charged",
            "--models",
            "egnn",
            "--train-sizes",
            "20",
            "--out",
            "{out}",
            "--preset",
            "tiny",
            "trainer.strategy=foo",
        ],
        "trainer.strategy must be auto or a Lightning strategy",
    ),
    ("24.4", [*TRAIN, "data.batch_size=99999999999999999999999"], "data.batch_size must be below 2**31"),
    ("24.4", [*XYZ, "data.task_args.path={tmp}/z2d.npz"], "atomic numbers (z) must be"),
    ("24.4", [*XYZ, "data.task_args.path={tmp}/zerocell.xyz"], "the periodic cell is degenerate"),
    ("24.3", [*XYZ, "data.task_args.path={tmp}/zfrac.npz"], "atomic numbers (z) must be"),
    ("24.3", [*XYZ, "data.task_args.path={tmp}/complex.npz"], "complex numbers"),
    ("24.3", ["train", "nbody-charged", "egnn+aug+aug", "--out", "{out}", *T], "the only variant suffix"),
    ("24.3", ["train", "nbody-charged", "egnn", "-c", "{tmp}/task.yaml", "--out", "{out}", *T], "sets task"),
    (
        "24.3",
        ["train", "nbody-charged", "egnn", "-c", "{tmp}/model.yaml", "--out", "{out}", *T],
        "sets model.name",
    ),
    ("24.3", [*TRAIN, "task=nbody-gravity"], "cannot be set by an override"),
    ("24.3", [*TRAIN, "data.task_args.frame_out=-1"], "frame_out must be an integer >= 1"),
    ("24.3", ["train", "spring", "hnn", "--out", "{out}", *T, "data.task_args.noise=nan"], "noise must be"),
    ("24.5", [*TRAIN, "data.task_args.n_particles=1"], "n_particles must be an integer >= 2"),
    ("24.5", [*TRAIN, "data.task_args.frame_in=1000"], "frame_in must be an integer >= 0"),
    ("24.5", [*TRAIN, "data.task_args.bogus=1"], "has no argument 'bogus'"),
    (
        "24.3",
        ["finetune", "egnn.nbody-charged", "nbody-gravity", "--out", "{out}", "init_weights={tmp}/x"],
        "init_weights is set by symzoo finetune",
    ),
    ("24.3", ["report", "{tmp}/cmp"], "not a number"),
    ("24.5", ["eval", "{tmp}/listrun"], "is not a symzoo model description"),
    ("24.5", ["train", "nbody-charged", "egnn", "--out", "{tmp}/" + "r" * 300, *T], "longer than 255 bytes"),
    ("24.8", ["zoo", "verify", "egnn.nbody-charged", "--rtol", "nan"], "--rtol must be a finite number"),
    ("24.8", ["train", "nbody-charged", "egnn", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ("24.5", [*TRAIN, "data.task_args.path={tmp}/zero.npz"], "has 0 samples"),
    ("24.5", [*XYZ, "data.task_args.path={tmp}/xzero.npz"], "has no frames"),
    ("24.5", [*XYZ, "data.task_args.path={tmp}/xtrunc.npz"], "not a readable .npz file"),
    ("24.5", [*XYZ, "data.task_args.path={tmp}/empty.npz"], "not a readable .npz file"),
    ("24.5", [*XYZ, "data.task_args.path={tmp}/abc.xyz"], "must be numbers, got energy 'abc'"),
    (
        "24.3",
        [*ROBOT, "data.task_args.spec={tmp}/perm.yaml"],
        "perm entries must be joint names or whole indices",
    ),
    ("24.5", [*ROBOT, "data.task_args.spec={tmp}/signs.yaml"], "signs must be +1 or -1 per joint"),
    ("24.5", [*ROBOT, "data.task_args.spec={tmp}/rot.yaml"], "R must be an orthogonal 3x3 matrix"),
    ("24.5", [*ROBOT, "data.task_args.spec={tmp}/qpos.yaml"], "base.qpos must be a list of finite numbers"),
    ("-", [*TRAIN, "trainer.no_such_key=1"], "unknown config key"),
    ("-", ["train", "nbody-charged", "zzzz", "--out", "{out}"], "unknown model 'zzzz'"),
]


def _npz(path: Path, z, coords) -> None:
    import numpy as np

    n = len(coords)
    np.savez(path, z=z, R=coords, E=np.zeros(n), F=np.zeros((n, 3, 3)), energy_unit="eV", forces_unit="eV/Å")


def _fixtures(tmp: Path) -> None:
    import numpy as np

    coords = np.random.default_rng(0).normal(size=(30, 3, 3)) * 1.5
    _npz(tmp / "z2d.npz", np.array([[1, 1, 8]]), coords)
    _npz(tmp / "zfrac.npz", np.array([1.0, 1.0, 8.5]), coords)
    _npz(tmp / "complex.npz", np.array([1, 1, 8]), coords + 1j)
    cell = 'Lattice="0 0 0 0 0 0 0 0 0" pbc="T T T" '
    (tmp / "zerocell.xyz").write_text(
        "".join(FRAME.format(x=0.9 + 0.01 * i).replace("energy=", cell + "energy=") for i in range(30))
    )
    (tmp / "close.xyz").write_text(FRAME.format(x=0.9) + FRAME.format(x=0.05))
    arr = np.zeros((0, 5, 3))
    np.savez(tmp / "zero.npz", pos=arr, vel=arr, y=arr, attr=np.zeros((0, 5)))
    _npz(tmp / "xzero.npz", np.array([1, 1, 8]), np.zeros((0, 3, 3)))
    (tmp / "xtrunc.npz").write_bytes((tmp / "z2d.npz").read_bytes()[:100])
    (tmp / "empty.npz").write_bytes(b"")
    frame = FRAME.replace("energy=-1.0", "energy=abc")
    (tmp / "abc.xyz").write_text("".join(frame.format(x=0.9 + 0.01 * i) for i in range(30)))
    from symzoo.datasets.robots import ROBOTS_DIR

    spec = (ROBOTS_DIR / "acrobot.yaml").read_text()
    q, r = "q: {perm: [shoulder, elbow], signs: [-1, -1]}", "R: [[-1, 0, 0], [0, 1, 0], [0, 0, 1]]"
    assert q in spec and r in spec
    (tmp / "perm.yaml").write_text(spec.replace(q, "q: {perm: [0.5, 1], signs: [-1, -1]}"))
    (tmp / "signs.yaml").write_text(spec.replace(q, "q: {perm: [shoulder, elbow], signs: [a, b]}"))
    (tmp / "rot.yaml").write_text(spec.replace(r, "R: foo"))
    (tmp / "qpos.yaml").write_text(spec + "base: {joints: [], qpos: [a]}\n")
    (tmp / "task.yaml").write_text("task: nbody-gravity\n")
    (tmp / "model.yaml").write_text("model:\n  name: gnn\n")
    (tmp / "cmp").mkdir(exist_ok=True)
    cell = {"model": "egnn", "train_size": 20, "seed": 0, "study": "curve", "metrics": {"pos_mse": "abc"}}
    (tmp / "cmp" / "results.json").write_text(json.dumps({"format": "symzoo-compare/1", "cells": [cell]}))
    (tmp / "listrun").mkdir(exist_ok=True)
    (tmp / "listrun" / "model.json").write_text("[1, 2]")
    (tmp / "listrun" / "model.safetensors").write_bytes(b"")
    (tmp / "nan.xyz").write_text(FRAME.format(x="nan"))
    (tmp / "env.yaml").write_text("model:\n  args:\n    hidden: ${oc.env:HOME}\n")


def _run(case, tmp: Path, capsys):
    _, argv, _ = case
    _fixtures(tmp)
    argv = [a.replace("{out}", str(tmp / "out")).replace("{tmp}", str(tmp)) for a in argv]
    before = set(tmp.rglob("*"))
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's usage errors exit from inside main
        rc = e.code
    err = capsys.readouterr().err.strip()
    return rc, err, set(tmp.rglob("*")) - before


def _row(case, err: str, tmp: Path) -> str:
    item, argv, _ = case
    shown = " ".join(a for a in argv if a not in T).replace("{out}", "OUT").replace("{tmp}", "TMP")
    msg = err.replace(str(tmp / "out"), "OUT").replace(str(tmp), "TMP").replace("|", "\\|")
    # a path the message cut at 60 characters shows as many of its trailing characters as the
    # temporary folder's own path leaves room for (pytest-0 or pytest-17): the table shows three
    msg = re.sub(r"TMP/(r+)\.\.\.", "TMP/rrr...", msg)
    return f"| {item} | `symzoo {shown}` | {msg} | 2 |"


_RESULTS: dict[int, tuple] = {}


def _result(i: int, tmp_path_factory, capsys) -> tuple:
    """``(rc, err, new files, docs row)`` of case ``i``, run once per session (the parametrized
    test and the docs table share it: each CLI call costs seconds)."""
    if i not in _RESULTS:
        tmp = tmp_path_factory.mktemp(f"case{i}")
        rc, err, new = _run(CASES[i], tmp, capsys)
        _RESULTS[i] = (rc, err, new, _row(CASES[i], err, tmp))
    return _RESULTS[i]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[" ".join(c[1][:1] + c[1][-1:]) for c in CASES])
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(i, tmp_path_factory, capsys):
    case = CASES[i]
    rc, err, new, _ = _result(i, tmp_path_factory, capsys)
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("symzoo: error: "), err
    assert case[2] in err, err
    assert "Traceback" not in err and "Error:" not in err.replace("symzoo: error:", "")
    assert not new, f"left behind: {sorted(str(p) for p in new)}"


def test_docs_table_is_current(tmp_path_factory, capsys):
    rows = [_result(i, tmp_path_factory, capsys)[3] for i in range(len(CASES))]
    text = HEADER + "\n".join(rows) + "\n"
    if os.environ.get("SYMZOO_UPDATE_DOCS"):
        DOC.write_text(text)
    assert DOC.read_text() == text, (
        "docs/bad_inputs.md is out of date: SYMZOO_UPDATE_DOCS=1 pytest " + __file__
    )


HEADER = """# Bad inputs: what symzoo says

Generated from `tests/train/test_bad_inputs.py` (which runs every case and checks this file):
each input exits with status **2**, prints exactly one line, and leaves no folder or file behind.
`item` is the finding of issue 11 the case covers (`24.N`: item N of issue 24).  Common flags (`--preset tiny --quiet
trainer.max_epochs=2 trainer.tensorboard=false`) are omitted; `OUT` is the `--out` folder and `TMP`
a scratch folder with the input files.

Other exit statuses: Ctrl-C during `symzoo train` prints
`symzoo: error: interrupted; continue with: symzoo train --resume RUN` and exits **130**; an
unexpected internal failure exits 1 (`SYMZOO_DEBUG=1` shows the traceback).

Conventions these cases rely on:

* Non-finite numbers in JSON files (`eval.json`, `model.json`, `results.json`, ...) are written as
  `null`, and the document's top-level `"nonfinite"` list names their dotted paths
  (`symzoo.jsonio`); files never contain `NaN`/`Infinity` tokens.
* A non-finite training loss or validation metric, or the monitored validation metric above
  `trainer.divergence_factor` (default 1000) times its best so far, stops the run (`training
  diverged ...`). A run that diverges before its first checkpoint leaves no folder; a later one
  keeps its last good checkpoints (the check runs before the epoch's checkpoints are written).
* Run folders are owned by one process (`.symzoo.lock`: pid, host, time); a second training into
  the same folder exits 2 with `... is in use by another symzoo process (pid N on HOST since T)`.
* `${oc.env:...}` and every other interpolation (`${...}`, with or without spaces, references to
  other keys) are refused wherever configuration comes from the user (flags, `-c` recipes, a run's
  `config.yaml` on `--resume`, leaderboard recipes): their values would be copied from one
  machine's environment into `config.yaml`/`model.json`.
* Trainer settings are tried on this machine before the run folder exists: an accelerator it does
  not have (`trainer.accelerator=gpu` without a GPU), device indices it does not have
  (`trainer.devices=[5]`) and `trainer.precision=16-mixed` on a CPU (Lightning would train in
  bf16-mixed) are refused in one line (tests/train/test_refused_before_folder.py).
* One forward pass and loss on the first training samples runs before the folder exists: a model
  that fails on the task's data (`symzoo eval emlp.quadruped-com --task ant-com`) is refused with
  `model 'emlp' does not fit the data of task 'ant-com' ...`; `symzoo finetune` does the same (robot
  models are rebuilt for the target robot's joints and group first, docs/byo_robot.md).
* `symzoo eval RUN --task OTHER` writes `RUN/eval-OTHER-PRESET.json`, never the run's `eval.json`;
  weights with NaN/inf values, or whose sha256 differs from `weights_sha256` in `model.json`, are
  refused by `eval`, `export` and every load (tests/train/test_wrong_results.py).

| item | input | message | exit |
|---|---|---|---|
"""
