"""Physics of the Hamiltonian tasks: natural mechanical systems and their float64 simulator.

``H(q, p) = 1/2 p^T M(q)^{-1} p + V(q)`` in canonical coordinates on flat states ``q, p [B, D]``;
:meth:`MechanicalSystem.simulate` integrates Hamilton's equations with classical RK4 (``substeps``
internal steps between saved frames, :mod:`symzoo.integrators`).  The tasks built on these
systems are in :mod:`symzoo.datasets.hamiltonian`; the Z2 mirror group of the 1-D systems is in
:mod:`symzoo.datasets.hamiltonian_group`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from symzoo._logging import single_thread  # the core's thread helper (re-exported here)
from symzoo.integrators import odeint

__all__ = ["single_thread", "MechanicalSystem", "Spring", "Pendulum", "ChainPendulum", "Gravity"]


class MechanicalSystem:
    """``H(q, p) = 1/2 p^T M(q)^{-1} p + V(q)`` on flat states ``q, p [B, D]`` (``D = n_nodes * k``).

    Subclasses set ``n_nodes``, ``k``, ``dt`` (frame spacing), ``substeps`` and implement
    :meth:`mass_matrix`, :meth:`potential` and :meth:`sample`.
    """

    n_nodes: int = 1
    k: int = 1
    dt: float = 0.1
    substeps: int = 10
    has_momentum: bool = False

    @property
    def dof(self) -> int:
        return self.n_nodes * self.k

    def mass_matrix(self, q: Tensor) -> Tensor:
        raise NotImplementedError

    def potential(self, q: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    # --- derived quantities (all differentiable, any float dtype)
    def velocity(self, q: Tensor, p: Tensor) -> Tensor:
        """``dq/dt = M(q)^{-1} p``."""
        return torch.linalg.solve(self.mass_matrix(q), p.unsqueeze(-1)).squeeze(-1)

    def momentum(self, q: Tensor, v: Tensor) -> Tensor:
        """``p = M(q) v``."""
        return (self.mass_matrix(q) @ v.unsqueeze(-1)).squeeze(-1)

    def hamiltonian(self, q: Tensor, p: Tensor) -> Tensor:
        """Total energy ``[B]``."""
        return 0.5 * (p * self.velocity(q, p)).sum(-1) + self.potential(q)

    def vector_field(self, q: Tensor, p: Tensor, create_graph: bool = False) -> tuple[Tensor, Tensor]:
        """Hamilton's equations ``(dH/dp, -dH/dq)`` (autograd; subclasses may override with the
        closed form, which the tests compare against this)."""
        with torch.enable_grad():
            qq = q.detach().requires_grad_(True) if not q.requires_grad else q
            pp = p.detach().requires_grad_(True) if not p.requires_grad else p
            dq, dp = torch.autograd.grad(self.hamiltonian(qq, pp).sum(), (pp, qq), create_graph=create_graph)
        return dq, -dp

    def acceleration(self, q: Tensor, p: Tensor) -> Tensor:
        """``d^2q/dt^2 = d/dt [M(q)^{-1} p]`` (forward-mode derivative along the flow)."""
        dq, dp = self.vector_field(q, p)
        # (primal out, tangent out); torch's annotation also allows an aux output, so index it
        return torch.func.jvp(self.velocity, (q.detach(), p.detach()), (dq, dp))[1]

    def pdot_from_acceleration(self, q: Tensor, v: Tensor, a: Tensor) -> Tensor:
        """``dp/dt = d/dt [M(q) v]`` given the acceleration ``a`` (converts second-order outputs)."""
        return torch.func.jvp(self.momentum, (q, v), (v, a))[1]

    def conserved(self, q: Tensor, p: Tensor) -> dict[str, Tensor]:
        """Conserved quantities of each state: ``energy [B]`` (+ ``momentum``, ``angular_momentum``)."""
        return {"energy": self.hamiltonian(q, p)}

    def simulate(
        self, q0: Tensor, p0: Tensor, steps: int, *, dt: float | None = None, substeps: int | None = None
    ) -> tuple[Tensor, Tensor]:
        """Reference trajectory ``q, p [steps + 1, B, D]`` (RK4, float64, ``substeps`` per frame)."""
        q0, p0 = q0.to(torch.float64), p0.to(torch.float64)

        def f(z):
            return self.vector_field(z[0], z[1])

        with torch.no_grad(), single_thread():
            q, p = odeint(
                f,
                (q0, p0),
                self.dt if dt is None else dt,
                steps,
                method="rk4",
                substeps=self.substeps if substeps is None else substeps,
            )
        return q, p

    def params(self) -> dict:
        return {k: v for k, v in vars(self).items() if isinstance(v, (int, float, str, bool))}


class Spring(MechanicalSystem):
    """Mass-spring ``H = p^2 / (2m) + k q^2 / 2`` (m = k = 1; Greydanus et al. 2019)."""

    dt = 0.1
    substeps = 10

    def __init__(self, mass: float = 1.0, stiffness: float = 1.0):
        self.mass, self.stiffness = mass, stiffness

    def mass_matrix(self, q):
        return torch.full((*q.shape[:-1], 1, 1), self.mass, dtype=q.dtype, device=q.device)

    def velocity(self, q, p):
        return p / self.mass

    def vector_field(self, q, p, create_graph=False):
        return p / self.mass, -self.stiffness * q

    def momentum(self, q, v):
        return v * self.mass

    def potential(self, q):
        return 0.5 * self.stiffness * (q**2).sum(-1)

    def sample(self, n, gen):
        # Greydanus: radius in phase space uniform in [0.1, 1.0]; we use [0.2, 1.0]
        r = 0.2 + 0.8 * torch.rand(n, 1, generator=gen, dtype=torch.float64)
        a = 2 * math.pi * torch.rand(n, 1, generator=gen, dtype=torch.float64)
        q = r * torch.cos(a)
        p = r * torch.sin(a) * math.sqrt(self.mass * self.stiffness)
        return q, p


class Pendulum(MechanicalSystem):
    """Ideal pendulum ``H = p^2 / (2 m l^2) + m g l (1 - cos q)`` (m = l = 1, g = 3: Greydanus)."""

    dt = 0.1
    substeps = 10

    def __init__(self, mass: float = 1.0, length: float = 1.0, g: float = 3.0):
        self.mass, self.length, self.g = mass, length, g

    def mass_matrix(self, q):
        return torch.full((*q.shape[:-1], 1, 1), self.mass * self.length**2, dtype=q.dtype, device=q.device)

    def velocity(self, q, p):
        return p / (self.mass * self.length**2)

    def vector_field(self, q, p, create_graph=False):
        return self.velocity(q, p), -self.mass * self.g * self.length * torch.sin(q)

    def momentum(self, q, v):
        return v * (self.mass * self.length**2)

    def potential(self, q):
        return self.mass * self.g * self.length * (1 - torch.cos(q)).sum(-1)

    def sample(self, n, gen):
        # radius in (q, p) uniform in [1.0, 2.0]: below the separatrix (oscillations)
        r = 1.0 + torch.rand(n, 1, generator=gen, dtype=torch.float64)
        a = 2 * math.pi * torch.rand(n, 1, generator=gen, dtype=torch.float64)
        return r * torch.cos(a), r * torch.sin(a)


class ChainPendulum(MechanicalSystem):
    """Planar chain of ``n`` rigid massless links with point masses at their ends.

    ``q_i`` is the angle of link ``i`` from the downward vertical.  With masses ``m`` and lengths
    ``l`` (all equal): ``M_jk = m l^2 (n - max(j, k)) cos(q_j - q_k)`` (0-based) and
    ``V = -m g l sum_k (n - k) cos q_k``.  Initial angles and angular velocities ~ N(0, 0.5^2).
    """

    dt = 0.05
    substeps = 10

    def __init__(self, n: int, mass: float = 1.0, length: float = 1.0, g: float = 9.81):
        self.n_nodes, self.mass, self.length, self.g = n, mass, length, g

    def _weights(self, q):
        idx = torch.arange(self.n_nodes, device=q.device)
        return (self.n_nodes - torch.maximum(idx[:, None], idx[None, :])).to(q.dtype), (
            self.n_nodes - idx
        ).to(q.dtype)

    def mass_matrix(self, q):
        w, _ = self._weights(q)
        c = torch.cos(q[..., :, None] - q[..., None, :])
        return self.mass * self.length**2 * w * c

    def potential(self, q):
        _, w = self._weights(q)
        return -self.mass * self.g * self.length * (w * torch.cos(q)).sum(-1)

    def sample(self, n, gen):
        q = 0.5 * torch.randn(n, self.n_nodes, generator=gen, dtype=torch.float64)
        v = 0.5 * torch.randn(n, self.n_nodes, generator=gen, dtype=torch.float64)
        return q, self.momentum(q, v)


class Gravity(MechanicalSystem):
    """``N`` bodies of unit mass in ``dim`` dimensions: ``V = -G sum_{i<j} m_i m_j / sqrt(r^2 + eps^2)``.

    Flat coordinates ``q = (x_1, ..., x_N)``; ``p_i = m_i dx_i/dt``.  Conserves energy, total
    momentum and angular momentum (the force law is the softened one of
    :mod:`symzoo.datasets.nbody`).
    """

    dt = 0.05
    substeps = 20
    has_momentum = True

    def __init__(self, n: int, dim: int = 2, softening: float = 0.1, noise: float = 0.05):
        self.n_nodes, self.k, self.softening, self.noise = n, dim, softening, noise
        self.G = 1.0

    def masses(self, like: Tensor) -> Tensor:
        return torch.ones(self.n_nodes, dtype=like.dtype, device=like.device)

    def mass_matrix(self, q):
        m = self.masses(q).repeat_interleave(self.k)
        return torch.diag_embed(m.expand(*q.shape[:-1], -1))

    def velocity(self, q, p):  # diagonal mass matrix: no solve needed
        return p / self.masses(q).repeat_interleave(self.k)

    def momentum(self, q, v):
        return v * self.masses(q).repeat_interleave(self.k)

    def potential(self, q):
        x = q.reshape(*q.shape[:-1], self.n_nodes, self.k)
        diff = x[..., :, None, :] - x[..., None, :, :]
        r2 = (diff**2).sum(-1) + self.softening**2
        iu = torch.triu_indices(self.n_nodes, self.n_nodes, 1, device=q.device)
        m = self.masses(q)
        mm = (m[:, None] * m[None, :])[iu[0], iu[1]]
        r2 = r2[..., iu[0], iu[1]]
        return -self.G * (mm / r2.sqrt()).sum(-1)

    def vector_field(self, q, p, create_graph=False):
        x = q.reshape(-1, self.n_nodes, self.k)
        m = self.masses(q).repeat_interleave(self.k)
        return p / m, (self.accelerations(x).reshape(q.shape) * m)

    def accelerations(self, x: Tensor) -> Tensor:
        """``[B, N, d]`` accelerations, via :func:`symzoo.datasets.nbody._accelerations`."""
        from .nbody import _accelerations

        m = self.masses(x).expand(x.shape[0], -1)
        return self.G * _accelerations(x, m, "gravity", self.softening, None)

    def sample(self, n, gen):
        from symzoo.symmetry import random_rotations

        N, d = self.n_nodes, self.k
        r = 0.5 + torch.rand(n, 1, 1, generator=gen, dtype=torch.float64)
        phi = 2 * math.pi * (torch.arange(N, dtype=torch.float64) / N)
        phi = phi[None, :] + 2 * math.pi * torch.rand(n, 1, generator=gen, dtype=torch.float64)
        ring = torch.stack([torch.cos(phi), torch.sin(phi)], -1)  # [n, N, 2]
        tangent = torch.stack([-torch.sin(phi), torch.cos(phi)], -1)
        x2 = r * ring
        acc = self.accelerations(torch.cat([x2, torch.zeros(n, N, d - 2, dtype=x2.dtype)], -1))[..., :2]
        v_circ = (acc.norm(dim=-1, keepdim=True) * r).sqrt()
        sense = torch.where(torch.rand(n, 1, 1, generator=gen) < 0.5, -1.0, 1.0).double()
        v2 = sense * v_circ * tangent
        x2 = x2 + self.noise * r * torch.randn(x2.shape, generator=gen, dtype=torch.float64)
        v2 = v2 + self.noise * v_circ * torch.randn(v2.shape, generator=gen, dtype=torch.float64)
        x = torch.cat([x2, torch.zeros(n, N, d - 2, dtype=x2.dtype)], -1)
        v = torch.cat([v2, torch.zeros(n, N, d - 2, dtype=v2.dtype)], -1)
        if d == 3:
            rot = random_rotations(n, 3, generator=gen)
            x, v = x @ rot.transpose(-1, -2), v @ rot.transpose(-1, -2)
        m = self.masses(x)[None, :, None]
        x = x - (m * x).sum(1, keepdim=True) / m.sum(1, keepdim=True)
        v = v - (m * v).sum(1, keepdim=True) / m.sum(1, keepdim=True)
        q = x.reshape(n, N * d)
        return q, self.momentum(q, v.reshape(n, N * d))

    def conserved(self, q, p):
        x = q.reshape(*q.shape[:-1], self.n_nodes, self.k)
        pp = p.reshape(*p.shape[:-1], self.n_nodes, self.k)
        out = {"energy": self.hamiltonian(q, p), "momentum": pp.sum(-2)}
        if self.k == 2:
            out["angular_momentum"] = (x[..., 0] * pp[..., 1] - x[..., 1] * pp[..., 0]).sum(-1, keepdim=True)
        else:
            out["angular_momentum"] = torch.linalg.cross(x, pp, dim=-1).sum(-2)
        return out
