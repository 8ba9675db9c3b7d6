"""The harness's per-step work was cut (issue 23, item 4): the training loss is summed per epoch and
logged once at the epoch's end instead of through ``self.log`` at every step.  These tests train
the same seeded run twice, once with the module as shipped and once with the previous per-step
``self.log(..., on_epoch=True, sync_dist=True)`` implementation, and require the same weights, the
same validation metrics and the same epoch-mean training losses in ``metrics.csv``."""

import csv
import math

import pytest
import symzoo.train.module as module_mod
import torch
from safetensors.torch import load_file
from symzoo.models.base import SymmetryContract

from symzoo.cli import main

FAST = [
    "--preset",
    "tiny",
    "--quiet",
    "trainer.max_epochs=3",
    "trainer.check_val_every_n_epoch=1",
    "trainer.tensorboard=false",
    "trainer.threads=1",
    "seed=5",
]


class _PerStepLogging(module_mod.SymzooModule):
    """The training step as it was before: Lightning's per-step ``self.log`` for the epoch means."""

    def training_step(self, batch, batch_idx):
        batch = self._cast(batch)
        if self.augment:
            gen = torch.Generator().manual_seed(
                (self.seed * 1_000_003 + self.global_step * 7919 + self.global_rank) % (2**63)
            )
            batch = self.task.act(self.task.sample_group(batch, generator=gen), batch)
        out = self.task.apply_model(self._train_call, batch)
        loss = self.task.loss(out, batch)
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, batch_size=int(batch.num_graphs), sync_dist=True
        )
        if not any(p.requires_grad for p in self.model.parameters()):
            return None
        reg = self.model.regularization() if isinstance(self.model, SymmetryContract) else None
        if reg is not None:
            self.log("train_regularization", reg, on_step=False, on_epoch=True, batch_size=1, sync_dist=True)
            loss = loss + reg
        return loss

    def on_train_epoch_start(self) -> None:
        pass

    def on_train_epoch_end(self) -> None:
        pass


def _rows(run):
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def _train(run, args, monkeypatch, reference: bool):
    if reference:
        monkeypatch.setattr(module_mod, "SymzooModule", _PerStepLogging)
    try:
        assert main(["train", *args, "--out", str(run), *FAST]) == 0
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize(
    "args",
    [
        # a regularized model (train_regularization is logged too) with augmentation
        ["nbody-charged", "egnn-rpp", "augment=true", "model.args.hidden=8", "model.args.layers=2"],
        # a force field (autograd in the loss) with EMA weights
        ["rmd17-ethanol", "schnet", "trainer.ema_decay=0.9", "model.args.channels=8", "model.args.layers=1"],
    ],
    ids=["egnn-rpp-augment", "schnet-ema"],
)
def test_epoch_logging_matches_per_step_self_log(tmp_path, monkeypatch, args):
    new, old = tmp_path / "new", tmp_path / "old"
    _train(new, args, monkeypatch, reference=False)
    _train(old, args, monkeypatch, reference=True)
    # the same trained weights: the logging change does not touch the numerics
    a, b = load_file(str(new / "model.safetensors")), load_file(str(old / "model.safetensors"))
    assert sorted(a) == sorted(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    rows_new, rows_old = _rows(new), _rows(old)
    assert set(rows_new[0]) == set(rows_old[0])  # the same columns
    assert len(rows_new) == len(rows_old)
    logged = [k for k in rows_old[0] if k.startswith("train_")]
    assert "train_loss" in logged
    if "egnn-rpp" in args:
        assert "train_regularization" in logged
    n_train_rows = 0
    for r_new, r_old in zip(rows_new, rows_old, strict=True):
        assert (r_new["epoch"], r_new["step"]) == (r_old["epoch"], r_old["step"])
        for k, v_old in r_old.items():
            v_new = r_new[k]
            if k == "elapsed_s" or (v_old == "" and v_new == ""):
                continue
            assert v_new != "" and v_old != "", (k, r_new, r_old)
            if k.startswith("train_"):
                n_train_rows += 1
                # Lightning accumulates in float32, the module in float64
                assert math.isclose(float(v_new), float(v_old), rel_tol=2e-6), (k, v_new, v_old)
            else:
                assert float(v_new) == float(v_old), (k, v_new, v_old)
    assert n_train_rows >= 3  # one epoch mean per epoch at least


def test_epoch_mean_is_weighted_by_graphs_and_reset_each_epoch(tmp_path):
    """The logged figure is sum(loss_b * n_b) / sum(n_b) over the epoch's batches (a short last
    batch weighs less), computed afresh every epoch."""
    task = pytest.importorskip("symzoo").get_task("nbody-charged", preset="tiny")
    model = torch.nn.Linear(1, 1)
    mod = module_mod.SymzooModule(
        model, task, optim={"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "schedule": "none"}
    )

    logged: dict[str, float] = {}

    class _Strategy:
        @staticmethod
        def reduce(t, reduce_op):
            assert reduce_op == "sum"
            return t

    class _Trainer:
        strategy = _Strategy()

    object.__setattr__(mod, "_trainer", _Trainer())
    mod.log = lambda name, value, **kw: logged.__setitem__(name, float(value))  # type: ignore[method-assign]
    for epoch_losses in ([(1.0, 100), (4.0, 50)], [(2.0, 10)]):
        mod.on_train_epoch_start()
        assert mod._train_terms == {}
        for value, n in epoch_losses:
            mod._train_terms.setdefault("train_loss", []).append((torch.tensor(value), n))
        mod.on_train_epoch_end()
        want = sum(v * n for v, n in epoch_losses) / sum(n for _, n in epoch_losses)
        assert logged["train_loss"] == pytest.approx(want, rel=1e-12)
    assert mod._train_terms == {}
