"""``leaderboard.json`` from the grids' ``results.json``: per task the symmetry gains, data efficiency,
orbit ratio, physics metric and breaking crossover (see :mod:`symzoo.eval.leaderboard`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symzoo.errors import SymzooError
from symzoo.task import canonical_domain

from ..results import load_results
from ..results import num as _num
from ..stats import summarize
from ..verdict import plugin_label
from .recipe import LEADERBOARD_FORMAT

__all__ = [
    "paired_gain",
    "physics_key",
    "crossover",
    "summarize_task",
    "build_leaderboard",
    "load_leaderboard",
]

log = logging.getLogger(__name__)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _by_seed(doc: dict, model: str, n: int, metric: str) -> dict[int, float]:
    return {
        int(c["seed"]): _num(c["metrics"].get(metric))
        for c in doc.get("cells", [])
        if c.get("study", "curve") == "curve" and c["model"] == model and int(c["train_size"]) == int(n)
    }


def paired_gain(doc: dict, baseline: str, reference: str, n: int, metric: str) -> dict:
    """Per-seed baseline ÷ reference error at N, summarized (mean ± std over the shared seeds)."""
    from ..stats import symmetry_gain

    b, r = _by_seed(doc, baseline, n, metric), _by_seed(doc, reference, n, metric)
    return summarize([symmetry_gain(b[s], r[s]) for s in sorted(set(b) & set(r))])


def physics_key(doc: dict, summ: dict, wanted: str | None = None) -> str | None:
    """The rollout metric a task's results declare for the leaderboard (see the module docstring)."""
    from ..summary import lead_invariant, scores_of

    have = {k for per in (summ.get("rollout") or {}).values() for stats in per.values() for k in stats}
    if wanted:
        return wanted if wanted in have else None
    for k in scores_of(doc):
        if k in have:
            return k
    lead = lead_invariant(doc)
    if lead and f"{lead}_drift" in have:
        return f"{lead}_drift"
    return "rollout_error" if "rollout_error" in have else None


def _rollout_unit(doc: dict, key: str) -> str:
    for c in doc.get("cells", []):
        u = ((c.get("rollout") or {}).get("units") or {}).get(key)
        if u:
            return str(u)
    return ""


def crossover(strengths: Sequence[float], gains: Sequence[float]) -> dict:
    """Where the gain falls to 1 along increasing strength: ``{"strength", "bound"}`` with
    ``bound`` ``"="`` (interpolated, log-linear in the gain, linear in the strength), ``">"``
    (gain above 1 up to the largest strength), ``"<"`` (at or below 1 already at the smallest) or
    ``"?"`` (no finite gains)."""
    pts = [(float(s), float(g)) for s, g in zip(strengths, gains) if math.isfinite(_num(g)) and _num(g) > 0]
    if not pts:
        return {"strength": math.nan, "bound": "?"}
    pts.sort()
    if pts[0][1] <= 1:
        return {"strength": pts[0][0], "bound": "<"}
    for (s0, g0), (s1, g1) in zip(pts, pts[1:]):
        if g1 <= 1 < g0:
            f = math.log(g0) / (math.log(g0) - math.log(g1))
            return {"strength": s0 + f * (s1 - s0), "bound": "="}
    return {"strength": pts[-1][0], "bound": ">"}


def _task_label(entry: dict) -> str:
    """The domain label of an entry saved without one (a leaderboard.json from before labels were
    the tasks'): its task's ``domain_label``, else the domain word."""
    from symzoo.registry import get_task

    try:
        return str(get_task(str(entry["task"])).domain_label or canonical_domain(entry["domain"]))
    except Exception:  # noqa: BLE001 - a task no longer registered: the word will do
        return canonical_domain(entry["domain"])


