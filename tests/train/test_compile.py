"""``trainer.compile``: torch.compile'd training and validation steps with the plain model's weights.

The compiled path is checked with the ``aot_eager`` backend (forward and backward traced and
partitioned by AOTAutograd, no code generation: seconds instead of inductor's C++ build), which is
where graph breaks, guards on the batch and the state-dict layout would go wrong."""

import json

import pytest
import torch
from safetensors.torch import load_file

from symzoo.cli import main

FAST = [
    "--preset",
    "tiny",
    "--quiet",
    "trainer.max_epochs=2",
    "trainer.check_val_every_n_epoch=1",
    "trainer.tensorboard=false",
    "trainer.threads=1",
    "model.args.hidden=8",
    "model.args.layers=2",
    "seed=3",
]


def _weights(run):
    return load_file(str(run / "model.safetensors"))


def test_compiled_training_matches_eager_and_saves_plain_weights(tmp_path):
    eager, compiled = tmp_path / "eager", tmp_path / "compiled"
    from torch._dynamo.utils import counters

    counters.clear()
    assert main(["train", "nbody-charged", "egnn", "--out", str(eager), *FAST]) == 0
    assert counters["stats"]["unique_graphs"] == 0  # eager: nothing compiled
    assert (
        main(["train", "nbody-charged", "egnn", "--out", str(compiled), *FAST, "trainer.compile=aot_eager"])
        == 0
    )
    assert counters["stats"]["unique_graphs"] >= 2  # the training step's and validation's graphs
    a, b = _weights(eager), _weights(compiled)
    # the same keys (no torch.compile wrapper prefix) and the same trained weights
    assert sorted(a) == sorted(b)
    assert not any("_orig_mod" in k for k in b)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-6, msg=k)
    ea = json.loads((eager / "eval.json").read_text())["metrics"]
    eb = json.loads((compiled / "eval.json").read_text())["metrics"]
    assert eb["pos_mse"] == pytest.approx(ea["pos_mse"], rel=1e-3)
    # the recorded config says how it was trained
    assert "compile: aot_eager" in (compiled / "config.yaml").read_text()


@pytest.mark.parametrize("value", ["bogus", "3"])
def test_bad_compile_value_is_one_line_exit_2_and_no_folder(tmp_path, capsys, value):
    out = tmp_path / "run"
    assert main(["train", "nbody-charged", "egnn", "--out", str(out), *FAST, f"trainer.compile={value}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trainer.compile" in err[0], err
    assert not out.exists()


def test_compile_refused_for_force_fields_before_any_folder(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "rmd17-ethanol", "schnet", "--preset", "tiny", "--quiet", "--out", str(out)]
    assert main([*args, "trainer.compile=aot_eager"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "double backward" in err[0], err
    assert not out.exists()
