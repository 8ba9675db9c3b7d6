"""``train(cfg)``: one run of the harness, from a resolved config to a complete run folder.

Run folder (DESIGN §2)::

    config.yaml            resolved configuration (re-used by --resume)
    metrics.csv            per-epoch train/val metrics (CSV logger; also logs/ and tb/)
    checkpoints/best.ckpt  best validation epoch;  checkpoints/last.ckpt  end of the last epoch
    model.safetensors      weights of the best epoch (EMA weights when enabled)
    model.json             builder, arguments, task, symmetry, units, symzoo version
    eval.json              test metrics at the best validation epoch + equivariance report
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from symzoo.errors import SymzooError
from symzoo.paths import atomic_write_text

__all__ = ["train", "prepare_run_dir", "build_datasets"]

log = logging.getLogger(__name__)


def _subset(ds, idx):
    from symzoo.task import GraphTensorDataset

    return ds.subset(idx) if isinstance(ds, GraphTensorDataset) else torch.utils.data.Subset(ds, list(idx))


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
    from symzoo.task import GraphTensorDataset

    if len(ds) == 0:
        raise SymzooError(f"{task.name}: the {name} split is empty")
    if isinstance(ds, GraphTensorDataset):
        task.validate_batch(ds.__getitems__(list(range(len(ds)))))
    else:
        task.validate_batch(next(iter(task.loader(ds, 64))))


def prepare_run_dir(out: str | None, cfg: DictConfig) -> Path:
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = f"runs/{cfg.task}-{cfg.model.name}{'+aug' if cfg.augment else ''}-{stamp}"
    run = Path(out)
    if run.exists() and any(run.iterdir()):
        raise SymzooError(f"{run} is not empty; resume it with --resume {run} or choose another --out")
    return run


def train(cfg: DictConfig, out: str | None = None, *, resume: str | None = None, quiet: bool = False) -> Path:
    """Train ``cfg.model`` on ``cfg.task``; returns the run folder (see module docstring)."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from symzoo.eval.evaluate import equivariance_report, evaluate_dataset

    from symzoo.modelio import save_model
    from symzoo.registry import create_model, get_task

    from .callbacks import AtomicCheckpointIO, DDPWeightCheck
    from .module import SymzooDataModule, SymzooModule, global_rank_from_env

    if quiet or not logging.getLogger().isEnabledFor(logging.INFO):
        from symzoo.cli import quiet_third_party

        quiet_third_party()  # Lightning resets its loggers to INFO when imported
    rank = global_rank_from_env()
    ckpt_path = None
    if resume is not None:
        run = Path(resume)
        if not (run / "config.yaml").is_file():
            raise SymzooError(f"{run} is not a run folder (no config.yaml)")
        ckpt = run / "checkpoints" / "last.ckpt"
        if not ckpt.is_file():
            raise SymzooError(f"{run} has no checkpoints/last.ckpt to resume from")
        try:
            torch.load(ckpt, map_location="cpu", weights_only=False)
        except Exception as e:
            raise SymzooError(
                f"checkpoint {ckpt} is corrupt ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
            ) from None
        ckpt_path = str(ckpt)
    else:
        run = Path(out) if (rank != 0 and out) else prepare_run_dir(out, cfg)
    if cfg.trainer.threads:
        torch.set_num_threads(int(cfg.trainer.threads))

    task = get_task(cfg.task, preset=cfg.data.preset, **OmegaConf.to_container(cfg.data.task_args))
    train_set, val_set, test_set = build_datasets(task, cfg)
    for ds, name in ((train_set, "train"), (val_set, "validation"), (test_set, "test")):
        _validate(task, ds, name)

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model_args = OmegaConf.to_container(cfg.model.args)
    defaults = getattr(task, "model_defaults", None)
    if defaults is not None:
        # task-specific builder arguments (e.g. the atom count of a flattened-coordinate MLP)
        model_args = {**defaults(cfg.model.name, train_set), **model_args}
    model = create_model(cfg.model.name, **model_args)
    if cfg.init_weights:
        from symzoo.modelio import load_model

        src = load_model(Path(cfg.init_weights).parent if Path(cfg.init_weights).suffix else cfg.init_weights)
        missing = model.load_state_dict(src.state_dict(), strict=False)
        log.info("initialised from %s (missing: %s)", cfg.init_weights, missing.missing_keys)
    prepare = getattr(task, "prepare_model", None)
    if prepare is not None and resume is None:
        prepare(model, train_set)  # task-specific fitting of model statistics (e.g. per-species energies)
    if cfg.trainer.precision.startswith("64"):
        model = model.double()

    if rank == 0 and resume is None:
        run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run / "config.yaml", OmegaConf.to_yaml(cfg))

    module = SymzooModule(
        model,
        task,
        optim=OmegaConf.to_container(cfg.optim),
        augment=cfg.augment,
        seed=cfg.seed,
        ema_decay=cfg.trainer.ema_decay,
        max_epochs=cfg.trainer.max_epochs,
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
    callbacks = [best_cb, last_cb, DDPWeightCheck(run)]
    if cfg.trainer.early_stopping_patience:
        callbacks.append(
            EarlyStopping(
                monitor=monitor,
                mode="min",
                patience=cfg.trainer.early_stopping_patience,
                check_on_train_epoch_end=False,
            )
        )
    loggers = [CSVLogger(save_dir=str(run), name="logs", version="")]
    if cfg.trainer.tensorboard:
        loggers.append(TensorBoardLogger(save_dir=str(run), name="tb", version="", default_hp_metric=False))
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
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    fit_seconds = time.perf_counter() - t0
    if not trainer.is_global_zero:
        return run

    # ------------------------------------------------- export the best epoch (rank 0)
    best = Path(best_cb.best_model_path) if best_cb.best_model_path else None
    if best is None or not best.is_file():
        best = run / "checkpoints" / "best.ckpt"
    chosen = best if best.is_file() else run / "checkpoints" / "last.ckpt"
    state = torch.load(chosen, map_location="cpu", weights_only=False)
    module.load_state_dict(state["state_dict"])
    final = module.eval_model.cpu()
    final.builder_name, final.builder_kwargs = model.builder_name, model.builder_kwargs
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
        "best_epoch": meta["best_epoch"],
        "epochs": epochs_run,
        "best_val": float(best_cb.best_model_score) if best_cb.best_model_score is not None else None,
        "fit_seconds": round(fit_seconds, 3),
        "seconds_per_epoch": round(fit_seconds / max(epochs_run, 1), 4),
        "device": str(trainer.strategy.root_device),
        "world_size": trainer.world_size,
        "torch": torch.__version__,
    }
    atomic_write_text(run / "eval.json", json.dumps(report, indent=2))
    log.info("run folder %s complete", run)
    return run
