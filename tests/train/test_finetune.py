"""`symzoo finetune`: starts from verified pretrained weights, adapts, freezes, records base_model."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf
from symzoo.train.finetune import finetune

import symzoo
from symzoo.cli import main
from symzoo.errors import SymzooError
from symzoo.modelio import load_model

NAME = "egnn.nbody-charged"
# tiny and quick: 20 charged-particle samples, one epoch (the real study is in the README, "Pretrained models and fine-tuning")
FAST = [
    "epochs=1",
    "batch_size=10",
    "trainer.check_val_every_n_epoch=1",
    "trainer.tensorboard=false",
    "trainer.progress_bar=false",
]


def _same(a, b):
    return torch.allclose(a, b, rtol=0, atol=1e-20)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_finetune_starts_from_the_pretrained_weights(tmp_path):
    run = finetune(
        NAME,
        "nbody-charged",
        train_size=20,
        preset="tiny",
        overrides=["lr=1e-30", *FAST],
        out=str(tmp_path / "ft"),
    )
    cfg = OmegaConf.load(run / "config.yaml")
    assert cfg.base_model == NAME and cfg.data.train_size == 20
    assert cfg.init_weights == str(symzoo.pretrained_path(NAME))
    info = json.loads((run / "finetune.json").read_text())
    assert info["base_model"] == NAME and info["reinitialised"] == [] and info["copied"] > 0
    assert load_model(run).meta["base_model"] == NAME
    # lr = 1e-30 (lr must be > 0): the exported weights are the pretrained ones
    got, want = _state(load_model(run)), _state(symzoo.load_pretrained(NAME))
    assert got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)


def test_freeze_keeps_the_named_parameters_fixed(tmp_path):
    run = finetune(
        NAME,
        "nbody-charged",
        train_size=20,
        preset="tiny",
        freeze="embed,layers.0",
        overrides=["lr=1e-2", *FAST],
        out=str(tmp_path / "ft"),
    )
    got, want = _state(load_model(run)), _state(symzoo.load_pretrained(NAME))
    frozen = [k for k in want if k.startswith(("embed.", "layers.0."))]
    free = [k for k in want if k.startswith("layers.3.") and want[k].dtype.is_floating_point]
    assert frozen and all(torch.equal(got[k], want[k]) for k in frozen)
    assert any(not torch.equal(got[k], want[k]) for k in free)
    info = json.loads((run / "finetune.json").read_text())
    n_frozen = sum(v.numel() for k, v in want.items() if k in frozen)
    assert info["freeze"] == ["embed", "layers.0"] and info["frozen_parameters"] == n_frozen
    # the run config records it: a resumed (continued) fine-tune freezes the same parameters
    assert list(OmegaConf.load(run / "config.yaml").freeze) == ["embed", "layers.0"]
    assert main(["train", "--resume", str(run), "--quiet", "trainer.max_epochs=2"]) == 0
    # the last checkpoint (the export is the best epoch's): frozen still pretrained, the rest moved on
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1  # 0-based: the second epoch, trained after the resume
    again = {k.removeprefix("model."): v for k, v in last["state_dict"].items() if k.startswith("model.")}
    assert all(torch.equal(again[k], want[k]) for k in frozen)
    assert any(not torch.equal(again[k], got[k]) for k in free)


def test_freeze_is_refused_where_it_cannot_apply(tmp_path, capsys):
    # no pretrained weights: nothing to keep fixed; a changed freeze list on --resume
    args = ["nbody-charged", "egnn", "--preset", "tiny", "freeze=[embed]", "--out", str(tmp_path / "a")]
    assert main(["train", *args]) == 2
    assert "needs pretrained weights" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    run = finetune(
        NAME,
        "nbody-charged",
        train_size=20,
        preset="tiny",
        freeze="embed",
        overrides=FAST,
        out=str(tmp_path / "ft"),
    )
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "freeze=[embed,layers.0]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "freeze" in err[0]


def test_changed_architecture_copies_what_fits_and_reinitialises_the_rest(tmp_path):
    run = finetune(
        NAME,
        "nbody-charged",
        train_size=20,
        preset="tiny",
        overrides=["model.args.layers=5", "lr=1e-30", *FAST],
        out=str(tmp_path / "ft"),
    )
    info = json.loads((run / "finetune.json").read_text())
    got, want = _state(load_model(run)), _state(symzoo.load_pretrained(NAME))
    assert "layers.4.edge_src.weight" in info["reinitialised"] and info["copied"] == len(want)
    assert set(info["reinitialised"]) == set(got) - set(want)
    assert all(_same(got[k], want[k]) for k in want)  # every old tensor copied, unchanged at lr = 1e-30


def test_finetune_cli_and_errors(tmp_path, capsys):
    assert (
        main(
            [
                "finetune",
                NAME,
                "nbody-charged",
                "lr=1e-30",
                *FAST,
                "--train-size",
                "20",
                "--preset",
                "tiny",
                "--out",
                str(tmp_path / "cli"),
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"fine-tuned from {NAME}" in out and "pos_mse" in out
    with pytest.raises(SymzooError, match="matches no parameter"):
        finetune(
            NAME, "nbody-charged", train_size=20, preset="tiny", freeze="encoder", out=str(tmp_path / "x")
        )
    with pytest.raises(SymzooError, match="did you mean"):
        finetune(NAME, "nbody-gravty", train_size=20, preset="tiny", out=str(tmp_path / "y"))
    with pytest.raises(SymzooError, match="train_size"):
        finetune(
            NAME, "nbody-charged", train_size=10**6, preset="tiny", overrides=FAST, out=str(tmp_path / "z")
        )
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert (
        main(["finetune", NAME, "nbody-charged", "freeze=embed", "--from-scratch", "--preset", "tiny"]) == 2
    )


def test_finetune_a_model_whose_builder_takes_task_defaults(tmp_path):
    """Robot models get their group and representations from ``Task.model_defaults``: the pre-write
    compatibility check of ``symzoo finetune`` must build them with those defaults, as train() does."""
    run = finetune(
        "emlp.quadruped-com",
        "quadruped-com",
        train_size=20,
        preset="tiny",
        overrides=["lr=1e-30", *FAST],
        out=str(tmp_path / "ft-robot"),
    )
    got, want = _state(load_model(run)), _state(symzoo.load_pretrained("emlp.quadruped-com"))
    assert got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)


def test_nequip_fine_tuning_drops_the_weight_ema_but_scratch_keeps_it():
    """configs/atoms/nequip.yaml's finetune block (no EMA over a short fine-tune; docs/transfer.md)
    reaches the fine-tuning config only: the from-scratch baseline keeps the recipe's EMA 0.99, and an
    explicit override wins over the block."""
    from symzoo.train.finetune import finetune_config, scratch_config

    ft, _ = finetune_config("nequip.rmd17-multi", "rmd17-ethanol", train_size=10, preset="small")
    sc = scratch_config("nequip.rmd17-multi", "rmd17-ethanol", train_size=10, preset="small")
    assert ft.trainer.ema_decay is None
    assert sc.trainer.ema_decay == 0.99
    # lr 5e-3 with a 3-epoch warm-up (small preset) for the fine-tune; ethanol's own 1e-2 from scratch
    assert (ft.optim.lr, ft.optim.warmup_epochs, sc.optim.lr, sc.optim.warmup_epochs) == (5e-3, 3, 1e-2, 0)
    assert ft.trainer.max_epochs == sc.trainer.max_epochs and ft.optim.schedule == sc.optim.schedule
    tiny, _ = finetune_config("nequip.rmd17-multi", "rmd17-ethanol", train_size=10, preset="tiny")
    assert (tiny.optim.lr, tiny.optim.warmup_epochs) == (5e-3, 0)  # no warm-up in a 3-epoch run
    ov, _ = finetune_config(
        "nequip.rmd17-multi",
        "rmd17-ethanol",
        train_size=10,
        preset="small",
        overrides=["trainer.ema_decay=0.99"],
    )
    assert ov.trainer.ema_decay == 0.99
