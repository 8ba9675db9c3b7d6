"""A finite blow-up of the validation metric stops the run like a NaN does (trainer.divergence_factor).

Found by using the product: a ``nequip`` ethanol run at lr 1e-2 went from 26 to 1e8 meV/Å in one
epoch and trained on, at 1e11, for 20 more epochs (no NaN, so nothing stopped it).
"""

from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import pytest
import torch
from symzoo.train.callbacks import FiniteCheck
from symzoo.train.config import load_config
from symzoo.train.run import train

from symzoo.cli import main
from symzoo.errors import TrainingDiverged


def _trainer(epoch: int, value: float) -> SimpleNamespace:
    return SimpleNamespace(
        current_epoch=epoch,
        global_step=10 * epoch,
        sanity_checking=False,
        callback_metrics={"val_mse": torch.tensor(value)},
    )


def test_a_finite_blow_up_past_the_factor_stops_with_one_line():
    cb = FiniteCheck(" (lower optim.lr)", monitor="val_mse", divergence_factor=1000.0)
    for epoch, value in enumerate(
        [10.0, 5.0, 6.0, 4999.0]
    ):  # 4999 < 1000 x best 5: a bad epoch, not a blow-up
        cb.on_validation_end(_trainer(epoch, value), None)
    assert cb.best == 5.0
    with pytest.raises(TrainingDiverged) as e:
        cb.on_validation_end(_trainer(4, 5001.0), None)
    msg = str(e.value)
    assert "\n" not in msg and "epoch 4" in msg and "val_mse = 5001" in msg
    assert "trainer.divergence_factor = 1000" in msg and "best 5" in msg and msg.endswith("(lower optim.lr)")


def test_no_factor_no_check_and_the_best_survives_a_resume():
    off = FiniteCheck(monitor="val_mse", divergence_factor=None)
    for epoch, value in enumerate([1.0, 1e12]):
        off.on_validation_end(_trainer(epoch, value), None)
    on = FiniteCheck(monitor="val_mse", divergence_factor=10.0)
    on.on_validation_end(_trainer(0, 2.0), None)
    resumed = FiniteCheck(monitor="val_mse", divergence_factor=10.0)
    resumed.load_state_dict(on.state_dict())
    with pytest.raises(TrainingDiverged):
        resumed.on_validation_end(_trainer(1, 21.0), None)


class _BlowUpAt(L.Callback):
    """Scales every weight by 1e4 at the start of one epoch: finite, but a wrecked model."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.mul_(1e4)


def test_a_real_run_stops_at_the_blow_up_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    cfg = load_config(
        "nbody-charged",
        "mlp",
        preset="tiny",
        overrides=[
            "trainer.max_epochs=6",
            "trainer.check_val_every_n_epoch=1",
            "trainer.progress_bar=false",
            "trainer.tensorboard=false",
        ],
    )
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="divergence_factor"):
        train(cfg, str(run), quiet=True, callbacks=[_BlowUpAt(3)])
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["epoch"] == 2  # the blown-up epoch 3 never reached a checkpoint
    weights = [v for v in last["state_dict"].values() if torch.is_tensor(v) and v.is_floating_point()]
    assert weights and max(float(w.abs().max()) for w in weights) < 1e3


@pytest.mark.parametrize("value", ["1", "0.5", "inf", "-3"])
def test_bad_factor_is_refused_before_any_folder(tmp_path, capsys, value):
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "nbody-charged",
            "linear",
            "--preset",
            "tiny",
            "--quiet",
            "--out",
            str(out),
            f"trainer.divergence_factor={value}",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "trainer.divergence_factor" in err, err
    assert not out.exists()
