"""Running a leaderboard: one ``symzoo compare`` grid per recipe entry (and its breaking sweep), then
``leaderboard.json`` built and rendered; :func:`rebuild` re-renders without training.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from symzoo.errors import SymzooError
from symzoo.paths import atomic_write_text

from ..results import clean_json
from .recipe import LEADERBOARD_FORMAT, Entry, load_recipe
from .render import render_leaderboard
from .summary import _read, build_leaderboard, load_leaderboard

__all__ = ["run_leaderboard", "rebuild"]

log = logging.getLogger(__name__)


def _grid_dirs(out: Path, e: Entry) -> tuple[Path, Path | None]:
    return out / e.task, (out / f"{e.task}-breaking" if e.breaking else None)


def run_leaderboard(
    recipe: str | Path | dict,
    out: str | Path | None = None,
    *,
    executor: str | None = None,
    jobs: int | None = None,
    threads: int | None = None,
    tasks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    overrides: Sequence[str] = (),
    on_grid: Callable[[Entry, str, dict], None] | None = None,
    on_cell: Callable[[dict, int, int], None] | None = None,
) -> dict:
    """Run (or reuse) every task's grid of a recipe, then write ``leaderboard.json``, ``.md``, ``.png``.

    ``tasks``: only these tasks of the recipe; ``seeds``: replace the recipe's seeds; ``overrides``:
    appended to every grid's config overrides (e.g. ``trainer.max_epochs=1`` for a smoke run; they
    are part of a grid's settings, so use another ``out``).  ``on_grid(entry, kind, results)`` after
    each grid (``kind``: ``"grid"`` or ``"breaking"``).  Returns the leaderboard document.
    """
    from ..compare import compare
    from ..executors import connect_executor

    rec = recipe if isinstance(recipe, dict) else load_recipe(recipe)
    entries: list[Entry] = list(rec["entries"])
    if tasks:
        unknown = [t for t in tasks if t not in {e.task for e in entries}]
        if unknown:
            raise SymzooError(
                f"--tasks {unknown[0]!r} is not in recipe {rec['name']!r} ({', '.join(e.task for e in entries)})"
            )
        entries = [e for e in entries if e.task in tasks]
    extra = [str(o) for o in overrides]
    from symzoo.train.config import refuse_interpolations

    refuse_interpolations(extra, "overrides")
    for o in extra:
        if "=" not in o:
            raise SymzooError(f"override {o!r} must look like key=value")
    for e in entries:
        e.overrides = list(e.overrides) + extra
        if seeds is not None:
            e.seeds = [int(s) for s in seeds]
    out = Path(out or f"runs/leaderboard-{rec['name']}")
    if out.exists() and not out.is_dir():
        raise SymzooError(f"--out {out} is a file, not a folder")
    if (out / "leaderboard.json").is_file():
        prev = _read(out / "leaderboard.json")
        if prev is None or prev.get("format") != LEADERBOARD_FORMAT:
            raise SymzooError(f"{out}/leaderboard.json is not a symzoo leaderboard; choose another --out")
    elif out.is_dir() and any(out.iterdir()) and not any((out / e.task).is_dir() for e in entries):
        raise SymzooError(f"{out} exists and is not a leaderboard folder; choose another --out")

    ex = connect_executor(executor)  # one connection for every grid; a bad address fails here
    t0 = time.perf_counter()
    meta = {
        "recipe": {"name": rec["name"], "path": rec.get("path"), "description": rec.get("description")},
        "entries": [e.as_dict() for e in entries],
        "executor": ex.name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        for e in entries:
            grid, bdir = _grid_dirs(out, e)
            common: dict[str, Any] = dict(
                preset=e.preset,
                jobs=jobs,
                threads=threads,
                rollout=e.rollout,
                rollout_steps=e.rollout_steps,
                rollout_trajectories=e.rollout_trajectories,
                executor=ex,
                on_cell=on_cell,
            )
            doc = compare(
                e.task,
                e.models,
                e.train_sizes,
                e.seeds,
                out=grid,
                reference=e.equivariant,
                orbit=e.orbit,
                orbit_size=e.orbit_size,
                overrides=e.overrides,
                **common,
            )
            if on_grid:
                on_grid(e, "grid", doc)
            _write(out, meta, t0)
            if e.breaking:
                br = e.breaking
                doc = compare(
                    e.task,
                    br.get("models") or [e.equivariant, e.plain],
                    br.get("train_sizes") or [max(e.train_sizes)],
                    e.seeds,
                    out=bdir,
                    reference=e.equivariant,
                    orbit=False,
                    overrides=e.overrides,
                    breaking=br["strengths"],
                    **common,
                )
                if on_grid:
                    on_grid(e, "breaking", doc)
                _write(out, meta, t0)
    finally:
        ex.close()
    doc = _write(out, meta, t0)
    doc["out"] = str(out)
    return doc


def _write(out: Path, meta: dict, t0: float) -> dict:
    prev = _read(out / "leaderboard.json") or {}
    runs = [r for r in prev.get("invocations", []) if r.get("started") != meta["started"]]
    runs.append(
        {
            "started": meta["started"],
            "executor": meta["executor"],
            "wall_seconds": round(time.perf_counter() - t0, 3),
        }
    )
    doc = build_leaderboard(out, meta["entries"], recipe=meta["recipe"])
    doc["invocations"] = runs
    doc["wall_seconds_total"] = round(sum(r["wall_seconds"] for r in runs), 3)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "leaderboard.json", json.dumps(clean_json(doc), indent=2, default=str))
    render_leaderboard(out)
    return doc


def rebuild(out: str | Path) -> dict[str, Path]:
    """Re-aggregate ``leaderboard.json`` from the grids' ``results.json`` and re-render (no training)."""
    out = Path(out)
    doc = load_leaderboard(out)
    new = build_leaderboard(out, doc.get("entries") or [], recipe=doc.get("recipe"))
    for k in ("invocations", "wall_seconds_total"):
        if k in doc:
            new[k] = doc[k]
    atomic_write_text(out / "leaderboard.json", json.dumps(clean_json(new), indent=2, default=str))
    return render_leaderboard(out)
