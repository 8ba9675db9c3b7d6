"""Render a comparison (``results.json``) as ``report.md`` tables and PNG plots.

Everything here reads ``results.json`` only (``symzoo report DIR`` re-renders without training):
:func:`summarize_results` turns the cells into the statistics of :mod:`symzoo.eval.stats`,
:func:`render_report` writes ``report.md``, ``learning_curves.png`` and ``orbit_gap.png``
(atomically) into the folder.  Plots use matplotlib's object API with the Agg canvas (no global
backend switch, no display needed).
"""

from __future__ import annotations

import math
from pathlib import Path

from symzoo.paths import atomic_write_text

# the statistics and the figures live below the report (summary < plots < report); their names stay
# importable from here
from .plots import (  # noqa: F401
    ROLE_LABEL,
    STYLE,
    _model_errorbar,
    plot_energy_drift,
    plot_learning_curves,
    plot_orbit_gap,
)
from .plots import save_png as _save  # noqa: F401
from .results import num as _num
from .results import readable
from .stats import (
    _fmt,
    format_mean_std,
    symmetry_gain,
)
from .summary import (  # noqa: F401
    _CORE_ROLLOUT,
    ROLLOUT_KEYS,
    _cells,
    _label,
    _ratio,
    _rollout_spec,
    _unit,
    available_metrics,
    invariants_of,
    lead_invariant,
    metric_of,
    rollout_keys,
    scores_of,
    summarize_results,
)
from .verdict import compare_verdict, plain_factor, plugin_label

__all__ = [
    "summarize_results",
    "render_report",
    "render_markdown",
    "plot_learning_curves",
    "plot_orbit_gap",
    "plot_energy_drift",
    "format_summary",
    "reproduce_command",
    "ROLLOUT_KEYS",
    "invariants_of",
    "lead_invariant",
    "rollout_keys",
]


# ----------------------------------------------------------------------------- text


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def reproduce_command(doc: dict) -> str:
    s = doc.get("settings", {})
    parts = [
        "symzoo compare",
        doc["task"],
        *s.get("overrides", []),
        "--models",
        ",".join(doc["models"]),
        "--train-sizes",
        ",".join(str(n) for n in doc["train_sizes"]),
    ]
    seeds = [int(x) for x in doc["seeds"]]
    parts += ["--seeds", str(len(seeds)) if seeds == list(range(len(seeds))) else ",".join(map(str, seeds))]
    parts += ["--preset", str(doc["preset"])]
    orbit = doc.get("orbit") or {}
    if not orbit.get("enabled"):
        parts.append("--no-orbit")
    elif orbit.get("train_size") != max(doc["train_sizes"]):
        parts += ["--orbit-size", str(orbit["train_size"])]
    if doc.get("reference_given"):
        parts += ["--reference", doc["reference"]]
    ro = s.get("rollout")
    if ro:
        if int(ro.get("steps", 1000)) != 1000:
            parts += ["--rollout-steps", str(ro["steps"])]
        if int(ro.get("n_traj", 16)) != 16:
            parts += ["--rollout-trajectories", str(ro["n_traj"])]
    elif (doc.get("rollout") or {}).get("enabled") is False and doc.get("has_dynamics"):
        parts.append("--no-rollout")
    if (doc.get("breaking") or {}).get("strengths"):
        parts += ["--breaking", ",".join(f"{float(b):g}" for b in doc["breaking"]["strengths"])]
    return " ".join(parts)


def _curve_table(doc: dict, summ: dict, key: str = "curves") -> list[str]:
    """Error vs N per model; with rollout metrics, a drift column of the lead invariant (energy
    when the task declares it) at the largest N."""
    sizes = [str(n) for n in doc["train_sizes"]]
    rows = [[f"`{m}`"] + [format_mean_std(summ[key][m][n]) for n in sizes] for m in doc["models"]]
    header = ["model"] + [f"N = {n}" for n in sizes]
    lead = lead_invariant(doc)
    if key == "curves" and summ.get("rollout") and lead:
        top = sizes[-1]
        header.append(f"{_label(lead).capitalize()} drift (N = {top})")
        for row, m in zip(rows, doc["models"]):
            row.append(format_mean_std(summ["rollout"].get(m, {}).get(top, {}).get(f"{lead}_drift", {})))
    return _table(header, rows)


