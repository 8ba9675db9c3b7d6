"""Results that would be wrong are refused, not written (issue 24, items 2 and 3): ``eval --task``
on another task never overwrites the run's ``eval.json``; NaN weights fail ``eval`` and
``export``; a run folder's weights carry a checksum checked on load (one flipped byte is refused);
a ``model.json`` that is not an object is a one-line refusal."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import symzoo
from symzoo.cli import main
from symzoo.errors import SymzooError
from symzoo.modelio import load_model

FAST = [
    "--preset",
    "tiny",
    "--quiet",
    "trainer.max_epochs=1",
    "trainer.tensorboard=false",
    "model.args.hidden=8",
    "model.args.layers=1",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    assert main(["train", "nbody-charged", "egnn", "--out", str(out), *FAST]) == 0
    return out


def _fail(argv, capsys) -> str:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("symzoo: error: "), err
    return err


def _copy(run: Path, tmp: Path, name: str) -> Path:
    dest = tmp / name
    shutil.copytree(run, dest)
    return dest


def test_eval_on_another_task_keeps_the_runs_record(run, tmp_path, capsys):
    before = (run / "eval.json").read_bytes()
    assert main(["eval", str(run), "--task", "nbody-gravity"]) == 0
    assert (run / "eval.json").read_bytes() == before  # the run's record is untouched
    other = json.loads((run / "eval-nbody-gravity-tiny.json").read_text())
    assert other["task"] == "nbody-gravity" and other["trained_on"] == "nbody-charged"
    assert json.loads(before)["task"] == "nbody-charged"
    # naming the run's own record explicitly is refused too, before anything is evaluated
    err = _fail(["eval", run, "--task", "nbody-gravity", "--out", run / "eval.json"], capsys)
    assert "the run's own record" in err
    assert (run / "eval.json").read_bytes() == before
    # the run's own task still writes its eval.json
    assert main(["eval", str(run)]) == 0
    assert json.loads((run / "eval.json").read_text())["task"] == "nbody-charged"


def test_eval_out_that_cannot_be_written(run, tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    assert "existing file" in _fail(["eval", run, "--out", f], capsys)
    assert f.read_text() == "mine"
    assert "is a file, not a folder" in _fail(["eval", run, "--out", f / "x" / "e.json"], capsys)
    assert "longer than 200 bytes" in _fail(["eval", run, "--out", tmp_path / ("a" * 250 + ".json")], capsys)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: a read-only folder is writable")
        assert "not writable" in _fail(["eval", run, "--out", ro / "e.json"], capsys)
    finally:
        ro.chmod(0o755)


def _poison(folder: Path, stem: str = "model") -> None:
    """NaN in the first floating tensor, with the checksum updated (a diverged model, not a damaged file)."""
    from symzoo.paths import sha256_file

    st = folder / f"{stem}.safetensors"
    state = load_file(str(st))
    k = next(k for k, v in state.items() if v.is_floating_point())
    state[k] = state[k].clone()
    state[k].view(-1)[0] = float("nan")
    save_file(state, str(st))
    js = folder / f"{stem}.json"
    meta = json.loads(js.read_text())
    if "weights_sha256" in meta:
        meta["weights_sha256"] = sha256_file(st)
        js.write_text(json.dumps(meta))


def test_nan_weights_fail_eval(run, tmp_path, capsys):
    bad = _copy(run, tmp_path, "nan")
    _poison(bad)
    before = (bad / "eval.json").read_bytes()
    err = _fail(["eval", bad], capsys)
    assert "NaN/inf" in err
    assert (bad / "eval.json").read_bytes() == before


def test_nan_weights_fail_export(tmp_path, capsys):
    src = Path(symzoo.pretrained_path("schnet.rmd17-ethanol"))
    bad = tmp_path / "ff"
    shutil.copytree(src, bad)
    for p in bad.iterdir():
        p.chmod(0o644)
    _poison(bad)
    out = tmp_path / "ff.pt2"
    assert "NaN/inf" in _fail(["export", bad, out], capsys)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_flipped_byte_in_run_weights_is_refused(run, tmp_path, capsys):
    meta = json.loads((run / "model.json").read_text())
    assert len(meta["weights_sha256"]) == 64
    bad = _copy(run, tmp_path, "flip")
    st = bad / "model.safetensors"
    blob = bytearray(st.read_bytes())
    blob[-5] ^= 0x01  # one bit of one weight: still a valid safetensors file
    st.write_bytes(bytes(blob))
    load_file(str(st))  # the file itself still parses
    err = _fail(["eval", bad], capsys)
    assert "does not match the sha256 recorded in model.json" in err
    with pytest.raises(SymzooError, match="sha256"):
        load_model(bad)
    # the untouched run still loads, and its weights are what was recorded
    assert all(torch.isfinite(p).all() for p in load_model(run).parameters())


def test_model_json_that_is_not_an_object(run, tmp_path, capsys):
    for i, text in enumerate(["[1, 2]", '"egnn"', '{"builder": 3}', '{"builder": "egnn", "kwargs": [1]}']):
        bad = _copy(run, tmp_path, f"js{i}")
        (bad / "model.json").write_text(text)
        err = _fail(["eval", bad], capsys)
        assert "model.json" in err and "Error" not in err.replace("symzoo: error:", ""), err
