"""In-distribution metrics and the equivariance report of one trained model."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from symzoo.errors import SymzooError
from symzoo.paths import atomic_write_text
from symzoo.task import Task, cast_batch

__all__ = ["evaluate_dataset", "evaluate_ood", "equivariance_report", "evaluate_run"]

log = logging.getLogger(__name__)


def evaluate_dataset(
    model: torch.nn.Module,
    task: Task,
    dataset,
    *,
    batch_size: int = 200,
    transform=None,
    seed: int = 0,
    validate: bool = True,
) -> dict[str, float]:
    """Every task metric over the whole of ``dataset``, exact whatever ``batch_size`` (the task's
    :meth:`~symzoo.task.Task.metric_terms` are summed over batches, see :mod:`symzoo.metrics`).

    ``transform``: ``None``, or ``"group"`` to apply a fresh random group element to every test
    sample (the out-of-orbit test of the orbit study).
    """
    model.eval()
    dtype = next(model.parameters()).dtype if any(True for _ in model.parameters()) else torch.float32
    from symzoo.metrics import MetricSums

    sums = MetricSums()
    count = 0
    gen = torch.Generator().manual_seed(seed)
    needs_grad = bool(task.needs_grad)
    for batch in task.loader(dataset, batch_size):
        batch = cast_batch(batch, dtype)
        if validate:
            task.validate_batch(batch)
        if transform == "group":
            batch = task.act(task.sample_group(batch, generator=gen), batch)
        with torch.set_grad_enabled(needs_grad):
            out = task.apply_model(model, batch)
            sums.update(task.metric_terms(out, batch))
        count += int(batch.num_graphs)
    if count == 0:
        raise SymzooError(f"{task.name}: the evaluation set is empty")
    return sums.compute()


def evaluate_ood(
    model: torch.nn.Module, task: Task, preset: str, *, batch_size: int = 200
) -> dict[str, dict]:
    """Every metric on the test split of each of ``task.ood_variants()`` (name -> metrics); ``{}``
    when the task declares none."""
    res: dict[str, dict] = {}
    for name, variant in task.ood_variants().items():
        _, _, test = variant.splits(preset, seed=0)
        res[name] = evaluate_dataset(model, variant, test, batch_size=batch_size)
    return res


def equivariance_report(model: torch.nn.Module, task: Task, *, dtype=torch.float64, trials: int = 3) -> dict:
    """Equivariance error per group factor (float64, random elements) and what the model claims."""
    from symzoo.testing import equivariance_errors

    errs = equivariance_errors(model, task, dtype=dtype, trials=trials)
    return {
        "dtype": str(dtype).replace("torch.", ""),
        "errors": errs,
        "claimed": sorted(getattr(model, "symmetry", ())),
        "group": repr(task.group),
    }


def evaluate_run(
    path: str | Path,
    *,
    task_name: str | None = None,
    preset: str | None = None,
    out: str | Path | None = None,
    batch_size: int = 200,
    rollout: bool = True,
    rollout_steps: int | None = None,
    rollout_trajectories: int = 16,
    task_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate a run folder (or any folder with ``model.safetensors`` + ``model.json``) on its
    task's test split: metrics with units and the equivariance report, and for tasks with
    dynamics (``task.has_dynamics``) the rollout metrics of :func:`symzoo.eval.rollout.rollout_metrics`
    under ``"rollout"`` (error vs horizon, valid time, drift of every invariant the task declares;
    ``rollout_steps`` default: the task's ``rollout_steps``).  Writes ``eval.json``.

    ``task_args``: task arguments (``symzoo eval RUN --task xyz path=my.extxyz``), laid over the
    run's own ones on its own task, alone on another task.  An evaluation whose task arguments differ
    from the run's writes ``eval-<task>-<preset>-<hash of the arguments>.json``, never ``eval.json``."""
    from symzoo.modelio import load_model, model_meta
    from symzoo.registry import get_task

    path = Path(path)
    if not path.exists():
        raise SymzooError(f"{path} does not exist")
    model = load_model(path)
    meta = model_meta(model)
    own_task = meta.get("task")
    own_preset = meta.get("preset") or "tiny"
    task_name = task_name or own_task
    if not task_name:
        raise SymzooError(f"{path}: model.json names no task; pass --task")
    preset = preset or own_preset
    # the run's task arguments belong to the task it was trained on (rmd17-multi's exclude=...):
    # zero-shot evaluation on another task (--task) builds that task with its own defaults
    own_args = (meta.get("task_args") if task_name == own_task else None) or {}
    args = _merge_args(own_args, task_args or {})
    same = task_name == own_task and preset == own_preset and args == own_args
    tag = None if (same or not task_args) else _args_tag(args)
    dest = _eval_dest(path, out, same=same, task=task_name, preset=preset, tag=tag)
    try:
        task = get_task(task_name, preset=preset, **args)
    except TypeError as e:  # a task without a declared schema: its signature refused the arguments
        if not task_args or "argument" not in str(e):
            raise
        why = str(e).split("() ", 1)[-1]
        raise SymzooError(f"task {task_name!r} does not take {sorted(task_args)}: {why}") from None
    from symzoo.compat import check_compatible

    check_compatible(model, task)
    t0 = time.perf_counter()
    _, _, test = task.splits(preset, seed=0)
    from symzoo.compat import probe_model

    probe_model(model, task, test, str(meta.get("builder")))
    metrics = evaluate_dataset(model, task, test, batch_size=batch_size)
    report = {
        "model": meta.get("builder"),
        "task": task_name,
        "trained_on": own_task,
        "preset": preset,
        "split": "test",
        "n_test": len(test),
        **({"task_args": args} if task_args else {}),
        "metrics": metrics,
        "units": {k: task.units.get(k, "") for k in metrics},
        "primary_metric": task.primary_metric,
        "equivariance": equivariance_report(model, task),
    }
    ood = evaluate_ood(model, task, preset, batch_size=batch_size)
    if ood:
        report["metrics_ood"] = ood
    if rollout and task.has_dynamics:
        report["rollout"] = run_rollout(
            model, task, preset=preset, steps=rollout_steps, n_traj=rollout_trajectories
        )
    report["seconds"] = round(time.perf_counter() - t0, 3)
    if dest is not None:
        from symzoo import jsonio

        try:
            atomic_write_text(dest, jsonio.dumps(report, indent=2))
        except OSError as e:
            raise SymzooError(f"cannot write {dest}: {e.strerror or type(e).__name__}") from None
        report["written_to"] = str(dest)
    return report