def _rollout_table(doc: dict, summ: dict) -> list[str]:
    """One row per (model, N): lead-invariant drift (and at t = T), rollout error, valid time, the
    other declared invariants' drifts, diverged fraction."""
    inv = invariants_of(doc)
    lead = lead_invariant(doc)
    cols = []
    if lead:
        cols += [(f"{lead}_drift", f"{_label(lead)} drift"), (f"{lead}_drift_final", "drift at t = T")]
    cols += [("rollout_error", "rollout error"), ("valid_time", "valid time")]
    cols += [(name, name) for name in scores_of(doc)]
    for name, info in inv.items():
        if name != lead:
            kind = "drift" if info.get("conserved", True) else "error"
            cols.append((f"{name}_drift", f"{_label(name)} {kind}"))
    cols.append(("diverged", "diverged"))
    present = [
        (k, h)
        for k, h in cols
        if any(
            k in summ["rollout"].get(m, {}).get(str(n), {}) for m in doc["models"] for n in doc["train_sizes"]
        )
    ]
    rows = []
    for m in doc["models"]:
        for n in doc["train_sizes"]:
            st = summ["rollout"].get(m, {}).get(str(n), {})
            if st:
                rows.append([f"`{m}`", str(n)] + [format_mean_std(st.get(k, {})) for k, _ in present])
    return _table(["model", "N"] + [h for _, h in present], rows)


def _rollout_method(doc: dict) -> str:
    methods = sorted(
        {str(r["method"]) for c in _cells(doc) for r in [c.get("rollout") or {}] if "method" in r}
    )
    return "/".join(m.upper() if m in ("rk4", "euler") else m for m in methods) or "rollouts"


def _rollout_text(doc: dict) -> str:
    """What the rollout table's columns mean, for the invariants the task declares."""
    inv = invariants_of(doc)
    lead = lead_invariant(doc)
    parts = []
    for name, info in inv.items():
        what = "|I(ẑ_t) − I(z_0)|" if info.get("conserved", True) else "|I(ẑ_t) − I(z_t)|"
        unit = f" [{info['unit']}]" if info.get("unit") else ""
        parts.append(f"{_label(name)}{unit}: {what} / scale ({info.get('description') or 'scale |I(z_0)|'})")
    drift = (
        (
            "Drift of each invariant the task declares, of the true quantity along the model's rollout, mean "
            "over time and trajectories"
            + (f' ("{_label(lead).capitalize()} drift" column above: at the largest N)' if lead else "")
            + ": "
            + "; ".join(parts)
            + ". Drift at t = T: the same at the last step; rollout error"
        )
        if parts
        else "The task declares no invariants. Rollout error"
    )
    text = (
        drift + ": geometric "
        "mean over time of |z − ẑ| / (|z| + |ẑ|); valid time: time until that error exceeds 0.1 (task time "
        "units); diverged: fraction of non-finite rollouts (see `symzoo.eval.rollout`)."
    )
    return text


def _orbit_table(doc: dict, summ: dict) -> list[str]:
    rows = []
    for m in doc["models"]:
        o = summ["orbit"].get(m)
        if not o:
            continue
        rows.append(
            [
                f"`{m}`",
                format_mean_std(o["in_orbit"]),
                format_mean_std(o["out_of_orbit"]),
                format_mean_std(o["ratio"]),
            ]
        )
    return _table(["model", "in-orbit error", "out-of-orbit error", "ratio out / in"], rows)


def format_summary(doc: dict) -> str:
    """The verdict and the headline tables as plain text (what ``symzoo compare`` prints at the end)."""
    summ = summarize_results(doc)
    lines = ["verdict:"] + [f"  - {v.replace('**', '')}" for v in compare_verdict(doc, summ)] + [""]
    lines += [
        f"{doc['task']} ({doc['preset']}): test {metric_of(doc)} [{_unit(doc, True)}], mean ± std over seeds"
    ]
    lines += _curve_table(doc, summ)
    if summ.get("breaking"):
        from .breaking import breaking_markdown

        lines[0] += f" (at breaking strength {summ['breaking']['strengths'][0]:g})"
        lines += [""] + breaking_markdown(doc, summ)[5:]
    if summ.get("rollout"):
        lines += [
            "",
            f"rollouts ({_rollout_spec(doc)}): relative drift of the true invariants, mean over time",
        ]
        lines += _rollout_table(doc, summ)
    if summ["orbit"]:
        lines += ["", f"orbit study (trained on the restricted set, N = {doc['orbit']['train_size']})"]
        lines += _orbit_table(doc, summ)
    return "\n".join(lines)


