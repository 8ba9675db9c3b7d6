"""The Lightning module and data module shared by every (model, task) pair."""

from __future__ import annotations

import math
import os
from typing import Any

import lightning as L
import torch
from symzoo.models.base import SymmetryContract
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from symzoo.task import Task, cast_batch

__all__ = ["SymzooModule", "SymzooDataModule", "EpochSampler"]


class EpochSampler(torch.utils.data.Sampler):
    """Shuffles with ``seed + epoch`` and splits across ranks (padding to equal length).

    The order of epoch ``k`` depends only on (seed, k), so a resumed run sees exactly the batches
    an uninterrupted one would.  Lightning calls :meth:`set_epoch` before every epoch.
    """

    def __init__(self, n: int, *, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1):
        self.n, self.shuffle, self.seed, self.rank, self.world = n, shuffle, seed, rank, world_size
        self.epoch = 0
        self.per_rank = math.ceil(n / world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        total = self.per_rank * self.world
        order = (order * math.ceil(total / max(self.n, 1)))[:total] if self.world > 1 else order
        return iter(order[self.rank : total : self.world] if self.world > 1 else order)

    def __len__(self) -> int:
        return self.per_rank if self.world > 1 else self.n


class SymzooDataModule(L.LightningDataModule):
    def __init__(
        self,
        task: Task,
        train,
        val,
        test,
        *,
        batch_size: int,
        eval_batch_size: int | None,
        seed: int,
        num_workers: int = 0,
    ):
        super().__init__()
        self.task, self.train_set, self.val_set, self.test_set = task, train, val, test
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.seed, self.num_workers = seed, num_workers

    def _loader(self, ds, shuffle: bool, bs: int):
        rank = self.trainer.global_rank if self.trainer is not None else 0
        world = self.trainer.world_size if self.trainer is not None else 1
        # torch's DistributedSampler (Lightning calls its set_epoch before every epoch, so the order of
        # epoch k depends only on (seed, k) and resumed runs are exact); pads ranks to equal length
        sampler: torch.utils.data.DistributedSampler = torch.utils.data.DistributedSampler(
            ds, num_replicas=world, rank=rank, shuffle=shuffle, seed=self.seed, drop_last=False
        )
        return self.task.loader(ds, bs, sampler=sampler, num_workers=self.num_workers)

    def train_dataloader(self):
        return self._loader(self.train_set, True, self.batch_size)

    def val_dataloader(self):
        return self._loader(self.val_set, False, self.eval_batch_size)

    def test_dataloader(self):
        return self._loader(self.test_set, False, self.eval_batch_size)


class SymzooModule(L.LightningModule):
    """Trains ``model`` on ``task``: the task's loss, metrics logged as ``val_<metric>``.

    ``augment=True`` applies an independent random group element of ``task.group`` to every
    training sample (inputs and targets), with a generator seeded by (seed, step, rank) so that
    resumed runs are exact.  With ``ema_decay`` an exponential moving average of the weights is
    kept and used for validation, testing and export.

    The EMA is torch's ``AveragedModel`` with ``get_ema_multi_avg_fn`` — the same primitive that
    Lightning 2.6's ``EMAWeightAveraging`` callback wraps — held as a submodule rather than through
    that callback: its weights are then part of the module's state dict, so ``best.ckpt`` holds the
    weights that were validated (the callback swaps them in only around validation), export reads
    them without the callback, and resume restores them exactly with the rest of the module.
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        *,
        optim: dict,
        augment: bool = False,
        seed: int = 0,
        ema_decay: float | None = None,
        max_epochs: int = 1,
        compile: bool | str = False,
    ):
        super().__init__()
        self.model, self.task = model, task
        self.optim_cfg, self.augment, self.seed, self.max_epochs = dict(optim), augment, seed, max_epochs
        self.ema = (
            AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
            if ema_decay
            else None
        )
        if self.ema is not None:
            for p in self.ema.parameters():
                p.requires_grad_(False)
        self.needs_grad = bool(task.needs_grad)
        # training_step's per-epoch sums (name -> [(value, weight)]), see on_train_epoch_end
        self._train_terms: dict[str, list[tuple[torch.Tensor, int]]] = {}
        self._trainable = True
        # trainer.compile: torch.compile'd callables of the same module objects for the training and
        # evaluation steps.  They are held outside the module tree (object.__setattr__), so the state
        # dict, checkpoints and exported weights are exactly those of the plain model, and nothing
        # outside the fit (the final evaluation, the equivariance report, float64 casts) is compiled.
        self.compile_backend = _compile_backend(compile)
        object.__setattr__(self, "_train_call", self._compiled(self.model))
        object.__setattr__(self, "_eval_call", self._compiled(self.eval_model))

    def _compiled(self, model: nn.Module) -> nn.Module:
        if self.compile_backend is None:
            return model
        return torch.compile(model, backend=self.compile_backend)  # type: ignore[return-value]

    @property
    def eval_model(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.model

    def _cast(self, batch):
        dtype = next(self.model.parameters()).dtype
        # any domain: cast when some floating tensor of the batch is not in the model's dtype (the
        # batch's tensors read from its storage(s) directly: no per-step dict copy of the batch)
        stores = getattr(batch, "stores", None)
        values = (
            (v for store in stores for v in store.values())
            if stores is not None
            else batch.to_dict().values()
        )
        if any(torch.is_tensor(v) and v.is_floating_point() and v.dtype != dtype for v in values):
            batch = cast_batch(batch, dtype)
        return batch

    def forward(self, batch):
        return self.eval_model(batch)

    def training_step(self, batch, batch_idx):
        batch = self._cast(batch)
        if self.augment:
            gen = torch.Generator().manual_seed(
                (self.seed * 1_000_003 + self.global_step * 7919 + self.global_rank) % (2**63)
            )
            batch = self.task.act(self.task.sample_group(batch, generator=gen), batch)
        out = self.task.apply_model(self._train_call, batch)
        loss = self.task.loss(out, batch)
        # per-epoch means (weighted by the batch's graphs), logged once at the epoch's end
        # (on_train_epoch_end): the same figures as self.log(on_epoch=True, sync_dist=True) without
        # Lightning's per-step logging machinery
        self._train_terms.setdefault("train_loss", []).append((loss.detach(), int(batch.num_graphs)))
        if not self._trainable:
            return None  # a closed-form model: no optimizer step (Lightning skips the step)
        # the model's declared penalty (SymmetryContract.regularization) joins the objective only
        reg = self.model.regularization() if isinstance(self.model, SymmetryContract) else None
        if reg is not None:
            self._train_terms.setdefault("train_regularization", []).append((reg.detach(), 1))
            loss = loss + reg
        return loss

    def on_train_epoch_start(self) -> None:
        self._train_terms = {}
        # a closed-form model (SymmetryContract.fit_closed_form) has no trainable parameter; checked
        # once per epoch rather than at every step
        self._trainable = any(p.requires_grad for p in self.model.parameters())

    def on_train_epoch_end(self) -> None:
        terms, self._train_terms = self._train_terms, {}
        if not terms:
            return
        dtype = torch.float32 if self.device.type == "mps" else torch.float64
        names = sorted(terms)
        sums = []
        for name in names:
            values = torch.stack([v.reshape(()).to(dtype) for v, _ in terms[name]])
            weights = torch.tensor([w for _, w in terms[name]], dtype=dtype, device=values.device)
            sums += [(values * weights).sum(), weights.sum()]
        # summed over ranks, as Lightning's sync_dist does for an epoch mean
        total = self.trainer.strategy.reduce(torch.stack(sums), reduce_op="sum")
        for i, name in enumerate(names):
            self.log(name, total[2 * i] / total[2 * i + 1], batch_size=1, sync_dist=False)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def _eval_step(self, batch, prefix: str):
        batch = self._cast(batch)
        with torch.set_grad_enabled(self.needs_grad):
            out = self.task.apply_model(self._eval_call, batch)
            loss = self.task.loss(out, batch)
            terms = self.task.metric_terms(out, batch)
        n = int(batch.num_graphs)
        self.log(f"{prefix}_loss", loss.detach(), batch_size=n, sync_dist=True, prog_bar=prefix == "val")
        # exact metrics over the whole split (sums and counts, symzoo.metrics), logged at epoch end
        from symzoo.metrics import MetricSums

        self._metric_sums = getattr(self, "_metric_sums", {})
        self._metric_sums.setdefault(prefix, MetricSums()).update(terms)

    def _log_metric_sums(self, prefix: str) -> None:
        sums = getattr(self, "_metric_sums", {}).pop(prefix, None)
        if not sums:
            return
        dtype = torch.float32 if self.device.type == "mps" else torch.float64

        def all_reduce_sum(values: list[float]) -> list[float]:
            t = torch.tensor(values, dtype=dtype, device=self.device)
            return self.trainer.strategy.reduce(t, reduce_op="sum").tolist()

        sums.reduce(all_reduce_sum)
        for k, v in sums.compute().items():
            self.log(f"{prefix}_{k}", v, batch_size=1, sync_dist=False)

    def on_test_epoch_end(self) -> None:
        self._log_metric_sums("test")

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "val")

    def on_train_start(self) -> None:
        import time

        self._t_start = time.perf_counter() - float(getattr(self, "_elapsed_before", 0.0))

    def on_validation_epoch_end(self) -> None:
        import time

        self._log_metric_sums("val")
        if hasattr(self, "_t_start"):
            # wall time since the start of training (continues across --resume)
            self.log(
                "elapsed_s",
                time.perf_counter() - self._t_start,
                batch_size=1,
                sync_dist=False,
                rank_zero_only=True,
            )

    def on_save_checkpoint(self, checkpoint) -> None:
        import time

        if hasattr(self, "_t_start"):
            checkpoint["symzoo_elapsed_s"] = time.perf_counter() - self._t_start

    def on_load_checkpoint(self, checkpoint) -> None:
        self._elapsed_before = float(checkpoint.get("symzoo_elapsed_s", 0.0))

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test")

    def configure_optimizers(self):
        c = self.optim_cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:  # fit in closed form (SymmetryContract.fit_closed_form): nothing to optimize
            return None
        # the fused Adam kernel (same update rule, one kernel for all parameters: ~10 % of an
        # N-body EGNN step on CPU) where torch has it for every parameter's device and dtype
        fused: dict[str, Any] = (
            {"fused": True}
            if all(
                p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64) for p in params
            )
            else {}
        )
        opt: torch.optim.Optimizer
        if c["optimizer"] == "adam":
            opt = torch.optim.Adam(params, lr=c["lr"], weight_decay=c["weight_decay"], **fused)
        elif c["optimizer"] == "adamw":
            opt = torch.optim.AdamW(params, lr=c["lr"], weight_decay=c["weight_decay"], **fused)
        else:
            opt = torch.optim.SGD(params, lr=c["lr"], momentum=0.9, weight_decay=c["weight_decay"])
        sched = c["schedule"]
        warm = int(c.get("warmup_epochs", 0))
        if sched == "none" and warm == 0:
            return opt
        if sched == "plateau":
            s = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=c["plateau_factor"], patience=c["plateau_patience"], min_lr=c["min_lr"]
            )
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": s, "monitor": "val_loss", "interval": "epoch", "strict": False},
            }
        total, lr0, lr_min = max(self.max_epochs, 1), c["lr"], c["min_lr"]

        def factor(epoch: int) -> float:
            if epoch < warm:
                return (epoch + 1) / (warm + 1)
            if sched == "cosine":
                t = (epoch - warm) / max(total - warm, 1)
                return (lr_min + 0.5 * (lr0 - lr_min) * (1 + math.cos(math.pi * min(t, 1.0)))) / lr0
            if sched == "step":
                return c["step_gamma"] ** ((epoch - warm) // c["step_size"])
            return 1.0

        lam = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": lam, "interval": "epoch"}}


def _compile_backend(value: bool | str) -> str | None:
    """``trainer.compile``: false -> None (eager), true -> ``"inductor"``, a string -> that
    ``torch.compile`` backend (``"aot_eager"`` checks the path without code generation)."""
    if value is False or value is None or value == "false":
        return None
    if value is True or value == "true":
        return "inductor"
    return str(value)


def global_rank_from_env() -> int:
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if var in os.environ:
            try:
                return int(os.environ[var])
            except ValueError:
                pass
    return 0
