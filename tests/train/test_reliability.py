"""Reliability and security of the harness (issue 11): code-free checkpoints, movable run folders,
NaN is failure, one owner per run folder, resume keeps the record, workers die with their parent."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from symzoo.cli import main

FAST = [
    "--preset",
    "tiny",
    "--quiet",
    "trainer.max_epochs=2",
    "trainer.check_val_every_n_epoch=1",
    "trainer.tensorboard=false",
    "model.args.hidden=8",
    "model.args.layers=1",
]


def _train(out, *extra):
    return main(["train", "nbody-charged", "egnn", "--out", str(out), *FAST, *extra])


def _symzoo(*args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "symzoo", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


_CRAFT = """
import os, sys, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
ck = torch.load(sys.argv[1], weights_only=True)
ck["evil"] = Evil()
torch.save(ck, sys.argv[1])
"""


def _craft(ckpt, marker):
    subprocess.run([sys.executable, "-c", _CRAFT, str(ckpt), str(marker)], check=True)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "run"
    assert _train(out) == 0
    return out


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_crafted_checkpoint_runs_no_code_on_resume_or_export(finished, tmp_path, capsys):
    marker = tmp_path / "MARKER"
    # --resume reads last.ckpt
    a = _copy(finished, tmp_path / "a")
    _craft(a / "checkpoints" / "last.ckpt", marker)
    capsys.readouterr()
    assert main(["train", "--resume", str(a), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds objects other than tensors" in err and len(err.splitlines()) == 1
    # export reads best.ckpt (resuming a finished run trains nothing and exports again)
    b = _copy(finished, tmp_path / "b")
    _craft(b / "checkpoints" / "best.ckpt", marker)
    assert main(["train", "--resume", str(b), "--quiet"]) == 2
    assert "holds objects other than tensors" in capsys.readouterr().err
    # and Lightning's own loading of ckpt_path goes through the same weights_only loader
    from symzoo.train.callbacks import AtomicCheckpointIO

    with pytest.raises(Exception, match="other than tensors"):
        AtomicCheckpointIO().load_checkpoint(b / "checkpoints" / "best.ckpt")
    assert not marker.exists()


def test_checkpoints_hold_no_absolute_paths_and_usual_mode(finished):
    for name in ("best.ckpt", "last.ckpt"):
        p = finished / "checkpoints" / name
        assert str(finished).encode() not in p.read_bytes()
        assert p.stat().st_mode & 0o044, "checkpoints are not private (0600) files"


def test_resumed_copy_exports_its_own_best_model(tmp_path):
    from safetensors.torch import load_file

    orig = tmp_path / "orig"
    assert _train(orig) == 0
    copy = _copy(orig, tmp_path / "copy")
    # the original trains on: its best.ckpt changes
    assert main(["train", "--resume", str(orig), "--quiet", "trainer.max_epochs=4"]) == 0
    own = torch.load(copy / "checkpoints" / "best.ckpt", weights_only=True)
    other = torch.load(orig / "checkpoints" / "best.ckpt", weights_only=True)
    assert own["epoch"] != other["epoch"]
    # resuming the finished copy re-exports: its own best epoch, not the original's
    assert main(["train", "--resume", str(copy), "--quiet"]) == 0
    meta = json.loads((copy / "model.json").read_text())
    assert meta["best_epoch"] == own["epoch"]
    weights = load_file(str(copy / "model.safetensors"))
    for k, v in weights.items():
        assert torch.equal(v, own["state_dict"]["model." + k]), k


def test_nan_model_fails_assert_equivariant():
    import symzoo
    from symzoo.testing import assert_equivariant, equivariance_errors

    model, task = symzoo.create_model("egnn", hidden=8, layers=1), symzoo.get_task("nbody-charged")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    errs = equivariance_errors(model, task, factors=["rotation"])
    assert errs["rotation"] != errs["rotation"]  # NaN stays NaN
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(model, task)


def test_strict_json_for_nan_metrics(tmp_path, finished):
    from safetensors.torch import load_file, save_file
    from symzoo.eval.evaluate import evaluate_run

    from symzoo import jsonio
    from symzoo.errors import SymzooError
    from symzoo.paths import sha256_file

    run = _copy(finished, tmp_path / "nan")
    st = run / "model.safetensors"
    save_file({k: torch.full_like(v, float("nan")) for k, v in load_file(str(st)).items()}, str(st))
    meta = json.loads((run / "model.json").read_text())
    meta["weights_sha256"] = sha256_file(st)  # a diverged model, not a damaged file
    (run / "model.json").write_text(json.dumps(meta))
    before = (run / "eval.json").read_text()
    # issue 24: NaN weights are refused, not evaluated into null metrics; eval.json is untouched
    with pytest.raises(SymzooError, match="NaN/inf"):
        evaluate_run(run)
    assert (run / "eval.json").read_text() == before

    def refuse(token):
        raise AssertionError(f"{token} in eval.json")

    text = jsonio.dumps({"metrics": {"pos_mse": float("nan"), "pos_mae": float("inf")}})
    report = json.loads(text, parse_constant=refuse)
    assert report["metrics"]["pos_mse"] is None and "metrics.pos_mse" in report["nonfinite"]


def test_divergence_stops_with_one_line_and_no_folder(tmp_path, capsys):
    out = tmp_path / "div"
    assert _train(out, "optim.lr=1e6") == 2
    err = capsys.readouterr().err.strip()
    assert "training diverged" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_resume_appends_metrics_accumulates_time_and_records_overrides(tmp_path, capsys):
    out = tmp_path / "res"
    assert _train(out) == 0
    first = json.loads((out / "eval.json").read_text())
    assert main(["train", "--resume", str(out), "--quiet", "trainer.max_epochs=4"]) == 0
    import csv

    rows = list(csv.DictReader(open(out / "logs" / "metrics.csv")))
    epochs = sorted({int(r["epoch"]) for r in rows if r["epoch"]})
    assert epochs == [0, 1, 2, 3]
    second = json.loads((out / "eval.json").read_text())
    assert second["fit_seconds"] > first["fit_seconds"] * 0.9 and second["resumed"] is True
    assert "max_epochs: 4" in (out / "config.yaml").read_text()
    capsys.readouterr()
    # invalid, run-defining and disagreeing inputs with --resume: one line, exit 2, nothing changed
    before = (out / "config.yaml").read_text()
    for argv in (
        ["train", "--resume", str(out), "trainer.max_epochs=0"],
        ["train", "--resume", str(out), "optim.lr=-1"],
        ["train", "--resume", str(out), "model.args.hidden=4"],
        ["train", "nbody-gravity", "egnn", "--resume", str(out)],
        ["train", "nbody-charged", "gnn", "--resume", str(out)],
    ):
        assert main(argv) == 2, argv
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert (out / "config.yaml").read_text() == before
    assert main(["train", "nbody-charged", "egnn", "--resume", str(out), "--quiet"]) == 0


def test_folder_of_a_run_killed_before_its_first_checkpoint_is_reusable(tmp_path):
    out = tmp_path / "killed"
    (out / "logs").mkdir(parents=True)
    (out / "logs" / "metrics.csv").write_text("epoch,step\n")
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / ".last.ckpt.123.partial").write_bytes(b"")
    (out / "config.yaml").write_text("task: nbody-charged\n")
    assert _train(out) == 0
    assert (out / "eval.json").is_file() and not list(out.rglob("*.partial"))
    # and --resume of such a folder starts it over from its config
    again = tmp_path / "killed2"
    (again / "logs").mkdir(parents=True)
    import shutil

    shutil.copyfile(out / "config.yaml", again / "config.yaml")
    assert main(["train", "--resume", str(again), "--quiet"]) == 0
    assert (again / "eval.json").is_file()


def test_zero_byte_partials_are_cleaned_on_resume(tmp_path, finished):
    run = _copy(finished, tmp_path / "p")
    stray = run / "checkpoints" / ".last.ckpt.x1.partial"
    stray.write_bytes(b"")
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert not stray.exists()


def test_atomic_path_removes_partials_of_dead_writers(tmp_path):
    from symzoo.paths import atomic_write_text

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".data.npz.{pid}.abc.partial"
    live = tmp_path / f".data.npz.{os.getpid()}.def.partial"
    stale.write_bytes(b"")
    live.write_bytes(b"")
    atomic_write_text(tmp_path / "data.npz", "x")
    assert not stale.exists() and live.exists()


# ----------------------------------------------------------------------------- locks
def test_lock_names_owner_recovers_stale_and_reused_pids(tmp_path):
    from symzoo.errors import RunLockedError
    from symzoo.runlock import acquire, process_start_time, read_owner

    lock = tmp_path / ".symzoo.lock"
    held = acquire(lock, "run folder X")
    owner = read_owner(lock)
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname() and owner["started"]
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        acquire(lock, "run folder X")  # a live owner: refused, not waited for
    held.release()
    assert not lock.exists()
    # a dead pid on this host: recovered
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    acquire(lock, "X").release()
    # a live but unrelated process that reused the pid (other start time): recovered
    parent = os.getppid()
    assert process_start_time(parent) is not None
    lock.write_text(json.dumps({"pid": parent, "host": socket.gethostname(), "proc_start": "1"}))
    acquire(lock, "X").release()
    # the same live process (matching start time): refused
    lock.write_text(
        json.dumps({"pid": parent, "host": socket.gethostname(), "proc_start": process_start_time(parent)})
    )
    with pytest.raises(RunLockedError):
        acquire(lock, "X")
    # another host cannot be checked: refused
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid"}))
    with pytest.raises(RunLockedError, match="elsewhere.invalid"):
        acquire(lock, "X")


def test_old_style_compare_lock_with_unrelated_live_pid_does_not_block(tmp_path):
    from symzoo.eval.compare import acquire_lock

    # an old pid-only lock whose pid is alive but is not a compare of ours (pid 1, other start)
    (tmp_path / ".compare.lock").write_text(
        json.dumps({"pid": 1, "host": socket.gethostname(), "proc_start": "-1"})
    )
    lock = acquire_lock(tmp_path)
    assert json.loads((tmp_path / ".compare.lock").read_text())["pid"] == os.getpid()
    lock.unlink(missing_ok=True)
    assert not (tmp_path / ".compare.lock").exists()


def test_two_concurrent_trainings_into_one_folder(tmp_path):
    out = tmp_path / "shared"
    args = ["train", "nbody-charged", "egnn", "--out", str(out), *FAST, "trainer.max_epochs=3"]
    procs = [_symzoo(*args) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stdout.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    loser = next(text for rc, text in results if rc == 2).strip().splitlines()
    assert len(loser) == 1 and ("in use by another symzoo process" in loser[0] or "is not empty" in loser[0])
    assert (out / "eval.json").is_file() and not (out / ".symzoo.lock").exists()


def test_a_competitors_lock_probe_does_not_make_the_folder_non_empty(tmp_path):
    # the race behind a flaky concurrent start: the loser writes its lock probe (.<lock>.<pid>.tmp)
    # into the folder while the winner, holding the lock, checks the folder is empty; the winner
    # refused too (both exit 2). A folder holding only lock files is empty.
    from train.run import LOCK_NAME

    out = tmp_path / "probe"
    out.mkdir()
    (out / f".{LOCK_NAME}.999999.tmp").write_text('{"pid": 999999}')
    (out / f"{LOCK_NAME}.break").write_text("999999")
    p = _symzoo("train", "nbody-charged", "egnn", "--out", str(out), *FAST, "trainer.max_epochs=1")
    rc, text = p.wait(timeout=300), p.stdout.read()
    assert rc == 0, text
    assert (out / "eval.json").is_file() and not (out / LOCK_NAME).exists()


def test_a_real_file_still_makes_the_folder_non_empty(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    p = _symzoo("train", "nbody-charged", "egnn", "--out", str(out), *FAST, "trainer.max_epochs=1")
    rc, text = p.wait(timeout=300), p.stdout.read().strip().splitlines()
    assert rc == 2 and len(text) == 1 and "is not empty" in text[0], text
    assert sorted(x.name for x in out.iterdir()) == ["notes.txt"]


def test_ctrl_c_prints_resume_command_and_exits_130(tmp_path):
    out = tmp_path / "int"
    # an earlier in-process test may leave SIGINT ignored (Lightning's graceful shutdown does), and an
    # ignored signal is inherited by the child: give it Python's default disposition back
    p = subprocess.Popen(
        [sys.executable, "-m", "symzoo", "train", "nbody-charged", "egnn", "--out", str(out), *FAST]
        + ["trainer.max_epochs=400"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not (out / "checkpoints" / "last.ckpt").exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert p.poll() is None
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=60)
    text = p.stdout.read().strip().splitlines()
    assert rc == 130, text
    assert text[-1] == f"symzoo: error: interrupted; continue with: symzoo train --resume {out}"
    assert not (out / ".symzoo.lock").exists()


# ----------------------------------------------------------------------------- compare workers
def _children(pid):
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_compare_workers_die_with_a_killed_parent(tmp_path):
    import psutil

    out = tmp_path / "cmp"
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "symzoo",
            "compare",
            "nbody-charged",
            "--models",
            "egnn,gnn",
            "--train-sizes",
            "20",
            "--seeds",
            "1",
            "--preset",
            "tiny",
            "--jobs",
            "2",
            "--out",
            str(out),
            "trainer.max_epochs=500",
            "trainer.tensorboard=false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240  # two spawned workers importing torch on a busy 2-core machine
    workers = []
    while time.time() < deadline and p.poll() is None:
        workers = [c for c in _children(p.pid) if "spawn" in " ".join(c.cmdline())]
        if len(workers) >= 2 and list(out.glob("cells/*")):
            break
        time.sleep(0.2)
    assert p.poll() is None and len(workers) >= 2, "compare did not start its workers"
    p.send_signal(signal.SIGKILL)
    p.wait()
    gone, alive = psutil.wait_procs(workers, timeout=20)
    for w in alive:
        w.kill()
    assert not alive, f"{len(alive)} worker(s) survived their parent"


# ----------------------------------------------------------------------------- item 12
def test_safetensors_bytes_are_deterministic(tmp_path):
    import hashlib

    import symzoo
    from symzoo.modelio import save_model

    model = symzoo.create_model("egnn", hidden=8, layers=1)
    sums = set()
    for i in range(8):
        st, _ = save_model(model, tmp_path / str(i), {"task": "nbody-charged"})
        sums.add(hashlib.sha256(st.read_bytes()).hexdigest())
    assert len(sums) == 1


def test_read_only_home_does_not_block_bundled_models(tmp_path, monkeypatch):
    from pathlib import Path

    import symzoo

    home = tmp_path / "ro-home"
    home.mkdir()
    monkeypatch.setenv("SYMZOO_HOME", str(home))
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **k):
        if str(self).startswith(str(home)):
            raise PermissionError(13, "Read-only file system", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    model = symzoo.load_pretrained("egnn.nbody-charged")
    assert model.meta["builder"] == "egnn"


def test_close_atoms_error_names_file_and_structure(tmp_path):
    from symzoo.datasets.atoms import read_structures

    from symzoo.errors import InputError

    xyz = tmp_path / "close.xyz"
    frame = "2\nenergy=-1.0 Properties=species:S:1:pos:R:3:forces:R:3\nH {x} 0 0 0 0 0\nH 0 0 0 0 0 0\n"
    xyz.write_text(frame.format(x=0.8) + frame.format(x=0.05))
    with pytest.raises(InputError, match=r"close\.xyz structure 1: atoms 0 and 1 are 0\.05 Å apart"):
        read_structures(xyz)


def test_compatibility_is_checked_for_eval_task_and_calculator(finished, capsys):
    import symzoo
    from symzoo.calculators import SymzooCalculator
    from symzoo.errors import IncompatibleError

    capsys.readouterr()
    assert main(["eval", str(finished), "--task", "rmd17-ethanol"]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not fit task 'rmd17-ethanol'" in err and len(err.splitlines()) == 1
    with pytest.raises(IncompatibleError, match="ASE calculator"):
        SymzooCalculator(symzoo.create_model("egnn", hidden=8, layers=1))


def test_a_swallowed_ctrl_c_is_not_lost():
    """A SIGINT whose KeyboardInterrupt is swallowed (raised inside a finalizer) still stops training."""
    import lightning as L
    from symzoo.train.run import _CtrlC

    ctrl_c = _CtrlC()
    cb = ctrl_c.callback(L)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # an earlier test may ignore it
    with ctrl_c:
        assert signal.getsignal(signal.SIGINT) == ctrl_c._handler
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
        except KeyboardInterrupt:
            pass  # swallowed, as in a finalizer
        assert ctrl_c.hit
        with pytest.raises(KeyboardInterrupt):
            cb.on_train_batch_start(None, None, None, 0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, before)
