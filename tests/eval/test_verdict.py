"""The verdict that opens compare and leaderboard reports: who wins where and by how much with its
spread, single-seed cells, diverged rollouts, the data-efficiency factor out of range in words,
broken contracts and plugin models -- on hand-made results and on a real tiny comparison."""

from __future__ import annotations

import pytest
from symzoo.eval.compare import compare, load_results
from symzoo.eval.leaderboard import render_markdown as leaderboard_markdown
from symzoo.eval.report import format_summary, render_markdown, summarize_results
from symzoo.eval.verdict import compare_verdict, leaderboard_verdict, plain_factor

TASK = "nbody-charged"


def _doc(errors: dict[str, dict[int, list[float]]], *, diverged: dict | None = None, roles=None) -> dict:
    """A comparison's results.json: ``errors[model][N] = [error per seed]``."""
    cells = []
    for m, by_n in errors.items():
        for n, values in by_n.items():
            for s, e in enumerate(values):
                cells.append(
                    {
                        "model": m,
                        "train_size": n,
                        "seed": s,
                        "study": "curve",
                        "key": f"{m}/n{n}-s{s}",
                        "metrics": {"pos_mse": e},
                        "equivariance": {"rotation": 0.3 if m == "mlp" else 1e-16, "all": 0.3},
                        "rollout": {
                            "energy_drift": 6.25e4 if (diverged or {}).get((m, n)) else 0.01,
                            "rollout_error": 0.2,
                            "valid_time": 3.0,
                            "diverged": (diverged or {}).get((m, n), 0.0),
                        },
                    }
                )
    sizes = sorted({n for by_n in errors.values() for n in by_n})
    seeds = max(len(v) for by_n in errors.values() for v in by_n.values())
    return {
        "format": "symzoo-compare/1",
        "task": TASK,
        "preset": "tiny",
        "primary_metric": "pos_mse",
        "units": {"pos_mse": "(length unit)^2"},
        "models": list(errors),
        "roles": roles
        or {m: {"role": "baseline", "symmetry": [], "missing": ["rotation"], "plugin": None} for m in errors},
        "reference": "egnn" if "egnn" in errors else None,
        "train_sizes": sizes,
        "seeds": list(range(seeds)),
        "settings": {"task": TASK, "preset": "tiny", "overrides": [], "rollout": {"steps": 10, "n_traj": 16}},
        "rollout": {"enabled": True, "steps": 10, "n_traj": 16},
        "orbit": {"enabled": False},
        "group_factors": ["rotation"],
        "cells": cells,
    }


def test_winner_margin_and_spread():
    doc = _doc(
        {
            "egnn": {50: [0.10, 0.11, 0.12], 200: [0.010, 0.011, 0.012]},
            "gnn": {50: [0.09, 0.10, 0.11], 200: [0.030, 0.033, 0.036]},
        }
    )
    lines = compare_verdict(doc, summarize_results(doc))
    assert lines[0] == (
        "**`egnn` has the lowest test `pos_mse` at N = 200**: 0.011 ± 0.001 (n=3), 3× lower than the "
        "runner-up `gnn` at 0.033 ± 0.003 (n=3); the gap is larger than the seeds' spread."
    )
    assert lines[1] == "At N = 50 `gnn` is lowest (0.1 ± 0.01 (n=3), 1.1× lower than `egnn`)."
    assert not any("Single seed" in x for x in lines)
    # overlapping spreads are said to be within them
    doc = _doc({"egnn": {100: [0.10, 0.20, 0.30]}, "gnn": {100: [0.15, 0.25, 0.35]}})
    assert compare_verdict(doc, summarize_results(doc))[0].endswith("the gap is within the seeds' spread.")


def test_single_seed_diverged_rollouts_and_plugins_in_words():
    roles = {
        "egnn": {"role": "equivariant", "symmetry": ["rotation"], "missing": [], "plugin": None},
        "mine": {
            "role": "equivariant",
            "symmetry": ["rotation"],
            "missing": [],
            "plugin": "my-pkg:my.models:b",
        },
        "mlp": {"role": "baseline", "symmetry": ["rotation"], "missing": [], "plugin": None},
    }
    doc = _doc(
        {"egnn": {50: [0.2], 200: [0.01]}, "mine": {50: [0.3], 200: [0.02]}, "mlp": {50: [0.5], 200: [0.4]}},
        diverged={("egnn", 200): 0.1875},
        roles=roles,
    )
    summ = summarize_results(doc)
    lines = compare_verdict(doc, summ)
    text = "\n".join(lines)
    # the best pos_mse next to its diverged rollouts is commented on, in the headline too
    assert lines[0].endswith("; but 19% of its rollouts diverged (see below).")
    assert (
        "**Diverged rollouts**: `egnn` at N = 200: 19% of its rollouts went non-finite; its energy drift "
        "of 6.25e+04 is dominated by them" in text
    )
    assert "**Single seed**: every number is one training run (n=1)" in text
    assert (
        "`mine` (plugin) is" not in text and "Plugin models (not part of symzoo): `mine` from my-pkg." in text
    )
    # mlp claims rotation but measures 0.3: the contract is called out
    assert "**Contract broken**: `mlp` claims rotation but its measured equivariance error is 0.3" in text
    # data efficiency out of range, in words
    assert (
        "Data efficiency: `mlp` never reached `egnn`'s error at N = 50 at any measured size (up to N = 200): "
        "it needs more than 4× the data." in text
    )
    md = render_markdown(doc, summ)
    assert md.index("## Verdict") < md.index("## Models") < md.index("## Test error")
    assert "| `mine` (plugin my-pkg) | equivariant |" in md
    assert "| `mlp` | > 4× (not reached by N = 200, the largest size) | not reached up to N = 200" in md
    assert format_summary(doc).startswith("verdict:\n  - `egnn` has the lowest test `pos_mse` at N = 200")


