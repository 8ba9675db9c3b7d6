"""``train(cfg)``: one run of the harness, from a resolved config to a complete run folder.

Run folder (DESIGN §2)::

    config.yaml            resolved configuration (re-used by --resume)
    metrics.csv            per-epoch train/val metrics (CSV logger; also logs/ and tb/)
    checkpoints/best.ckpt  best validation epoch;  checkpoints/last.ckpt  end of the last epoch
    model.safetensors      weights of the best epoch (EMA weights when enabled), after
                           ``Task.finalize_model`` (checkpoints keep the weights before it)
    model.json             builder, arguments, task, symmetry, units, symzoo version
    prepare.json           what ``Task.prepare_model`` did before training (e.g. reference
                           energies fitted, shifted or kept; new elements), when it says
    eval.json              test metrics at the best validation epoch + equivariance report
                           (after ``Task.finalize_model``; what it did under ``finalize``,
                           ``prepare.json`` under ``prepare``)
    .symzoo.lock           while a process trains into the folder: its owner (pid, host, time)

Reliability rules (tests/train/test_reliability.py, docs/bad_inputs.md):

* everything (config values, task, data, model/task compatibility, builder arguments) is
  validated **before** the run folder is created: bad input leaves no folder behind;
* the folder is owned by one process (:mod:`symzoo.runlock`); a second training into it exits 2;
* a folder left by a run killed before its first checkpoint (config.yaml, logs/, tb/ only) is
  reused by a new run and restarted by ``--resume``;
* checkpoints are read with ``weights_only=True`` only and hold no absolute paths
  (:mod:`symzoo.train.callbacks`), so run folders can be moved or copied;
* a non-finite loss or validation metric, or the monitored validation metric above
  ``trainer.divergence_factor`` times its best so far, stops the run (one line, exit 2); a run
  that diverged in its first epoch leaves nothing behind, a later one keeps its last good checkpoint;
* ``--resume`` appends to ``logs/metrics.csv`` and ``fit_seconds`` adds up every segment;
* Ctrl-C prints the resume command and exits 130; JSON files are strict (:mod:`symzoo.jsonio`).
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, TypeGuard

import torch
from omegaconf import DictConfig, OmegaConf

from symzoo import jsonio
from symzoo.compat import probe_model
from symzoo.errors import SymzooError
from symzoo.paths import atomic_write_text
from symzoo.runlock import is_lock_file

from .config import as_dict

__all__ = ["train", "prepare_run_dir", "build_datasets", "check_trainer", "probe_model", "LOCK_NAME"]

LOCK_NAME = ".symzoo.lock"
#: what a run killed before its first checkpoint leaves behind (safe to clear and reuse)
_LEFTOVER = {"config.yaml", "prepare.json", "logs", "tb", "checkpoints", LOCK_NAME}

log = logging.getLogger(__name__)


def _content(run: Path) -> list[Path]:
    """What ``run`` holds besides its lock and the lock's transient files."""
    return [p for p in run.iterdir() if not is_lock_file(p.name, LOCK_NAME)]


def _is_leftover(run: Path) -> bool:
    """Whether ``run`` holds only what a run killed before its first checkpoint leaves."""
    names = {p.name for p in _content(run)}
    if not names <= _LEFTOVER:
        return False
    ck = run / "checkpoints"
    return not (ck.is_dir() and any(p.suffix == ".ckpt" or p.is_dir() for p in ck.iterdir()))


def _read_prepared(run: Path) -> Any:
    """``prepare.json`` of a run folder (written at its fresh start), or None."""
    p = run / "prepare.json"
    return json.loads(p.read_text()) if p.is_file() else None


def _clear_leftover(run: Path) -> None:
    for name in _LEFTOVER - {LOCK_NAME}:
        p = run / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def _subset(ds, idx):
    from symzoo.task import StackedDataset

    return ds.subset(idx) if isinstance(ds, StackedDataset) else torch.utils.data.Subset(ds, list(idx))


