"""Statistics of the comparison suite on synthetic numbers (pure numpy, fast)."""

import math

import numpy as np
import pytest
from symzoo.eval.stats import (
    data_efficiency,
    data_needed,
    format_factor,
    format_mean_std,
    learning_curve_exponent,
    summarize,
    symmetry_gain,
)


def test_summarize_mean_std_ddof1_and_n():
    s = summarize([1.0, 2.0, 3.0, 6.0])
    assert s["n"] == 4
    assert s["mean"] == pytest.approx(3.0)
    assert s["std"] == pytest.approx(np.std([1, 2, 3, 6], ddof=1))
    one = summarize([0.5])
    assert one["n"] == 1 and one["mean"] == 0.5 and math.isnan(one["std"])
    assert summarize([])["n"] == 0
    # non-finite values (a diverged seed) are left out, not averaged in
    assert summarize([1.0, float("nan"), 3.0])["n"] == 2
    assert format_mean_std(summarize([0.01, 0.03])) == "0.02 ± 0.014 (n=2)"
    assert format_mean_std(summarize([])) == "—"


def test_symmetry_gain():
    assert symmetry_gain(0.3, 0.1) == pytest.approx(3.0)
    assert symmetry_gain(0.05, 0.1) == pytest.approx(0.5)
    assert math.isinf(symmetry_gain(0.3, 0.0))
    assert math.isnan(symmetry_gain(float("nan"), 0.1))


def test_data_needed_interpolates_in_log_log():
    # a power law error = 10 * N^-0.5 is a straight line in log-log: interpolation is exact
    sizes = [100, 300, 1000]
    errs = [10 * n**-0.5 for n in sizes]
    target = 10 * 500**-0.5
    need = data_needed(sizes, errs, target)
    assert need.status == "interpolated"
    assert need.size == pytest.approx(500, rel=1e-9)
    # unsorted input and the exact grid point
    assert data_needed([1000, 100, 300], [errs[2], errs[0], errs[1]], errs[1]).size == pytest.approx(300)


def test_data_efficiency_factor():
    base_sizes = [100, 300, 1000]
    base_errs = [10 * n**-0.5 for n in base_sizes]  # baseline needs 4x the data of ...
    eq_err_at_100 = 10 * 400**-0.5  # ... an equivariant model at N=100
    eff = data_efficiency(base_sizes, base_errs, 100, eq_err_at_100)
    assert eff["bound"] == "="
    assert eff["factor"] == pytest.approx(4.0, rel=1e-9)
    assert eff["needed"] == pytest.approx(400, rel=1e-9)
    assert format_factor(eff) == "4×"


def test_never_reaches_is_inf_and_says_max_size():
    eff = data_efficiency([100, 300, 1000], [0.5, 0.4, 0.3], 100, 0.01)
    assert eff["status"] == "not_reached"
    assert math.isinf(eff["factor"]) and math.isinf(eff["needed"])
    assert eff["lower_bound"] == pytest.approx(10.0)
    text = format_factor(eff)
    assert "> 10×" in text and "max size 1000" in text


def test_already_better_at_smallest_size_is_an_upper_bound():
    eff = data_efficiency([100, 300, 1000], [0.05, 0.04, 0.03], 300, 0.1)
    assert eff["status"] == "already_below"
    assert eff["bound"] == "<="
    assert eff["factor"] == pytest.approx(100 / 300)
    assert format_factor(eff).startswith("≤ 0.333×")


def test_non_monotone_curve_uses_first_crossing():
    need = data_needed([10, 100, 1000], [1.0, 0.1, 0.5], 0.2)
    assert need.status == "interpolated"
    assert 10 < need.size < 100


def test_undefined_inputs():
    assert data_needed([], [], 0.1).status == "undefined"
    assert data_needed([10, 100], [0.1, 0.05], float("nan")).status == "undefined"
    with pytest.raises(ValueError):
        data_needed([10, 100], [0.1], 0.1)


def test_learning_curve_exponent_recovers_power_law():
    sizes = np.array([50, 100, 300, 1000, 3000])
    rng = np.random.default_rng(0)
    errs = 3.0 * sizes**-0.7 * np.exp(rng.normal(0, 0.01, sizes.size))
    fit = learning_curve_exponent(sizes, errs)
    assert fit["slope"] == pytest.approx(-0.7, abs=0.02)
    assert fit["n_points"] == 5
    assert math.isnan(learning_curve_exponent([100], [0.1])["slope"])
    assert math.isnan(learning_curve_exponent([100, 100], [0.1, 0.2])["slope"])