def test_plain_factor_words():
    assert plain_factor({"bound": "=", "factor": 3.21}) == "3.21×"
    assert plain_factor({"bound": ">", "factor": float("inf"), "lower_bound": 1.0, "max_size": 200.0}) == (
        "not reached up to N = 200 (the largest size)"
    )  # was "> 1× (needs > max size 200)"
    assert plain_factor({"bound": ">", "lower_bound": 10.0, "max_size": 1000.0}) == (
        "> 10× (not reached by N = 1000, the largest size)"
    )
    assert plain_factor({"bound": "<=", "factor": 0.5, "min_size": 50.0}) == (
        "≤ 0.5× (already matched at its smallest size, N = 50)"
    )
    assert plain_factor({"bound": "?"}) == plain_factor(None) == "—"


def test_leaderboard_verdict_per_task():
    row = {
        "domain": "nbody",
        "domain_label": "N-body",
        "task": TASK,
        "train_sizes": [50, 200],
        "seeds": [0],
        "models": {"equivariant": "mine", "plain": "mlp", "augmented": "mlp+aug"},
        "gain": {
            "plain": {"200": {"mean": 3.2, "std": float("nan"), "n": 1}},
            "augmented": {"200": {"n": 0}},
        },
        "efficiency": {"plain": {"bound": ">", "lower_bound": 1.0, "max_size": 200.0}},
        "efficiency_size": 200,
        "diverged": {"equivariant": 0.25, "plain": 0.0},
        "plugins": {"mine": "my-pkg"},
    }
    lines = leaderboard_verdict({"tasks": [row]})
    assert lines[0] == (
        "`nbody-charged` (N-body): `mine` (plugin my-pkg) beats plain `mlp` by 3.2× at N = 200; data "
        "efficiency vs plain at N = 200: not reached up to N = 200 (the largest size); diverged rollouts: "
        "`mine` (plugin my-pkg) 25%."
    )
    assert lines[1].startswith("**Single seed** (`nbody-charged`)")
    row.update(seeds=[0, 1, 2], gain={"plain": {"200": {"mean": 0.8, "std": 0.05, "n": 3}}}, diverged={})
    (line,) = leaderboard_verdict({"tasks": [row]})
    assert "loses to plain `mlp`: error ratio 0.8 ± 0.05× (beyond the seeds' spread) at N = 200" in line
    md = leaderboard_markdown({"tasks": [], "recipe": {"name": "x"}})
    assert "## Verdict" not in md  # nothing to say without tasks


@pytest.fixture(scope="module")
def tiny_grid(tmp_path_factory):
    out = tmp_path_factory.mktemp("verdict") / "grid"
    compare(
        TASK,
        models="linear,mlp",
        train_sizes="20,40",
        seeds=1,
        preset="tiny",
        jobs=1,
        threads=1,
        orbit=False,
        rollout_steps=2,
        rollout_trajectories=2,
        overrides=["trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1"],
        out=out,
    )
    return out


def test_tiny_compare_report_opens_with_a_verdict(tiny_grid):
    doc = load_results(tiny_grid)
    curves = doc["summary"]["curves"]
    best = min(("linear", "mlp"), key=lambda m: curves[m]["40"]["mean"])
    other = "mlp" if best == "linear" else "linear"
    md = (tiny_grid / "report.md").read_text()
    verdict = md.split("## Verdict\n\n")[1].split("\n\n## ")[0].splitlines()
    assert verdict[0].startswith(f"- **`{best}` has the lowest test `pos_mse` at N = 40**: ")
    ratio = curves[other]["40"]["mean"] / curves[best]["40"]["mean"]
    lower = f"{ratio:.3g}× lower" if ratio >= 1.1 else f"{(ratio - 1) * 100:.2g} % lower"
    assert f"{lower} than the runner-up `{other}` at " in verdict[0]
    assert any(x.startswith("- **Single seed**: every number is one training run (n=1)") for x in verdict)
    assert md.index("## Verdict") < md.index("## Models")


def test_a_near_tie_is_said_in_percent_not_as_one_times_lower():
    from symzoo.eval.verdict import _lower_by

    assert _lower_by(1.0017) == "0.17 % lower"
    assert _lower_by(1.09) == "9 % lower"
    assert _lower_by(2.5) == "2.5× lower"
    assert _lower_by(float("inf")) == "∞× lower"
