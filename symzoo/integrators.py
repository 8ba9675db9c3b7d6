"""Differentiable ODE integrators: explicit Euler, classical RK4 and symplectic leapfrog.

Every integrator is written with out-of-place tensor arithmetic only, so gradients flow through
whole trajectories (multi-step training losses, differentiable rollouts).  States are either one
tensor or a tuple of tensors (e.g. ``(q, p)``); a vector field ``f`` maps a state to its time
derivative with the same structure.

* :func:`rk4_step` / :func:`odeint` -- classical fourth-order Runge-Kutta (or ``"euler"``); the
  reference integrator of the simulators (float64, several substeps per saved frame) and the
  default for rollouts of learned models (as in Greydanus et al. 2019).
* :func:`leapfrog_step` / :func:`leapfrog` -- kick-drift-kick Stormer-Verlet for separable
  Hamiltonians ``H = T(p) + V(q)``: symplectic (preserves phase-space volume exactly, one-step
  Jacobian determinant 1), time-reversible, second order, with bounded energy error.
* :func:`hamiltonian_vector_field` -- ``(dH/dp, -dH/dq)`` of a scalar function by autograd.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import torch
from torch import Tensor

__all__ = [
    "State",
    "euler_step",
    "rk4_step",
    "odeint",
    "leapfrog_step",
    "leapfrog",
    "hamiltonian_vector_field",
    "METHODS",
]

State = Tensor | Sequence[Tensor]
VectorField = Callable[[State], State]

METHODS = ("rk4", "euler")


def _axpy(z: State, a: float, dz: State) -> State:
    """``z + a * dz`` for a tensor or a tuple of tensors (out of place)."""
    if isinstance(z, Tensor):
        return z + a * cast(Tensor, dz)
    return tuple(x + a * dx for x, dx in zip(z, dz))


def _combine(z: State, dt: float, k1, k2, k3, k4) -> State:
    if isinstance(z, Tensor):
        return z + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return tuple(x + (dt / 6.0) * (a + 2.0 * b + 2.0 * c + d) for x, a, b, c, d in zip(z, k1, k2, k3, k4))


def euler_step(f: VectorField, z: State, dt: float) -> State:
    """One explicit Euler step ``z + dt f(z)``."""
    return _axpy(z, dt, f(z))


def rk4_step(f: VectorField, z: State, dt: float) -> State:
    """One classical Runge-Kutta step of size ``dt`` (fourth order, four evaluations of ``f``)."""
    k1 = f(z)
    k2 = f(_axpy(z, dt / 2, k1))
    k3 = f(_axpy(z, dt / 2, k2))
    k4 = f(_axpy(z, dt, k3))
    return _combine(z, dt, k1, k2, k3, k4)


def _stack(states: list[State]) -> State:
    if isinstance(states[0], Tensor):
        return torch.stack(cast("list[Tensor]", states), 0)
    return tuple(torch.stack([s[i] for s in states], 0) for i in range(len(states[0])))


def odeint(
    f: VectorField, z0: State, dt: float, steps: int, *, method: str = "rk4", substeps: int = 1
) -> State:
    """Integrate ``dz/dt = f(z)`` for ``steps`` steps of ``dt``; returns the trajectory with a new
    leading time axis (``[steps + 1, ...]`` per tensor, entry 0 is ``z0``).

    ``substeps`` internal steps of ``dt / substeps`` are taken between saved states.  Pure tensor
    arithmetic: differentiable with respect to ``z0`` and to any parameters used by ``f``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown integration method {method!r}; choose one of {METHODS}")
    if steps < 0 or substeps < 1:
        raise ValueError(f"odeint needs steps >= 0 and substeps >= 1, got steps={steps}, substeps={substeps}")
    step = rk4_step if method == "rk4" else euler_step
    h = dt / substeps
    out = [z0]
    z = z0
    for _ in range(steps):
        for _ in range(substeps):
            z = step(f, z, h)
        out.append(z)
    return _stack(out)


def leapfrog_step(
    q: Tensor,
    p: Tensor,
    dt: float,
    force: Callable[[Tensor], Tensor],
    velocity: Callable[[Tensor], Tensor] = lambda p: p,
) -> tuple[Tensor, Tensor]:
    """One kick-drift-kick Stormer-Verlet step for ``H = T(p) + V(q)``.

    ``force(q) = -dV/dq`` and ``velocity(p) = dT/dp`` (``p / m`` for a particle of mass ``m``).
    """
    p_half = p + (dt / 2) * force(q)
    q_new = q + dt * velocity(p_half)
    p_new = p_half + (dt / 2) * force(q_new)
    return q_new, p_new


def leapfrog(
    q0: Tensor,
    p0: Tensor,
    dt: float,
    steps: int,
    force: Callable[[Tensor], Tensor],
    velocity: Callable[[Tensor], Tensor] = lambda p: p,
    *,
    substeps: int = 1,
) -> tuple[Tensor, Tensor]:
    """Leapfrog trajectory ``(q [steps + 1, ...], p [steps + 1, ...])`` of a separable system."""
    if steps < 0 or substeps < 1:
        raise ValueError(
            f"leapfrog needs steps >= 0 and substeps >= 1, got steps={steps}, substeps={substeps}"
        )
    h = dt / substeps
    qs, ps = [q0], [p0]
    q, p = q0, p0
    for _ in range(steps):
        for _ in range(substeps):
            q, p = leapfrog_step(q, p, h, force, velocity)
        qs.append(q)
        ps.append(p)
    return torch.stack(qs, 0), torch.stack(ps, 0)


def hamiltonian_vector_field(
    hamiltonian: Callable[[Tensor, Tensor], Tensor], q: Tensor, p: Tensor, *, create_graph: bool = True
) -> tuple[Tensor, Tensor]:
    """Hamilton's equations ``(dq/dt, dp/dt) = (dH/dp, -dH/dq)`` by autograd.

    ``hamiltonian(q, p)`` returns one energy per system (any shape; it is summed, so systems must
    not interact).  Works under ``torch.no_grad`` too (gradients are enabled locally).
    """
    with torch.enable_grad():
        q = q if q.requires_grad else q.detach().requires_grad_(True)
        p = p if p.requires_grad else p.detach().requires_grad_(True)
        h = hamiltonian(q, p).sum()
        dhdq, dhdp = torch.autograd.grad(h, (q, p), create_graph=create_graph)
    return dhdp, -dhdq
