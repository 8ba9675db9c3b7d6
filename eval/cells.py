"""The grid of a comparison and its cells: planning (:class:`Cell`, :func:`plan_cells`, the models'
roles) and one cell's training and evaluation (:func:`run_cell`, in a worker process or in-process).

Below the executors (:mod:`symzoo.eval.executors` runs cells) and the orchestrator
(:mod:`symzoo.eval.compare` plans the grid, hands the cells to an executor and writes
``results.json``): ``results < cells < executors < compare``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symzoo.errors import SymzooError
from symzoo.paths import atomic_write_text

from .results import clean_json

__all__ = [
    "Cell",
    "RESERVED_KEYS",
    "plan_cells",
    "parse_list",
    "model_roles",
    "choose_reference",
    "has_restriction",
    "finished_cell",
    "run_cell",
    "cell_rollout",
    "acquire_lock",
]

log = logging.getLogger(__name__)

#: config keys the comparison sets itself; a user override of them would break the grid
RESERVED_KEYS = ("data.train_size", "seed", "data.restrict", "data.preset", "augment")


@dataclass(frozen=True, order=True)
class Cell:
    """One training run of the grid."""

    model: str  # registered name, optionally ending in "+aug"
    train_size: int
    seed: int
    study: str = "curve"  # "curve" | "orbit"
    breaking: float | None = None  # strength of the task's breaking knob (``--breaking``), else None

    @property
    def key(self) -> str:
        b = "" if self.breaking is None else f"-b{self.breaking:g}"
        return f"{self.model}/n{self.train_size}-s{self.seed}{b}{'-orbit' if self.study == 'orbit' else ''}"

    def directory(self, out: Path) -> Path:
        return Path(out) / "cells" / self.key

    def as_dict(self) -> dict:
        d = {"model": self.model, "train_size": self.train_size, "seed": self.seed, "study": self.study}
        if self.breaking is not None:
            d["breaking"] = self.breaking
        return d


# ----------------------------------------------------------------------------- planning
def parse_list(text: str | Sequence, what: str, cast=str) -> list:
    """``"a,b,c"`` -> ``[a, b, c]`` (deduplicated, order kept); a clear error for bad items."""
    items = [x.strip() for x in text.split(",")] if isinstance(text, str) else list(text)
    out = []
    for x in items:
        if x == "":
            continue
        try:
            v = cast(x)
        except (TypeError, ValueError):
            raise SymzooError(f"{what}: {x!r} is not a valid value") from None
        if v not in out:
            out.append(v)
    if not out:
        raise SymzooError(f"{what}: give at least one value")
    return out


def plan_cells(
    models: Sequence[str],
    train_sizes: Sequence[int],
    seeds: Sequence[int],
    *,
    orbit_size: int | None = None,
    breaking: Sequence[float] | None = None,
) -> list[Cell]:
    """Every (model, size, seed) curve cell, plus one orbit cell per (model, seed) when
    ``orbit_size`` is given; with ``breaking`` (strengths), the curve cells once per strength."""
    strengths = [None] if breaking is None else [float(b) for b in breaking]
    cells = [
        Cell(m, int(n), int(s), "curve", b)
        for b in strengths
        for m in models
        for n in train_sizes
        for s in seeds
    ]
    if orbit_size is not None:
        cells += [Cell(m, int(orbit_size), int(s), "orbit") for m in models for s in seeds]
    return cells


def model_roles(models: Sequence[str], task, model_args: dict[str, dict] | None = None) -> dict[str, dict]:
    """What each model claims against the task's group, and its role in the comparison.

    ``role``: ``"equivariant"`` (the model claims every factor of ``task.group``; ``+aug`` does not
    change that), ``"augmented"`` (a ``+aug`` model that does not), ``"baseline"`` otherwise.
    """
    from symzoo.registry import create_model, model_entry

    group = tuple(task.group.factors)
    roles = {}
    for name in models:
        base = name.split("+")[0]
        m = create_model(base, **(model_args or {}).get(name, {}))
        claimed = sorted(set(getattr(m, "symmetry", ())) & set(group))
        missing = [f for f in group if f not in claimed]
        aug = name.endswith("+aug")
        role = "equivariant" if not missing else ("augmented" if aug else "baseline")
        roles[name] = {
            "builder": base,
            "plugin": model_entry(base).plugin,
            "augment": aug,
            "symmetry": claimed,
            "missing": missing,
            "role": role,
            "num_parameters": int(sum(p.numel() for p in m.parameters())),
        }
    return roles


def choose_reference(models: Sequence[str], roles: dict[str, dict], reference: str | None) -> str | None:
    if reference is not None:
        if reference not in models:
            raise SymzooError(
                f"--reference {reference!r} is not one of the compared models ({', '.join(models)})"
            )
        return reference
    for m in models:
        if roles[m]["role"] == "equivariant" and not roles[m]["augment"]:
            return m
    return None


def has_restriction(task) -> bool:
    """Whether the task defines a symmetry-restricted training set (the orbit study needs one)."""
    from symzoo.task import Task

    return type(task).restrict is not Task.restrict


# ----------------------------------------------------------------------------- one cell
def _overrides(
    cell: Cell, extra: Sequence[str], threads: int | None, breaking_arg: str | None = None
) -> list[str]:
    ov = [
        f"data.train_size={cell.train_size}",
        f"seed={cell.seed}",
        "trainer.progress_bar=false",
        "trainer.tensorboard=false",
    ]
    if threads:
        ov.append(f"trainer.threads={threads}")
    if cell.study == "orbit":
        ov.append("data.restrict=true")
    if cell.breaking is not None:  # the knob's task argument (BreakingKnob.arg)
        ov.append(f"data.task_args.{breaking_arg}={float(cell.breaking)!r}")
    return ov + list(extra)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def finished_cell(cell_dir: Path, settings: dict) -> dict | None:
    """The result of a finished cell (its ``cell.json``), or ``None`` if it must be (re)trained."""
    res = _read_json(Path(cell_dir) / "cell.json")
    if not res or res.get("status") != "ok" or res.get("settings") != settings:
        return None
    return res


def run_cell(job: dict) -> dict:
    """Train and evaluate one cell; writes ``cell.json`` last.  ``job``: task, preset, cell (dict),
    dir, overrides (extra), threads, settings.  Runs in a worker process or in-process."""
    import torch
    from symzoo.eval.evaluate import evaluate_dataset, evaluate_ood
    from symzoo.train.config import as_dict, load_config
    from symzoo.train.run import build_datasets, train

    from symzoo.modelio import load_model
    from symzoo.plugins import activate
    from symzoo.registry import get_task

    activate(job.get("plugins"))  # the submitting process's plugin modules (a worker has none)
    t0 = time.perf_counter()
    cell = Cell(**job["cell"])
    cell_dir = Path(job["dir"])
    threads = job.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    if not logging.getLogger().isEnabledFor(logging.INFO):
        import lightning  # noqa: F401  (it sets its loggers to INFO on import)

        from symzoo._logging import quiet_third_party

        quiet_third_party()
    if cell_dir.exists():  # an interrupted earlier attempt: start clean
        shutil.rmtree(cell_dir)
    cfg = load_config(
        job["task"],
        cell.model,
        preset=job["preset"],
        overrides=_overrides(cell, job.get("overrides", ()), threads, job.get("breaking_arg")),
    )
    train(cfg, str(cell_dir), quiet=True)

    ev = json.loads((cell_dir / "eval.json").read_text())
    task = get_task(cfg.task, preset=cfg.data.preset, **as_dict(cfg.data.task_args))
    _, _, test = build_datasets(task, cfg)
    model = load_model(cell_dir)
    pm = task.primary_metric
    gseed = 10_000 + cell.seed
    metrics_group = evaluate_dataset(model, task, test, transform="group", seed=gseed)
    result: dict[str, Any] = {
        **cell.as_dict(),
        "key": cell.key,
        "status": "ok",
        "settings": job["settings"],
        "metrics": ev["metrics"],
        "metrics_group": metrics_group,
        "equivariance": ev["equivariance"]["errors"],
        "claimed": ev["equivariance"].get("claimed", []),
        "epochs": ev.get("epochs"),
        "best_epoch": ev.get("best_epoch"),
        "best_val": ev.get("best_val"),
        "fit_seconds": ev.get("fit_seconds"),
        "device": ev.get("device"),
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
        "threads": threads,
        "dir": str(Path("cells") / cell.key),
    }
    if cell.study == "curve":  # the task's declared out-of-domain test sets (Task.ood_variants)
        ood = evaluate_ood(model, task, cfg.data.preset)
        if ood:
            result["metrics_ood"] = ood
    ro = job.get("rollout")
    if ro and cell.study == "curve" and task.has_dynamics:
        result["rollout"] = cell_rollout(model, task, cfg.data.preset, ro)
    if cell.study == "orbit":
        in_orbit = evaluate_dataset(model, task, task.restrict(test))
        out_orbit = metrics_group
        ratio = out_orbit[pm] / in_orbit[pm] if in_orbit[pm] > 0 else math.inf
        result["orbit"] = {"in_orbit": in_orbit, "out_of_orbit": out_orbit, "ratio": ratio}
    result["wall_seconds"] = round(time.perf_counter() - t0, 3)
    atomic_write_text(cell_dir / "cell.json", json.dumps(clean_json(result), indent=2, default=str))
    return result


def cell_rollout(model, task, preset: str, spec: dict) -> dict:
    """Rollout metrics of one trained cell (``spec``: ``steps``, ``n_traj``); a failure is recorded
    as ``{"error": ...}`` instead of failing the cell (its test metrics stay valid)."""
    from symzoo.eval.rollout import rollout_metrics

    try:
        res = rollout_metrics(
            model, task, steps=int(spec["steps"]), n_traj=int(spec["n_traj"]), preset=preset
        )
    except Exception as e:  # noqa: BLE001
        msg = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        log.error("rollout of %s failed: %s", task.name, msg)
        return {"error": msg}
    return {k: v for k, v in res.items() if k not in ("series", "plot")}


def acquire_lock(out: Path):
    """Own ``out/.compare.lock`` (pid, host, start time; see :mod:`symzoo.runlock`): refused while a
    live ``symzoo compare`` holds it, recovered atomically when its owner is gone (or the pid now
    belongs to an unrelated process).  The result has ``unlink()`` / ``release()``."""
    from symzoo.runlock import acquire

    out.mkdir(parents=True, exist_ok=True)
    return acquire(out / ".compare.lock", f"comparison folder {out}", holder="`symzoo compare`")


def _die_with_parent(parent: int) -> None:
    """Make this worker exit when the compare process that started it dies (even by kill -9):
    Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, plus a thread polling the parent pid elsewhere
    (and as a fallback where prctl is unavailable)."""
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="symzoo-parent-watchdog", daemon=True).start()


def _worker_init(threads: int, parent: int | None = None) -> None:
    import warnings

    if parent is not None:
        _die_with_parent(parent)

    import torch

    from symzoo._logging import quiet_third_party

    torch.set_num_threads(max(1, threads))
    logging.basicConfig(level=logging.WARNING)
    quiet_third_party()
    warnings.filterwarnings("ignore")
