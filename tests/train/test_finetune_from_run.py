"""`symzoo finetune RUN_DIR TASK`: fine-tuning from a user's own `symzoo train` run folder.

One tiny NequIP is trained on ethanol (module fixture, a few seconds) and fine-tuned on toluene, a
molecule it never saw; bad run folders are refused with one line before anything is written.
"""

from __future__ import annotations

import json
import logging
import math
import shutil

import pytest
import torch
from omegaconf import OmegaConf
from symzoo.train.finetune import finetune

from symzoo.cli import main
from symzoo.errors import SymzooError
from symzoo.modelio import load_model

FAST = ["epochs=1", "trainer.tensorboard=false", "trainer.progress_bar=false"]


@pytest.fixture(scope="module")
def pretrain(tmp_path_factory):
    out = tmp_path_factory.mktemp("own") / "pretrain-ethanol"
    code = main(
        [
            "train",
            "rmd17-ethanol",
            "nequip",
            "--preset",
            "tiny",
            "--out",
            str(out),
            "trainer.max_epochs=1",
            "trainer.tensorboard=false",
            "trainer.progress_bar=false",
        ]
    )
    assert code == 0 and (out / "model.safetensors").is_file()
    return out


def test_finetune_from_a_run_folder_starts_from_its_weights(pretrain, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="symzoo"):
        run = finetune(
            str(pretrain),
            "rmd17-toluene",
            train_size=10,
            preset="tiny",
            overrides=["lr=1e-30", *FAST],
            out=str(tmp_path / "ft"),
        )
    cfg = OmegaConf.load(run / "config.yaml")
    assert cfg.task == "rmd17-toluene" and cfg.data.train_size == 10
    assert cfg.base_model == str(pretrain.resolve()) and cfg.init_weights == str(pretrain.resolve())
    info = json.loads((run / "finetune.json").read_text())
    src_meta = json.loads((pretrain / "model.json").read_text())
    assert info["base_model"] == str(pretrain.resolve()) and info["copied"] > 0
    assert info["pretrained_sha256"] == src_meta["weights_sha256"]
    assert load_model(run).meta["base_model"] == str(pretrain.resolve())
    # the pretrained reference energies were shifted by least squares on the toluene frames
    assert "pretrained reference energies shifted" in caplog.text
    assert info["reference_energies"] == "shifted"
    prepared = json.loads((run / "prepare.json").read_text())
    assert prepared["species"] == [1, 6] and len(prepared["shift_eV"]) == 2
    # lr = 1e-30: every learned tensor is the run's; only the per-species reference energies moved
    got, want = load_model(run).state_dict(), load_model(pretrain).state_dict()
    assert got.keys() == want.keys()
    moved = [k for k in want if not torch.allclose(got[k].double(), want[k].double(), rtol=0, atol=1e-20)]
    assert moved == ["atomic_reference"], moved


def test_refit_reference_false_keeps_the_pretrained_reference_energies(pretrain, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="symzoo"):
        run = finetune(
            str(pretrain),
            "rmd17-toluene",
            train_size=10,
            preset="tiny",
            overrides=["lr=1e-30", *FAST],
            out=str(tmp_path / "keep"),
            refit_reference=False,
        )
    assert "pretrained reference energies shifted" not in caplog.text
    info = json.loads((run / "finetune.json").read_text())
    assert info["reference_energies"] == "kept (refit_reference=false)"
    prepared = json.loads((run / "prepare.json").read_text())
    assert prepared["reference_energies"] == "kept"
    assert json.loads((run / "eval.json").read_text())["prepare"] == prepared
    with pytest.raises(SymzooError, match="refit_reference=false needs pretrained"):
        finetune(str(pretrain), "rmd17-toluene", preset="tiny", from_scratch=True, refit_reference=False)


def test_refit_reference_false_onto_an_element_the_model_never_saw(pretrain, tmp_path, caplog):
    """Uracil has nitrogen, the ethanol model does not know it: there is no pretrained reference
    energy to keep, so the task fits them (with the usual warning) instead of the model refusing Z=7
    (which is what happened: the transfer study's uracil runs stopped there)."""
    with caplog.at_level(logging.INFO, logger="symzoo"):
        run = finetune(
            str(pretrain),
            "rmd17-uracil",
            train_size=10,
            preset="tiny",
            overrides=FAST,
            out=str(tmp_path / "uracil"),
            refit_reference=False,
        )
    assert "never seen by the pretrained model" in caplog.text and "cannot keep" in caplog.text
    model = load_model(run)
    assert bool(model.known_species[7]) and bool(model.known_species[6])
    ev = json.loads((run / "eval.json").read_text())
    assert all(math.isfinite(v) for v in ev["metrics"].values() if isinstance(v, float))
    # the record says what happened, not what was asked: a full fit, because of nitrogen
    assert ev["prepare"]["reference_energies"] == "fitted" and ev["prepare"]["new_elements"] == [7]
    info = json.loads((run / "finetune.json").read_text())
    assert info["reference_energies"].startswith("fitted (new element(s) Z=[7]"), info


def test_finetune_cli_from_a_run_folder(pretrain, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["finetune", str(pretrain), "rmd17-toluene", "--train-size", "10", "--preset", "tiny"]
    assert main([*args, *FAST, "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert f"fine-tuned from {pretrain.resolve()}" in text and "force_mae_meV_per_A" in text
    assert main([*args, "refit_reference=maybe", "--out", str(tmp_path / "bad")]) == 2
    assert "refit_reference" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def _refused(argv, capsys, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("symzoo: error:") and match in err[0], err


def test_bad_run_folders_are_refused_before_anything_is_written(pretrain, tmp_path, capsys):
    base = ["--preset", "tiny", "--train-size", "10", *FAST]
    # a run that never wrote its weights (interrupted): one line, nothing written
    unfinished = tmp_path / "unfinished"
    shutil.copytree(pretrain, unfinished)
    (unfinished / "model.safetensors").unlink()
    out = tmp_path / "out"
    _refused(
        ["finetune", str(unfinished), "rmd17-toluene", *base, "--out", str(out)],
        capsys,
        "no model.safetensors",
    )
    # damaged weights: the sha256 recorded in model.json no longer matches
    damaged = tmp_path / "damaged"
    shutil.copytree(pretrain, damaged)
    blob = bytearray((damaged / "model.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (damaged / "model.safetensors").write_bytes(bytes(blob))
    _refused(["finetune", str(damaged), "rmd17-toluene", *base, "--out", str(out)], capsys, "sha256")
    # a folder that is not a run folder
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(["finetune", str(empty), "rmd17-toluene", *base, "--out", str(out)], capsys, "model.json")
    # a missing folder
    _refused(
        ["finetune", str(tmp_path / "nope"), "rmd17-toluene", *base, "--out", str(out)],
        capsys,
        "does not exist",
    )
    # a task whose fields the force field cannot produce (N-body positions and velocities)
    _refused(["finetune", str(pretrain), "nbody-charged", *base, "--out", str(out)], capsys, "nequip")
    assert not out.exists()