def render_markdown(doc: dict, summ: dict | None = None, *, images: dict[str, str] | None = None) -> str:
    summ = summ or summarize_results(doc)
    pm, ref, sizes = metric_of(doc), summ["reference"], [str(n) for n in doc["train_sizes"]]
    unit = _unit(doc)
    roles = doc.get("roles", {})
    L: list[str] = [f"# Symmetry comparison: `{doc['task']}` (preset `{doc['preset']}`)", ""]
    L += [
        f"- metric: **`{pm}`** ({unit}); lower is better; test split of the preset",
        f"- symmetry group of the data: {doc.get('group', '?')}",
        f"- reference (equivariant) model: {'`' + ref + '`' if ref else 'none (no model claims the full group)'}",
        f"- seeds: {', '.join(str(s) for s in doc['seeds'])} (initialisation and batch order; the first N "
        f"training samples are the same for every model)",
        f"- command: `{reproduce_command(doc)}`",
        "",
    ]
    L += ["## Verdict", ""] + [f"- {v}" for v in compare_verdict(doc, summ)] + [""]
    L += ["## Models", ""]
    L += _table(
        ["model", "role", "claimed symmetry", "not built in", "parameters"],
        [
            [
                f"`{m}`" + (f" (plugin {plugin_label(roles, m)})" if plugin_label(roles, m) else ""),
                roles.get(m, {}).get("role", "?"),
                ", ".join(roles.get(m, {}).get("symmetry", [])) or "none",
                ", ".join(roles.get(m, {}).get("missing", [])) or "—",
                str(roles.get(m, {}).get("num_parameters", "?")),
            ]
            for m in doc["models"]
        ],
    )
    if summ.get("breaking"):
        from .breaking import breaking_markdown

        L += [""] + breaking_markdown(doc, summ, images)
    L += ["", f"## Test error `{pm}` vs training-set size (mean ± std over seeds, n = seeds)", ""]
    L += _curve_table(doc, summ)
    if images and images.get("curves"):
        L += ["", f"![learning curves]({images['curves']})"]
    for v, cur in (summ.get("curves_ood") or {}).items():
        L += [
            "",
            f"## Out of domain `{_label(v)}`: test `{pm}` on the task variant's test split "
            "(`Task.ood_variants`; mean ± std over seeds)",
            "",
        ]
        L += _table(
            ["model"] + [f"N = {n}" for n in sizes] + [f"÷ in-domain (N = {sizes[-1]})"],
            [
                [f"`{m}`"]
                + [format_mean_std(cur[m][n]) for n in sizes]
                + [_fmt(symmetry_gain(cur[m][sizes[-1]]["mean"], summ["curves"][m][sizes[-1]]["mean"]))]
                for m in doc["models"]
            ],
        )
    if summ.get("rollout"):
        L += [
            "",
            f"## Rollouts ({_rollout_spec(doc)}, {_rollout_method(doc)} in float64; mean ± std over seeds)",
            "",
            _rollout_text(doc),
            "",
        ]
        L += _rollout_table(doc, summ)
        if images and images.get("drift"):
            L += ["", f"![{_label(lead_invariant(doc) or 'energy')} drift]({images['drift']})"]
    if ref is not None and summ["gain"]:
        L += ["", f"## Symmetry gain: model error ÷ `{ref}` error at equal N (> 1: `{ref}` is better)", ""]
        L += _table(
            ["model"] + [f"N = {n}" for n in sizes],
            [
                [f"`{m}`"]
                + [
                    (_fmt(summ["gain"][m].get(n, math.nan)) + "×")
                    if math.isfinite(summ["gain"][m].get(n, math.nan))
                    else "—"
                    for n in sizes
                ]
                for m in summ["gain"]
            ],
        )
        L += [
            "",
            f"## Data-efficiency factor: how many times more training data a model needs to reach "
            f"`{ref}`'s error at N",
            "",
            "Read off the model's mean learning curve by linear interpolation in (log N, log error), "
            'never extrapolated: "> k×" / "not reached" means the model did not reach that error up to '
            'the largest size measured; "≤ k×" means it was already at or below it at its smallest size.',
            "",
        ]
        L += _table(
            ["model"] + [f"`{ref}` at N = {n}" for n in sizes],
            [
                [f"`{m}`"] + [plain_factor(summ["efficiency"][m].get(n, {})) for n in sizes]
                for m in summ["efficiency"]
            ],
        )
    L += ["", "## Learning-curve exponent (least-squares slope of log error vs log N; error ∝ N^slope)", ""]
    L += _table(
        ["model", "slope", "points"],
        [
            [f"`{m}`", _fmt(summ["exponent"][m]["slope"]), str(summ["exponent"][m]["n_points"])]
            for m in doc["models"]
        ],
    )
    factors = list(doc.get("group_factors", [])) + ["all"]
    L += [
        "",
        "## Equivariance error (relative RMS, float64, random group elements; max over cells)",
        "",
        "Errors near 1e-15 are exact symmetry (round-off); O(0.1-1) means the model does not respect "
        "that factor.",
        "",
    ]
    L += _table(
        ["model"] + factors,
        [
            [f"`{m}`"] + [_fmt(summ["equivariance"][m].get(f, math.nan), 2) for f in factors]
            for m in doc["models"]
        ],
    )
    if summ["orbit"]:
        o = doc["orbit"]
        L += [
            "",
            f"## Orbit generalization (trained on the symmetry-restricted set, N = {o['train_size']})",
            "",
            f"Restricted set: {(o.get('restriction') or 'task.restrict').rstrip('.')}. In-orbit: the test set restricted the "
            f"same way. Out-of-orbit: the test set moved by random elements of {doc.get('group', 'the group')}. "
            f"A ratio ≈ 1 means the model generalizes across the orbit.",
            "",
        ]
        L += _orbit_table(doc, summ)
        if images and images.get("orbit"):
            L += ["", f"![orbit gap]({images['orbit']})"]
    failed = doc.get("failed") or {}
    L += [
        "",
        "## Run",
        "",
        f"- cells finished: {doc.get('cells_done', len(doc.get('cells', [])))} / {doc.get('cells_total', '?')}"
        + (
            f"; **failed: {len(failed)}** ({'; '.join(f'{k}: {v}' for k, v in failed.items())})"
            if failed
            else ""
        ),
        f"- device: {doc.get('device')}; host: {(doc.get('host') or {}).get('cores', '?')} cores",
        f"- wall time: {_fmt(_num(doc.get('wall_seconds_total')), 4)} s over {len(doc.get('invocations', []))} "
        f"invocation(s); training+evaluation time summed over cells: {_fmt(_num(doc.get('cell_seconds_total')), 4)} s",
        f"- versions: {', '.join(f'{k} {v}' for k, v in (doc.get('versions') or {}).items())}",
        "",
    ]
    return "\n".join(L)


