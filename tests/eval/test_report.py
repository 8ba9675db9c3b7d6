"""The report renderer on a synthetic results.json (no training)."""

import json
import math

import pytest
from symzoo.eval.compare import RESULTS_FORMAT, clean_json, load_results
from symzoo.eval.report import render_report, reproduce_command, summarize_results

from symzoo.cli import main
from symzoo.errors import SymzooError

SIZES = [100, 300, 1000]
# error = a * N^-b per model; two seeds at +-5 % (so mean is exact and std known)
CURVES = {"egnn": (1.0, 0.5), "mlp": (4.0, 0.5), "mlp+aug": (2.0, 0.5)}


def _cell(model, n, seed, study="curve", err=None):
    a, b = CURVES[model]
    e = err if err is not None else a * n**-b * (1.05 if seed else 0.95)
    c = {
        "model": model,
        "train_size": n,
        "seed": seed,
        "study": study,
        "status": "ok",
        "key": f"{model}/n{n}-s{seed}{'-orbit' if study == 'orbit' else ''}",
        "metrics": {"pos_mse": e, "pos_mae": e**0.5},
        "metrics_group": {"pos_mse": e, "pos_mae": e**0.5},
        "equivariance": {
            "rotation": 1e-16 if model == "egnn" else 0.3,
            "all": 1e-16 if model == "egnn" else 0.4,
        },
        "wall_seconds": 1.0,
        "device": "cpu",
    }
    if study == "orbit":
        ratio = 1.0 if model == "egnn" else 8.0
        c["orbit"] = {
            "in_orbit": {"pos_mse": e, "pos_mae": e**0.5},
            "out_of_orbit": {"pos_mse": e * ratio, "pos_mae": (e * ratio) ** 0.5},
            "ratio": ratio,
        }
    return c


@pytest.fixture()
def results_dir(tmp_path):
    cells = [_cell(m, n, s) for m in CURVES for n in SIZES for s in (0, 1)]
    cells += [_cell(m, 1000, s, "orbit") for m in CURVES for s in (0, 1)]
    doc = {
        "format": RESULTS_FORMAT,
        "settings": {"task": "nbody-charged", "preset": "small", "overrides": []},
        "task": "nbody-charged",
        "preset": "small",
        "primary_metric": "pos_mse",
        "units": {"pos_mse": "(length unit)^2, dimensionless simulation units"},
        "group": "E(3) x S_n",
        "group_factors": ["rotation", "reflection", "translation", "permutation"],
        "models": list(CURVES),
        "reference": "egnn",
        "train_sizes": SIZES,
        "seeds": [0, 1],
        "roles": {
            "egnn": {"role": "equivariant", "symmetry": ["rotation"], "missing": [], "num_parameters": 10},
            "mlp": {"role": "baseline", "symmetry": [], "missing": ["rotation"], "num_parameters": 20},
            "mlp+aug": {"role": "augmented", "symmetry": [], "missing": ["rotation"], "num_parameters": 20},
        },
        "orbit": {"enabled": True, "train_size": 1000, "restriction": "canonical pose"},
        "versions": {"symzoo": "0.1.0", "torch": "2.x"},
        "device": "cpu",
        "cells": cells,
        "invocations": [{"wall_seconds": 12.0}],
        "wall_seconds_total": 12.0,
        "cells_total": len(cells),
        "cells_done": len(cells),
        "failed": {},
    }
    (tmp_path / "results.json").write_text(json.dumps(clean_json(doc)))
    return tmp_path


def test_summary_numbers(results_dir):
    summ = summarize_results(load_results(results_dir))
    c = summ["curves"]["egnn"]["100"]
    assert c["n"] == 2 and c["mean"] == pytest.approx(0.1)
    assert c["std"] == pytest.approx(math.sqrt(2) * 0.005)
    # mlp = 4 x egnn everywhere; with error ~ N^-1/2 the mlp needs 16 x the data
    assert summ["gain"]["mlp"]["300"] == pytest.approx(4.0)
    assert summ["gain"]["mlp+aug"]["1000"] == pytest.approx(2.0)
    # egnn at N=100 has error 0.1; mlp reaches 0.1 only at N=1600 > 1000: not reached
    assert summ["efficiency"]["mlp"]["100"]["status"] == "not_reached"
    # mlp+aug reaches egnn's error at 100 at N=400 -> factor 4 (interpolated)
    eff = summ["efficiency"]["mlp+aug"]["100"]
    assert eff["status"] == "interpolated" and eff["factor"] == pytest.approx(4.0, rel=1e-6)
    assert summ["exponent"]["mlp"]["slope"] == pytest.approx(-0.5, abs=1e-9)
    assert summ["orbit"]["mlp"]["ratio"]["mean"] == pytest.approx(8.0)
    assert summ["orbit"]["egnn"]["ratio"]["mean"] == pytest.approx(1.0)
    assert summ["equivariance"]["mlp"]["rotation"] == pytest.approx(0.3)


