"""The statistics of a comparison (``results.json``): per-model learning curves, symmetry gains,
orbit ratios, rollout scores, and the names and units they are shown with.

Below the plots (:mod:`symzoo.eval.plots`) and the report (:mod:`symzoo.eval.report`), which render
what :func:`summarize_results` computes: ``summary < plots < report``.
"""

from __future__ import annotations

import math
from typing import Any

from .results import num as _num
from .stats import (
    data_efficiency,
    learning_curve_exponent,
    summarize,
    symmetry_gain,
)

__all__ = [
    "ROLLOUT_KEYS",
    "metric_of",
    "invariants_of",
    "lead_invariant",
    "scores_of",
    "rollout_keys",
    "summarize_results",
    "available_metrics",
]


#: rollout metrics of every task with dynamics (the per-invariant ones come from what the cells'
#: rollouts declare, :func:`rollout_keys`); this tuple is the Hamiltonian systems' set
ROLLOUT_KEYS = (
    "energy_drift",
    "energy_drift_final",
    "energy_mse",
    "rollout_error",
    "valid_time",
    "momentum_drift",
    "angular_momentum_drift",
    "diverged",
)


def metric_of(doc: dict) -> str:
    """The metric a report is about: ``doc["metric"]`` when set (``symzoo report --metric``),
    else the task's ``primary_metric``."""
    return doc.get("metric") or doc["primary_metric"]


def _ratio(orbit: dict, metric: str) -> float:
    """Out-of-orbit ÷ in-orbit error of one orbit cell for ``metric``."""
    i, o = _num(orbit["in_orbit"].get(metric)), _num(orbit["out_of_orbit"].get(metric))
    if not (math.isfinite(i) and math.isfinite(o)) or i < 0:
        return math.nan
    return o / i if i > 0 else math.inf


def _cells(
    doc: dict, *, model: str | None = None, study: str = "curve", size: int | None = None
) -> list[dict]:
    return [
        c
        for c in doc.get("cells", [])
        if c.get("study", "curve") == study
        and (model is None or c["model"] == model)
        and (size is None or int(c["train_size"]) == int(size))
    ]


_CORE_ROLLOUT = ("rollout_error", "valid_time", "diverged")


def invariants_of(doc: dict) -> dict[str, dict]:
    """The invariants the cells' rollouts report (name -> ``{"unit", "conserved", ...}``), in the
    task's order; for results written before tasks declared them, read off the ``*_drift`` keys."""
    out: dict[str, dict] = {}
    for c in _cells(doc):
        ro = c.get("rollout") or {}
        for name, info in (ro.get("invariants") or {}).items():
            out.setdefault(name, dict(info))
        if not ro.get("invariants"):
            for k in ro:
                if k.endswith("_drift"):
                    out.setdefault(k[: -len("_drift")], {"conserved": True})
    return out


def lead_invariant(doc: dict) -> str | None:
    """The invariant of the report's drift column and plot: ``energy`` when declared, else the first."""
    inv = invariants_of(doc)
    return "energy" if "energy" in inv else next(iter(inv), None)


def scores_of(doc: dict) -> list[str]:
    """The task-specific rollout metrics the cells report (``Dynamics.trajectory_metrics``, e.g. a
    valid prediction time): the keys of the cells' rollout ``units`` beyond the generic ones."""
    inv = invariants_of(doc)
    generic = set(_CORE_ROLLOUT) | {f"{n}_{s}" for n in inv for s in ("drift", "drift_final", "mse")}
    out: list[str] = []
    for c in _cells(doc):
        for k in (c.get("rollout") or {}).get("units") or {}:
            if k not in generic and k not in out:
                out.append(k)
    return out


def rollout_keys(doc: dict) -> list[str]:
    """Rollout metrics summarized per (model, N): the core ones, the task's own (:func:`scores_of`)
    and, per declared invariant, ``<name>_drift``, ``<name>_drift_final`` and ``<name>_mse``."""
    keys = [*_CORE_ROLLOUT, *scores_of(doc)]
    for name in invariants_of(doc):
        keys += [f"{name}_drift", f"{name}_drift_final", f"{name}_mse"]
    return keys


