"""Callbacks and plugins of the harness: safe atomic checkpoints, the non-finite stop and the DDP
weight-agreement check.

Checkpoints are written and read only by :class:`AtomicCheckpointIO`:

* written to a temporary file and renamed (a killed run never leaves half a file), with the
  usual umask mode (not mkstemp's 0600);
* **read with** ``torch.load(weights_only=True)`` -- also when Lightning restores
  ``ckpt_path`` on ``--resume`` -- so a crafted checkpoint cannot run code; anything that is not
  tensors and plain containers is refused (:func:`load_checkpoint_safely`);
* **movable**: the paths that ``ModelCheckpoint`` stores (``dirpath``, ``best_model_path``,
  ``best_k_models``, ...) are written relative to the checkpoint folder and re-anchored to the
  folder the checkpoint is read from, so a copied or moved run folder resumes and exports its
  *own* best model.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import tempfile
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from symzoo.errors import SymzooError, TrainingDiverged

__all__ = [
    "AtomicCheckpointIO",
    "DDPWeightCheck",
    "FiniteCheck",
    "PeriodicTestEval",
    "load_checkpoint_safely",
    "clean_partials",
]

_PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _rebase_paths(checkpoint: dict, folder: Path | None) -> dict:
    """``ModelCheckpoint`` states with paths relative to the checkpoint folder (``folder=None``) or
    anchored to ``folder`` (when reading).  Other callbacks' states are left alone."""
    callbacks = checkpoint.get("callbacks")
    if not isinstance(callbacks, dict):
        return checkpoint
    new = {}
    for key, state in callbacks.items():
        if isinstance(state, dict) and "dirpath" in state and "best_model_path" in state:
            state = dict(state)

            def move(p, _folder=folder):
                if not p:
                    return p
                name = Path(str(p)).name
                return name if _folder is None else str(_folder / name)

            state["dirpath"] = "." if folder is None else str(folder)
            for k in _PATH_KEYS:
                if k in state:
                    state[k] = move(state[k])
            if isinstance(state.get("best_k_models"), dict):
                state["best_k_models"] = {move(k): v for k, v in state["best_k_models"].items()}
        new[key] = state
    return {**checkpoint, "callbacks": new}


def load_checkpoint_safely(path: str | os.PathLike, map_location="cpu") -> dict:
    """``torch.load(path, weights_only=True)`` with one-line errors: a checkpoint holding anything
    but tensors and plain containers (i.e. one whose unpickling could run code) is refused."""
    import warnings

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch's multi-line notes on refused globals: the line below says it
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
        if "weights_only" in str(e) or "Unsupported global" in str(e) or "global" in first.lower():
            raise SymzooError(
                f"checkpoint {path} holds objects other than tensors (refusing to unpickle code)"
            ) from None
        raise SymzooError(f"checkpoint {path} is corrupt (not a readable checkpoint)") from None
    except Exception:  # noqa: BLE001 -- truncated zip, wrong format ...: the text varies by torch version
        raise SymzooError(f"checkpoint {path} is corrupt (not a readable checkpoint)") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SymzooError(f"checkpoint {path} is not a symzoo/Lightning checkpoint (no state_dict)")
    return _rebase_paths(ckpt, path.resolve().parent)


def clean_partials(folder: Path) -> list[Path]:
    """Remove temporary ``*.partial`` files in ``folder`` (call only while owning the run folder)."""
    removed = []
    if folder.is_dir():
        for p in folder.glob("*.partial"):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


