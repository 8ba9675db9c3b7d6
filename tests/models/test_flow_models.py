"""Flow models on kolmogorov2d through symzoo.testing (the generic battery runs in
tests/models/test_registry_models.py, which covers every model of the "flows" domain)."""

import pytest
import torch

import symzoo
from symzoo.testing import assert_equivariant, equivariance_errors


def test_steerable_cnn_float64_equivariance_is_exact():
    torch.manual_seed(0)
    errs = assert_equivariant(symzoo.create_model("steerable-cnn"), symzoo.get_task("kolmogorov2d"))
    assert max(errs[torch.float64].values()) <= 1e-9
    errs = assert_equivariant(symzoo.create_model("steerable-cnn"), symzoo.get_task("decaying2d"))
    assert max(errs[torch.float64].values()) <= 1e-9


def test_escnn_sign_irrep_and_flip_match_gridrep():
    from escnn import gspaces

    task = symzoo.get_task("kolmogorov2d")
    rep = task.input_fields["w"].rep
    gs = gspaces.flipRot2dOnR2(4)
    sign = gs.fibergroup.irrep(1, 0)
    for i, e in enumerate(task.group.elements_escnn):
        assert float(sign(e)[0, 0]) == float(rep.det[i])  # irrep(1, 0) is det of the planar action
    flip = task.group.generator_index["reflection"]
    assert torch.equal(rep.coords[flip], torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64))


@pytest.mark.parametrize("name", ["cnn", "unet", "relaxed-gcnn"])
def test_baselines_are_not_d4_equivariant(name):
    torch.manual_seed(0)
    errs = equivariance_errors(symzoo.create_model(name), symzoo.get_task("kolmogorov2d"))
    assert min(errs.values()) > 1e-6


def test_relaxed_gcnn_is_exact_when_coefficients_agree():
    torch.manual_seed(0)
    m = symzoo.create_model("relaxed-gcnn", init_noise=0.0)
    errs = equivariance_errors(m, symzoo.get_task("kolmogorov2d"))
    assert max(errs.values()) < 1e-12
    assert float(m.regularization()) == 0.0
    assert float(symzoo.create_model("relaxed-gcnn").regularization()) > 0.0


def test_parameter_counts_are_matched():
    counts = {n: sum(p.numel() for p in symzoo.create_model(n).parameters()) for n in
              ("steerable-cnn", "cnn", "unet", "relaxed-gcnn")}  # fmt: skip
    assert counts == {"steerable-cnn": 6312, "cnn": 6373, "unet": 6887, "relaxed-gcnn": 5405}


def test_unrolled_loss_lives_in_the_task():
    task = symzoo.get_task("kolmogorov2d")
    m = symzoo.create_model("cnn").double()
    b = task.example_batch(2)
    out = task.apply_model(m, b)
    assert out["w"].shape == b.y.shape
    one = m(b)["w"]
    assert torch.allclose(out["w"][:, 0], one)
    assert torch.isfinite(task.loss(out, b))
    assert task.model_defaults("cnn", task.splits("tiny")[0]).keys() == {"w_scale", "f_scale"}
    assert task.model_defaults("mlp", task.splits("tiny")[0]) == {}
