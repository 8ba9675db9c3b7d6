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
from typing import Any

from symzoo.paths import atomic_write_text

from .stats import (
    _fmt,
    data_efficiency,
    format_mean_std,
    learning_curve_exponent,
    summarize,
    symmetry_gain,
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

ROLE_LABEL = {"equivariant": "equivariant", "augmented": "augmented", "baseline": "baseline"}


from .plots import save_png as _save  # noqa: E402  (figures written atomically)
from .results import num as _num  # noqa: E402  (one parser of clean_json numbers)
from .results import readable  # noqa: E402


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


# ----------------------------------------------------------------------------- text
def _unit(doc: dict, short: bool = False) -> str:
    u = (doc.get("units") or {}).get(metric_of(doc), "")
    return u.split(",")[0].strip() if short else u


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
STYLE = {"equivariant": "-", "augmented": ":", "baseline": "--"}


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
    _save(fig, path)
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
    _save(fig, path)
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
    _save(fig, path)
    return path


def available_metrics(doc: dict) -> list[str]:
    names: list[str] = []
    for c in doc.get("cells", []):
        for k in c.get("metrics", {}):
            if k not in names:
                names.append(k)
    return names


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
