"""``symzoo compare``: learning curves, symmetry metrics and the orbit study over a grid of cells.

A **cell** is one (model, training-set size, seed) training run of the harness, followed by its
evaluation on the task's test split.  ``model`` may end in ``+aug`` (the same model trained with
random group augmentation).  Two studies share the grid:

* ``curve`` cells train on the first N samples of the training split (the same samples for every
  model and seed; the seed changes initialisation and batch order).  Per cell: the test metrics
  (the task's ``primary_metric`` is the headline), the equivariance errors per group factor
  (``symzoo.testing``, float64) and the metrics on the test set moved by random group elements.
* ``orbit`` cells (one per model and seed, at ``orbit_size`` samples) train on the
  symmetry-restricted training set ``task.restrict(train)`` (``data.restrict=true``: N-body
  systems moved to their canonical pose) and are tested **in orbit** (``task.restrict(test)``) and
  **out of orbit** (the test set moved by random group elements).  ``ratio = out / in``: about 1
  for a model that is equivariant by construction, large for one that learned only one pose.

Tasks with dynamics (``task.has_dynamics``: the Hamiltonian systems, N-body) also get **rollout
metrics** per curve cell: :func:`symzoo.eval.rollout.rollout_metrics` rolls the trained model out
for ``rollout_steps`` steps (default: the task's ``rollout_steps``) from ``rollout_trajectories``
test initial states and records rollout error, valid time and the drift of every invariant the
task declares (energy, momentum, ...) under the cell's ``"rollout"`` key (the report's drift
column and rollout table).  The rollout settings are part of the comparison's settings.

Output folder::

    results.json            every cell, every metric, settings, versions, device, wall time
    report.md, *.png        rendered from results.json (``symzoo report DIR`` re-renders)
    cells/<model>/n<N>-s<seed>[-orbit]/   the run folder of each cell (+ cell.json when finished)

Resumable: a cell is finished when its ``cell.json`` (written atomically, last) exists and matches
the comparison's settings; re-running skips it.  A cell folder without it (an interrupted run) is
deleted and retrained.  ``results.json`` is rewritten atomically after every finished cell.
Cells run in parallel processes (spawned), ``jobs`` at a time, each with ``cores // jobs`` torch
threads, or on a Dask cluster (``executor="dask://HOST:PORT"``, :mod:`symzoo.eval.executors`);
either way this process alone writes ``results.json``.  Models from plugins (entry points,
``--import``, ``module:builder``; :mod:`symzoo.plugins`) are compared like built-ins: every cell's
job names the plugin modules of this process and the worker imports them before it trains.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from symzoo.errors import SymzooError
from symzoo.paths import atomic_write_text

from .cells import (  # noqa: F401  (the grid and one cell: symzoo.eval.cells; names kept here)
    RESERVED_KEYS,
    Cell,
    _overrides,
    _worker_init,
    acquire_lock,
    cell_rollout,
    choose_reference,
    finished_cell,
    has_restriction,
    model_roles,
    parse_list,
    plan_cells,
    run_cell,
)
from .results import RESULTS_FORMAT, clean_json, load_results, num

__all__ = [
    "Cell",
    "compare",
    "plan_cells",
    "model_roles",
    "run_cell",
    "load_results",
    "clean_json",
    "num",
    "RESULTS_FORMAT",
]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- the grid
def _versions() -> dict:
    import numpy
    import torch

    import symzoo

    v = {
        "symzoo": symzoo.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }
    try:
        import lightning

        v["lightning"] = lightning.__version__
    except ImportError:  # pragma: no cover
        pass
    return v


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS)
        return os.cpu_count() or 1


def compare(*args, threads: int | None = None, **kwargs) -> dict:
    """Run (or resume) a comparison and return the results (also written to ``out/results.json``).

    Arguments: see :func:`_compare`.  The torch thread count of this process is set to
    ``threads`` (default 1) while the data are prepared and restored afterwards.
    """
    import torch

    old = torch.get_num_threads()
    # small tensors on busy cores: oversubscribed intra-op threads are many times slower
    torch.set_num_threads(int(threads) if threads else 1)
    try:
        return _compare(*args, threads=threads, **kwargs)
    finally:
        torch.set_num_threads(old)


def _compare(
    task: str,
    models: Sequence[str],
    train_sizes: Sequence[int],
    seeds: Sequence[int] | int,
    *,
    preset: str | None = None,
    out: str | Path | None = None,
    jobs: int | None = None,
    reference: str | None = None,
    orbit: bool = True,
    orbit_size: int | None = None,
    overrides: Sequence[str] = (),
    threads: int | None = None,
    render: bool = True,
    rollout: bool = True,
    rollout_steps: int | None = None,
    rollout_trajectories: int = 16,
    breaking: Sequence[float] | str | None = None,
    on_cell: Callable[[dict, int, int], None] | None = None,
    on_start: Callable[[dict], None] | None = None,
    executor: str | Any | None = None,
) -> dict:
    """Run (or resume) a comparison and return the results (also written to ``out/results.json``).

    ``executor``: where the cells train, ``"local"`` (default, a process pool of ``jobs``) or
    ``"dask://HOST:PORT"`` (a Dask cluster; :mod:`symzoo.eval.executors`).
    ``seeds``: a count (seeds ``0..k-1``) or explicit seeds.  ``jobs``: parallel cells (default:
    the available cores); ``jobs=1`` trains in this process.  ``threads``: torch threads per cell
    (default ``cores // jobs``; small models train fastest with 1, and oversubscribed threads on
    busy cores are many times slower).  ``on_cell(result, done, total)`` is
    called after every newly finished cell; ``on_start(info)`` once before training, with the
    counts of cells in the grid, already finished and to train.  ``rollout``: for tasks with
    dynamics, roll every curve cell out for ``rollout_steps`` steps from ``rollout_trajectories``
    test initial states (:func:`symzoo.eval.rollout.rollout_metrics`) and record the metrics.
    ``breaking``: strengths of the task's symmetry-breaking knob (``task.breaking``) to sweep; every
    curve cell is trained once per strength on the task's data at that strength (``Cell.breaking``;
    the orbit study is skipped: its restriction assumes the unbroken group).
    """
    from symzoo.train.config import as_dict, load_config

    from symzoo.registry import get_task, model_entry

    from .report import readable, render_report, summarize_results

    t_start = time.perf_counter()
    models = parse_list(models, "--models")
    for m in models:
        model_entry(m)
        if "+" in m and not m.endswith("+aug"):
            raise SymzooError(f"model {m!r}: the only variant suffix is '+aug'")
    train_sizes = sorted(parse_list(train_sizes, "--train-sizes", int))
    if min(train_sizes) < 1:
        raise SymzooError("--train-sizes must be positive integers")
    seeds = list(range(seeds)) if isinstance(seeds, int) else parse_list(seeds, "--seeds", int)
    if not seeds:
        raise SymzooError("--seeds must be at least 1")
    overrides = list(overrides)
    for item in overrides:
        if "=" not in item:
            raise SymzooError(f"override {item!r} must look like key=value")
        if item.split("=", 1)[0].strip() in RESERVED_KEYS:
            raise SymzooError(
                f"override {item!r}: compare sets {item.split('=', 1)[0]} itself "
                f"(use --train-sizes/--seeds/--preset)"
            )

    task_obj = get_task(task, preset=preset)
    preset = task_obj.default_preset if preset is None else preset
    cfgs = {m: load_config(task, m, preset=preset, overrides=list(overrides)) for m in models}
    task_args = as_dict(cfgs[models[0]].data.task_args)
    if task_args:
        task_obj = get_task(task, preset=preset, **task_args)
    # generate/cache the data once here (workers would race for it) and check the sizes
    strengths = None
    if breaking is not None:  # validated before any data or folder is made
        knob = task_obj.breaking
        if knob is None:
            raise SymzooError(f"--breaking: task {task!r} declares no symmetry-breaking knob")
        strengths = sorted(knob.check(s) for s in parse_list(breaking, "--breaking", float))
        if any(o.split("=", 1)[0].strip() == f"data.task_args.{knob.arg}" for o in overrides):
            raise SymzooError(f"override data.task_args.{knob.arg}: --breaking sets it for every cell")
    train_split, _, _ = task_obj.splits(preset, seed=0)
    for s in strengths or []:  # generate/cache the data at every strength here, once
        task_obj.with_breaking(s).splits(preset, seed=0)
    too_big = [n for n in train_sizes + ([orbit_size] if orbit_size else []) if n > len(train_split)]
    if too_big:
        raise SymzooError(
            f"train size {max(too_big)} exceeds the {len(train_split)} training samples of "
            f"{task}/{preset}; use smaller --train-sizes or another --preset"
        )
    do_orbit = bool(orbit) and has_restriction(task_obj)
    if orbit and not do_orbit:
        log.warning("%s defines no symmetry-restricted training set: no orbit study", task)
    if do_orbit and strengths is not None:
        do_orbit = False
        log.info("--breaking: no orbit study (its restricted set assumes the unbroken group)")
    orbit_n = (orbit_size or max(train_sizes)) if do_orbit else None

    from symzoo.compat import check_compatible
    from symzoo.registry import create_model

    built_args = {}
    for m in models:  # declared model/task compatibility, before any folder is touched
        base = m.split("+")[0]
        args = {**task_obj.model_defaults(base, train_split), **as_dict(cfgs[m].model.args)}
        check_compatible(create_model(base, **args), task_obj)
        built_args[m] = args
    roles = model_roles(models, task_obj, built_args)  # the models as trained (task defaults included)
    ref = choose_reference(models, roles, reference)

    do_rollout = bool(rollout) and bool(task_obj.has_dynamics)
    rollout_spec = None
    if do_rollout:
        if rollout_steps is None:
            rollout_steps = task_obj.rollout_steps
        if int(rollout_steps) < 1 or int(rollout_trajectories) < 1:
            raise SymzooError("--rollout-steps and --rollout-trajectories must be at least 1")
        rollout_spec = {"steps": int(rollout_steps), "n_traj": int(rollout_trajectories)}

    out = Path(out or f"runs/compare-{task}-{preset}")
    settings = {"task": task, "preset": preset, "overrides": sorted(overrides)}
    if strengths is not None:  # the knob, not the strengths: a sweep can grow like the sizes
        settings["breaking"] = task_obj.breaking.name
    if rollout_spec:  # only for tasks with dynamics: other comparisons keep their settings
        settings["rollout"] = dict(rollout_spec)
    prev = None
    if (out / "results.json").is_file():
        prev = load_results(out)
        if prev.get("settings") != settings:
            raise SymzooError(
                f"{out} holds a comparison with other settings ({prev.get('settings')}); choose another --out"
            )
    elif out.exists() and any(p.name not in ("cells", ".compare.lock") for p in out.iterdir()):
        if not (out / "cells").is_dir():
            raise SymzooError(f"{out} exists and is not a comparison folder; choose another --out")

    from .executors import connect_executor

    ex = connect_executor(executor)  # a bad address fails here, before anything is written
    if ex.name == "local":  # trainer settings this machine cannot run (cells train here)
        from symzoo.train.run import check_trainer

        try:
            for c in cfgs.values():
                check_trainer(c)
        except SymzooError:
            if ex is not executor:
                ex.close()
            raise
    if ex.name != "local":  # a Dask worker cannot import a model defined in the submitting script
        script = [m for m in models if model_entry(m).plugin in ("__main__", "__mp_main__")]
        if script:
            if ex is not executor:
                ex.close()
            raise SymzooError(
                f"model {script[0]!r} is defined in the running script (__main__), which Dask workers "
                "cannot import; move it to a module and name it with --import MODULE or module:builder"
            )
    lock = acquire_lock(out)
    try:
        cells = plan_cells(models, train_sizes, seeds, orbit_size=orbit_n, breaking=strengths)
        results: dict[str, dict] = {}
        todo: list[Cell] = []
        for c in cells:
            r = finished_cell(c.directory(out), settings)
            if r is not None:
                results[c.key] = r
            else:
                todo.append(c)

        cores = available_cores()
        ex.plan(jobs, threads, len(todo), cores)
        jobs, threads = ex.jobs, ex.threads
        invocation: dict[str, Any] = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cells_trained": 0,
            "cells_reused": len(results),
            "jobs": jobs,
            "threads_per_job": threads,
            "cores": cores,
            "executor": ex.name,
        }
        invocations = list(prev.get("invocations", [])) if prev else []
        invocations.append(invocation)
        doc: dict[str, Any] = {
            "format": RESULTS_FORMAT,
            "settings": settings,
            "task": task,
            "preset": preset,
            "primary_metric": task_obj.primary_metric,
            "units": dict(task_obj.units),
            "group": repr(task_obj.group),
            "group_factors": list(task_obj.group.factors),
            "models": models,
            "roles": roles,
            "reference": ref,
            "reference_given": reference is not None,
            "train_sizes": train_sizes,
            "seeds": seeds,
            "orbit": {
                "enabled": do_orbit,
                "train_size": orbit_n,
                "restriction": (type(task_obj).restrict.__doc__ or "").strip().split("\n")[0]
                if do_orbit
                else None,
            },
            "has_dynamics": bool(task_obj.has_dynamics),
            "rollout": {"enabled": do_rollout, **(rollout_spec or {})},
            "breaking": None
            if strengths is None
            else {
                "knob": task_obj.breaking.name,
                "description": task_obj.breaking.description,
                "unit": task_obj.breaking.unit,
                "arg": task_obj.breaking.arg,
                "residual_group": repr(task_obj.breaking.residual_group),
                "strengths": strengths,
            },
            "versions": _versions(),
            "host": {"platform": platform.platform(), "cores": cores},
            "invocations": invocations,
            "failed": {},
        }

        def write() -> None:
            doc["cells"] = [results[c.key] for c in cells if c.key in results]
            doc["devices"] = sorted({str(r.get("device")) for r in doc["cells"]})
            doc["device"] = ", ".join(doc["devices"]) or None
            doc["cells_total"], doc["cells_done"] = len(cells), len(doc["cells"])
            doc["cell_seconds_total"] = round(sum(r.get("wall_seconds") or 0 for r in doc["cells"]), 3)
            invocation["wall_seconds"] = round(time.perf_counter() - t_start, 3)
            doc["wall_seconds_total"] = round(sum(i.get("wall_seconds", 0) for i in invocations), 3)
            doc["summary"] = summarize_results(doc)
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / "results.json", json.dumps(clean_json(doc), indent=2, default=str))
            readable(out / "results.json")

        done = len(results)
        if on_start:
            on_start(
                {
                    "total": len(cells),
                    "reused": len(results),
                    "todo": len(todo),
                    "jobs": jobs,
                    "threads": threads,
                    "out": str(out),
                }
            )
        write()
        if rollout_spec and any(c.study == "curve" for c in todo):
            # simulate (and cache) the reference trajectories once here: workers would race for them
            from symzoo.eval.rollout import reference_trajectories

            try:
                reference_trajectories(
                    task_obj, preset=preset, n_traj=rollout_spec["n_traj"], steps=rollout_spec["steps"]
                )
            except SymzooError:
                raise
            except Exception as e:  # noqa: BLE001 (each cell records its own rollout error)
                log.warning("reference trajectories for the rollouts failed: %s", e)
        # the largest cells first: the grid finishes sooner (longest-processing-time first)
        todo.sort(key=lambda c: (-c.train_size, c.study, c.model, c.seed))
        from symzoo.plugins import worker_spec

        plugins = worker_spec()
        jobs_spec = [
            {
                "task": task,
                "preset": preset,
                "cell": c.as_dict(),
                "dir": str(c.directory(out)),
                "overrides": overrides,
                "threads": threads,
                "settings": settings,
                "rollout": rollout_spec,
                "breaking_arg": None if strengths is None else task_obj.breaking.arg,
                "plugins": plugins,
            }
            for c in todo
        ]

        def finish(c: Cell, res: dict | None, err: BaseException | None) -> None:
            nonlocal done
            if err is not None:
                msg = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
                doc["failed"][c.key] = msg
                log.error("cell %s failed: %s", c.key, msg)
                if on_cell:
                    on_cell({**c.as_dict(), "key": c.key, "status": "failed", "error": msg}, done, len(cells))
            elif res is not None:
                results[c.key] = res
                doc["failed"].pop(c.key, None)
                invocation["cells_trained"] += 1
                done += 1
                if on_cell:
                    on_cell(res, done, len(cells))
            write()

        if todo:  # the executor calls finish once per cell (eval/executors.py)
            ex.run(jobs_spec, lambda i, res, err: finish(todo[i], res, err))
        write()
        if render:
            render_report(out)
        doc["out"] = str(out)
        return doc
    finally:
        lock.unlink(missing_ok=True)
        if ex is not executor:  # an executor object passed in (the leaderboard's) stays open
            ex.close()
