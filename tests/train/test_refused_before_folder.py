"""Half-written run folders (issue 24, item 4): trainer settings this machine cannot run and models
that fail on the task's data are refused in one line *before* the run folder exists.  The cases
that do not depend on the machine are rows of docs/bad_inputs.md; these depend on whether a GPU is
present."""

import pytest
import torch

from symzoo.cli import main
from symzoo.errors import SymzooError

T = ["--preset", "tiny", "--quiet", "trainer.max_epochs=1", "trainer.tensorboard=false"]
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


def _refused(tmp_path, capsys, *overrides) -> str:
    out = tmp_path / "out"
    capsys.readouterr()
    rc = main(["train", "nbody-charged", "egnn", "--out", str(out), *T, *overrides])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("symzoo: error: "), err
    assert not out.exists(), "a run folder was left behind"
    assert "Exception" not in err and "Error" not in err.replace("symzoo: error:", ""), err
    assert "HINT" not in err and "`" not in err, err  # not Lightning's text
    return err


@NO_CUDA
def test_gpu_accelerator_without_a_gpu(tmp_path, capsys):
    for acc in ("gpu", "cuda"):
        err = _refused(tmp_path, capsys, f"trainer.accelerator={acc}")
        assert f"trainer.accelerator={acc} is not available on this machine (it has: cpu" in err


@NO_CUDA
def test_16_mixed_on_cpu_is_refused_not_silently_bf16(tmp_path, capsys):
    for p in ("16-mixed", "16"):
        err = _refused(tmp_path, capsys, f"trainer.precision={p}")
        assert "needs a CUDA GPU" in err and "bf16-mixed" in err
    # bf16-mixed, what Lightning would have used, is accepted as such (checked without training)
    from symzoo.train.config import load_config
    from symzoo.train.run import check_trainer

    assert (
        check_trainer(load_config("nbody-charged", "egnn", overrides=["trainer.precision=bf16-mixed"]))
        == "cpu"
    )


@pytest.mark.skipif(torch.cuda.device_count() > 5, reason="device 5 exists here")
def test_device_indices_that_do_not_exist(tmp_path, capsys):
    for devices in ("[5]", "[0,7]"):
        err = _refused(tmp_path, capsys, f"trainer.devices={devices}")
        assert "is not usable with trainer.accelerator" in err


def test_strategy_names(tmp_path, capsys):
    for s in ("foo", "ddp_foo"):
        assert "trainer.strategy must be auto or a Lightning strategy" in _refused(
            tmp_path, capsys, f"trainer.strategy={s}"
        )


def test_model_failing_on_the_data_leaves_no_folder(tmp_path, monkeypatch):
    """A model that raises inside its forward on the task's data (not a SymzooError) is refused by
    the probe before the folder exists, with a sentence of ours."""
    import symzoo.train.run as run_mod
    from symzoo.train.config import load_config

    real = run_mod._build_model

    def broken(name, args):
        model = real(name, args)

        def forward(batch):
            raise RuntimeError("The size of tensor a (16) must match the size of tensor b (32)")

        model.forward = forward
        return model

    monkeypatch.setattr(run_mod, "_build_model", broken)
    cfg = load_config("nbody-charged", "egnn", preset="tiny", overrides=T[3:])
    out = tmp_path / "run"
    with pytest.raises(SymzooError, match="does not fit the data of task 'nbody-charged'") as e:
        run_mod.train(cfg, str(out), quiet=True)
    assert "size of tensor" not in str(e.value)
    assert not out.exists()


def test_out_that_cannot_be_created(tmp_path, capsys):
    import os

    f = tmp_path / "afile"
    f.write_text("mine")
    capsys.readouterr()
    assert main(["train", "nbody-charged", "egnn", "--out", str(f / "run"), *T]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file, not a folder" in err and len(err.splitlines()) == 1, err
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: a read-only folder is writable")
        assert main(["train", "nbody-charged", "egnn", "--out", str(ro / "run"), *T]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)
