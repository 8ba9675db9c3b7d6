"""The symmetry-breaking sweep of a comparison (``symzoo compare --breaking``): statistics, tables
and the ``gain_vs_breaking.png`` plot, all from ``results.json``.

A sweep's cells carry a ``breaking`` strength.  :func:`summarize_breaking` summarizes the cells of
every strength separately (with :func:`symzoo.eval.report.summarize_results`) and collects, per
model and training-set size, the test error and the *symmetry gain* (model error ÷ reference error
at equal N, > 1: the equivariant reference is better) as functions of the strength.  The other
sections of the report describe the lowest strength swept (normally 0, the unbroken data).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .results import num as _num
from .stats import _fmt, format_mean_std

__all__ = ["strengths_of", "at_strength", "summarize_breaking", "breaking_markdown", "plot_gain_vs_breaking"]


def strengths_of(doc: dict) -> list[float] | None:
    """The swept strengths of a comparison (``None``: not a sweep, or already one strength)."""
    if "breaking_at" in doc:
        return None
    s = (doc.get("breaking") or {}).get("strengths")
    return [float(x) for x in s] if s else None


def _label(s: float) -> str:
    return f"{float(s):g}"


def at_strength(doc: dict, strength: float) -> dict:
    """The comparison restricted to the cells of one strength (an ordinary, non-sweep document)."""
    cells = [c for c in doc.get("cells", []) if _num(c.get("breaking")) == float(strength)]
    return {**doc, "cells": cells, "breaking_at": float(strength)}


def summarize_breaking(doc: dict, summarize) -> dict:
    """``summarize(doc)`` at the lowest strength, plus ``"breaking"``: per strength the curves and
    gains, and per model the error and gain against the strength at every N (``summarize`` is
    :func:`symzoo.eval.report.summarize_results`, passed in to keep this module below it)."""
    strengths = strengths_of(doc) or []
    per = {_label(s): summarize(at_strength(doc, s)) for s in strengths}
    base = dict(per[_label(strengths[0])])
    models, sizes = doc["models"], [str(n) for n in doc["train_sizes"]]
    error = {m: {n: {b: per[b]["curves"][m][n] for b in per} for n in sizes} for m in models}
    gain = {
        m: {n: {b: per[b]["gain"].get(m, {}).get(n, math.nan) for b in per} for n in sizes}
        for m in models
        if m != base.get("reference")
    }
    best: dict[Any, dict[Any, str | None]] = {}
    for n in sizes:
        best[n] = {}
        for b in per:
            means = {m: error[m][n][b]["mean"] for m in models if error[m][n][b]["n"] > 0}
            means = {m: v for m, v in means.items() if math.isfinite(v)}
            best[n][b] = min(means, key=lambda m: means[m]) if means else None
    meta = {k: v for k, v in (doc.get("breaking") or {}).items() if k != "strengths"}
    base["breaking"] = {
        **meta,
        "strengths": strengths,
        "error": error,
        "gain": gain,
        "best": best,
        "reference": base.get("reference"),
    }
    return base


def breaking_markdown(doc: dict, summ: dict, images: dict | None = None) -> list[str]:
    """The report section of a sweep: gain and error vs strength tables, best model per strength."""
    br = summ["breaking"]
    labels = [_label(s) for s in br["strengths"]]
    ref, sizes = br.get("reference"), [str(n) for n in doc["train_sizes"]]
    metric = summ["metric"]
    unit = (doc.get("units") or {}).get(metric, "").split(",")[0].strip()
    L = [
        f"## Symmetry breaking: {br.get('knob', '?')} ({br.get('description', '')})",
        "",
        f"- strengths swept: {', '.join(labels)} ({br.get('unit', '')}); at strength > 0 the data keep "
        f"only {br.get('residual_group', '?')} (models' equivariance errors and `+aug` use that group)",
        f"- symmetry gain = model error ÷ `{ref}` error at equal N (> 1: `{ref}` is better); "
        f"the other sections of this report are at strength {labels[0]}",
        "",
    ]
    if images and images.get("breaking"):
        L += [f"![symmetry gain vs breaking strength]({images['breaking']})", ""]
    if ref is not None and br["gain"]:
        L += [f"### Symmetry gain vs strength (÷ `{ref}`)", ""]
        rows = []
        for m, by_n in br["gain"].items():
            for n in sizes:
                rows.append(
                    [f"`{m}`", n]
                    + [(_fmt(by_n[n][b]) + "×") if math.isfinite(_num(by_n[n][b])) else "—" for b in labels]
                )
        L += _table(["model", "N"] + [f"strength {b}" for b in labels], rows) + [""]
    L += [f"### Test `{metric}` [{unit}] vs strength (mean ± std over seeds)", ""]
    rows = [
        [f"`{m}`", n] + [format_mean_std(br["error"][m][n][b]) for b in labels]
        for m in doc["models"]
        for n in sizes
    ]
    rows += [
        ["**lowest error**", n] + [f"`{br['best'][n][b]}`" if br["best"][n][b] else "—" for b in labels]
        for n in sizes
    ]
    L += _table(["model", "N"] + [f"strength {b}" for b in labels], rows) + [""]
    return L


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def plot_gain_vs_breaking(doc: dict, summ: dict, path: str | Path) -> Path | None:
    """Two panels against the strength (symlog x axis, so 0 is shown): the test error of every
    model at the largest N, and the symmetry gain of every non-reference model at every N."""
    from matplotlib.figure import Figure

    from .results import save_png as _save

    br = summ.get("breaking")
    if not br or not br["strengths"]:
        return None
    xs = [float(s) for s in br["strengths"]]
    labels = [_label(s) for s in xs]
    sizes = [str(n) for n in doc["train_sizes"]]
    top = sizes[-1]
    roles = doc.get("roles", {})
    style = {"equivariant": "-", "augmented": ":", "baseline": "--"}
    fig = Figure(figsize=(11.5, 4.6))
    ax_e, ax_g = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    plotted = 0
    colors = {}
    for i, m in enumerate(doc["models"]):
        st = [br["error"][m][top][b] for b in labels]
        pts = [(x, s) for x, s in zip(xs, st) if s["n"] > 0 and math.isfinite(s["mean"]) and s["mean"] > 0]
        if not pts:
            continue
        ys = [s["mean"] for _, s in pts]
        es = [s["std"] if math.isfinite(s["std"]) else 0.0 for _, s in pts]
        line = ax_e.errorbar(
            [p[0] for p in pts],
            ys,
            yerr=[[min(e, 0.9 * y) for y, e in zip(ys, es)], es],
            marker="osD^v<>"[i % 7],
            linestyle=style.get(roles.get(m, {}).get("role", "baseline"), "--"),
            capsize=3,
            label=m,
        )
        colors[m] = line[0].get_color()
        plotted += 1
    if not plotted:
        return None
    for m, by_n in br["gain"].items():
        for j, n in enumerate(sizes):
            pts = [(x, _num(by_n[n][b])) for x, b in zip(xs, labels)]
            pts = [(x, g) for x, g in pts if math.isfinite(g) and g > 0]
            if not pts:
                continue
            last = n == top
            ax_g.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="osD^v<>"[j % 7],
                linestyle="-" if last else ":",
                alpha=1.0 if last else 0.45,
                color=colors.get(m),
                label=f"{m}, N = {n}",
            )
    ax_g.axhline(1.0, color="0.4", linewidth=1, linestyle="--")
    ax_g.text(
        0.99,
        1.0,
        f"gain 1: as good as {br.get('reference')}",
        transform=ax_g.get_yaxis_transform(),
        ha="right",
        va="bottom",
        fontsize=8,
        color="0.3",
    )
    positive = [x for x in xs if x > 0]
    for ax in (ax_e, ax_g):
        if positive:
            ax.set_xscale("symlog", linthresh=min(positive))
        ax.set_xticks(xs)
        ax.set_xticklabels(labels)
        ax.set_yscale("log")
        ax.set_xlabel(f"breaking strength: {br.get('knob', '?')} ({(br.get('unit') or '').split(',')[0]})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    unit = (doc.get("units") or {}).get(summ["metric"], "").split(",")[0].strip()
    ax_e.set_ylabel(f"test {summ['metric']} [{unit}]")
    ax_e.set_title(f"{doc['task']} ({doc['preset']}): error vs strength, N = {top}", fontsize=10)
    ax_g.set_ylabel(f"symmetry gain: model error ÷ {br.get('reference')} error")
    ax_g.set_title("when does equivariance stop paying? (gain < 1: the model beats it)", fontsize=10)
    ax_g.set_xlim(ax_e.get_xlim())
    fig.subplots_adjust(wspace=0.32)
    path = Path(path)
    _save(fig, path)
    return path