def build_datasets(task, cfg: DictConfig):
    """The (train, val, test) datasets of a config: preset, ``train_size`` and ``restrict``."""
    train_set, val_set, test_set = task.splits(cfg.data.preset, seed=0)
    n = cfg.data.train_size
    if n is not None:
        if n < 1 or n > len(train_set):
            raise SymzooError(
                f"data.train_size={n} but {task.name}/{cfg.data.preset} has {len(train_set)} training samples"
            )
        train_set = _subset(train_set, range(n))
    if cfg.data.restrict:
        train_set = task.restrict(train_set)
        val_set = task.restrict(val_set)
    return train_set, val_set, test_set


def _validate(task, ds, name: str) -> None:
    """Every sample of ``ds`` through ``task.validate_batch`` (NaN/inf, shapes, empty graphs)."""
    from symzoo.task import StackedDataset

    if len(ds) == 0:
        raise SymzooError(f"{task.name}: the {name} split is empty")
    if isinstance(ds, StackedDataset):
        task.validate_batch(ds.__getitems__(list(range(len(ds)))))
    else:
        for batch in task.loader(ds, 256):
            task.validate_batch(batch)


def check_writable_folder(folder: Path, what: str) -> None:
    """Refuse, before anything is written, a folder that could not be created or written: a name
    over the file system's 255-byte limit, a file where a folder is needed, or a read-only parent."""
    for part in folder.parts:
        if len(part.encode()) > 255:
            raise SymzooError(
                f"{what} {str(folder)[:60]}...: the name {part[:30]}... is longer than 255 bytes"
            )
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir() and existing != folder:
        raise SymzooError(f"{what} {folder}: {existing} is a file, not a folder")
    probe = existing if existing.is_dir() else existing.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SymzooError(f"{what} {folder}: folder {probe} is not writable")


def prepare_run_dir(out: str | None, cfg: DictConfig) -> Path:
    """The run folder for a fresh run; refuses a non-empty folder that is not a killed run's leftover."""
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = f"runs/{cfg.task}-{cfg.model.name}{'+aug' if cfg.augment else ''}-{stamp}"
    run = Path(out)
    check_writable_folder(run, "--out")
    if run.exists() and not run.is_dir():
        raise SymzooError(f"--out {run} is a file, not a folder")
    if run.is_dir() and _content(run) and not _is_leftover(run):
        raise SymzooError(f"{run} is not empty; resume it with --resume {run} or choose another --out")
    return run


def _check_arg_types(name: str, args: dict) -> None:
    """A builder argument whose default is a number or bool must be given as one (checked against
    the builder's signature, so the error never depends on where the builder would fail)."""
    from symzoo.registry import model_entry
    from symzoo.taskargs import check_arg_types

    check_arg_types(f"model {name!r}", model_entry(name).builder, args, prefix="model.args.")


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), else ``None``."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # elsewhere (macOS): the physical memory
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def _check_size(name: str, args: dict) -> None:
    """Refuse a model too large for this machine's memory *before* building it, by building it
    on the ``meta`` device (no memory) and counting its parameters: training keeps about four
    copies (weights, gradients, two Adam moments).  Done when a numeric argument is large
    (> 1024), where a typo (``hidden=60000``) would otherwise be killed by the out-of-memory
    killer minutes later."""
    if not any(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 1024 for v in args.values()):
        return
    import random

    import numpy as np

    from symzoo.registry import create_model

    states = random.getstate(), np.random.get_state()
    try:  # random state untouched: the real build right after draws the same weights as without it
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            probe = create_model(name, **args)
        n = sum(p.numel() for p in probe.parameters())
        itemsize = max((p.element_size() for p in probe.parameters()), default=4)
    except Exception:  # noqa: BLE001 -- a builder that cannot run on meta: no estimate, the real build decides
        return
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
    need, have = 4 * n * itemsize, _available_memory()
    if have is not None and need > have:
        raise SymzooError(
            f"model {name!r} with model.args {args} has {n / 1e9:.3g} billion parameters: training "
            f"needs about {need / 2**30:.0f} GiB, more than the {have / 2**30:.0f} GiB available; "
            "use smaller model.args"
        )