class AtomicCheckpointIO(TorchCheckpointIO):
    """Atomic, movable, code-free checkpoints (see module docstring)."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(fd)
        try:
            torch.save(_rebase_paths(checkpoint, None), tmp)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        # Lightning's own restore of ``ckpt_path`` goes through here: always weights_only=True
        return load_checkpoint_safely(path, map_location=map_location or "cpu")


class FiniteCheck(L.Callback):
    """Stops training with a one-line :class:`TrainingDiverged` at the first non-finite training
    loss or validation metric (instead of training on, and exporting, NaN weights), and — with
    ``monitor`` and ``divergence_factor`` — when the monitored validation metric exceeds
    ``divergence_factor`` times its best value so far: a finite blow-up is a divergence too (a
    nequip run at lr 1e-2 went from 26 to 1e8 meV/Å in one epoch and trained on for 20 more).

    The check runs at the end of validation (after the module has logged the epoch's metrics),
    before that epoch's checkpoints are written, so the run folder keeps the last good
    ``last.ckpt`` and the best one.
    """

    def __init__(self, hint: str = "", *, monitor: str | None = None, divergence_factor: float | None = None):
        self.hint = hint
        self.monitor, self.factor = monitor, divergence_factor
        self.best: float | None = None

    def _stop(self, trainer, what: str, value=None) -> None:
        is_value = "" if value is None else f" is {value}"
        raise TrainingDiverged(
            f"training diverged at epoch {trainer.current_epoch} (step {trainer.global_step}): "
            f"{what}{is_value}{self.hint}"
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if torch.is_tensor(loss) and not bool(torch.isfinite(loss.detach()).all()):
            self._stop(trainer, "the training loss", float(loss.detach().float().reshape(-1)[0]))

    def on_validation_end(self, trainer, pl_module) -> None:
        # ``on_validation_end``, not ``on_validation_epoch_end``: Lightning calls the callbacks'
        # epoch-end hooks before the module's, which logs the epoch's metrics, so an epoch-end check
        # read the previous epoch's values and let the blown-up epoch reach ``last.ckpt``.  This hook
        # runs after them and before this callback's siblings write checkpoints.
        if getattr(trainer, "sanity_checking", False):
            return
        for k, v in trainer.callback_metrics.items():
            x = float(v) if torch.is_tensor(v) and v.numel() == 1 else None
            if x is not None and not math.isfinite(x):
                self._stop(trainer, k, x)
        if not (self.monitor and self.factor):
            return
        v = trainer.callback_metrics.get(self.monitor)
        if not torch.is_tensor(v) or v.numel() != 1:
            return
        x = float(v)
        if self.best is not None and self.best > 0 and x > self.factor * self.best:
            self._stop(
                trainer,
                f"{self.monitor} = {x:.4g}, more than trainer.divergence_factor = {self.factor:g} times "
                f"its best {self.best:.4g}; the last good checkpoint is kept",
            )
        self.best = x if self.best is None else min(self.best, x)

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict) -> None:
        self.best = state_dict.get("best")


def weights_checksum(module: torch.nn.Module) -> torch.Tensor:
    """Two float64 numbers summarising every parameter: sum and a position-weighted sum."""
    flat = torch.cat([p.detach().double().flatten().cpu() for p in module.parameters()])
    w = torch.arange(1, flat.numel() + 1, dtype=torch.float64) / flat.numel()
    return torch.stack([flat.sum(), (flat * w).sum()])


class DDPWeightCheck(L.Callback):
    """After training on several processes, gathers a checksum of the weights from every rank and
    writes ``ddp_check.json`` (rank 0); raises if the ranks disagree."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.world_size < 2:
            return
        local = weights_checksum(pl_module.model).to(pl_module.device)
        gathered = trainer.strategy.all_gather(local).cpu()  # [world, 2]
        if trainer.is_global_zero:
            values = gathered.tolist()
            agree = bool(torch.allclose(gathered, gathered[0].expand_as(gathered), rtol=0, atol=0))
            (self.run_dir / "ddp_check.json").write_text(
                json.dumps({"world_size": trainer.world_size, "checksums": values, "agree": agree}, indent=2)
            )
            if not agree:
                raise RuntimeError(f"DDP ranks ended with different weights: {values}")


class PeriodicTestEval(L.Callback):
    """Evaluates the model that would be exported (EMA weights when enabled) on ``dataset`` every
    ``every_n_epochs`` epochs (and once before training) and records the metrics against the
    training clock: ``train_seconds`` is wall time since ``on_train_start`` **minus** the time
    spent in these evaluations (validation stays on the clock: it is part of training).  Rows go
    to ``self.records`` and, with ``path``, are appended to a JSON-lines file as they are made.
    For time-to-accuracy curves; meant for a held-out test split that training never sees.
    """

    def __init__(self, dataset, *, every_n_epochs: int = 1, batch_size: int = 200, path=None):
        self.dataset, self.every, self.batch_size = dataset, max(1, int(every_n_epochs)), batch_size
        self.path = Path(path) if path is not None else None
        self.records: list[dict] = []
        self._t0 = 0.0
        self._eval_s = 0.0

    def _evaluate(self, trainer, pl_module, epoch: int) -> None:
        import time

        from symzoo.eval.evaluate import evaluate_dataset

        t = time.perf_counter()
        model = pl_module.eval_model
        modes = {m: m.training for m in (pl_module, model)}
        try:
            metrics = evaluate_dataset(model, pl_module.task, self.dataset, batch_size=self.batch_size)
        finally:
            for m, mode in modes.items():
                m.train(mode)
        done = time.perf_counter()
        row = {
            "epoch": epoch,
            "step": int(trainer.global_step),
            "train_seconds": round(t - self._t0 - self._eval_s, 3),
            "eval_seconds": round(done - t, 3),
            **{k: float(v) for k, v in metrics.items()},
        }
        self._eval_s += done - t
        self.records.append(row)
        if self.path is not None and trainer.is_global_zero:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")

    def on_train_start(self, trainer, pl_module) -> None:
        import time

        self._t0, self._eval_s = time.perf_counter(), 0.0
        self._evaluate(trainer, pl_module, int(trainer.current_epoch))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        epoch = int(trainer.current_epoch) + 1
        if epoch % self.every == 0 or epoch == trainer.max_epochs:
            self._evaluate(trainer, pl_module, epoch)
