"""The forecasting definitions pinned to dysts: sMAPE scale and the valid prediction time.

Each case is built so that its first threshold crossing is known, and a plain numpy transcription
of dysts' reference code (``horizoned_smape`` + ``vpt_smape``: first index of the running sMAPE
above the threshold, or the length if none) is compared on random forecasts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from symzoo.datasets.forecast_metrics import horizoned_smape, smape, valid_prediction_time

import symzoo

DT = 0.05


def _dysts_smape(x: np.ndarray, y: np.ndarray, eps: float = 1e-10, scaled: bool = True) -> float:
    """dysts.metrics.smape, transcribed."""
    scale = 0.5 if scaled else 1.0
    return scale * 200 * float(np.mean(np.abs(x - y) / (np.abs(x) + np.abs(y) + eps)))


def _dysts_vpt_steps(true: np.ndarray, pred: np.ndarray, threshold: float = 30.0) -> int:
    """vpt_smape of the dysts benchmark scripts, transcribed (0-200 sMAPE as in the 2023 paper)."""
    arr = np.array([_dysts_smape(true[:i], pred[:i], scaled=False) for i in range(1, len(true) + 1)])
    over = np.where(arr > threshold)[0]
    return len(arr) if len(over) == 0 else int(over[0])


def _steps(ref: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Per-step sMAPE [T, B] of forecasts [T, B, D]."""
    return smape(pred, ref)


def _forecast(step_errors: list[float], d: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """One trajectory whose step k has sMAPE ``step_errors[k-1]`` (0-200): ref = 1, pred = a with
    200 |a - 1| / (a + 1) = e, i.e. a = (200 + e) / (200 - e), or a = -1 for e = 200."""
    ref = torch.ones(len(step_errors), 1, d, dtype=torch.float64)
    a = torch.tensor([-1.0 if e == 200 else (200 + e) / (200 - e) for e in step_errors], dtype=torch.float64)
    return ref, a[:, None, None].expand(-1, 1, d).clone()


def test_smape_scales_match_dysts():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    full = smape(torch.from_numpy(y), torch.from_numpy(x))
    assert float(full.mean()) == pytest.approx(_dysts_smape(x, y, scaled=False), rel=1e-12)
    half = smape(torch.from_numpy(y), torch.from_numpy(x), scaled=True)
    assert float(half.mean()) == pytest.approx(_dysts_smape(x, y), rel=1e-12)
    assert torch.allclose(2 * half, full)
    # both zero: 0 (eps in the denominator), opposite signs: the 200 maximum
    assert float(smape(torch.zeros(1, 2), torch.zeros(1, 2))) == 0.0
    assert float(
        smape(-torch.ones(1, 2, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64))
    ) == pytest.approx(200.0)
    with pytest.raises(ValueError, match="shapes differ"):
        smape(torch.zeros(2, 3), torch.zeros(2, 4))


@pytest.mark.parametrize(
    "errors, cumulative_steps, pointwise_steps",
    [
        ([0, 0, 0, 0, 200, 0], 4, 4),  # running sMAPE 40 at step 5 -> 4 valid steps
        ([100, 0, 0, 0], 0, 0),  # wrong at step 1 -> 0
        ([0, 0, 0, 0, 0, 0, 100, 100, 100], 8, 6),  # running 14.3, 25 (valid) at steps 7, 8; 33.3 at 9
        ([10, 20, 30, 30], 4, 4),  # exactly 30 is still valid (strict >); never exceeded -> horizon
        ([0, 50, 0, 0, 0, 0, 0, 0], 8, 1),  # one bad step early: running mean stays 25 at step 2
    ],
)
def test_vpt_known_first_crossing(errors, cumulative_steps, pointwise_steps):
    ref, pred = _forecast(errors)
    s = _steps(ref, pred)
    vpt = valid_prediction_time(s, DT, 30.0, cumulative=True)
    pw = valid_prediction_time(s, DT, 30.0, cumulative=False)
    assert float(vpt) == pytest.approx(cumulative_steps * DT)
    assert float(pw) == pytest.approx(pointwise_steps * DT)
    assert _dysts_vpt_steps(ref[:, 0].numpy(), pred[:, 0].numpy()) == cumulative_steps


def test_vpt_equals_dysts_reference_on_random_forecasts():
    gen = torch.Generator().manual_seed(3)
    T, B, D = 40, 25, 3
    ref = torch.randn(T, B, D, generator=gen, dtype=torch.float64) + 2.0
    # error growing exponentially at a random rate per trajectory, as a chaotic forecast's does
    rate = 0.05 + 0.3 * torch.rand(B, generator=gen, dtype=torch.float64)
    growth = 1e-3 * torch.exp(
        rate[None, :, None] * torch.arange(1, T + 1, dtype=torch.float64)[:, None, None]
    )
    pred = ref + growth * torch.randn(T, B, D, generator=gen, dtype=torch.float64)
    vpt = valid_prediction_time(_steps(ref, pred), DT)
    want = [_dysts_vpt_steps(ref[:, b].numpy(), pred[:, b].numpy()) * DT for b in range(B)]
    assert vpt.tolist() == pytest.approx(want, abs=1e-12)
    assert len(set(want)) > 5  # the cases differ: the comparison is not vacuous


def test_horizoned_smape_is_the_prefix_smape():
    gen = torch.Generator().manual_seed(1)
    ref, pred = torch.randn(9, 2, 4, generator=gen), torch.randn(9, 2, 4, generator=gen)
    h = horizoned_smape(_steps(ref, pred))
    for k in range(1, 10):
        whole = smape(pred[:k].transpose(0, 1).reshape(2, -1), ref[:k].transpose(0, 1).reshape(2, -1))
        assert torch.allclose(h[k - 1], whole, atol=1e-5)


def test_vpt_nan_counts_as_exceeding_and_bad_shapes_refused():
    s = torch.tensor([[0.0], [float("nan")], [0.0]])
    assert float(valid_prediction_time(s, 1.0, cumulative=False)) == 1.0
    assert float(valid_prediction_time(s, 1.0, cumulative=True)) == 1.0
    with pytest.raises(ValueError, match="expected step_smape"):
        valid_prediction_time(torch.zeros(5), 1.0)


def test_attractor_task_reports_dysts_vpt():
    task = symzoo.get_task("lorenz96-8")
    gen = torch.Generator().manual_seed(0)
    steps = 12
    ref = {"x": torch.randn(steps + 1, 2, 8, generator=gen, dtype=torch.float64)}
    p = ref["x"].clone()
    # trajectory 0: exact for 6 steps, then the opposite state (physical sMAPE far above 30)
    p[7:, 0] = task.standardize(-task.physical(ref["x"][7:, 0]))
    # trajectory 1: diverged (non-finite) from step 1
    p[1:, 1] = float("nan")
    out = task.trajectory_metrics({"x": p}, ref, None)
    phys_p = task.physical(torch.where(torch.isfinite(p), p, torch.zeros_like(p)))
    want0 = _dysts_vpt_steps(task.physical(ref["x"])[1:, 0].numpy(), phys_p[1:, 0].numpy())
    assert want0 >= 6  # the running sMAPE may stay below 30 a step or two after the break
    assert out["vpt"][0] == pytest.approx((want0 + 0) * task.dt / 2)
    assert out["vpt_pointwise"][0] == pytest.approx(6 * task.dt / 2)
    assert "dysts" in out["vpt"][1]