def freeze_parameters(
    model: torch.nn.Module, prefixes: list[str], name: str = "the model"
) -> tuple[int, int]:
    """``requires_grad=False`` on every parameter named ``prefix`` or ``prefix.*``; returns the numbers
    of frozen and trainable parameter entries.  A prefix that matches nothing, or prefixes that cover
    every parameter, are refused in one line (run config ``freeze``; ``symzoo finetune ... freeze=``)."""
    names = [n for n, _ in model.named_parameters()]
    for pre in prefixes:
        if not any(n == pre or n.startswith(pre + ".") for n in names):
            tops = sorted({n.split(".")[0] for n in names})
            raise SymzooError(
                f"freeze={pre!r} matches no parameter of {name}; prefixes look like {', '.join(tops)} or layers.0"
            )
    frozen = trainable = 0
    for pname, p in model.named_parameters():
        if any(pname == pre or pname.startswith(pre + ".") for pre in prefixes):
            p.requires_grad_(False)
            frozen += p.numel()
        else:
            trainable += p.numel()
    if not trainable:
        raise SymzooError("freeze= covers every parameter: nothing would be trained")
    return frozen, trainable


def _build_model(name: str, args: dict):
    """``create_model`` with one-line errors: a builder's ``ValueError`` is its sentence for the user;
    any other failure gets a message of ours, independent of the exception's text."""
    from symzoo.registry import create_model

    _check_arg_types(name, args)
    _check_size(name, args)
    try:
        return create_model(name, **args)
    except SymzooError:
        raise
    except ValueError as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else "invalid arguments"
        raise SymzooError(f"model {name!r}: invalid model.args {args}: {first}") from None
    except Exception:  # noqa: BLE001 -- TypeError, ZeroDivisionError, ...: the text is not for users
        raise SymzooError(
            f"model {name!r} cannot be built from model.args {args} (check their values and types)"
        ) from None


def _check_resume_state(state: dict, ckpt: Path, cfg: DictConfig) -> None:
    """Refuse a ``last.ckpt`` that cannot be resumed exactly, before anything is written: an epoch
    or step that is not a count or disagrees with the training loop's own progress (edited), no
    optimizer state (Adam's moments would restart), or more epochs done than ``trainer.max_epochs``."""

    def count(x: object) -> TypeGuard[int]:
        return isinstance(x, int) and not isinstance(x, bool) and x >= 0

    epoch, step = state.get("epoch"), state.get("global_step")
    if not count(epoch) or not count(step):
        raise SymzooError(
            f"checkpoint {ckpt} is damaged: epoch={epoch!r}, global_step={step!r} are not counts; "
            "start a new run"
        )
    try:
        prog = state["loops"]["fit_loop"]["epoch_progress"]["current"]
        consistent = epoch in (int(prog["completed"]), int(prog["ready"]) - 1)
    except (KeyError, TypeError, ValueError):
        consistent = False
    if not consistent:
        raise SymzooError(
            f"checkpoint {ckpt} is inconsistent: its epoch ({epoch}) disagrees with its training loop's "
            "progress (edited or damaged); resume from an untouched checkpoint or start a new run"
        )
    opts = state.get("optimizer_states")
    if (
        not isinstance(opts, list)
        or not opts
        or not all(isinstance(o, dict) and "param_groups" in o for o in opts)
    ):
        raise SymzooError(
            f"checkpoint {ckpt} holds no optimizer state: the resumed run would not continue the "
            "original one (the optimizer would restart); start a new run, e.g. with init_weights="
        )
    done = epoch + 1
    if done > int(cfg.trainer.max_epochs):
        raise SymzooError(
            f"{ckpt.parent.parent} already trained {done} epochs; trainer.max_epochs={cfg.trainer.max_epochs} "
            f"must be at least {done} to resume it"
        )


