"""The verdict that opens a comparison's and a leaderboard's report: a few sentences that answer.

Built from the same JSON as the tables (``results.json`` / ``leaderboard.json``), never from new
measurements:

* **who wins where, by how much, with its spread**: the model with the lowest mean test error at
  each training-set size, its margin over the runner-up (ratio of means) and whether that margin is
  larger than the seeds' spread (mean ± std intervals apart) or within it;
* **single seed**: cells measured with one seed have no spread; the verdict says so in words;
* **diverged rollouts**: a model whose rollouts went non-finite is named with the fraction, since
  its drift figures are then dominated by the capped values of the diverged trajectories;
* **data efficiency out of range**: "not reached up to N = 200" or "already at its smallest size"
  instead of a bare ``> 1×``;
* **claims vs measurements**: a model whose measured equivariance error contradicts the symmetry
  it declares;
* **plugin models**: models that come from a plugin rather than symzoo itself are marked.
"""

from __future__ import annotations

import math
from typing import Any

from .results import num as _num
from .stats import _fmt

__all__ = ["plain_factor", "compare_verdict", "leaderboard_verdict", "plugin_label", "seed_counts"]

#: a measured float64 equivariance error above this contradicts a claimed factor
CLAIM_TOLERANCE = 1e-6


def plugin_label(roles: dict, model: str) -> str | None:
    """The plugin a model comes from (``None`` for a built-in), from a results document's roles."""
    src = (roles.get(model) or {}).get("plugin")
    return str(src).split(":")[0] if src else None


def plain_factor(eff: dict | None, ref: str | None = None, n: Any = None) -> str:
    """A data-efficiency entry in words a reader can use, for tables.

    ``"4×"`` (interpolated); ``"> 10× (not reached by N = 1000, the largest size)"``; ``"not reached
    up to N = 200 (the largest size)"`` when the bound says nothing (``> 1×``); ``"≤ 0.5× (already
    matched at its smallest size, N = 50)"``; ``"—"`` when undefined."""
    if not eff:
        return "—"
    b = eff.get("bound")
    if b == "=":
        return f"{_fmt(_num(eff.get('factor')))}×"
    max_size = _num(eff.get("max_size"))
    top = int(max_size) if math.isfinite(max_size) else "?"
    if b == ">":
        lower = _num(eff.get("lower_bound"))
        if math.isfinite(lower) and lower > 1:
            return f"> {_fmt(lower)}× (not reached by N = {top}, the largest size)"
        return f"not reached up to N = {top} (the largest size)"
    if b == "<=":
        small = _num(eff.get("min_size"))
        at = f"N = {int(small)}" if math.isfinite(small) else "its smallest size"
        return f"≤ {_fmt(_num(eff.get('factor')))}× (already matched at its smallest size, {at})"
    return "—"


def _stat(s: dict | None) -> str:
    if not s or not s.get("n"):
        return "—"
    txt = _fmt(_num(s.get("mean")))
    if s["n"] > 1 and math.isfinite(_num(s.get("std"))):
        txt += f" ± {_fmt(_num(s['std']), 2)}"
    return f"{txt} (n={s['n']})"


def _apart(a: dict, b: dict) -> str:
    """Whether two mean ± std cells are separated by more than their spread."""
    if a.get("n", 0) < 2 or b.get("n", 0) < 2:
        return ""
    sa, sb = _num(a.get("std")), _num(b.get("std"))
    if not (math.isfinite(sa) and math.isfinite(sb)):
        return "spread unknown"
    lo, hi = sorted([a, b], key=lambda s: _num(s["mean"]))
    gap = (_num(hi["mean"]) - _num(hi["std"])) - (_num(lo["mean"]) + _num(lo["std"]))
    return "larger than the seeds' spread" if gap > 0 else "within the seeds' spread"


def seed_counts(summ: dict) -> set[int]:
    """The numbers of seeds behind the learning-curve cells that have any."""
    return {
        int(s.get("n", 0)) for by_n in summ.get("curves", {}).values() for s in by_n.values() if s.get("n")
    }


def _name(m: str, roles: dict) -> str:
    p = plugin_label(roles, m)
    return f"`{m}`" + (" (plugin)" if p else "")