def _merge_args(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` laid over ``base``, nested dictionaries merged key by key (as OmegaConf merges)."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge_args(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _args_tag(args: dict[str, Any]) -> str:
    """A short, stable name for a set of task arguments (the eval report's file name)."""
    import hashlib
    import json

    text = json.dumps(args, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _eval_dest(path: Path, out, *, same: bool, task: str, preset: str, tag: str | None = None) -> Path | None:
    """Where :func:`evaluate_run` writes its report, checked before anything is evaluated.

    Default: the run folder's ``eval.json`` when evaluating on the run's own task and preset;
    on another task or preset ``eval-<task>-<preset>.json`` beside it, never over the run's record
    (``--out`` naming the run's ``eval.json`` is refused then).  A model file (not a folder)
    writes nothing unless ``out`` is given."""
    import os

    if out is None:
        if not path.is_dir():
            return None
        dest = path / ("eval.json" if same else f"eval-{task}-{preset}{'-' + tag if tag else ''}.json")
    else:
        dest = Path(out)
        if dest.is_dir() or dest.suffix != ".json":
            if dest.exists() and not dest.is_dir():
                raise SymzooError(f"--out {dest} is an existing file that is not a .json report")
            dest = dest / "eval.json"
        if not same and path.is_dir() and dest.resolve() == (path / "eval.json").resolve():
            raise SymzooError(
                f"--out {dest} is the run's own record, but this evaluation is on {task}/{preset}; "
                "choose another --out"
            )
    if dest.is_dir():
        raise SymzooError(f"--out {dest} is a folder")
    folder = dest.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SymzooError(f"--out {dest}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SymzooError(f"--out {dest}: folder {existing} is not writable")
    if len(dest.name.encode()) > 200:  # + the temporary file's suffix: over the 255-byte limit
        raise SymzooError(f"--out {dest.name[:40]}...: the file name is longer than 200 bytes")
    return dest


def run_rollout(model, task, *, preset: str, steps: int | None, n_traj: int) -> dict[str, Any]:
    """:func:`~symzoo.eval.rollout.rollout_metrics` with a per-step error series (``error_vs_time``,
    thinned to at most 50 points); a failure is recorded as ``{"error": ...}``, not raised."""
    from symzoo.eval.rollout import rollout_metrics

    try:
        res = rollout_metrics(model, task, steps=steps, n_traj=n_traj, preset=preset, return_series=True)
    except SymzooError:
        raise
    except Exception as e:  # noqa: BLE001 (a failing rollout must not lose the test metrics)
        msg = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        log.error("rollout of %s failed: %s", task.name, msg)
        return {"error": msg}
    series = res.pop("series")
    every = max(1, len(series["time"]) // 50)
    idx = sorted({*range(every - 1, len(series["time"]), every), len(series["time"]) - 1})
    res["error_vs_time"] = {
        "time": [series["time"][i] for i in idx],
        "error": [series["error"][i] for i in idx],
    }
    return res


def format_eval(report: dict) -> str:
    """A plain-text table of an ``eval.json`` report."""
    lines = [
        f"{report['model']} on {report['task']} ({report['preset']}, {report['split']}, n={report['n_test']})",
        f"{'metric':<28}{'value':>14}  unit",
    ]
    for k, v in report["metrics"].items():
        lines.append(f"{k:<28}{_g(v, '>14.6g')}  {report['units'].get(k, '')}")
    for name, ms in (report.get("metrics_ood") or {}).items():
        lines.append(f"out of domain: {name} (test split of the task variant)")
        for k, v in ms.items():
            lines.append(f"  {k:<26}{_g(v, '>14.6g')}  {report['units'].get(k, '')}")
    eq = report["equivariance"]
    lines.append(
        f"equivariance error ({eq['dtype']}, relative; group {eq['group']}; claimed: "
        f"{', '.join(eq['claimed']) or 'none'})"
    )
    for k, v in eq["errors"].items():
        lines.append(f"  {k:<26}{_g(v, '>14.3g')}")
    ro = report.get("rollout")
    if ro:
        from symzoo.eval.rollout import format_rollout

        lines.append(f"rollout failed: {ro['error']}" if "error" in ro else format_rollout(ro))
    return "\n".join(lines)


def _g(v, spec: str) -> str:
    """A number for the table; ``None`` (a non-finite value in strict JSON) prints as nan."""
    return format(float("nan") if v is None else v, spec)