# ----------------------------------------------------------------------------- plots


def render_report(out: str | Path, *, metric: str | None = None) -> dict[str, Path]:
    """Write ``report.md`` and the PNGs of the comparison in ``out`` from its ``results.json``
    (about ``metric``, default the task's primary metric; lower must be better)."""
    from symzoo.errors import SymzooError, suggest

    from .results import load_results

    out = Path(out)
    doc = load_results(out)
    if metric is not None:
        names = available_metrics(doc)
        if metric not in names:
            raise SymzooError(
                f"{out}: no metric {metric!r}{suggest(metric, names)}; "
                f"recorded metrics: {', '.join(names) or 'none'}"
            )
        doc["metric"] = metric
    summ = summarize_results(doc)
    written: dict[str, Path] = {}
    images = {}
    if summ.get("breaking"):  # the sweep's plot; the other plots show the lowest strength
        from .breaking import at_strength, plot_gain_vs_breaking

        p = plot_gain_vs_breaking(doc, summ, out / "gain_vs_breaking.png")
        if p:
            written["gain_vs_breaking"] = p
            images["breaking"] = p.name
        doc = at_strength(doc, summ["breaking"]["strengths"][0])
    p = plot_learning_curves(doc, summ, out / "learning_curves.png")
    if p:
        written["learning_curves"] = p
        images["curves"] = p.name
    lead = lead_invariant(doc) or "energy"
    p = plot_energy_drift(doc, summ, out / f"{lead}_drift.png")
    if p:
        written[f"{lead}_drift"] = p
        images["drift"] = p.name
    p = plot_orbit_gap(doc, summ, out / "orbit_gap.png")
    if p:
        written["orbit_gap"] = p
        images["orbit"] = p.name
    atomic_write_text(out / "report.md", render_markdown(doc, summ, images=images))
    readable(out / "report.md")
    written["report"] = out / "report.md"
    return written
