"""Metrics are exact over a whole split: the same number at every evaluation batch size (issue 10)."""

from __future__ import annotations

import math

import pytest
import torch
from symzoo.eval.evaluate import evaluate_dataset

import symzoo
from symzoo.metrics import MetricSums


def test_metric_sums_mean_and_rms():
    s = MetricSums()
    s.update({"mae": ("mean", torch.tensor(3.0), 2), "rmse": ("rms", torch.tensor(8.0), 2)})
    s.update({"mae": ("mean", 1.0, 2), "rmse": ("rms", 0.0, 2)})
    assert s.compute() == pytest.approx({"mae": 1.0, "rmse": math.sqrt(2.0)})
    s.reduce(lambda v: [2 * x for x in v])  # two identical ranks: nothing changes
    assert s.compute() == pytest.approx({"mae": 1.0, "rmse": math.sqrt(2.0)})
    with pytest.raises(ValueError, match="reduction"):
        s.update({"x": ("median", 1.0, 1)})


@pytest.fixture(scope="module")
def model_and_test():
    torch.manual_seed(0)
    task = symzoo.get_task("rmd17-ethanol")
    model = symzoo.create_model("schnet", channels=8, layers=1, cutoff=4.0).double()
    return model, task, task.splits("tiny")[2]


def test_rmse_is_exact_at_two_eval_batch_sizes(model_and_test):
    model, task, test = model_and_test
    a = evaluate_dataset(model, task, test, batch_size=3)
    b = evaluate_dataset(model, task, test, batch_size=len(test))
    assert a.keys() == b.keys() and "force_rmse_meV_per_A" in a
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-10), k
    # ... and equal to the metrics of the whole split as one batch
    from torch_geometric.data import Batch

    batch = Batch.from_data_list(list(test))
    with torch.enable_grad():
        whole = task.metrics(model(batch), batch)
    for k, v in whole.items():
        assert a[k] == pytest.approx(float(v), rel=1e-10), k


def test_mean_of_batch_rmses_would_have_differed(model_and_test):
    """The old figure (a graph-weighted mean of per-batch RMSEs) depends on the batch size."""
    model, task, test = model_and_test
    vals = []
    for bs in (3, len(test)):
        tot = n = 0.0
        for batch in task.loader(test, bs):
            with torch.enable_grad():
                m = task.metrics(model(batch), batch)
            tot += float(m["force_rmse_meV_per_A"]) * int(batch.num_graphs)
            n += int(batch.num_graphs)
        vals.append(tot / n)
    assert abs(vals[0] - vals[1]) > 1e-6 * vals[1]