def summarize_results(doc: dict) -> dict[str, Any]:
    """Statistics of a comparison from its cells: learning curves (mean ± std over seeds), symmetry
    gain and data-efficiency factor against the reference model, learning-curve exponents,
    equivariance errors (max over cells) and the orbit study.  A breaking sweep
    (``compare --breaking``) is summarized at its lowest strength plus a ``"breaking"`` entry
    (:func:`symzoo.eval.breaking.summarize_breaking`)."""
    from .breaking import strengths_of, summarize_breaking

    if strengths_of(doc):
        return summarize_breaking(doc, summarize_results)
    pm = metric_of(doc)
    models, sizes, ref = doc["models"], [int(n) for n in doc["train_sizes"]], doc.get("reference")
    curves: dict[str, dict[str, dict]] = {}
    curves_group: dict[str, dict[str, dict]] = {}
    for m in models:
        curves[m], curves_group[m] = {}, {}
        for n in sizes:
            cs = _cells(doc, model=m, size=n)
            curves[m][str(n)] = summarize([_num(c["metrics"].get(pm)) for c in cs])
            curves_group[m][str(n)] = summarize([_num((c.get("metrics_group") or {}).get(pm)) for c in cs])
    # the task's declared out-of-domain test sets (Task.ood_variants): variant -> model -> N -> stats
    variants = sorted({v for c in _cells(doc) for v in (c.get("metrics_ood") or {})})
    curves_ood = {
        v: {
            m: {
                str(n): summarize(
                    [
                        _num(((c.get("metrics_ood") or {}).get(v) or {}).get(pm))
                        for c in _cells(doc, model=m, size=n)
                    ]
                )
                for n in sizes
            }
            for m in models
        }
        for v in variants
    }

    def curve_points(m: str) -> tuple[list[int], list[float]]:
        pts = [(n, curves[m][str(n)]["mean"]) for n in sizes if curves[m][str(n)]["n"] > 0]
        return [p[0] for p in pts], [p[1] for p in pts]

    exponents = {m: learning_curve_exponent(*curve_points(m)) for m in models}
    gains: dict[str, dict[str, float]] = {}
    efficiency: dict[str, dict[str, dict]] = {}
    if ref is not None:
        for m in models:
            if m == ref:
                continue
            gains[m], efficiency[m] = {}, {}
            bs, be = curve_points(m)
            for n in sizes:
                r = curves[ref][str(n)]
                gains[m][str(n)] = symmetry_gain(curves[m][str(n)]["mean"], r["mean"]) if r["n"] else math.nan
                if r["n"] and bs:
                    efficiency[m][str(n)] = data_efficiency(bs, be, n, r["mean"])
    equivariance: dict[str, dict[str, float]] = {}
    for m in models:
        errs: dict[str, float] = {}
        for c in _cells(doc, model=m):
            for f, v in (c.get("equivariance") or {}).items():
                v = _num(v)
                if math.isfinite(v):
                    errs[f] = max(errs.get(f, 0.0), v)
        equivariance[m] = errs
    orbit: dict[str, dict] = {}
    if (doc.get("orbit") or {}).get("enabled"):
        for m in models:
            cs = [c for c in _cells(doc, model=m, study="orbit") if c.get("orbit")]
            orbit[m] = {
                "train_size": (doc["orbit"] or {}).get("train_size"),
                "in_orbit": summarize([_num(c["orbit"]["in_orbit"].get(pm)) for c in cs]),
                "out_of_orbit": summarize([_num(c["orbit"]["out_of_orbit"].get(pm)) for c in cs]),
                "ratio": summarize([_ratio(c["orbit"], pm) for c in cs]),
            }
    rollout: dict[str, dict[str, dict]] = {}
    if any("rollout_error" in (c.get("rollout") or {}) for c in _cells(doc)):
        keys = rollout_keys(doc)
        for m in models:
            rollout[m] = {}
            for n in sizes:
                ros = [c.get("rollout") or {} for c in _cells(doc, model=m, size=n)]
                rollout[m][str(n)] = {
                    k: summarize([_num(r.get(k)) for r in ros if k in r])
                    for k in keys
                    if any(k in r for r in ros)
                }
    return {
        "metric": pm,
        "reference": ref,
        "curves": curves,
        "curves_group": curves_group,
        "curves_ood": curves_ood,
        "gain": gains,
        "efficiency": efficiency,
        "exponent": exponents,
        "equivariance": equivariance,
        "orbit": orbit,
        "rollout": rollout,
    }


def available_metrics(doc: dict) -> list[str]:
    names: list[str] = []
    for c in doc.get("cells", []):
        for k in c.get("metrics", {}):
            if k not in names:
                names.append(k)
    return names


def _unit(doc: dict, short: bool = False) -> str:
    u = (doc.get("units") or {}).get(metric_of(doc), "")
    return u.split(",")[0].strip() if short else u


def _label(name: str) -> str:
    return name.replace("_", " ")


def _rollout_spec(doc: dict) -> str:
    ro = doc.get("rollout") or (doc.get("settings") or {}).get("rollout") or {}
    used = sorted({int(r["n_traj"]) for c in _cells(doc) for r in [c.get("rollout") or {}] if "n_traj" in r})
    asked = ro.get("n_traj", "?")
    if used and used != [asked]:  # the test split has fewer initial states than asked for
        n = "/".join(map(str, used))
        return f"{ro.get('steps', '?')} steps, {n} test trajectories ({asked} asked, all the split has)"
    return f"{ro.get('steps', '?')} steps, {asked} test trajectories"
