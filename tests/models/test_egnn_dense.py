"""EGNN's dense path (fully connected graphs as [B, n, n - 1] edge tensors) is the edge-list model."""

from __future__ import annotations

import pytest
import torch

import symzoo
from symzoo import hub


@pytest.fixture(scope="module")
def batch():
    return symzoo.get_task("nbody-charged").example_batch(num_graphs=6, dtype=torch.float64)


def _shuffled(batch, seed: int = 0):
    """The same graph with its edge list permuted: the dense path no longer applies."""
    b = batch.clone()
    g = torch.Generator().manual_seed(seed)
    b.edge_index = batch.edge_index[:, torch.randperm(batch.edge_index.shape[1], generator=g)]
    return b


def _outputs_and_grads(model, batch):
    pos = batch.pos.clone().requires_grad_(True)
    b = batch.clone()
    b.pos = pos
    out = model(b)["pos"]
    grads = torch.autograd.grad((out**2).sum(), [pos, *model.parameters()])
    return out.detach(), grads


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"tanh": True}, {"coords_agg": "sum", "recurrent": False}, {"layers": 1, "hidden": 8}],
)
def test_dense_and_edge_list_paths_agree_float64(batch, kwargs):
    torch.manual_seed(0)
    model = symzoo.create_model("egnn", **kwargs).double()
    n = batch.pos.shape[0] // batch.num_graphs
    assert model.dense_nodes(batch.edge_index, batch.pos.shape[0]) == n
    shuffled = _shuffled(batch)
    assert model.dense_nodes(shuffled.edge_index, batch.pos.shape[0]) is None
    out_d, g_d = _outputs_and_grads(model, batch)
    out_s, g_s = _outputs_and_grads(model, shuffled)
    assert (out_d - out_s).abs().max() < 1e-12
    for a, b in zip(g_d, g_s, strict=True):
        assert (a - b).abs().max() <= 1e-12 * max(1.0, float(b.abs().max()))


def test_dense_path_only_for_complete_graphs(batch):
    model = symzoo.create_model("egnn").double()
    n_total = batch.pos.shape[0]
    ei = batch.edge_index
    assert model.dense_nodes(ei[:, :-1], n_total) is None  # one edge missing
    assert model.dense_nodes(ei.flip(0), n_total) is None  # reversed pairs
    assert model.dense_nodes(ei[:, :0], n_total) is None  # no edges
    sparse = model(_shuffled(batch, seed=1))["pos"]  # non-template graphs still run
    assert torch.allclose(sparse, model(batch)["pos"], atol=1e-12, rtol=0)


def test_dense_templates_stay_out_of_the_state_dict(batch):
    model = symzoo.create_model("egnn")
    keys = set(model.state_dict())
    model.float()(batch.clone().apply(lambda t: t.float() if t.is_floating_point() else t))
    assert set(model.state_dict()) == keys


@pytest.mark.parametrize("name", [n for n in symzoo.list_pretrained() if n.startswith("egnn.")])
def test_pretrained_egnn_weights_give_the_recorded_outputs_on_both_paths(name):
    model = symzoo.load_pretrained(name)
    batch, expected = hub.reference_batch(name)
    n_total = batch.pos.shape[0]
    assert model.dense_nodes(batch.edge_index, n_total) is not None  # the reference input is dense
    dtype = next(model.parameters()).dtype
    b = batch.clone().apply(lambda t: t.to(dtype) if t.is_floating_point() else t)
    with torch.no_grad():
        dense = model(b)["pos"]
        sparse = model(_shuffled(b))["pos"]
    ref = expected["pos"].to(dtype)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(dense, ref, atol=tol, rtol=tol)
    assert torch.allclose(sparse, ref, atol=tol, rtol=tol)
    assert torch.allclose(dense, sparse, atol=tol, rtol=0)
