"""symzoo.integrators: symplecticity of leapfrog, RK4 order, differentiability."""

import math

import pytest
import torch

from symzoo.integrators import hamiltonian_vector_field, leapfrog, leapfrog_step, odeint, rk4_step

# a linear system H = 1/2 p^T p + 1/2 q^T K q with a coupled, positive definite K (2 degrees of freedom)
K = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)


def force(q):
    return -(q @ K.T)


def energy(q, p):
    return 0.5 * (p * p).sum(-1) + 0.5 * ((q @ K.T) * q).sum(-1)


def _step_map(step):
    def f(z):
        q, p = z[:2], z[2:]
        q1, p1 = step(q, p)
        return torch.cat([q1, p1])

    return f


def _omega(n):
    eye, zero = torch.eye(n, dtype=torch.float64), torch.zeros(n, n, dtype=torch.float64)
    return torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)


def test_leapfrog_is_symplectic_on_a_linear_system():
    z0 = torch.tensor([0.3, -0.2, 0.1, 0.4], dtype=torch.float64)
    dt = 0.3  # a large step: symplecticity is exact for any step
    jac = torch.autograd.functional.jacobian(_step_map(lambda q, p: leapfrog_step(q, p, dt, force)), z0)
    assert abs(float(torch.linalg.det(jac)) - 1.0) < 1e-12  # phase-space volume preserved
    omega = _omega(2)
    assert torch.allclose(jac.T @ omega @ jac, omega, atol=1e-12)  # the symplectic form preserved


def test_rk4_is_not_symplectic_but_leapfrog_energy_stays_bounded():
    z0 = torch.tensor([0.3, -0.2, 0.1, 0.4], dtype=torch.float64)
    dt = 0.3

    def f(z):
        return torch.cat([z[2:], force(z[:2])])

    jac = torch.autograd.functional.jacobian(lambda z: rk4_step(f, z, dt), z0)
    assert abs(float(torch.linalg.det(jac)) - 1.0) > 1e-6  # RK4 contracts phase-space volume
    q, p = leapfrog(z0[:2], z0[2:], dt, 3000, force)
    e = energy(q, p)
    rel = (e - e[0]).abs() / e[0]
    # bounded oscillation, no secular drift: the last third is no worse than the first third
    assert rel.max() < 0.05
    assert rel[2000:].max() < 1.5 * rel[:1000].max()
    zs = odeint(f, z0, dt, 3000, method="euler")
    ee = energy(zs[:, :2], zs[:, 2:])
    assert ee[-1] / ee[0] > 10  # explicit Euler blows energy up on the same problem


def test_rk4_is_fourth_order():
    def f(z):
        return torch.stack([z[1], -z[0]])  # harmonic oscillator, exact solution (cos t, -sin t)

    z0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    errs = []
    for n in (20, 40):
        z = odeint(f, z0, 2.0 / n, n)[-1]
        errs.append(float((z - torch.tensor([math.cos(2.0), -math.sin(2.0)], dtype=torch.float64)).norm()))
    assert 12 < errs[0] / errs[1] < 20  # ~2^4


def test_odeint_is_differentiable_and_supports_tuples():
    z0 = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)

    def f(z):
        q, p = z
        return p, -(w**2) * q

    q, p = odeint(f, (z0[0], z0[1]), 0.01, 100, substeps=2)
    assert q.shape == (101,) and p.shape == (101,)
    q[-1].backward()
    # q(t) = cos(w t): dq/dw = -t sin(w t), dq/dq0 = cos(w t)
    assert abs(float(w.grad) - (-1.0 * math.sin(1.3))) < 1e-6
    assert abs(float(z0.grad[0]) - math.cos(1.3)) < 1e-6


def test_hamiltonian_vector_field_and_bad_arguments():
    q = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    p = torch.tensor([[0.2, 0.3]], dtype=torch.float64)
    with torch.no_grad():
        dq, dp = hamiltonian_vector_field(energy, q, p)
    assert torch.allclose(dq, p) and torch.allclose(dp, force(q))
    with pytest.raises(ValueError, match="method"):
        odeint(lambda z: z, q, 0.1, 2, method="dopri5")
    with pytest.raises(ValueError):
        odeint(lambda z: z, q, 0.1, -1)
