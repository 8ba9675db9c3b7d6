"""``leaderboard.md`` and ``leaderboard.png`` rendered from ``leaderboard.json`` (never from the grids)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

from symzoo.paths import atomic_path, atomic_write_text

from ..results import num as _num
from ..stats import _fmt, format_mean_std
from ..verdict import leaderboard_verdict, plain_factor
from .summary import load_leaderboard

__all__ = ["render_markdown", "plot_summary", "render_leaderboard"]

log = logging.getLogger(__name__)


def _ms(stat: dict | None, digits: int = 3) -> str:
    return format_mean_std(stat or {}, digits).replace(" (n=", " (").replace(")", ")") if stat else "—"


def _short(stat: dict | None) -> str:
    """``mean ± std`` without the count."""
    if not stat or not stat.get("n"):
        return "—"
    s = _fmt(_num(stat["mean"]))
    if stat["n"] > 1 and math.isfinite(_num(stat.get("std"))):
        s += f" ± {_fmt(_num(stat['std']), 2)}"
    return s


def _cross(row: dict) -> str:
    br = row.get("breaking")
    if not br or not br.get("by_size"):
        return "—"
    n = max(br["by_size"], key=int)
    c = br["by_size"][n]["crossover"]
    s, b = _num(c.get("strength")), c.get("bound")
    unit = f" {_short_unit(br['unit'])}".rstrip() if br.get("unit") else ""
    if b == "?":
        return "—"
    txt = {"=": f"{_fmt(s)}", ">": f"> {_fmt(s)}", "<": f"≤ {_fmt(s)}"}[b]
    return f"{br['knob']} {txt}{unit} (N = {n})"


def render_markdown(doc: dict, images: dict | None = None) -> str:
    rows = doc["tasks"]
    name = (doc.get("recipe") or {}).get("name", "")
    L = [
        f"# Symmetry leaderboard `{name}`",
        "",
        "Gain = baseline error ÷ equivariant error on the task's primary test metric at equal N "
        "(> 1: the symmetry helps), mean ± std over seeds of the per-seed ratio.  Data efficiency: "
        "how many times more data the baseline needs to reach the equivariant error at the smallest "
        "N.  Orbit ratio: out-of-orbit ÷ in-orbit error after training on the symmetry-restricted "
        "set (≈ 1: the symmetry is built in).",
        "",
    ]
    verdict = leaderboard_verdict(doc)
    if verdict:
        L += ["## Verdict", ""] + [f"- {v}" for v in verdict] + [""]
    hdr = [
        "domain",
        "task",
        "equivariant vs plain, +aug",
        "equivariant error (N_max)",
        "gain vs plain",
        "gain vs +aug",
        "data eff. vs plain",
        "orbit ratio eq / plain / +aug",
        "breaking crossover",
    ]
    body = []
    for r in rows:
        nmax = str(max(r["train_sizes"]))
        eq = r["models"]["equivariant"]
        unit = _short_unit(r.get("unit") or "")
        orb = r.get("orbit") or {}
        body.append(
            [
                r["domain_label"],
                f"`{r['task']}` ({r['preset']})",
                f"`{eq}` vs `{r['models']['plain']}`"
                + (f", `{r['models']['augmented']}`" if r["models"].get("augmented") else ""),
                f"{_short(r['error'][eq].get(nmax))} {r['metric']}"
                + (f" [{unit}]" if unit and unit not in r["metric"] else ""),
                f"{_short(r['gain']['plain'].get(nmax))}",
                f"{_short(r['gain'].get('augmented', {}).get(nmax))}",
                plain_factor(r["efficiency"].get("plain") or {}) + f" (N = {r['efficiency_size']})",
                " / ".join(_short(orb.get(k)) for k in ("equivariant", "plain", "augmented") if k in orb)
                or "—",
                _cross(r),
            ]
        )
    L += _table(hdr, body)
    if images and images.get("summary"):
        L += ["", f"![symmetry gain across domains]({images['summary']})"]
    L += ["", "## Symmetry gain at every N (per-seed ratio, mean ± std)", ""]
    body = []
    for r in rows:
        for b in ("plain", "augmented"):
            if b not in r["gain"]:
                continue
            body.append(
                [r["domain_label"], f"`{r['task']}`", f"`{r['models'][b]}` ÷ `{r['models']['equivariant']}`"]
                + ["; ".join(f"N={n}: {_short(r['gain'][b].get(str(n)))}" for n in r["train_sizes"])]
            )
    L += _table(["domain", "task", "ratio", "gain"], body)
    phys = [r for r in rows if r.get("physics")]
    if phys:
        L += ["", "## Rollout / physics metric of each domain (at N_max)", ""]
        body = []
        for r in phys:
            p = r["physics"]
            unit = (p.get("unit") or "").split(",")[0]
            body.append(
                [r["domain_label"], f"`{r['task']}`", f"{p['metric']} ({unit})" if unit else p["metric"]]
                + [_short(p["values"].get(k)) for k in ("equivariant", "plain", "augmented")]
            )
        L += _table(["domain", "task", "metric", "equivariant", "plain", "+aug"], body)
    brs = [r for r in rows if r.get("breaking")]
    if brs:
        L += ["", "## Symmetry-breaking sweeps (gain vs plain against the knob strength)", ""]
        body = []
        for r in brs:
            br = r["breaking"]
            for n, v in br["by_size"].items():
                body.append(
                    [f"`{r['task']}`", str(br["knob"]), f"N = {n}"]
                    + ["; ".join(f"{s:g}: {_fmt(g)}" for s, g in zip(br["strengths"], v["gain"]))]
                    + [_cross({**r, "breaking": {**br, "by_size": {n: v}}})]
                )
        L += _table(["task", "knob", "N", "gain at strength", "crossover"], body)
    L += ["", "## Cost", ""]
    L += _table(
        ["domain", "task", "cells", "mean cell [s]", "cell-seconds"],
        [
            [
                r["domain_label"],
                f"`{r['task']}`",
                f"{r['cells_done']}/{r['cells_total']}"
                + (f" ({len(r['failed'])} failed)" if r["failed"] else ""),
                f"{r['cell_seconds_mean']:.1f}",
                f"{_num(r['cell_seconds_total']):.0f}",
            ]
            for r in rows
        ],
    )
    if doc.get("missing"):
        L += ["", f"Not run yet: {', '.join(f'`{t}`' for t in doc['missing'])}."]
    inv = doc.get("invocations") or []
    if inv:
        L += [
            "",
            f"Wall time {doc.get('wall_seconds_total', 0):.0f} s over {len(inv)} invocation(s); "
            f"executor {inv[-1].get('executor')}.  Grids: `<out>/<task>/results.json` "
            "(`symzoo report <out>/<task>` for a task's full report).",
        ]
    return "\n".join(L) + "\n"


def _short_unit(u: str) -> str:
    """``"meV/Å, per atom"`` -> ``"meV/Å"``; a sentence-long unit -> its first word or ``""``."""
    u = str(u).split(",")[0].split("(")[0].strip()
    return u if len(u) <= 12 else ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]


_TAB10 = ["blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan"]


def _domain_colors(rows: Sequence[dict]) -> dict[str, str]:
    """One colour per domain, in the order the domains first appear (matplotlib's tab10 cycle)."""
    domains = list(dict.fromkeys(r["domain"] for r in rows))
    return {d: f"tab:{c}" for d, c in zip(domains, _TAB10 * (1 + len(domains) // len(_TAB10)))}


def plot_summary(doc: dict, path: str | Path) -> Path | None:
    """Left: gain (log) vs N / N_max per task (plain solid, +aug dashed); right: gains at N_max."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = doc["tasks"]
    if not rows:
        return None
    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    labels, vals, errs, cols, hatches = [], [], [], [], []
    colors = _domain_colors(rows)
    for r in rows:
        c = colors[r["domain"]]
        nmax = max(r["train_sizes"])
        for b, ls in (("plain", "-"), ("augmented", "--")):
            g = r["gain"].get(b)
            if not g:
                continue
            xs = [n / nmax for n in r["train_sizes"]]
            ys = [_num(g[str(n)]["mean"]) for n in r["train_sizes"]]
            es = [_num(g[str(n)]["std"]) if g[str(n)]["n"] > 1 else 0.0 for n in r["train_sizes"]]
            es = [e if math.isfinite(e) else 0.0 for e in es]
            ax.errorbar(xs, ys, yerr=es, color=c, ls=ls, marker="o", ms=4, capsize=2,
                        label=f"{r['task']} ÷ {r['models'][b]}")  # fmt: skip
            labels.append(f"{r['task']}\n÷ {r['models'][b]}")
            vals.append(ys[-1])
            errs.append(es[-1])
            cols.append(c)
            hatches.append("" if b == "plain" else "//")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N / N_max")
    ax.set_ylabel("symmetry gain (baseline ÷ equivariant error)")
    ax.set_title("gain vs relative training size")
    ax.legend(fontsize=6.5, loc="best")
    x = list(range(len(vals)))
    safe = [v if math.isfinite(v) and v > 0 else math.nan for v in vals]
    bars = bx.bar(x, safe, yerr=errs, color=cols, capsize=2)
    for bar, h in zip(bars, hatches):
        bar.set_hatch(h)
    bx.axhline(1.0, color="k", lw=0.8)
    bx.set_yscale("log")
    bx.set_xticks(x)
    bx.set_xticklabels(labels, fontsize=6.5, rotation=60, ha="right")
    bx.set_title("gain at N_max (hatched: vs +aug)")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    from ..results import readable

    readable(path)
    return path


def render_leaderboard(out: str | Path) -> dict[str, Path]:
    """``leaderboard.md`` and ``leaderboard.png`` from ``out/leaderboard.json`` (atomically)."""
    from ..results import readable

    out = Path(out)
    doc = load_leaderboard(out)
    written: dict[str, Path] = {}
    png = plot_summary(doc, out / "leaderboard.png")
    if png:
        written["summary"] = png
    md = out / "leaderboard.md"
    atomic_write_text(md, render_markdown(doc, {"summary": png.name} if png else None))
    readable(md)
    written["markdown"] = md
    return written
