"""DeLaN with learned viscous friction (``damping=True``): exact on a damped pendulum, dissipative,
and still equivariant when group-averaged; the default keeps the published architecture."""

import math

import pytest
import torch
from robot_toys import ToyRobotTask
from symzoo.models.delan import Damping, DeLaN, delan, delan_eq
from test_delan import PendulumMass, PendulumPotential, analytic_tau

from symzoo.testing import assert_equivariant


def test_damped_double_pendulum_is_exact():
    g = torch.Generator().manual_seed(1)
    q, qd, qdd = (torch.randn(32, 2, generator=g, dtype=torch.float64) * math.pi for _ in range(3))
    damping = Damping(2).double()
    with torch.no_grad():
        damping.raw.copy_(torch.log(torch.expm1(torch.tensor([0.3, 1.7], dtype=torch.float64))))
    model = DeLaN(PendulumMass(), PendulumPotential(), damping=damping)
    terms = model.dynamics_terms(q, qd, qdd)
    expected = analytic_tau(q, qd, qdd) + qd * torch.tensor([0.3, 1.7], dtype=torch.float64)
    torch.testing.assert_close(terms["tau"], expected, atol=1e-10, rtol=1e-10)
    # friction dissipates: q̇ᵀ τ_f > 0 for every moving state
    assert bool(((terms["friction"] * qd).sum(-1) > 0).all())


@pytest.mark.parametrize("group", ["C2", "K4"])
def test_group_averaged_damping_keeps_delan_eq_equivariant(group):
    torch.manual_seed(0)
    task = ToyRobotTask(group, "id")
    model = delan_eq(task=task, hidden=16, damping=True)
    with torch.no_grad():  # distinct per-joint values, so the average has something to do
        model.damping.base.raw.copy_(torch.linspace(-2.0, 1.0, model.damping.base.raw.numel()))
    assert_equivariant(model, task)
    d = model.damping()
    assert torch.allclose(d, torch.diag(torch.diagonal(d))) and bool((torch.diagonal(d) > 0).all())


def test_default_builders_have_no_friction_parameters():
    task = ToyRobotTask("C2", "id")
    for build in (delan, delan_eq):
        names = {k for k, _ in build(task=task, hidden=8).named_parameters()}
        assert not any("damping" in k for k in names)
        assert any("damping" in k for k, _ in build(task=task, hidden=8, damping=True).named_parameters())


def test_friction_starts_at_the_least_squares_slope():
    """fit_normalization (the robot tasks' prepare_model) sets D from τ ≈ D q̇ on the training data."""
    task = ToyRobotTask("C2", "id")
    model = delan(task=task, hidden=8, damping=True)
    g = torch.Generator().manual_seed(0)
    n = model.damping.raw.numel()
    qd, qdd = torch.randn(500, n, generator=g), torch.randn(500, n, generator=g)
    true = torch.linspace(0.5, 30.0, n)
    keys = model.keys
    model.fit_normalization({keys["qd"]: qd, keys["qdd"]: qdd, keys["tau"]: qd * true + 0.01 * qdd})
    got = float(model.scale) * torch.diagonal(model.damping())
    torch.testing.assert_close(got, true, rtol=2e-2, atol=2e-2)
