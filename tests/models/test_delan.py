"""DeLaN: SPD mass matrix, exact inverse dynamics of an analytic double pendulum, and the
group-averaged delan-eq equivariant on every element of C2, K4 and D4 (float32 and float64)."""

import math

import pytest
import torch
from robot_toys import ToyRobotTask
from symzoo.models.delan import DeLaN, MassNet, delan, delan_eq
from torch import nn

from symzoo.testing import assert_batch_consistent, assert_equivariant, equivariance_errors

M1, M2, L1, L2, G = 1.3, 0.7, 0.9, 0.6, 9.81


class PendulumMass(nn.Module):  # double pendulum, point masses, absolute angles
    def forward(self, q):
        c = torch.cos(q[:, 0] - q[:, 1])
        h = torch.empty(q.shape[0], 2, 2, dtype=q.dtype)
        h[:, 0, 0] = (M1 + M2) * L1**2
        h[:, 1, 1] = M2 * L2**2
        h[:, 0, 1] = h[:, 1, 0] = M2 * L1 * L2 * c
        return h


class PendulumPotential(nn.Module):
    def forward(self, q):
        return -(M1 + M2) * G * L1 * torch.cos(q[:, 0]) - M2 * G * L2 * torch.cos(q[:, 1])


def analytic_tau(q, qd, qdd):
    d = q[:, 0] - q[:, 1]
    t1 = (
        (M1 + M2) * L1**2 * qdd[:, 0]
        + M2 * L1 * L2 * torch.cos(d) * qdd[:, 1]
        + M2 * L1 * L2 * torch.sin(d) * qd[:, 1] ** 2
        + (M1 + M2) * G * L1 * torch.sin(q[:, 0])
    )
    t2 = (
        M2 * L2**2 * qdd[:, 1]
        + M2 * L1 * L2 * torch.cos(d) * qdd[:, 0]
        - M2 * L1 * L2 * torch.sin(d) * qd[:, 0] ** 2
        + M2 * G * L2 * torch.sin(q[:, 1])
    )
    return torch.stack([t1, t2], -1)


def test_inverse_dynamics_of_a_double_pendulum_is_exact():
    g = torch.Generator().manual_seed(0)
    q, qd, qdd = (torch.randn(64, 2, generator=g, dtype=torch.float64) * math.pi for _ in range(3))
    model = DeLaN(PendulumMass(), PendulumPotential())
    terms = model.dynamics_terms(q, qd, qdd)
    torch.testing.assert_close(terms["tau"], analytic_tau(q, qd, qdd), atol=1e-10, rtol=1e-10)
    # the pieces: c is quadratic in qd, g independent of it
    d = q[:, 0] - q[:, 1]
    cor = torch.stack(
        [M2 * L1 * L2 * torch.sin(d) * qd[:, 1] ** 2, -M2 * L1 * L2 * torch.sin(d) * qd[:, 0] ** 2], -1
    )
    torch.testing.assert_close(terms["coriolis"], cor, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("group", ["C2", "K4", "D4"])
def test_mass_matrix_is_spd_on_every_test_state(group):
    torch.manual_seed(0)
    task = ToyRobotTask(group, "id", n=32)
    _, _, test = task.splits("tiny")
    q = test.fields["q"] * 3  # also far outside the unit range
    for model in (delan(task=task, hidden=16), delan_eq(task=task, hidden=16)):
        h = model.double().mass(q)
        torch.testing.assert_close(h, h.transpose(-1, -2), atol=1e-12, rtol=0)
        assert float(torch.linalg.eigvalsh(h).min()) > 0
        assert torch.linalg.cholesky_ex(h).info.eq(0).all()


def test_mass_net_diagonal_is_bounded_below():
    net = MassNet(3, hidden=8, eps=0.1).double()
    with torch.no_grad():
        net.net[-1].bias[net.diag] = -50.0  # softplus -> 0: the diagonal of L stays >= eps
    h = net(torch.randn(5, 3, dtype=torch.float64))
    chol_diag = torch.linalg.cholesky(h).diagonal(dim1=-2, dim2=-1)  # = diag(L) > 0
    assert float(chol_diag.min()) >= 0.1 - 1e-9


@pytest.mark.parametrize("group", ["C2", "K4", "D4"])
def test_delan_eq_equivariant_on_every_element(group):
    torch.manual_seed(0)
    task = ToyRobotTask(group, "id")
    model = delan_eq(task=task, hidden=16)
    assert model.symmetry == frozenset(task.group.factors)
    errs = assert_equivariant(model, task)
    assert set(errs[torch.float32]) == set(task.group.factors) | {"all"}
    assert_batch_consistent(model, task)


def test_plain_delan_is_not_equivariant():
    torch.manual_seed(0)
    task = ToyRobotTask("K4", "id")
    model = delan(task=task, hidden=16)
    errs = equivariance_errors(model, task)
    assert min(errs.values()) > 1e-3, errs


def test_delan_trains_and_backpropagates():
    torch.manual_seed(0)
    task = ToyRobotTask("C2", "id")
    model = delan_eq(task=task, hidden=8).train()
    batch = task.example_batch(4, dtype=torch.float32)
    loss = model(batch)["tau"].pow(2).mean()
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    # the second-order path (the Coriolis term) reaches the mass network's first layer
    assert float(model.mass.base.net[0].weight.grad.abs().sum()) > 0


def test_delan_needs_the_dynamics_fields():
    task = ToyRobotTask("C2", "com")
    with pytest.raises(ValueError, match="qdd"):
        delan(task=task)
    with pytest.raises(ValueError, match="positive definite"):
        MassNet(2, eps=0.0)


def test_fitted_scale_keeps_spd_and_equivariance():
    torch.manual_seed(0)
    task = ToyRobotTask("K4", "id")
    model = delan_eq(task=task, hidden=16)
    g = torch.Generator().manual_seed(1)
    model.fit_normalization(
        {"qdd": torch.randn(40, 8, generator=g), "tau": 30 * torch.randn(40, 8, generator=g)}
    )
    assert 20 < float(model.scale) < 45
    assert_equivariant(model, task)
    h = model.double().dynamics_terms(*(torch.randn(5, 8, dtype=torch.float64) for _ in range(3)))[
        "mass_matrix"
    ]
    assert float(torch.linalg.eigvalsh(h).min()) > 0
