"""Forecast scores of chaotic-system rollouts, pinned to the reference implementation of dysts.

The reference is Gilpin's benchmark code: ``dysts.metrics.smape`` and ``vpt_smape`` /
``horizoned_smape`` of the dysts benchmark scripts (``williamgilpin/dysts_data``,
``benchmark_results/scripts/utils.py``), used for the VPT figures of Gilpin, *Model scale versus
domain knowledge in statistical forecasting of chaotic systems*, PRR 5, 043252 (2023).

**sMAPE** (:func:`smape`): ``scale · 200 · mean |p - r| / (|p| + |r| + eps)`` over the last axis,
``eps = 1e-10`` as in dysts.  ``scaled=False`` (the default here) gives the 0-200 percent
scale of the 2023 paper and of dysts' older ``smape(x, y)``; dysts' current ``smape(x, y, eps,
scaled=True)`` default is **half** of that (0-100).  The VPT threshold 30 is on the 0-200 scale.

**Valid prediction time** (:func:`valid_prediction_time`), as dysts' ``vpt_smape``: the
*horizoned* sMAPE at step ``k`` is the sMAPE of the whole forecast prefix, steps ``1..k`` and all
coordinates (a running mean, not the sMAPE of step ``k`` alone); the VPT is ``dt`` times the
number of leading steps whose horizoned sMAPE is ``<= threshold``.  If it first exceeds the
threshold (strictly) at step ``k`` (1-based), VPT = ``(k - 1) · dt``: the crossing step does not
count, and a forecast already wrong at step 1 scores 0.  A forecast that never exceeds it scores
the full horizon ``T · dt``.  ``cumulative=False`` uses the sMAPE of each step alone instead
(``vpt_pointwise``, the definition symzoo used before it was pinned to dysts; same counting).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["SMAPE_EPS", "smape", "horizoned_smape", "valid_prediction_time"]

#: denominator guard of dysts' ``smape``
SMAPE_EPS = 1e-10


def smape(pred: Tensor, ref: Tensor, eps: float = SMAPE_EPS, scaled: bool = False) -> Tensor:
    """Symmetric MAPE in percent over the last axis (dysts' ``smape(x, y, eps, scaled)``).

    ``pred, ref: [..., D]`` -> ``[...]``.  ``scaled=False``: 0-200 (``200 · mean |p - r| /
    (|p| + |r| + eps)``); ``scaled=True``: dysts' current default, half of that (0-100).
    """
    if pred.shape != ref.shape:
        raise ValueError(f"smape: pred and ref shapes differ: {tuple(pred.shape)} vs {tuple(ref.shape)}")
    scale = 0.5 if scaled else 1.0
    return scale * 200.0 * ((pred - ref).abs() / (pred.abs() + ref.abs() + eps)).mean(-1)


def horizoned_smape(step_smape: Tensor) -> Tensor:
    """Running sMAPE of the forecast prefix: ``step_smape [T, ...]`` (sMAPE of each step, mean over
    the coordinates) -> ``[T, ...]``, entry ``k - 1`` = sMAPE over steps ``1..k`` and all
    coordinates (dysts' ``horizoned_smape``; equal weights per step since every step has ``D``
    coordinates)."""
    steps = torch.arange(1, step_smape.shape[0] + 1, dtype=step_smape.dtype, device=step_smape.device)
    return step_smape.cumsum(0) / steps.reshape(-1, *([1] * (step_smape.dim() - 1)))


def valid_prediction_time(
    step_smape: Tensor, dt: float, threshold: float = 30.0, cumulative: bool = True
) -> Tensor:
    """Valid prediction time of each trajectory (module docstring).

    ``step_smape [T, B]``: sMAPE (0-200 scale) of forecast steps ``1..T`` (entry 0 = the first
    forecast step, one ``dt`` after the initial state) -> ``[B]`` times in the unit of ``dt``:
    ``dt ·`` the number of leading steps whose (horizoned, if ``cumulative``) sMAPE is
    ``<= threshold``.  NaN counts as exceeding.
    """
    if step_smape.dim() != 2 or step_smape.shape[0] < 1:
        raise ValueError(
            f"valid_prediction_time: expected step_smape [T >= 1, B], got {tuple(step_smape.shape)}"
        )
    s = horizoned_smape(step_smape) if cumulative else step_smape
    exceeded = ~(s <= threshold)  # NaN exceeds
    steps = s.shape[0]
    first = torch.where(
        exceeded.any(0),
        exceeded.double().argmax(0),
        torch.full((s.shape[1],), steps, dtype=torch.long, device=s.device),
    )
    return first.to(torch.float64) * float(dt)
