"""Summary statistics of a comparison: seed spread, symmetry gain, data efficiency, exponents.

Pure numpy, no torch, so that it can be unit-tested on synthetic numbers and used by the
report renderer without a model in sight.  All errors are "lower is better" (a task's
``primary_metric``).

Definitions (the ones ``report.md`` states):

* :func:`summarize` -- mean, sample standard deviation (``ddof=1``; NaN for one seed) and n.
* :func:`symmetry_gain` -- baseline error / equivariant error at the same training size
  (> 1: the equivariant model is better).
* :func:`data_needed` / :func:`data_efficiency` -- how many training samples the baseline needs to
  reach a target error, read off its learning curve by linear interpolation in
  ``(log N, log error)``; the factor is that size divided by the equivariant model's size.
  No extrapolation: when the baseline never reaches the target within the measured sizes the
  answer is ``inf`` ("> max size"); when it is already at or below the target at its smallest
  size the answer is an upper bound (``<= min size``).
* :func:`learning_curve_exponent` -- least-squares slope of ``log error`` against ``log N``
  (error ~ N^slope; slopes are negative when more data helps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "summarize",
    "symmetry_gain",
    "data_needed",
    "data_efficiency",
    "DataNeeded",
    "learning_curve_exponent",
    "format_mean_std",
    "format_factor",
]


def summarize(values: Sequence[float]) -> dict[str, float]:
    """``{"mean", "std", "n"}`` of the finite ``values`` (std with ``ddof=1``; NaN if n < 2)."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    return {"mean": float(x.mean()), "std": float(x.std(ddof=1)) if n > 1 else math.nan, "n": n}


def symmetry_gain(baseline_error: float, equivariant_error: float) -> float:
    """Baseline error / equivariant error (``inf`` when the equivariant error is 0, NaN if unknown)."""
    b, e = float(baseline_error), float(equivariant_error)
    if not (math.isfinite(b) and math.isfinite(e)) or b < 0 or e < 0:
        return math.nan
    if e == 0.0:
        return math.inf if b > 0 else math.nan
    return b / e


@dataclass(frozen=True)
class DataNeeded:
    """Training size a curve needs to reach a target error.

    ``status``: ``"interpolated"`` (``size`` is the interpolated size), ``"not_reached"``
    (``size = inf``: the curve stays above the target up to its largest size),
    ``"already_below"`` (the curve is at or below the target at its smallest size: ``size`` is
    that smallest size, an upper bound), or ``"undefined"`` (no finite data; ``size = nan``).
    """

    size: float
    status: str

    def to_dict(self) -> dict:
        return asdict(self)


def _clean_curve(sizes: Sequence[float], errors: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(sizes, dtype=float)
    e = np.asarray(errors, dtype=float)
    if n.shape != e.shape:
        raise ValueError(f"sizes and errors must have the same length, got {n.shape} and {e.shape}")
    ok = np.isfinite(n) & np.isfinite(e) & (n > 0) & (e > 0)
    n, e = n[ok], e[ok]
    order = np.argsort(n, kind="stable")
    return n[order], e[order]


def data_needed(sizes: Sequence[float], errors: Sequence[float], target: float) -> DataNeeded:
    """Smallest training size at which the curve ``errors(sizes)`` reaches ``target``.

    The curve is piecewise linear in ``(log N, log error)``; the first crossing along increasing
    N is returned (a noisy, non-monotone curve is read the way a person reads the plot).
    """
    n, e = _clean_curve(sizes, errors)
    if n.size == 0 or not (math.isfinite(target) and target > 0):
        return DataNeeded(math.nan, "undefined")
    if e[0] <= target:
        return DataNeeded(float(n[0]), "already_below")
    ln, le, lt = np.log(n), np.log(e), math.log(target)
    for i in range(1, n.size):
        if e[i] <= target:
            # e[i-1] > target >= e[i]: interpolate log N linearly in log error
            frac = (le[i - 1] - lt) / (le[i - 1] - le[i])
            return DataNeeded(float(np.exp(ln[i - 1] + frac * (ln[i] - ln[i - 1]))), "interpolated")
    return DataNeeded(math.inf, "not_reached")


def data_efficiency(
    baseline_sizes: Sequence[float],
    baseline_errors: Sequence[float],
    equivariant_size: float,
    equivariant_error: float,
) -> dict:
    """How many times more training data the baseline needs to match the equivariant model's
    error at ``equivariant_size``.

    Returns ``{"factor", "needed", "status", "bound"}``: ``factor = needed / equivariant_size``;
    ``bound`` is ``"="`` (interpolated), ``">"`` (not reached: ``factor`` is ``inf`` and
    ``lower_bound = max size / equivariant_size`` is what the measured curve proves), ``"<="`` (already below at the smallest
    size: ``factor`` is an upper bound) or ``"?"`` (undefined).
    """
    need = data_needed(baseline_sizes, baseline_errors, equivariant_error)
    n_eq = float(equivariant_size)
    factor = need.size / n_eq if n_eq > 0 else math.nan
    bound = {"interpolated": "=", "not_reached": ">", "already_below": "<=", "undefined": "?"}[need.status]
    n, _ = _clean_curve(baseline_sizes, baseline_errors)
    max_size = float(n.max()) if n.size else math.nan
    return {
        "factor": factor,
        "needed": need.size,
        "status": need.status,
        "bound": bound,
        "reference_size": n_eq,
        "max_size": max_size,
        "min_size": float(n.min()) if n.size else math.nan,
        "lower_bound": max_size / n_eq if need.status == "not_reached" and n_eq > 0 else None,
    }


def learning_curve_exponent(sizes: Sequence[float], errors: Sequence[float]) -> dict[str, float]:
    """Least-squares fit ``log error = slope * log N + intercept``.

    Returns ``{"slope", "intercept", "n_points"}`` (NaN slope with fewer than two distinct sizes).
    """
    n, e = _clean_curve(sizes, errors)
    if np.unique(n).size < 2:
        return {"slope": math.nan, "intercept": math.nan, "n_points": int(n.size)}
    slope, intercept = np.polyfit(np.log(n), np.log(e), 1)
    return {"slope": float(slope), "intercept": float(intercept), "n_points": int(n.size)}


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.{digits}g}"


def format_mean_std(stat: dict, digits: int = 3) -> str:
    """``"0.0123 ± 0.0004 (n=3)"`` (no ± part for one value, ``—`` for none)."""
    if not stat or stat.get("n", 0) == 0:
        return "—"
    s = _fmt(stat["mean"], digits)
    if stat["n"] > 1 and math.isfinite(stat.get("std", math.nan)):
        s += f" ± {_fmt(stat['std'], 2)}"
    return f"{s} (n={stat['n']})"


def format_factor(eff: dict, digits: int = 3) -> str:
    """A data-efficiency entry as text: ``"3.2×"``, ``"> 10× (> max size 1000)"``, ``"≤ 0.5×"``."""
    if not eff:
        return "—"
    b = eff.get("bound")
    if b == "=":
        return f"{_fmt(eff['factor'], digits)}×"
    if b == ">":
        lower = eff.get("lower_bound")
        return (
            f"> {_fmt(lower, digits)}× (needs > max size {int(eff['max_size'])})"
            if lower
            else f"needs > max size {int(eff['max_size'])}"
        )
    if b == "<=":
        return f"≤ {_fmt(eff['factor'], digits)}× (better at smallest size)"
    return "—"