def compare_verdict(doc: dict, summ: dict) -> list[str]:
    """Markdown bullet lines of a comparison's verdict (see the module docstring)."""
    models, roles = list(doc.get("models") or []), doc.get("roles") or {}
    sizes = [str(n) for n in doc.get("train_sizes") or []]
    pm, ref = summ.get("metric"), summ.get("reference")
    curves = summ.get("curves") or {}
    lines: list[str] = []

    # who wins where
    winners: dict[str, list[str]] = {}
    for n in sizes:
        ranked = sorted(
            (
                m
                for m in models
                if curves.get(m, {}).get(n, {}).get("n") and math.isfinite(_num(curves[m][n]["mean"]))
            ),
            key=lambda m: _num(curves[m][n]["mean"]),
        )
        winners[n] = ranked
    diverged = _diverged(doc, summ)
    if sizes and winners.get(sizes[-1]):
        n = sizes[-1]
        ranked = winners[n]
        w = ranked[0]
        text = f"**{_name(w, roles)} has the lowest test `{pm}` at N = {n}**: {_stat(curves[w][n])}"
        if len(ranked) > 1:
            r = ranked[1]
            a, b = _num(curves[w][n]["mean"]), _num(curves[r][n]["mean"])
            ratio = b / a if a > 0 else math.inf
            text += f", {_lower_by(ratio)} than the runner-up {_name(r, roles)} at {_stat(curves[r][n])}"
            spread = _apart(curves[w][n], curves[r][n])
            if spread:
                text += f"; the gap is {spread}"
        if (w, n) in diverged:
            text += f"; but {_pct(diverged[(w, n)])} of its rollouts diverged (see below)"
        lines.append(text + ".")
        other = [s for s in sizes[:-1] if winners.get(s)]
        same = [s for s in other if winners[s][0] == w]
        diff = [s for s in other if winners[s][0] != w]
        if same:
            lines.append(f"{_name(w, roles)} is also lowest at N = {', '.join(same)}.")
        for s in diff:
            ws = winners[s][0]
            extra = ""
            if len(winners[s]) > 1:
                a, b = _num(curves[ws][s]["mean"]), _num(curves[winners[s][1]][s]["mean"])
                extra = f", {_fmt(b / a if a > 0 else math.inf)}× lower than {_name(winners[s][1], roles)}"
            lines.append(f"At N = {s} {_name(ws, roles)} is lowest ({_stat(curves[ws][s])}{extra}).")
    elif not sizes or not any(winners.values()):
        lines.append("No finished cell yet: nothing to compare.")

    # single seed
    counts = seed_counts(summ)
    if counts == {1}:
        lines.append(
            "**Single seed**: every number is one training run (n=1), so no spread is measured and "
            "differences of less than about 2× can be seed noise; rerun with `--seeds 3` (finished "
            "cells are reused)."
        )
    elif 1 in counts:
        lines.append(
            "**Some cells have a single seed** (n=1: no spread); their differences can be seed noise."
        )

    # diverged rollouts
    for (m, n), frac in sorted(diverged.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
        st = (summ.get("rollout") or {}).get(m, {}).get(n, {})
        drift = [k for k in st if k.endswith("_drift") and not k.endswith("_reference")]
        dtext = ""
        if drift:
            k = drift[0]
            dtext = (
                f"; its {k.replace('_', ' ')} of {_fmt(_num(st[k].get('mean')))} is dominated by them "
                "(each diverged trajectory counts as drift 1e6 and error 1)"
            )
        lines.append(
            f"**Diverged rollouts**: {_name(m, roles)} at N = {n}: {_pct(frac)} of its rollouts went "
            f"non-finite{dtext}. A low one-step test error does not make it a stable simulator."
        )

    # data efficiency against the reference, at the smallest size
    eff = summ.get("efficiency") or {}
    if ref is not None and sizes:
        n0 = sizes[0]
        for m in models:
            e = (eff.get(m) or {}).get(n0)
            if not e or m == ref:
                continue
            b = e.get("bound")
            top = _num(e.get("max_size"))
            top_s = str(int(top)) if math.isfinite(top) else "?"
            if b == "=":
                lines.append(
                    f"Data efficiency: {_name(m, roles)} needs {_fmt(_num(e['factor']))}× the data to reach "
                    f"`{ref}`'s error at N = {n0}."
                )
            elif b == ">":
                lower = _num(e.get("lower_bound"))
                more = (
                    f": it needs more than {_fmt(lower)}× the data"
                    if math.isfinite(lower) and lower > 1
                    else ""
                )
                lines.append(
                    f"Data efficiency: {_name(m, roles)} never reached `{ref}`'s error at N = {n0} at any "
                    f"measured size (up to N = {top_s}){more}."
                )
            elif b == "<=":
                lines.append(
                    f"Data efficiency: {_name(m, roles)} already matched `{ref}`'s error at N = {n0} at "
                    f"its smallest size, so `{ref}` shows no data-efficiency advantage there."
                )

    # orbit study
    orbit = {m: o for m, o in (summ.get("orbit") or {}).items() if (o.get("ratio") or {}).get("n")}
    if orbit:
        text = "Orbit study (out-of-orbit ÷ in-orbit error; 1 = the symmetry generalizes): " + ", ".join(
            f"{_name(m, roles)} {_fmt(_num(o['ratio']['mean']))}" for m, o in orbit.items()
        )
        bad = [m for m, o in orbit.items() if _num(o["ratio"]["mean"]) > 1.5]
        if bad:
            text += (
                f"; {', '.join(_name(m, roles) for m in bad)} learned the training poses, not the symmetry"
            )
        lines.append(text + ".")

    # declared symmetry vs measured equivariance
    for m in models:
        claimed = (roles.get(m) or {}).get("symmetry") or []
        errs = (summ.get("equivariance") or {}).get(m) or {}
        broken = [f for f in claimed if _num(errs.get(f)) > CLAIM_TOLERANCE]
        if broken:
            lines.append(
                f"**Contract broken**: {_name(m, roles)} claims {', '.join(broken)} but its measured "
                f"equivariance error is {', '.join(_fmt(_num(errs[f]), 2) for f in broken)} "
                f"(float64; `symzoo check-model {m.split('+')[0]} --task {doc.get('task')}` shows where)."
            )

    # plugins and failures
    plugins = {m: plugin_label(roles, m) for m in models if plugin_label(roles, m)}
    if plugins:
        lines.append(
            "Plugin models (not part of symzoo): "
            + ", ".join(f"`{m}` from {p}" for m, p in plugins.items())
            + "."
        )
    failed = doc.get("failed") or {}
    if failed:
        lines.append(f"**{len(failed)} cell(s) failed** and are missing from these numbers (see Run).")
    return lines


def _pct(frac: float) -> str:
    return f"{100 * frac:.0f}%" if frac >= 0.01 else f"{100 * frac:.2g}%"


def _diverged(doc: dict, summ: dict) -> dict[tuple[str, str], float]:
    out = {}
    for m, by_n in (summ.get("rollout") or {}).items():
        for n, st in by_n.items():
            frac = _num((st.get("diverged") or {}).get("mean"))
            if math.isfinite(frac) and frac > 0:
                out[(m, n)] = frac
    return out


def leaderboard_verdict(doc: dict) -> list[str]:
    """Markdown bullet lines, one per task of a leaderboard (and one for single seeds)."""
    lines: list[str] = []
    single = []
    for r in doc.get("tasks") or []:
        sizes = [str(n) for n in r.get("train_sizes") or []]
        if not sizes:
            continue
        n = sizes[-1]
        eq = r["models"]["equivariant"]
        plugins = r.get("plugins") or {}

        def name(m: str, plugins: dict = plugins) -> str:
            return f"`{m}`" + (f" (plugin {plugins[m]})" if plugins.get(m) else "")

        parts = []
        for b in ("plain", "augmented"):
            if b not in (r.get("gain") or {}):
                continue
            g = (r["gain"][b] or {}).get(n) or {}
            mean, std, k = _num(g.get("mean")), _num(g.get("std")), int(g.get("n") or 0)
            if not k or not math.isfinite(mean):
                continue
            spread = f" ± {_fmt(std, 2)}" if k > 1 and math.isfinite(std) else ""
            sure = ""
            if k > 1 and math.isfinite(std):
                sure = " (beyond the seeds' spread)" if abs(mean - 1) > std else " (within the seeds' spread)"
            who = "plain" if b == "plain" else "augmented"
            if mean >= 1:
                parts.append(f"beats {who} {name(r['models'][b])} by {_fmt(mean)}{spread}×{sure}")
            else:
                parts.append(
                    f"loses to {who} {name(r['models'][b])}: error ratio {_fmt(mean)}{spread}×{sure}"
                )
        text = f"`{r['task']}` ({r.get('domain_label', r.get('domain'))}): {name(eq)} "
        text += (
            " and ".join(parts) if parts else "has no finished baseline to compare with"
        ) + f" at N = {n}"
        eff = (r.get("efficiency") or {}).get("plain")
        if eff:
            text += f"; data efficiency vs plain at N = {r.get('efficiency_size')}: {plain_factor(eff)}"
        div = {role: f for role, f in (r.get("diverged") or {}).items() if _num(f) > 0}
        if div:
            text += "; diverged rollouts: " + ", ".join(
                f"{name(r['models'][role])} {_pct(_num(f))}" for role, f in div.items()
            )
        if len(r.get("seeds") or []) == 1:
            single.append(r["task"])
        lines.append(text + ".")
    if single:
        lines.append(
            f"**Single seed** ({', '.join(f'`{t}`' for t in single)}): one training run per cell (n=1), "
            "no spread is measured; gains below about 2× can be seed noise."
        )
    return lines


def _lower_by(ratio: float) -> str:
    """How much lower one error is than another (``ratio`` = other / this >= 1): a factor from 1.1
    on, a percentage below it (``1.0017`` would print as a meaningless "1× lower")."""
    if math.isfinite(ratio) and ratio < 1.1:
        return f"{_fmt((ratio - 1.0) * 100, 2)} % lower"
    return f"{_fmt(ratio)}× lower"