def summarize_task(doc: dict, entry: dict, breaking_doc: dict | None = None) -> dict:
    """The leaderboard row of one task, from its grid's ``results.json`` (and its sweep's)."""
    from ..summary import summarize_results

    summ = summarize_results(doc)
    pm = summ["metric"]
    sizes = [int(n) for n in doc["train_sizes"]]
    eq, plain, aug = entry["equivariant"], entry["plain"], entry.get("augmented")
    baselines = {"plain": plain, **({"augmented": aug} if aug else {})}
    n_max, n_min = max(sizes), min(sizes)
    row: dict[str, Any] = {
        "domain": canonical_domain(entry["domain"]),
        "domain_label": entry.get("domain_label") or _task_label(entry),
        "task": doc["task"],
        "preset": doc["preset"],
        "metric": pm,
        "unit": (doc.get("units") or {}).get(pm, ""),
        "group": doc.get("group"),
        "models": {"equivariant": eq, **baselines},
        "roles": {m: (doc.get("roles") or {}).get(m, {}).get("role") for m in [eq, *baselines.values()]},
        "train_sizes": sizes,
        "seeds": [int(s) for s in doc["seeds"]],
        "cells_done": doc.get("cells_done"),
        "cells_total": doc.get("cells_total"),
        "failed": sorted(doc.get("failed") or {}),
        "cell_seconds_total": doc.get("cell_seconds_total"),
        "cell_seconds_mean": (doc.get("cell_seconds_total") or 0) / max(1, int(doc.get("cells_done") or 0)),
        "error": {m: summ["curves"].get(m, {}) for m in [eq, *baselines.values()]},
        "gain": {b: {str(n): paired_gain(doc, m, eq, n, pm) for n in sizes} for b, m in baselines.items()},
        "gain_of_means": {b: summ["gain"].get(m, {}) for b, m in baselines.items()},
        "efficiency": {b: (summ["efficiency"].get(m) or {}).get(str(n_min)) for b, m in baselines.items()},
        "efficiency_size": n_min,
        "orbit": {
            r: (summ.get("orbit") or {}).get(m, {}).get("ratio")
            for r, m in {"equivariant": eq, **baselines}.items()
            if (summ.get("orbit") or {}).get(m)
        },
        "orbit_size": (doc.get("orbit") or {}).get("train_size") if summ.get("orbit") else None,
        # models from plugins (not part of symzoo) and rollouts that diverged, for the verdict
        "plugins": {
            m: plugin_label(doc.get("roles") or {}, m)
            for m in [eq, *baselines.values()]
            if plugin_label(doc.get("roles") or {}, m)
        },
        "diverged": {
            r: _num(
                ((summ.get("rollout") or {}).get(m) or {}).get(str(n_max), {}).get("diverged", {}).get("mean")
            )
            for r, m in {"equivariant": eq, **baselines}.items()
            if "diverged" in ((summ.get("rollout") or {}).get(m) or {}).get(str(n_max), {})
        },
    }
    key = physics_key(doc, summ, entry.get("physics_metric"))
    if key:
        row["physics"] = {
            "metric": key,
            "unit": _rollout_unit(doc, key),
            "train_size": n_max,
            "values": {
                r: (summ["rollout"].get(m) or {}).get(str(n_max), {}).get(key)
                for r, m in {"equivariant": eq, **baselines}.items()
            },
        }
    if breaking_doc is not None:
        bs = summarize_results(breaking_doc).get("breaking") or {}
        strengths = [float(s) for s in bs.get("strengths", [])]
        per_n = {}
        for n, by_s in ((bs.get("gain") or {}).get(plain) or {}).items():
            g = [_num(by_s.get(f"{s:g}")) for s in strengths]
            per_n[n] = {"gain": g, "crossover": crossover(strengths, g)}
        row["breaking"] = {
            "knob": bs.get("knob"),
            "unit": bs.get("unit"),
            "strengths": strengths,
            "baseline": plain,
            "by_size": per_n,
            "cells_done": breaking_doc.get("cells_done"),
            "cells_total": breaking_doc.get("cells_total"),
        }
    return row


def build_leaderboard(out: str | Path, entries: Sequence[dict], *, recipe: dict | None = None) -> dict:
    """The leaderboard document from the grids' ``results.json`` in ``out`` (grids not run yet are
    listed under ``"missing"``)."""
    out = Path(out)
    rows, missing = [], []
    for e in entries:
        ent = e if isinstance(e, dict) else e.as_dict()
        grid = out / ent["task"]
        if not (grid / "results.json").is_file():
            missing.append(ent["task"])
            continue
        bdoc = None
        if ent.get("breaking") and (out / f"{ent['task']}-breaking" / "results.json").is_file():
            bdoc = load_results(out / f"{ent['task']}-breaking")
        rows.append(summarize_task(load_results(grid), ent, bdoc))
    order = list(dict.fromkeys(r["domain"] for r in rows))  # the domains in the recipe's order
    rows.sort(key=lambda r: (order.index(r["domain"]), r["task"]))
    return {
        "format": LEADERBOARD_FORMAT,
        "recipe": recipe or {},
        "entries": [e if isinstance(e, dict) else e.as_dict() for e in entries],
        "tasks": rows,
        "missing": missing,
    }


def load_leaderboard(out: str | Path) -> dict:
    path = Path(out) / "leaderboard.json"
    doc = _read(path) if path.is_file() else None
    if doc is None or doc.get("format") != LEADERBOARD_FORMAT:
        raise SymzooError(f"{path} is missing or not a symzoo leaderboard (run `symzoo leaderboard` first)")
    return doc