def test_render_writes_tables_and_plots(results_dir):
    written = render_report(results_dir)
    md = (results_dir / "report.md").read_text()
    for name in ("learning_curves.png", "orbit_gap.png"):
        data = (results_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert set(written) == {"learning_curves", "orbit_gap", "report"}
    assert "0.1 ± 0.0071 (n=2)" in md  # egnn at N=100, mean ± std (ddof=1)
    assert "0.4 ± 0.028 (n=2)" in md  # mlp at N=100
    assert "| `mlp` | 4× | 4× | 4× |" in md  # symmetry gain
    assert (
        "4×" in md and "> 10× (not reached by N = 1000, the largest size)" in md
    )  # data efficiency, never reached
    assert "| `mlp` | 0.126 ± 0.0089 (n=2) | 1.01 ± 0.072 (n=2) | 8 ± 0 (n=2) |" in md
    assert "learning_curves.png" in md and "orbit_gap.png" in md
    assert (
        "symzoo compare nbody-charged --models egnn,mlp,mlp+aug --train-sizes 100,300,1000 --seeds 2 "
        "--preset small" in md
    )
    assert reproduce_command(load_results(results_dir)).endswith("--preset small")
    assert not list(results_dir.glob("*.partial"))


def test_cli_report_rerenders(results_dir, capsys):
    assert main(["report", str(results_dir)]) == 0
    out = capsys.readouterr().out
    assert "0.1 ± 0.0071 (n=2)" in out and "report.md" in out
    assert (results_dir / "report.md").is_file()


def test_report_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "results.json does not exist" in capsys.readouterr().err
    (tmp_path / "results.json").write_text("{broken")
    with pytest.raises(SymzooError, match="not valid JSON"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(SymzooError, match="not a symzoo comparison"):
        load_results(tmp_path)


def test_report_another_metric(results_dir, capsys):
    doc = load_results(results_dir)
    doc["metric"] = "pos_mae"
    summ = summarize_results(doc)
    assert summ["curves"]["egnn"]["100"]["mean"] == pytest.approx((0.095**0.5 + 0.105**0.5) / 2)
    assert summ["orbit"]["mlp"]["ratio"]["mean"] == pytest.approx(8**0.5)
    assert main(["report", str(results_dir), "--metric", "pos_mae"]) == 0
    assert "## Test error `pos_mae`" in (results_dir / "report.md").read_text()
    with pytest.raises(SymzooError, match="no metric 'pos_rmse'"):
        render_report(results_dir, metric="pos_rmse")


def test_out_of_domain_variants_get_a_table(results_dir):
    """Cells with ``metrics_ood`` (``Task.ood_variants``) get one out-of-domain table per variant."""
    doc = json.loads((results_dir / "results.json").read_text())
    for c in doc["cells"]:
        if c["study"] == "curve":
            c["metrics_ood"] = {"rotated_forcing": {"pos_mse": 3 * c["metrics"]["pos_mse"]}}
    (results_dir / "results.json").write_text(json.dumps(doc))
    summ = summarize_results(load_results(results_dir))
    assert summ["curves_ood"]["rotated_forcing"]["egnn"]["100"]["mean"] == pytest.approx(0.3)
    render_report(results_dir)
    md = (results_dir / "report.md").read_text()
    assert "## Out of domain `rotated forcing`" in md and "÷ in-domain (N = 1000)" in md


def test_rollout_caption_without_invariants_reads_cleanly():
    from symzoo.eval.report import _rollout_text

    doc = {"cells": [{"rollout": {"invariants": {}, "rollout_error": 0.1}}]}
    text = _rollout_text(doc)
    assert text.startswith("The task declares no invariants. Rollout error: geometric mean")
    assert ": ." not in text