def _check_resume_weights(state: dict, model, ckpt: Path) -> None:
    """The checkpoint's model weights have the names and shapes of the model its config builds."""
    have = state.get("state_dict")
    if not isinstance(have, dict):
        raise SymzooError(f"checkpoint {ckpt} has no weights (state_dict)")
    for k, v in model.state_dict().items():
        got = have.get(f"model.{k}")
        if not torch.is_tensor(got) or tuple(got.shape) != tuple(v.shape):
            raise SymzooError(
                f"checkpoint {ckpt} does not match the run's model (weight {k!r} "
                f"{'missing' if got is None else 'of another shape'}): the folder's config.yaml and "
                "checkpoint come from different runs"
            )


def check_trainer(cfg: DictConfig) -> str:
    """Build the run's Lightning ``Trainer`` settings once without running anything (nothing is
    written) and refuse, in one line, what cannot run on this machine: an unknown
    ``trainer.strategy``, an accelerator it does not have (``gpu``, ``tpu``, ...), device indices it
    does not have, ``16-mixed`` precision on a CPU (Lightning would train in bf16 without a word).
    Returns the accelerator's name (``cpu``, ``cuda``, ...)."""
    import warnings

    import lightning as L

    t = cfg.trainer
    settings = dict(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,
    )
    names = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [lg.level for lg in names]
    try:
        for lg in names:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = L.Trainer(
                **settings,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                default_root_dir=os.devnull,
            )
    except Exception as e:  # noqa: BLE001 -- Lightning's exception types vary; the message is ours
        raise SymzooError(_trainer_problem(cfg, e)) from None
    finally:
        for lg, level in zip(names, levels):
            lg.setLevel(level)
    acc = type(trial.accelerator).__name__.replace("Accelerator", "").lower() or "cpu"
    if str(t.precision) in ("16-mixed", "16") and acc == "cpu":
        raise SymzooError(
            f"trainer.precision={t.precision} needs a CUDA GPU (this run would use the CPU, where "
            "Lightning trains in bf16-mixed instead); use trainer.precision=bf16-mixed or 32-true"
        )
    return acc


def _available_accelerators() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append(f"cuda ({torch.cuda.device_count()} device(s))")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def _trainer_problem(cfg: DictConfig, e: Exception) -> str:
    """A one-line sentence for a Trainer that Lightning refused to build (never Lightning's text)."""
    t = cfg.trainer
    text = str(e)
    have = ", ".join(_available_accelerators())
    if "strategy" in text.lower() and str(t.strategy) != "auto":
        from lightning.pytorch.strategies import StrategyRegistry

        known = [
            s for s in StrategyRegistry.available_strategies() if "find_unused" not in s and "stage" not in s
        ]
        return (
            f"trainer.strategy must be auto or a Lightning strategy ({', '.join(known[:8])}, ...), "
            f"not {t.strategy!r}"
        )
    if str(t.accelerator) not in ("auto", "cpu") and (
        "accelerator" in text.lower() or "backend" in text.lower() or isinstance(e, ImportError)
    ):
        return (
            f"trainer.accelerator={t.accelerator} is not available on this machine (it has: {have}); "
            "use trainer.accelerator=auto or cpu"
        )
    if "devices" in text.lower() or "device" in text.lower() or "gpu" in text.lower():
        return (
            f"trainer.devices={OmegaConf.to_container(t.devices) if OmegaConf.is_config(t.devices) else t.devices!r} "
            f"is not usable with trainer.accelerator={t.accelerator} on this machine (it has: {have}); "
            "on a CPU give a process count (1, 2, ...), on GPUs a count or existing indices"
        )
    return (
        f"the trainer settings (accelerator={t.accelerator}, devices={t.devices}, strategy={t.strategy}, "
        f"precision={t.precision}, num_nodes={t.num_nodes}) cannot run on this machine (it has: {have})"
    )


