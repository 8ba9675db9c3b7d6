"""The figures of a comparison: learning curves, orbit gap, invariant drift (PNG, matplotlib's object
API with the Agg canvas: no global backend switch, no display needed), written atomically.

Figures are written with :func:`symzoo.eval.results.save_png` (the breaking sweep's too).
``results < breaking < summary < plots < report``: the plots read the summary's statistics and
never the report.
"""

from __future__ import annotations

import math
from pathlib import Path

from .results import num as _num
from .results import save_png
from .stats import _fmt
from .summary import (
    _cells,
    _label,
    _rollout_spec,
    _unit,
    lead_invariant,
    metric_of,
)

__all__ = ["save_png", "plot_learning_curves", "plot_orbit_gap", "plot_energy_drift", "STYLE", "ROLE_LABEL"]


ROLE_LABEL = {"equivariant": "equivariant", "augmented": "augmented", "baseline": "baseline"}


STYLE = {"equivariant": "-", "augmented": ":", "baseline": "--"}


def _log_size_axes(ax, sizes) -> None:
    """Log-log axes with the training-set sizes as the x ticks."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_major_formatter(lambda x, _: f"{int(round(x))}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("training-set size N (samples)")


def _model_errorbar(ax, model: str, i: int, roles: dict, xs, ys, lo, hi):
    """One model's curve with asymmetric error bars, styled by its role (equivariant/augmented/baseline)."""
    role = roles.get(model, {}).get("role", "baseline")
    return ax.errorbar(
        xs,
        ys,
        yerr=[lo, hi],
        marker="osD^v<>"[i % 7],
        linestyle=STYLE.get(role, "--"),
        capsize=3,
        label=f"{model} ({ROLE_LABEL.get(role, role)})",
    )


def plot_learning_curves(doc: dict, summ: dict, path: str | Path) -> Path | None:
    """Log-log learning curves with ± std error bars, one line per model."""
    from matplotlib.figure import Figure

    sizes = [int(n) for n in doc["train_sizes"]]
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.add_subplot()
    plotted = 0
    roles = doc.get("roles", {})
    for i, m in enumerate(doc["models"]):
        pts = [(n, summ["curves"][m][str(n)]) for n in sizes if summ["curves"][m][str(n)]["n"] > 0]
        if not pts:
            continue
        xs = [p[0] for p in pts]
        ys = [p[1]["mean"] for p in pts]
        es = [p[1]["std"] if math.isfinite(p[1]["std"]) else 0.0 for p in pts]
        seeds = {
            n: [
                v
                for v in (_num(c["metrics"].get(metric_of(doc))) for c in _cells(doc, model=m, size=n))
                if math.isfinite(v) and v > 0
            ]
            for n in xs
        }
        # on a log axis mean - std can be <= 0: clip the lower bar at half the smallest seed value
        lo = [min(e, y - 0.5 * min(seeds[n] or [y])) for n, y, e in zip(xs, ys, es)]
        line = _model_errorbar(ax, m, i, roles, xs, ys, lo, es)
        sx = [n for n in xs for _ in seeds[n]]
        sy = [v for n in xs for v in seeds[n]]
        ax.scatter(sx, sy, s=10, color=line[0].get_color(), alpha=0.45, zorder=1)
        plotted += 1
    if not plotted:
        return None
    _log_size_axes(ax, sizes)
    ax.set_ylabel(f"test {metric_of(doc)} [{_unit(doc, True)}]")
    k = len(doc["seeds"])
    ax.set_title(
        f"{doc['task']} ({doc['preset']}): learning curves, mean ± std over {k} seed{'s' * (k > 1)}\n"
        f"(small dots: single seeds)",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    path = Path(path)
    save_png(fig, path)
    return path


def plot_orbit_gap(doc: dict, summ: dict, path: str | Path) -> Path | None:
    """Grouped bars: in-orbit vs out-of-orbit error per model (log scale), ratio written above."""
    from matplotlib.figure import Figure

    models = [m for m in doc["models"] if summ["orbit"].get(m) and summ["orbit"][m]["in_orbit"]["n"] > 0]
    if not models:
        return None
    fig = Figure(figsize=(max(4.8, 1.4 * len(models) + 2), 4.6))
    ax = fig.add_subplot()
    w = 0.38
    xs = list(range(len(models)))
    tops = []
    for j, (key, label) in enumerate(
        (
            ("in_orbit", "in-orbit (restricted test set)"),
            ("out_of_orbit", "out-of-orbit (randomly transformed test set)"),
        )
    ):
        ys = [summ["orbit"][m][key]["mean"] for m in models]
        es = [
            summ["orbit"][m][key]["std"] if math.isfinite(summ["orbit"][m][key]["std"]) else 0.0
            for m in models
        ]
        lo = [min(e, y * 0.999) for y, e in zip(ys, es)]
        ax.bar(
            [x + (j - 0.5) * w for x in xs],
            ys,
            w,
            yerr=[lo, es],
            capsize=3,
            label=label,
            color=("tab:blue", "tab:red")[j],
            alpha=0.85,
        )
        tops.append([y + e for y, e in zip(ys, es)])
    for x, m in zip(xs, models):
        r = summ["orbit"][m]["ratio"]["mean"]
        ax.annotate(
            f"×{_fmt(r, 3)}",
            (x, max(tops[0][x], tops[1][x])),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_yscale("log")
    lo_y = min(min(summ["orbit"][m][k]["mean"] for k in ("in_orbit", "out_of_orbit")) for m in models)
    hi_y = max(max(t) for t in tops)
    ax.set_ylim(lo_y / 3, hi_y * 6)
    ax.set_xticks(xs)
    ax.set_xticklabels(models)
    ax.set_xlabel("model (label above bars: out-of-orbit ÷ in-orbit error)")
    ax.set_ylabel(f"test {metric_of(doc)} [{_unit(doc, True)}]")
    ax.set_title(
        f"{doc['task']}: orbit generalization, trained on restricted set (N = {doc['orbit']['train_size']})",
        fontsize=10,
    )
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    path = Path(path)
    save_png(fig, path)
    return path


def plot_energy_drift(doc: dict, summ: dict, path: str | Path, invariant: str | None = None) -> Path | None:
    """Log-log drift of one invariant of the rollouts (default: :func:`lead_invariant`, energy when
    declared) vs training-set size, one line per model (± std)."""
    from matplotlib.figure import Figure

    invariant = invariant or lead_invariant(doc)
    if not summ.get("rollout") or invariant is None:
        return None
    sizes = [int(n) for n in doc["train_sizes"]]
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.add_subplot()
    roles = doc.get("roles", {})
    plotted = 0
    for i, m in enumerate(doc["models"]):
        pts = [(n, summ["rollout"].get(m, {}).get(str(n), {}).get(f"{invariant}_drift")) for n in sizes]
        pts = [(n, st) for n, st in pts if st and st["n"] > 0 and st["mean"] > 0]
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1]["mean"] for p in pts]
        es = [p[1]["std"] if math.isfinite(p[1]["std"]) else 0.0 for p in pts]
        lo = [min(e, 0.9 * y) for y, e in zip(ys, es)]
        _model_errorbar(ax, m, i, roles, xs, ys, lo, es)
        plotted += 1
    if not plotted:
        return None
    _log_size_axes(ax, sizes)
    ax.set_ylabel(f"relative {_label(invariant)} drift")
    ax.set_title(
        f"{doc['task']} ({doc['preset']}): {_label(invariant)} drift of rollouts ({_rollout_spec(doc)})",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    path = Path(path)
    save_png(fig, path)
    return path
