"""Exact metrics over a whole split, whatever the batch size.

A task reports, per batch, the *sufficient statistics* of each metric
(:meth:`symzoo.task.Task.metric_terms`): ``name -> (reduction, sum, count)`` where ``reduction``
is ``"mean"`` (the metric is ``sum / count``, e.g. an MAE from a sum of absolute errors) or
``"rms"`` (``sqrt(sum / count)``, e.g. an RMSE from a sum of squared errors).  :class:`MetricSums`
adds them up over the batches (in float64) and :meth:`MetricSums.compute` gives the exact figure
over the whole split, so that an RMSE is the RMSE of all errors, not a mean of per-batch RMSEs
(which changes with the evaluation batch size).  The harness reduces the sums across DDP ranks
before computing (:meth:`MetricSums.reduce`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MetricSums", "REDUCTIONS"]

REDUCTIONS = ("mean", "rms")


def _num(x: Any) -> float:
    return float(x.detach().double()) if hasattr(x, "detach") else float(x)


class MetricSums:
    """Running sums and counts of metric terms; ``compute()`` -> ``{name: value}``."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, float] = {}
        self.kinds: dict[str, str] = {}

    def update(self, terms: Mapping[str, tuple[str, Any, Any]]) -> None:
        for name, (kind, total, count) in terms.items():
            if kind not in REDUCTIONS:
                raise ValueError(f"metric {name!r}: reduction must be one of {REDUCTIONS}, got {kind!r}")
            if self.kinds.setdefault(name, kind) != kind:
                raise ValueError(f"metric {name!r} changed its reduction from {self.kinds[name]} to {kind}")
            self.sums[name] = self.sums.get(name, 0.0) + _num(total)
            self.counts[name] = self.counts.get(name, 0.0) + _num(count)

    def reduce(self, all_reduce_sum: Callable[[list[float]], list[float]]) -> None:
        """Replace the sums and counts by their totals over processes (``all_reduce_sum`` adds a list
        of floats elementwise over ranks); call once, before :meth:`compute`."""
        names = sorted(self.sums)
        totals = all_reduce_sum([self.sums[n] for n in names] + [self.counts[n] for n in names])
        for i, n in enumerate(names):
            self.sums[n], self.counts[n] = float(totals[i]), float(totals[len(names) + i])

    def compute(self) -> dict[str, float]:
        out = {}
        for name, total in self.sums.items():
            n = self.counts[name]
            if n <= 0:
                continue
            v = total / n
            out[name] = math.sqrt(max(v, 0.0)) if self.kinds[name] == "rms" else v
        return out

    def __bool__(self) -> bool:
        return bool(self.sums)