def _read_rows(csv_path: Path) -> tuple[list[str], list[dict]]:
    import csv

    if not csv_path.is_file():
        return [], []
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _keep_metrics_on_resume(logger, run: Path, epoch: int) -> None:
    """Lightning's CSV logger deletes ``logs/metrics.csv`` when it starts in a non-empty folder:
    keep the rows up to the resumed checkpoint's epoch and let the logger append to them."""
    import csv

    path = run / "logs" / "metrics.csv"
    fields, rows = _read_rows(path)
    if not rows:
        return
    aside = path.with_name("metrics.csv.resume")
    os.replace(path, aside)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Experiment logs directory.*")
        writer = logger.experiment  # created now: nothing left for it to delete
    keep = []
    for r in rows:
        try:
            if int(float(r.get("epoch") or 0)) > epoch:
                continue  # logged after the checkpoint we resume from: that epoch runs again
        except ValueError:
            pass
        keep.append(r)
    with open(aside, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(keep)
    os.replace(aside, path)
    writer.metrics_keys = sorted(fields)


def train(
    cfg: DictConfig,
    out: str | None = None,
    *,
    resume: str | None = None,
    quiet: bool = False,
    callbacks: list | None = None,
) -> Path:
    """Train ``cfg.model`` on ``cfg.task``; returns the run folder (see module docstring).

    ``callbacks``: extra Lightning callbacks for this run (e.g.
    :class:`~symzoo.train.callbacks.PeriodicTestEval`), appended after the harness's own."""
    import lightning as L

    from symzoo.compat import check_compatible
    from symzoo.errors import Interrupted
    from symzoo.registry import get_task
    from symzoo.runlock import acquire

    from .callbacks import clean_partials, load_checkpoint_safely
    from .config import validate_config
    from .module import global_rank_from_env

    if quiet or not logging.getLogger().isEnabledFor(logging.INFO):
        from symzoo._logging import quiet_third_party

        quiet_third_party()  # Lightning resets its loggers to INFO when imported
    validate_config(cfg)
    check_trainer(cfg)
    rank = global_rank_from_env()
    ckpt_path, resumed = None, None
    if resume is not None:
        run = Path(resume)
        if not (run / "config.yaml").is_file():
            raise SymzooError(f"{run} is not a run folder (no config.yaml)")
        ckpt = run / "checkpoints" / "last.ckpt"
        if ckpt.is_file():
            resumed = load_checkpoint_safely(ckpt)  # weights_only=True: refuses pickled code
            ckpt_path = str(ckpt)
            _check_resume_state(resumed, ckpt, cfg)
        elif _is_leftover(run):
            log.warning("%s has no checkpoint yet (killed before its first epoch ended): starting over", run)
        else:
            raise SymzooError(f"{run} has no checkpoints/last.ckpt to resume from")
    else:
        run = Path(out) if (rank != 0 and out) else prepare_run_dir(out, cfg)
    fresh = resumed is None
    if cfg.trainer.threads:
        torch.set_num_threads(int(cfg.trainer.threads))

    # ---------------------------------------------- validate everything before writing anything
    task = get_task(cfg.task, preset=cfg.data.preset, **as_dict(cfg.data.task_args))
    train_set, val_set, test_set = build_datasets(task, cfg)
    for ds, name in ((train_set, "train"), (val_set, "validation"), (test_set, "test")):
        _validate(task, ds, name)

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model_args = as_dict(cfg.model.args)
    # task-specific builder arguments (e.g. the atom count of a flattened-coordinate MLP)
    model_args = {**task.model_defaults(cfg.model.name, train_set), **model_args}
    model = _build_model(cfg.model.name, model_args)
    check_compatible(model, task)
    if resumed is not None and ckpt_path is not None:
        _check_resume_weights(resumed, model, Path(ckpt_path))
    if cfg.trainer.get("compile", False) and task.needs_grad:
        raise SymzooError(
            f"trainer.compile does not work for {cfg.task}: its training differentiates the model's "
            "output (forces from energies) and torch.compile has no double backward; set trainer.compile=false"
        )
    if cfg.init_weights:
        from symzoo.modelio import load_model

        src = load_model(Path(cfg.init_weights).parent if Path(cfg.init_weights).suffix else cfg.init_weights)
        missing = model.load_state_dict(src.state_dict(), strict=False)
        log.info("initialised from %s (missing: %s)", cfg.init_weights, missing.missing_keys)
    if cfg.get("freeze"):
        if not cfg.init_weights:
            raise SymzooError(
                "freeze= needs pretrained weights (init_weights); nothing to keep fixed otherwise"
            )
        frozen, trainable = freeze_parameters(model, list(cfg.freeze), cfg.model.name)
        log.info("frozen: %d parameters (%s), trainable: %d", frozen, ", ".join(cfg.freeze), trainable)
    prepared: Any = None
    if fresh:
        # task-specific model statistics (e.g. per-species energies); pretrained ones are kept
        if not cfg.init_weights or cfg.get("refit_reference", True):
            prepared = task.prepare_model(model, train_set, pretrained=bool(cfg.init_weights))
        elif "keep_pretrained" in inspect.signature(task.prepare_model).parameters:
            # kept where they exist; the task fits what the pretrained model lacks (a new element)
            prepared = task.prepare_model(model, train_set, pretrained=True, keep_pretrained=True)
        else:  # a task written before the keyword: nothing is fitted
            log.info("pretrained task statistics kept (refit_reference=false)")
        from symzoo.models.base import SymmetryContract

        if isinstance(model, SymmetryContract):
            model.fit_closed_form(task, train_set)  # closed-form models (esn's ridge readout)
    if cfg.trainer.precision.startswith("64"):
        model = model.double()
    probe_model(model, task, train_set, cfg.model.name)

    # ---------------------------------------------- own the folder (rank 0)
    lock = None
    created = False
    if rank == 0:
        created = not run.exists()
        run.mkdir(parents=True, exist_ok=True)
        lock = acquire(run / LOCK_NAME, f"run folder {run}")
    try:
        if rank == 0:
            if fresh:
                if _content(run):
                    if not _is_leftover(run):  # filled meanwhile by another process
                        raise SymzooError(
                            f"{run} is not empty; resume it with --resume {run} or choose another --out"
                        )
                    _clear_leftover(run)
            clean_partials(run / "checkpoints")
            atomic_write_text(run / "config.yaml", OmegaConf.to_yaml(cfg))
            if fresh and prepared is not None:
                # default=str: a user task returning tensors or numpy scalars is recorded, not fatal
                atomic_write_text(run / "prepare.json", jsonio.dumps(prepared, indent=2, default=str))
        return _fit_and_export(
            cfg, run, model, task, (train_set, val_set, test_set), resumed, ckpt_path, quiet, callbacks
        )
    except SymzooError as e:
        if rank == 0 and fresh and not isinstance(e, Interrupted):
            ck = run / "checkpoints"
            if not (ck.is_dir() and any(ck.glob("*.ckpt"))):
                # nothing worth keeping: leave no half-written folder behind
                if lock is not None:
                    lock.release()
                    lock = None
                if created:
                    shutil.rmtree(run, ignore_errors=True)
                else:
                    _clear_leftover(run)
        raise
    finally:
        if lock is not None:
            lock.release()


def pd_flat(d, prefix: str = "") -> dict:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}`` (lists and None as strings, for TensorBoard)."""
    out: dict = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict) and k not in ("presets",):
            out.update(pd_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v if isinstance(v, (int, float, str, bool)) else str(v)
    return out


def _fit_and_export(
    cfg, run: Path, model, task, sets, resumed: dict | None, ckpt_path, quiet: bool, extra_callbacks=None
) -> Path:
    """Fit (or continue) the run in the owned folder ``run`` and export its best epoch."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from symzoo.eval.evaluate import equivariance_report, evaluate_dataset

    from symzoo.errors import Interrupted, TrainingDiverged
    from symzoo.modelio import save_model

    from .callbacks import AtomicCheckpointIO, DDPWeightCheck, FiniteCheck, load_checkpoint_safely
    from .module import SymzooDataModule, SymzooModule

    train_set, val_set, test_set = sets
    module = SymzooModule(
        model,
        task,
        optim=as_dict(cfg.optim),
        augment=cfg.augment,
        seed=cfg.seed,
        ema_decay=cfg.trainer.ema_decay,
        max_epochs=cfg.trainer.max_epochs,
        compile=cfg.trainer.get("compile", False),
    )
    data = SymzooDataModule(
        task,
        train_set,
        val_set,
        test_set,
        batch_size=cfg.data.batch_size,
        eval_batch_size=cfg.data.eval_batch_size,
        seed=cfg.seed,
        num_workers=cfg.data.num_workers,
    )
    monitor = f"val_{task.primary_metric}"
    best_cb = ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename="best",
        monitor=monitor,
        mode="min",
        save_top_k=1,
        enable_version_counter=False,
        auto_insert_metric_name=False,
    )
    last_cb = ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename="last",
        every_n_epochs=1,
        save_on_train_epoch_end=True,
        save_top_k=1,
        enable_version_counter=False,
    )
    hint = f" (lower optim.lr, now {cfg.optim.lr:g}, or set trainer.gradient_clip_val)"
    callbacks = [
        FiniteCheck(hint, monitor=monitor, divergence_factor=cfg.trainer.get("divergence_factor")),
        best_cb,
        last_cb,
        DDPWeightCheck(run),
        LearningRateMonitor("epoch"),
    ]
    if cfg.trainer.early_stopping_patience:
        callbacks.append(
            EarlyStopping(
                monitor=monitor,
                mode="min",
                patience=cfg.trainer.early_stopping_patience,
                check_on_train_epoch_end=False,
            )
        )
    callbacks.extend(extra_callbacks or [])
    ctrl_c = _CtrlC()
    callbacks.append(ctrl_c.callback(L))
    csv_logger = CSVLogger(save_dir=str(run), name="logs", version="")
    if resumed is not None:
        _keep_metrics_on_resume(csv_logger, run, int(resumed.get("epoch", -1)))
    loggers: list[Any] = [csv_logger]
    if cfg.trainer.tensorboard:
        tb = TensorBoardLogger(save_dir=str(run), name="tb", version="", default_hp_metric=False)
        # the resolved config as TensorBoard hyper-parameters (the HPARAMS tab), flattened keys
        tb.log_hyperparams(
            {k: v for k, v in pd_flat(OmegaConf.to_container(cfg, resolve=True)).items() if k != "presets"}
        )
        loggers.append(tb)
    from .loggers import extra_loggers

    loggers.extend(extra_loggers(cfg.trainer.get("logger"), run, run.name))  # trainer.logger=wandb|mlflow
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=cfg.trainer.devices,
        num_nodes=cfg.trainer.num_nodes,
        strategy=cfg.trainer.strategy,
        precision=cfg.trainer.precision,
        max_epochs=cfg.trainer.max_epochs,
        gradient_clip_val=cfg.trainer.gradient_clip_val,
        check_val_every_n_epoch=cfg.trainer.check_val_every_n_epoch,
        callbacks=callbacks,
        logger=loggers,
        enable_progress_bar=cfg.trainer.progress_bar and not quiet,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        inference_mode=False,
        use_distributed_sampler=False,
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        default_root_dir=str(run),
    )
    interrupted = Interrupted(f"interrupted; continue with: symzoo train --resume {run}")
    t0 = time.perf_counter()
    try:
        with ctrl_c:
            trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    except KeyboardInterrupt:
        raise interrupted from None
    except SystemExit:
        if getattr(trainer, "interrupted", False) or ctrl_c.hit:  # Lightning: Ctrl-C -> sys.exit(1)
            raise interrupted from None
        raise
    if ctrl_c.hit:  # a Ctrl-C whose KeyboardInterrupt was swallowed (e.g. raised inside a finalizer)
        raise interrupted
    # time of the earlier segments, up to the checkpoint this one resumed from
    before = float(resumed.get("symzoo_elapsed_s", 0.0)) if resumed is not None else 0.0
    fit_seconds = before + time.perf_counter() - t0
    if getattr(trainer, "interrupted", False):
        raise interrupted
    if not trainer.is_global_zero:
        return run

    # ------------------------------------------------- export the best epoch (rank 0)
    # never trust the path recorded in a checkpoint: the folder may have been moved or copied
    best = run / "checkpoints" / "best.ckpt"
    chosen = best if best.is_file() else run / "checkpoints" / "last.ckpt"
    state = load_checkpoint_safely(chosen)
    module.load_state_dict(state["state_dict"])
    final = module.eval_model.cpu()
    final.builder_name, final.builder_kwargs = model.builder_name, model.builder_kwargs
    # task-specific adjustment of the exported weights (e.g. re-fitted reference energies)
    finalized = task.finalize_model(final, train_set)
    if finalized is not None:
        log.info("%s: finalize_model: %s", task.name, finalized)
    test_metrics = evaluate_dataset(final, task, test_set, batch_size=cfg.data.eval_batch_size or 200)
    equiv = equivariance_report(final, task)
    meta = {
        "task": cfg.task,
        "preset": cfg.data.preset,
        "task_args": OmegaConf.to_container(cfg.data.task_args),
        "symmetry_group": repr(task.group),
        "units": dict(task.units),
        "augment": bool(cfg.augment),
        "train_size": len(train_set),
        "seed": cfg.seed,
        "base_model": cfg.base_model,
        "best_epoch": int(state.get("epoch", -1)),
        "recipe": "config.yaml",
    }
    save_model(final, run, meta)
    csv = run / "logs" / "metrics.csv"
    if csv.is_file():
        shutil.copyfile(csv, run / "metrics.csv")
    epochs_run = int(trainer.current_epoch)
    report = {
        "model": model.builder_name,
        "task": cfg.task,
        "preset": cfg.data.preset,
        "split": "test",
        "n_test": len(test_set),
        "metrics": test_metrics,
        "units": {k: task.units.get(k, "") for k in test_metrics},
        "primary_metric": task.primary_metric,
        "equivariance": equiv,
        "prepare": _read_prepared(run),
        "finalize": finalized,
        "best_epoch": meta["best_epoch"],
        "epochs": epochs_run,
        "best_val": float(best_cb.best_model_score) if best_cb.best_model_score is not None else None,
        "fit_seconds": round(fit_seconds, 3),
        "seconds_per_epoch": round(fit_seconds / max(epochs_run, 1), 4),
        "resumed": resumed is not None,
        "device": str(trainer.strategy.root_device),
        "world_size": trainer.world_size,
        "torch": torch.__version__,
    }
    atomic_write_text(run / "eval.json", jsonio.dumps(report, indent=2))
    bad = [k for k, v in test_metrics.items() if not math.isfinite(v)]
    if bad:
        raise TrainingDiverged(f"{run}: the exported model gives non-finite test metrics ({', '.join(bad)})")
    log.info("run folder %s complete", run)
    return run


