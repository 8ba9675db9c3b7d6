"""The layouts benchmarks/egnn_dense_micro.py times are EGNN's function (else its timings mean nothing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import symzoo

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "egnn_dense_micro.py"


@pytest.fixture(scope="module")
def micro():
    spec = importlib.util.spec_from_file_location("egnn_dense_micro", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def batch():
    return symzoo.get_task("nbody-charged").example_batch(num_graphs=5, dtype=torch.float64)


@pytest.mark.parametrize(
    "kwargs", [{}, {"tanh": True, "coords_agg": "sum", "recurrent": False}, {"layers": 1}]
)
def test_every_variant_is_the_model_outputs_and_gradients(micro, batch, kwargs):
    torch.manual_seed(1)
    model = symzoo.create_model("egnn", hidden=16, **kwargs).double()
    with torch.no_grad():  # non-trivial coordinate weights (the last layer's are initialised at ~1e-3)
        for layer in model.layers:
            layer.coord_mlp[2].weight.mul_(300.0)
    ref = model(batch)["pos"]
    ref_grads = torch.autograd.grad((ref**2).sum(), list(model.parameters()))
    assert (ref - batch.pos).abs().max() > 1e-3  # the layers move the particles
    for variant in micro.VARIANTS:
        out = micro.forward_variant(model, batch, variant)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-12, msg=variant)
        grads = torch.autograd.grad((out**2).sum(), list(model.parameters()))
        for g, r in zip(grads, ref_grads, strict=True):
            scale = max(1.0, float(r.abs().max()))  # relative to the tensor's size (up to ~1e8 here)
            torch.testing.assert_close(g, r, rtol=0, atol=1e-12 * scale, msg=variant)


def test_parity_reports_each_variant_and_rejects_unknown(micro, batch):
    model = symzoo.create_model("egnn", hidden=8, layers=2).double()
    diffs = micro.parity(model, batch)
    assert set(diffs) == set(micro.VARIANTS) and max(diffs.values()) < 1e-12
    with pytest.raises(ValueError, match="unknown variant"):
        micro.forward_variant(model, batch, "sparse")
    shuffled = micro._shuffle(batch)
    with pytest.raises(ValueError, match="fully connected"):
        micro.forward_variant(model, shuffled, "slice")
