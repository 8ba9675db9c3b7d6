"""Fine-tuning a pretrained zoo entry on a (new) task with the normal harness.

``finetune("egnn.nbody-charged", "nbody-gravity", train_size=50)`` resolves a normal run config for
the target task (its recipe, ``configs/<task>/<builder>.yaml`` or its family's, if there is one, else the recipe the
entry was trained with), fixes the architecture to the entry's constructor arguments, sets
``init_weights`` to the verified pretrained folder and ``base_model`` to the entry name, and calls
:func:`symzoo.train.run.train`.  The result is an ordinary run folder (``config.yaml`` records
``base_model`` and ``init_weights``) plus ``finetune.json``: what was copied, re-initialised
and frozen.

Adapting what must change: ``model.args.*`` overrides may change the architecture (e.g. a
different ``attr_dim`` for new node attributes, or a new output head).  Tensors whose name and
shape match are copied from the pretrained weights; the others keep their fresh initialisation
and are listed in ``finetune.json``.  In that case the merged initial weights are written to
``SYMZOO_HOME/finetune-init/<entry>-<hash>/`` and used as ``init_weights``.

Fine-tuning from your own run: ``finetune("runs/my-pretrain", "rmd17-toluene")`` (``symzoo finetune
RUN_DIR TASK``) starts from the weights of a folder written by ``symzoo train`` (``model.json`` +
``model.safetensors``; ``config.yaml`` beside them) instead of a zoo entry.  The folder is checked
before anything is written: it must hold finished, verified weights (``model.json``'s sha256, no
NaN/inf), and the architecture must fit the target task (fields, a forward pass on its data), else a
one-line error.  The target config is the target task's recipe for the run's builder, else the
built-in defaults (a run folder's own ``config.yaml`` names its own task and is not reused); the data
preset defaults to the one the run was trained with.  ``base_model`` records the folder's absolute path
and ``finetune.json`` the weights' sha256.

Reference energies (force fields): the harness shifts a pretrained model's per-species reference
energies by least squares on the fine-tuning frames before training (the task's ``prepare_model``);
``refit_reference=False`` (``refit_reference=false`` on the command line; recorded as the run config's
``refit_reference``) keeps the pretrained ones, for ablations.

Freezing: ``freeze=["embed", "layers.0"]`` (``freeze=embed,layers.0`` on the command line) sets
``requires_grad=False`` on every parameter whose name starts with one of the prefixes; the harness
optimiser then leaves them untouched.  It is the run config's ``freeze`` key (recorded in
``config.yaml``, applied by ``train/run.py`` after the pretrained weights are loaded), so
``symzoo train --resume`` of an interrupted fine-tune freezes the same parameters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from symzoo.errors import SymzooError

from .config import as_dict

__all__ = ["finetune", "finetune_config", "scratch_config", "SHORT_KEYS", "parse_freeze"]

log = logging.getLogger(__name__)

#: short ``key=value`` spellings accepted by ``symzoo finetune``
SHORT_KEYS = {
    "lr": "optim.lr",
    "epochs": "trainer.max_epochs",
    "batch_size": "data.batch_size",
    "weight_decay": "optim.weight_decay",
    "schedule": "optim.schedule",
}


def parse_freeze(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [s.strip() for s in items if s and s.strip()]


def _expand(overrides: Iterable[str]) -> list[str]:
    out = []
    for item in overrides:
        if "=" not in item:
            raise SymzooError(f"override {item!r} must look like key=value")
        k, v = item.split("=", 1)
        out.append(f"{SHORT_KEYS.get(k, k)}={v}")
    return out


def is_run_folder(name: str | Path) -> bool:
    """``name`` names an existing folder (a run folder), not a pretrained entry."""
    return Path(name).is_dir()


def run_entry(folder: str | Path) -> dict:
    """An entry-like description (builder, kwargs, preset, weights sha256) of a ``symzoo train`` run
    folder, after checking that its weights are complete and loadable (one-line errors)."""
    from symzoo.modelio import load_model, read_model_meta

    path = Path(folder)
    meta = read_model_meta(path)  # missing / unreadable model.json: one line
    st = path / "model.safetensors"
    if not st.is_file():
        hint = (
            " (the run has checkpoints but did not finish: continue it with `symzoo train ... --resume`)"
            if (path / "checkpoints").is_dir()
            else ""
        )
        raise SymzooError(f"{path}: no model.safetensors, nothing to fine-tune from{hint}")
    load_model(path)  # sha256 recorded in model.json, NaN/inf, builder arguments, tensor shapes
    from symzoo.paths import sha256_file

    return {
        "builder": meta["builder"],
        "kwargs": dict(meta.get("kwargs") or {}),
        "preset": meta.get("preset"),
        "recipe": None,
        "task": meta.get("task"),
        "files": {"weights": {"sha256": meta.get("weights_sha256") or sha256_file(st)}},
        "run_dir": str(path.resolve()),
    }


def _label(pretrained: str) -> str:
    """A file-name-safe short name of a pretrained entry or run folder."""
    import re

    if not is_run_folder(pretrained):
        return pretrained.replace(".", "_")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", Path(pretrained).resolve().name) or "run"


def _entry(pretrained: str) -> dict:
    from symzoo.hub import get_entry

    return run_entry(pretrained) if is_run_folder(pretrained) else get_entry(pretrained)


def _recipe_for(entry: dict, task: str) -> str | None:
    """The target task's recipe for the entry's builder, else the recipe the entry was trained with."""
    from importlib import resources

    from symzoo.train.config import recipe_path

    own = recipe_path(task, entry["builder"])
    if own is not None:
        return str(own)
    rel = str(entry.get("recipe") or "")
    if rel.startswith("configs/"):
        p = resources.files("symzoo.configs").joinpath(rel[len("configs/") :])
        if p.is_file():
            return str(p)
    return None


def _base_config(
    pretrained: str,
    task: str,
    *,
    train_size: int | None,
    preset: str | None,
    overrides: Iterable[str],
    finetuning: bool,
) -> tuple[DictConfig, dict]:
    from omegaconf import OmegaConf
    from symzoo.train.config import load_config

    from symzoo.registry import get_task

    entry = _entry(pretrained)
    get_task(task)  # unknown task names fail here, with a suggestion
    ov = _expand(overrides)
    for item in ov:
        key = item.split("=", 1)[0].strip()
        if key in ("init_weights", "base_model"):
            raise SymzooError(
                f"{key} is set by symzoo finetune (the weights of {pretrained}); to start from other "
                f"weights use: symzoo train {task} MODEL init_weights=RUN_DIR"
            )
    cfg = load_config(
        task,
        entry["builder"],
        recipe=_recipe_for(entry, task),
        preset=preset or entry.get("preset"),
        overrides=[],
        finetune=finetuning,
    )
    # the architecture is the pretrained one; model.args.* overrides may then adapt it
    cfg.model.args = OmegaConf.create(dict(entry["kwargs"]))
    if ov:
        from symzoo.train.config import _merge

        cfg = _merge(cfg, OmegaConf.from_dotlist(ov), "command line")
    if train_size is not None:
        cfg.data.train_size = int(train_size)
    from symzoo.train.config import validate_config

    validate_config(cfg)
    if "task" in cfg.model.args and not any(o.startswith("model.args.task=") for o in ov):
        # builders that take the task (the robot models) are built for the target task instance
        # (its joints and group), not for the task the entry was trained on
        from symzoo.train.run import build_datasets

        target = get_task(cfg.task, preset=cfg.data.preset, **as_dict(cfg.data.task_args))
        own = target.model_defaults(cfg.model.name, build_datasets(target, cfg)[0]).get("task")
        if own is not None:
            cfg.model.args.task = own
    _check_fits(cfg)
    return cfg, entry


def _check_fits(cfg: DictConfig) -> None:
    """The declared model/task check (:mod:`symzoo.compat`) before anything is written."""
    from symzoo.train.run import _build_model, build_datasets, probe_model

    from symzoo.compat import check_compatible
    from symzoo.registry import get_task

    task = get_task(cfg.task, preset=cfg.data.preset, **as_dict(cfg.data.task_args))
    args = as_dict(cfg.model.args)
    # the task's builder arguments, as train() adds them (every task declares model_defaults)
    train_set = build_datasets(task, cfg)[0]
    args = {**task.model_defaults(cfg.model.name, train_set), **args}
    model = _build_model(cfg.model.name, args)
    check_compatible(model, task)
    # the architecture on the target's data, before the adapted weights are written to SYMZOO_HOME
    probe_model(model, task, train_set, cfg.model.name)


def scratch_config(
    pretrained: str,
    task: str,
    *,
    train_size: int | None = None,
    preset: str | None = None,
    overrides: Iterable[str] = (),
) -> DictConfig:
    """The fine-tuning config without the pretrained weights: the fair from-scratch comparison."""
    cfg, _ = _base_config(
        pretrained, task, train_size=train_size, preset=preset, overrides=overrides, finetuning=False
    )
    return cfg


def _adapted_init(pretrained: str, folder: Path, cfg: DictConfig) -> tuple[str, dict]:
    """Copy matching tensors into the target architecture; returns (init folder, report)."""
    import torch

    from symzoo.modelio import load_model, model_meta, save_model
    from symzoo.paths import config_hash, home
    from symzoo.registry import create_model

    src = load_model(folder)
    src_state = src.state_dict()
    args = as_dict(cfg.model.args)
    torch.manual_seed(int(cfg.seed))
    target = create_model(cfg.model.name, **args)
    tgt_state = target.state_dict()
    copied = [k for k, v in tgt_state.items() if k in src_state and src_state[k].shape == v.shape]
    fresh = [k for k in tgt_state if k not in copied]
    dropped = [k for k in src_state if k not in tgt_state or src_state[k].shape != tgt_state[k].shape]
    report = {"copied": len(copied), "reinitialised": fresh, "dropped": dropped}
    if not copied:
        raise SymzooError(
            f"{pretrained}: no weight of the pretrained model fits {cfg.model.name}({args}); "
            "nothing to fine-tune from"
        )
    if not fresh and not dropped:
        return str(folder), report
    target.load_state_dict({**tgt_state, **{k: src_state[k] for k in copied}})
    key = config_hash({"args": args, "seed": int(cfg.seed), "src": str(folder)})
    dest = home() / "finetune-init" / f"{_label(pretrained)}-{key}"  # no dot: a folder, not a file
    keep = ("task", "units", "symmetry_group")
    save_model(
        target, dest, {**{k: v for k, v in model_meta(src).items() if k in keep}, "adapted_from": pretrained}
    )
    log.info("%s: copied %d tensors, re-initialised %s", pretrained, len(copied), fresh)
    return str(dest), report


def finetune_config(
    pretrained: str,
    task: str,
    *,
    train_size: int | None = None,
    preset: str | None = None,
    overrides: Iterable[str] = (),
) -> tuple[DictConfig, dict]:
    """The run config of a fine-tuning run and the adaptation report (see module docstring)."""
    from symzoo.hub import pretrained_path

    cfg, entry = _base_config(
        pretrained, task, train_size=train_size, preset=preset, overrides=overrides, finetuning=True
    )
    folder = Path(entry["run_dir"]) if "run_dir" in entry else pretrained_path(pretrained)
    init, report = _adapted_init(pretrained, folder, cfg)
    cfg.init_weights = init
    cfg.base_model = entry.get("run_dir", pretrained)
    report["pretrained_sha256"] = entry["files"]["weights"]["sha256"]
    return cfg, report


def _check_freeze(cfg: DictConfig, prefixes: list[str], report: dict) -> None:
    """Refuse prefixes that match nothing (or everything) before anything is written; count them."""
    from symzoo.registry import create_model

    from .run import freeze_parameters

    if not prefixes:
        return
    model = create_model(cfg.model.name, **as_dict(cfg.model.args))
    frozen, trainable = freeze_parameters(model, prefixes, cfg.model.name)
    report["frozen_parameters"], report["trainable_parameters"] = frozen, trainable


def finetune(
    pretrained: str,
    task: str,
    *,
    train_size: int | None = None,
    preset: str | None = None,
    freeze: str | Iterable[str] | None = None,
    overrides: Iterable[str] = (),
    out: str | None = None,
    from_scratch: bool = False,
    quiet: bool = True,
    refit_reference: bool = True,
) -> Path:
    """Fine-tune ``pretrained`` (a zoo entry name or a ``symzoo train`` run folder) on ``task``;
    returns the run folder (see module docstring).

    ``from_scratch=True`` trains the same architecture with the same config and no pretrained
    weights (the comparison baseline).  ``refit_reference=False`` keeps a pretrained force field's
    per-species reference energies instead of shifting them by least squares on the fine-tuning
    frames before training.
    """
    from omegaconf import OmegaConf
    from symzoo.train.run import _read_prepared, train

    from symzoo.paths import atomic_write_text

    prefixes = parse_freeze(freeze)
    if from_scratch:
        if prefixes:
            raise SymzooError("freeze= needs pretrained weights; it makes no sense with --from-scratch")
        if not refit_reference:
            raise SymzooError("refit_reference=false needs pretrained weights; not with --from-scratch")
        report: dict[str, Any]
        cfg, report = (
            scratch_config(pretrained, task, train_size=train_size, preset=preset, overrides=overrides),
            {},
        )
    else:
        cfg, report = finetune_config(
            pretrained, task, train_size=train_size, preset=preset, overrides=overrides
        )
    if out is None:
        import time

        kind = "scratch" if from_scratch else "ft"
        name = pretrained if not is_run_folder(pretrained) else _label(pretrained)
        out = f"runs/{task}-{name}-{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    _check_freeze(cfg, prefixes, report)
    cfg.freeze = prefixes  # a run config key: train() applies it, and a resumed run freezes the same
    if not refit_reference:
        # recorded in config.yaml; train() keeps the pretrained statistics (the task fits only what
        # they lack, e.g. an element the model never saw)
        cfg.refit_reference = False
    run = train(cfg, out, quiet=quiet)
    prepared = _read_prepared(Path(run))
    if isinstance(prepared, dict) and "reference_energies" in prepared:
        # what the task did, not what was asked: an element the model never saw forces a full fit
        how = prepared["reference_energies"]
        if prepared.get("new_elements"):
            how += f" (new element(s) Z={prepared['new_elements']}: every reference energy re-fitted)"
        elif not refit_reference:
            how += " (refit_reference=false)"
        report["reference_energies"] = how
    elif not refit_reference:
        report["reference_energies"] = "kept (refit_reference=false)"
    info = {
        "base_model": None if from_scratch else cfg.base_model,
        "target_task": task,
        "from_scratch": from_scratch,
        "train_size": cfg.data.train_size,
        "freeze": prefixes,
        "init_weights": cfg.init_weights,
        **report,
        "config": OmegaConf.to_container(cfg),
    }
    from symzoo import jsonio

    atomic_write_text(Path(run) / "finetune.json", jsonio.dumps(json.loads(json.dumps(info, default=str))))
    return Path(run)