class _CtrlC:
    """Remembers a Ctrl-C during ``trainer.fit`` so that it is never lost.

    Python raises ``KeyboardInterrupt`` at whatever bytecode runs when SIGINT arrives; if that is a
    finalizer (``__del__``, a weakref callback) the exception is printed as "ignored" and training
    goes on to the end, exiting 0 (seen under load in the Ctrl-C test).  The handler records the hit,
    the callback raises ``KeyboardInterrupt`` again at the next batch, and ``train`` raises
    ``Interrupted`` after ``fit`` whatever happened in between.  Installed only in the main thread and
    only where SIGINT has Python's default handler (pool workers that ignore SIGINT keep doing so).
    """

    def __init__(self) -> None:
        self.hit = False
        self._previous: Any = None
        self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        self.hit = True
        raise KeyboardInterrupt

    def __enter__(self) -> _CtrlC:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler:
                self._previous = signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            import signal

            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def callback(self, L: Any) -> Any:
        outer = self

        class _RaiseOnCtrlC(L.Callback):
            def on_train_batch_start(self, *args: Any) -> None:
                if outer.hit:
                    raise KeyboardInterrupt

            def on_validation_batch_start(self, *args: Any) -> None:
                if outer.hit:
                    raise KeyboardInterrupt

        return _RaiseOnCtrlC()
