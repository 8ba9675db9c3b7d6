"""End-to-end harness tests through the CLI: run folder, eval, resume after a kill, DDP, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from symzoo.cli import main

FAST = [
    "--preset",
    "tiny",
    "--quiet",
    "trainer.max_epochs=3",
    "trainer.check_val_every_n_epoch=1",
    "trainer.tensorboard=false",
]
RUN_FILES = [
    "config.yaml",
    "metrics.csv",
    "model.safetensors",
    "model.json",
    "eval.json",
    "checkpoints/best.ckpt",
    "checkpoints/last.ckpt",
]


def _symzoo(*args, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "symzoo", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def test_train_writes_full_run_folder_and_eval_prints(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "nbody-charged", "egnn", "--out", str(out), *FAST]) == 0
    for f in RUN_FILES:
        assert (out / f).is_file(), f
    meta = json.loads((out / "model.json").read_text())
    assert meta["builder"] == "egnn" and meta["task"] == "nbody-charged"
    assert meta["symmetry_group"] == "E(3) x S_n" and "pos_mse" in meta["units"]
    report = json.loads((out / "eval.json").read_text())
    assert report["equivariance"]["errors"]["rotation"] < 1e-9
    assert 0 < report["metrics"]["pos_mse"] < 1.0
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pos_mse" in printed and "rotation" in printed
    again = json.loads((out / "eval.json").read_text())
    assert again["metrics"]["pos_mse"] == pytest.approx(report["metrics"]["pos_mse"], rel=1e-5)
    # a second train into the same folder is refused, the folder is untouched
    before = sorted(p.name for p in out.iterdir())
    assert main(["train", "nbody-charged", "egnn", "--out", str(out), *FAST]) == 2
    assert sorted(p.name for p in out.iterdir()) == before


def test_augment_and_ema_and_schedule(tmp_path):
    out = tmp_path / "aug"
    assert (
        main(
            [
                "train",
                "nbody-charged",
                "mlp+aug",
                "--out",
                str(out),
                *FAST,
                "trainer.ema_decay=0.9",
                "optim.schedule=cosine",
                "trainer.gradient_clip_val=1.0",
            ]
        )
        == 0
    )
    cfg = (out / "config.yaml").read_text()
    assert "augment: true" in cfg and "ema_decay: 0.9" in cfg
    assert json.loads((out / "model.json").read_text())["augment"] is True


def test_resume_after_kill_matches_uninterrupted(tmp_path):
    common = [
        "--preset",
        "tiny",
        "--quiet",
        "trainer.max_epochs=8",
        "data.batch_size=10",
        "trainer.check_val_every_n_epoch=2",
        "trainer.tensorboard=false",
        "model.args.hidden=16",
    ]
    full, cut = tmp_path / "full", tmp_path / "cut"
    p = _symzoo("train", "nbody-charged", "egnn", "--out", str(full), *common)
    assert p.wait(timeout=300) == 0, p.stdout.read()
    p = _symzoo("train", "nbody-charged", "egnn", "--out", str(cut), *common)
    last = cut / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while not last.exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.02)
    assert p.poll() is None, "the run ended before it could be interrupted"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (cut / "eval.json").exists() and last.exists()
    assert not list(cut.rglob("*.partial")) or True  # a kill may leave a temp file, never a half checkpoint
    torch.load(last, map_location="cpu", weights_only=True)  # the checkpoint is whole (and code-free)
    r = _symzoo("train", "--resume", str(cut), "--quiet")
    assert r.wait(timeout=300) == 0, r.stdout.read()
    a, b = load_file(str(full / "model.safetensors")), load_file(str(cut / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-6), k
    ea, eb = (json.loads((d / "eval.json").read_text()) for d in (full, cut))
    assert ea["best_epoch"] == eb["best_epoch"]
    assert ea["metrics"]["pos_mse"] == pytest.approx(eb["metrics"]["pos_mse"], rel=1e-6)


def test_ddp_two_processes_agree_on_weights(tmp_path):
    out = tmp_path / "ddp"
    p = _symzoo(
        "train",
        "nbody-charged",
        "egnn",
        "--out",
        str(out),
        "--preset",
        "tiny",
        "--quiet",
        "trainer.max_epochs=2",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "trainer.strategy=ddp",
        "trainer.tensorboard=false",
        "model.args.hidden=16",
    )
    log = p.communicate(timeout=300)[0]
    assert p.returncode == 0, log
    check = json.loads((out / "ddp_check.json").read_text())
    assert check["world_size"] == 2 and check["agree"] is True
    assert check["checksums"][0] == check["checksums"][1]
    assert json.loads((out / "eval.json").read_text())["world_size"] == 2


def _one_line_error(capsys, code):
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("symzoo: error:"), err
    return err[0]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", "nbody-charge", "egnn"], "unknown task"),
        (["train", "nbody-charged", "egn"], "unknown model"),
        (["train", "nbody-charged", "egnn", "trainer.max_epoch=2"], "unknown config key"),
        (["train", "nbody-charged", "egnn", "model.args.hiden=2"], "no argument 'hiden'"),
        (["train", "nbody-charged", "egnn", "--preset", "huge"], "no preset"),
        (["eval", "/nonexistent/run"], "does not exist"),
    ],
)
def test_bad_names_and_keys(tmp_path, capsys, args, needle):
    out = tmp_path / "never"
    code = main([*args, "--out", str(out)] if args[0] == "train" else args)
    assert needle in _one_line_error(capsys, code)
    assert not out.exists()


@pytest.mark.parametrize("kind,needle", [("nan", "NaN"), ("shape", "shape")])
def test_bad_data_files(tmp_path, capsys, kind, needle):
    import numpy as np

    rng = np.random.default_rng(0)
    n = 4 if kind == "shape" else 5
    pos = rng.normal(size=(20, n, 3))
    if kind == "nan":
        pos[2, 0, 0] = np.nan
    np.savez(tmp_path / "d.npz", pos=pos, vel=pos, attr=np.ones((20, n)), y=pos)
    out = tmp_path / "never"
    code = main(
        [
            "train",
            "nbody-charged",
            "egnn",
            "--out",
            str(out),
            "--quiet",
            f"data.task_args.path={tmp_path / 'd.npz'}",
        ]
    )
    assert needle in _one_line_error(capsys, code)
    assert not out.exists()


def test_corrupt_checkpoint_and_weights(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "nbody-charged", "linear", "--out", str(out), *FAST]) == 0
    capsys.readouterr()
    (out / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    assert "corrupt" in _one_line_error(capsys, main(["train", "--resume", str(out)]))
    (out / "model.safetensors").write_bytes(b"\x00" * 20)
    before = (out / "eval.json").read_bytes()
    assert "corrupt" in _one_line_error(capsys, main(["eval", str(out)]))
    assert (out / "eval.json").read_bytes() == before  # nothing rewritten
