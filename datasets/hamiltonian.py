"""Hamiltonian systems: mass-spring, pendulum, double and chain pendulums, N-body gravity.

Every system is a natural mechanical system ``H(q, p) = 1/2 p^T M(q)^{-1} p + V(q)`` in canonical
coordinates, simulated in float64 with classical RK4 (``substeps`` internal steps between saved
frames) from :mod:`symzoo.integrators`; derivatives come from autograd of the analytic ``H``.

Tasks (all ``needs_grad = True``, ``has_dynamics = True``):

==================  ===============================================  ======================  =====
task                system                                           symmetry group           dt
==================  ===============================================  ======================  =====
``spring``          1-D harmonic oscillator, ``H = p^2/2 + q^2/2``    Z2 mirror (q,p)->(-q,-p) 0.1
``pendulum``        ideal pendulum, ``H = p^2/2 + 3 (1 - cos q)``      Z2 mirror                0.1
``double-pendulum`` two unit links, unit point masses, g = 9.81       Z2 mirror                0.05
``chain-pendulum-N`` N unit links (angles from the vertical), g=9.81  Z2 mirror                0.05
``gravity-N``       N unit masses in 2-D, G = 1, softening eps         E(2) x S_N               0.05
``gravity-N-3d``    N unit masses in 3-D, G = 1, softening eps         E(3) x S_N               0.05
==================  ===============================================  ======================  =====

Spring and pendulum follow Greydanus et al. (2019) (dimensionless; same Hamiltonians and
initial-condition radii, noise-free by default -- ``noise=0.1`` reproduces their noisy data:
Gaussian noise on the observed training states, exact derivative targets).
The pendulums are in generalized coordinates (angles from the downward vertical; SI units).
``gravity-N`` generalizes Greydanus's 2-body/3-body data: N bodies on a ring of radius
U(0.5, 1.5) with near-circular velocities plus 5 % noise, centre of mass at rest at the origin,
random orientation and sense of rotation (so the data have the full E(d) symmetry).  Plummer
softening ``eps`` (task argument ``softening``) defaults to 0.1 for 2 bodies and 0.5 for N >= 3,
whose rings break up into close encounters that RK4 rollouts at ``dt = 0.05`` must resolve.

Batches (one graph per state; nodes are degrees of freedom for pendulums/spring -- one node per
link, ``k = 1`` component -- and bodies for gravity, ``k = d`` components):

* inputs ``q, p`` (canonical coordinates) and ``v = dq/dt`` (generalized velocity, for
  second-order models), ``[n_nodes, k]``; gravity adds ``mass [n_nodes, 1]``;
* targets ``dq, dp`` (Hamilton's equations) and ``dv`` (generalized acceleration), ``[n_nodes, k]``.

With ``horizon=H`` (task argument; ``data.task_args.horizon=4`` on the command line) samples also
carry multi-step targets ``q_next, p_next, v_next [n_nodes, H, k]`` (the next H frames) and the
graph field ``dt``; symzoo's Hamiltonian models then also return their own differentiable RK4
rollouts over those frames, and the loss becomes the trajectory-chunk MSE of Finzi et al. (2020)
(primary metric ``traj_mse``).

Models return ``{"dq", "dp"}`` (first-order, canonical) or ``{"dq", "dv"}`` (second-order); the
loss is the mean squared error of the outputs a model returns, and every model is also scored on
the phase-space derivative ``(dq/dt, dp/dt)`` (``deriv_mse``, the primary metric; second-order
outputs are converted with ``dp/dt = d/dt (M(q) v)``).

Each task knows its conserved quantities (:meth:`HamiltonianTask.conserved`: energy; total
momentum and angular momentum for gravity), simulates reference trajectories
(:meth:`HamiltonianTask.simulate`) and rolls models out (:meth:`HamiltonianTask.rollout`); the
rollout metrics live in :mod:`symzoo.eval.rollout`.

Samples are all saved frames of ``n_traj`` trajectories per split (trajectories differ between
splits), shuffled once with the data seed.  Data are cached atomically under
``SYMZOO_HOME/datasets/<task>/<preset>-<hash>``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math

import numpy as np
import torch
from torch import Tensor

from symzoo.errors import InputError, SymzooError, UnknownNameError
from symzoo.integrators import odeint
from symzoo.paths import cached_npz, dataset_cache_dir
from symzoo.registry import register_task
from symzoo.symmetry import EuclideanGroup, Group, GroupElement, canonical_frames
from symzoo.task import Field, GraphTensorDataset, Task

__all__ = [
    "MirrorGroup",
    "MechanicalSystem",
    "Spring",
    "Pendulum",
    "ChainPendulum",
    "Gravity",
    "HamiltonianTask",
]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def single_thread():
    """Run a block with one torch intra-op thread (restored afterwards).

    Simulations and rollouts work on tiny tensors, where thread synchronisation dominates: on a
    loaded machine one thread is 10-50x faster than several.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


# ----------------------------------------------------------------------------- symmetry
class MirrorGroup(Group):
    """Z2 acting on generalized coordinates by a sign flip ``(q, p, v) -> (-q, -p, -v)``.

    The mirror image of a pendulum through the vertical plane (or of a spring through its rest
    point).  Elements are stored as 1-D "rotations" ``rot = [[+-1]]`` so that fields of kind
    ``vector`` with one component transform with :func:`symzoo.symmetry.act_field`.
    Sampling the ``reflection`` factor gives the mirror; sampling the whole group (``factors=None``)
    draws +-1 uniformly per graph (augmentation).
    """

    name = "Z2 (mirror)"
    factors = ("reflection",)
    dim = 1

    def identity(self, num_graphs: int, dtype: torch.dtype = torch.float64) -> GroupElement:
        return GroupElement(
            torch.ones(num_graphs, 1, 1, dtype=dtype), torch.zeros(num_graphs, 1, dtype=dtype)
        )

    def sample(
        self,
        num_graphs: int,
        *,
        batch=None,
        labels=None,
        factors=None,
        generator=None,
        dtype: torch.dtype = torch.float64,
    ) -> GroupElement:
        if factors is not None:
            factors = set(factors)
            unknown = factors - set(self.factors)
            if unknown:
                raise ValueError(
                    f"group {self.name} has no factor(s) {sorted(unknown)}; it has {self.factors}"
                )
        g = self.identity(num_graphs, dtype)
        if factors is None:
            sign = torch.where(torch.rand(num_graphs, generator=generator) < 0.5, -1.0, 1.0)
            g.rot = sign.to(dtype)[:, None, None]
        elif "reflection" in factors:
            g.rot = -g.rot
        return g


# ----------------------------------------------------------------------------- systems
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
        _, a = torch.func.jvp(self.velocity, (q.detach(), p.detach()), (dq, dp))
        return a

    def pdot_from_acceleration(self, q: Tensor, v: Tensor, a: Tensor) -> Tensor:
        """``dp/dt = d/dt [M(q) v]`` given the acceleration ``a`` (converts second-order outputs)."""
        _, pdot = torch.func.jvp(self.momentum, (q, v), (v, a))
        return pdot

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


# ----------------------------------------------------------------------------- the task
_FIELDS_OUT = ("dq", "dp", "dv")


class HamiltonianTask(Task):
    """Learn the vector field of a Hamiltonian system from states; roll it out (module docstring)."""

    domain = "hamiltonian"
    needs_grad = True
    has_dynamics = True
    primary_metric = "deriv_mse"
    presets = {
        "tiny": {"train": 16, "val": 4, "test": 4, "frames": 25, "data_seed": 11},
        "small": {"train": 100, "val": 20, "test": 20, "frames": 50, "data_seed": 11},
        "paper": {"train": 800, "val": 100, "test": 100, "frames": 50, "data_seed": 11},
    }
    #: default rollout horizon (steps of ``dt``) of :func:`symzoo.eval.rollout.rollout_metrics`
    rollout_steps = 1000

    def __init__(
        self,
        name: str,
        system: MechanicalSystem,
        *,
        unit: str,
        noise: float = 0.0,
        train_size: int | None = None,
        description: str = "",
        horizon: int = 0,
    ):
        self.name, self.system, self.noise, self.train_size = name, system, float(noise), train_size
        if not 0 <= int(horizon) <= 20:
            raise SymzooError(f"{name}: horizon must be between 0 and 20 steps, got {horizon}")
        self.horizon = int(horizon)
        self.particles = isinstance(system, Gravity)
        self.dt = system.dt
        self.description = description or (system.__doc__ or "").split("\n")[0]
        vec = Field("vector")
        if self.particles:
            self.domain = "hamiltonian-particles"  # the domain of ehnn (the registry tests pair them)
            self.group = EuclideanGroup(system.k, reflections=True, translations=True, permutations=True)
            self.input_fields = {"q": Field("position"), "p": vec, "v": vec, "mass": Field("scalar")}
            self.perm_labels = "mass"
        else:
            self.group = MirrorGroup()
            self.input_fields = {"q": vec, "p": vec, "v": vec}
        self.target_fields = {"dq": vec, "dp": vec, "dv": vec}
        self.output_fields = {"dq": vec, "dp": vec, "dv": vec}
        if self.horizon:  # multi-step targets: the next `horizon` frames (Finzi et al.'s chunks)
            qkind = self.input_fields["q"]
            self.input_fields = {**self.input_fields, "dt": Field("scalar", "graph")}
            future = {"q_next": qkind, "p_next": vec, "v_next": vec}
            self.target_fields = {**self.target_fields, **future}
            self.output_fields = {**self.output_fields, **future}
            self.primary_metric = "traj_mse"
        self.units = {
            "deriv_mse": f"squared phase-space derivative, {unit}",
            "dq_mse": f"(dq/dt)^2, {unit}",
            "dp_mse": f"(dp/dt)^2, {unit}",
            "dv_mse": f"(d^2q/dt^2)^2, {unit}",
            "traj_mse": f"squared canonical state over the next `horizon` frames, {unit}",
            "rollout_error": "relative, geometric mean over the horizon",
            "energy_drift": "relative |E(t) - E(0)| / |E(0)|, mean over the horizon",
            "energy_drift_final": "relative, at the end of the horizon",
            "energy_mse": f"squared energy, {unit} (Greydanus et al. 2019)",
            "valid_time": f"time units ({unit})",
            "momentum_drift": "relative to sum |p_i|",
            "angular_momentum_drift": "relative to sum |q_i||p_i|",
        }

    # ------------------------------------------------------------ shapes
    def _flat(self, x: Tensor, num_graphs: int) -> Tensor:
        return x.reshape(num_graphs, self.system.dof)

    def _nodes(self, x: Tensor) -> Tensor:
        return x.reshape(-1, self.system.k)

    def state(self, batch) -> tuple[Tensor, Tensor]:
        """Flat canonical state ``q, p [B, D]`` of a batch."""
        b = int(batch.num_graphs)
        return self._flat(batch.q, b), self._flat(batch.p, b)

    # ------------------------------------------------------------ data
    def _sim_params(self, preset: str) -> dict:
        cfg = self.presets[preset]
        return {
            "system": type(self.system).__name__,
            "system_params": self.system.params(),
            "dt": self.system.dt,
            "substeps": self.system.substeps,
            "frames": cfg["frames"],
            "sizes": [cfg["train"], cfg["val"], cfg["test"]],
            "seed": cfg["data_seed"],
            "version": 1,
        }

    def trajectories(self, preset: str | None = None) -> dict[str, np.ndarray]:
        """Cached reference trajectories ``{split}_q, {split}_p [n_traj, frames, D]`` (float64)."""
        preset = preset or self.default_preset
        self.check_preset(preset)
        params = self._sim_params(preset)
        path = dataset_cache_dir(self.name, preset, params) / "data.npz"
        cfg = self.presets[preset]

        def make() -> dict[str, np.ndarray]:
            arrays = {}
            for i, split in enumerate(("train", "val", "test")):
                gen = torch.Generator().manual_seed(cfg["data_seed"] * 1000 + i)
                q0, p0 = self.system.sample(cfg[split], gen)
                q, p = self.system.simulate(q0, p0, cfg["frames"] - 1)
                arrays[f"{split}_q"] = q.transpose(0, 1).numpy()
                arrays[f"{split}_p"] = p.transpose(0, 1).numpy()
            return arrays

        return cached_npz(path, make, what=f"{self.name}/{preset}")

    def _samples(
        self, q: Tensor, p: Tensor, seed: int, noise: float, future: tuple[Tensor, Tensor] | None = None
    ) -> GraphTensorDataset:
        """Dataset of states ``q, p [S, D]`` (float64) with analytic derivative targets and, with
        ``future = (q_next, p_next) [S, H, D]``, multi-step targets ``q_next, p_next, v_next [n, H, k]``."""
        sysm = self.system
        with single_thread():
            v = sysm.velocity(q, p)
            dq, dp = sysm.vector_field(q, p)
            dv = sysm.acceleration(q, p)
        if noise > 0:  # Greydanus et al.: Gaussian noise on the observed states, exact derivative targets
            gen = torch.Generator().manual_seed(seed)
            q, p, v = (x + noise * torch.randn(x.shape, generator=gen, dtype=x.dtype) for x in (q, p, v))
        n, k = sysm.n_nodes, sysm.k
        node = {
            name: x.reshape(-1, n, k).to(torch.float32)
            for name, x in (("q", q), ("p", p), ("v", v), ("dq", dq), ("dp", dp), ("dv", dv))
        }
        edge_index = None
        if self.particles:
            node["mass"] = sysm.masses(q)[None, :, None].expand(q.shape[0], n, 1).to(torch.float32).clone()
            src, dst = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            mask = src != dst
            edge_index = torch.stack([src[mask], dst[mask]])
        graph = {}
        if future is not None:
            qn, pn = future
            h = qn.shape[1]
            with single_thread():
                vn = sysm.velocity(qn, pn)
            for name, x in (("q_next", qn), ("p_next", pn), ("v_next", vn)):
                node[name] = x.reshape(-1, h, n, k).transpose(1, 2).to(torch.float32).contiguous()
            graph["dt"] = torch.full((q.shape[0],), float(sysm.dt), dtype=torch.float32)
        return GraphTensorDataset(node, graph, edge_index=edge_index)

    def splits(self, preset: str | None = None, seed: int = 0):
        preset = preset or self.default_preset
        arrays = self.trajectories(preset)
        cfg = self.presets[preset]
        out = []
        for i, split in enumerate(("train", "val", "test")):
            qa, pa = torch.from_numpy(arrays[f"{split}_q"]), torch.from_numpy(arrays[f"{split}_p"])
            h, frames, d = self.horizon, qa.shape[1], self.system.dof
            if h >= frames:
                raise SymzooError(
                    f"{self.name}/{preset}: horizon {h} needs more than {frames} frames per trajectory"
                )
            q, p = qa[:, : frames - h].reshape(-1, d), pa[:, : frames - h].reshape(-1, d)
            order = torch.randperm(q.shape[0], generator=torch.Generator().manual_seed(cfg["data_seed"] + i))
            future = None
            if h:
                qn = torch.stack([qa[:, 1 + j : frames - h + 1 + j] for j in range(h)], 2).reshape(-1, h, d)
                pn = torch.stack([pa[:, 1 + j : frames - h + 1 + j] for j in range(h)], 2).reshape(-1, h, d)
                future = (qn[order], pn[order])
            ds = self._samples(
                q[order], p[order], cfg["data_seed"] * 7 + i, self.noise if split == "train" else 0.0, future
            )
            ds.meta = {"split": split, "preset": preset}
            out.append(ds)
        if self.train_size is not None:
            if not 1 <= self.train_size <= len(out[0]):
                raise SymzooError(
                    f"{self.name}/{preset} has {len(out[0])} training samples; "
                    f"train_size={self.train_size} is not possible"
                )
            out[0] = out[0].subset(range(self.train_size))
        return tuple(out)

    def initial_batch(
        self,
        preset: str | None = None,
        split: str = "test",
        n: int | None = None,
        dtype: torch.dtype = torch.float64,
    ):
        """A batch of the first frames of ``split``'s trajectories (float64 by default): the
        initial conditions of rollouts."""
        if split not in ("train", "val", "test"):
            raise SymzooError(f"split must be train, val or test, not {split!r}")
        arrays = self.trajectories(preset)
        q = torch.from_numpy(arrays[f"{split}_q"][:, 0])
        p = torch.from_numpy(arrays[f"{split}_p"][:, 0])
        if n is not None:
            if n < 1:
                raise SymzooError(f"the number of rollout trajectories must be >= 1, got {n}")
            q, p = q[:n], p[:n]
        ds = self._samples(q, p, 0, 0.0)
        b = ds.__getitems__(list(range(len(ds))))
        for name in ("q", "p"):  # keep the exact float64 initial states
            setattr(b, name, self._nodes(q if name == "q" else p))
        from symzoo.task import cast_batch

        return cast_batch(b, dtype)

    # ------------------------------------------------------------ physics
    def energy(self, q: Tensor, p: Tensor) -> Tensor:
        """True energy of flat states ``[..., D]``."""
        return self.system.hamiltonian(q, p)

    def conserved(self, q: Tensor, p: Tensor) -> dict[str, Tensor]:
        """True conserved quantities of flat states (``energy``; gravity: ``momentum``,
        ``angular_momentum``)."""
        return self.system.conserved(q, p)

    def simulate(self, batch, steps: int) -> tuple[Tensor, Tensor]:
        """Reference trajectory from a batch's states: flat ``q, p [steps + 1, B, D]`` (float64)."""
        q, p = self.state(batch)
        return self.system.simulate(q, p, steps)

    # ------------------------------------------------------------ training
    def validate_batch(self, batch) -> None:
        super().validate_batch(batch)
        n = self.system.n_nodes
        if batch.q.shape[0] != n * int(batch.num_graphs):
            raise InputError(
                f"{self.name}: every state must have {n} node(s); got {batch.q.shape[0]} nodes "
                f"for {int(batch.num_graphs)} states"
            )

    def _pdot(self, out, batch) -> Tensor:
        if "dp" in out:
            return out["dp"]
        if "dv" not in out:
            raise InputError(f"{self.name}: model outputs must contain 'dp' or 'dv', got {sorted(out)}")
        b = int(batch.num_graphs)
        q, v, a = (self._flat(x, b) for x in (batch.q, batch.v, out["dv"]))
        return self._nodes(self.system.pdot_from_acceleration(q.to(a.dtype), v.to(a.dtype), a))

    def _future_p(self, out, batch) -> Tensor:
        """Predicted ``p`` over the horizon ``[n_nodes, H, k]`` (second-order outputs via ``M(q) v``)."""
        if "p_next" in out:
            return out["p_next"]
        qn, vn = out["q_next"], out["v_next"]
        b, h = int(batch.num_graphs), qn.shape[1]

        def flat(x):
            return x.transpose(0, 1).reshape(h, b, -1)

        p = self.system.momentum(flat(qn), flat(vn))
        return p.reshape(h, -1, qn.shape[-1]).transpose(0, 1)

    def loss(self, out, batch) -> Tensor:
        if self.horizon:
            if "q_next" not in out:
                raise InputError(
                    f"{self.name} (horizon {self.horizon}): the model returned no 'q_next' rollout; "
                    "multi-step training needs a symzoo Hamiltonian model"
                )
            second = "p_next" if "p_next" in out else "v_next"
            return (
                ((out["q_next"] - batch.q_next.to(out["q_next"].dtype)) ** 2).mean()
                + ((out[second] - getattr(batch, second).to(out[second].dtype)) ** 2).mean()
            ) / 2
        keys = [k for k in _FIELDS_OUT if k in out]
        if not keys:
            raise InputError(f"{self.name}: model outputs must contain dq and dp (or dv), got {sorted(out)}")
        return sum(((out[k] - getattr(batch, k).to(out[k].dtype)) ** 2).mean() for k in keys) / len(keys)

    def metrics(self, out, batch) -> dict[str, Tensor]:
        dq = out["dq"]
        pdot = self._pdot(out, batch)
        e_q = ((dq - batch.dq.to(dq.dtype)) ** 2).mean()
        e_p = ((pdot - batch.dp.to(pdot.dtype)) ** 2).mean()
        m = {"deriv_mse": (e_q + e_p) / 2, "dq_mse": e_q, "dp_mse": e_p}
        if "dv" in out:
            m["dv_mse"] = ((out["dv"] - batch.dv.to(out["dv"].dtype)) ** 2).mean()
        if self.horizon and "q_next" in out:
            pn = self._future_p(out, batch)
            m["traj_mse"] = (
                ((out["q_next"] - batch.q_next.to(pn.dtype)) ** 2).mean()
                + ((pn - batch.p_next.to(pn.dtype)) ** 2).mean()
            ) / 2
        return m

    # ------------------------------------------------------------ rollouts
    def rollout(
        self, model, batch, steps: int, *, method: str = "rk4", dt: float | None = None
    ) -> dict[str, Tensor]:
        """Integrate ``model`` from the states of ``batch`` for ``steps`` steps of ``dt``.

        First-order models (outputs ``dq, dp``) evolve ``(q, p)``; second-order models (outputs
        ``dq, dv``) evolve ``(q, v)`` and their momenta are ``M(q) v``.  Returns node-shaped
        canonical trajectories ``{"q", "p"}: [steps + 1, n_nodes, k]`` (entry 0 = the batch).
        """
        from symzoo.integrators import odeint

        dt = self.dt if dt is None else dt
        order = model_order(model, batch)
        static = copy.copy(batch)
        for key in ("q", "p", "v", "dq", "dp", "dv", "q_next", "p_next", "v_next"):
            if key in static:
                del static[key]
        b = int(batch.num_graphs)
        if order == 1:

            def f(z):
                s = copy.copy(static)
                s.q, s.p = z
                out = model(s)
                return out["dq"], out["dp"]

            q, p = odeint(f, (batch.q, batch.p), dt, steps, method=method)
            return {"q": q, "p": p}

        def f2(z):
            s = copy.copy(static)
            s.q, s.v = z
            out = model(s)
            return out.get("dq", z[1]), out["dv"]

        qf, pf = self.state(batch)
        v0 = self._nodes(self.system.velocity(qf, pf))
        q, v = odeint(f2, (batch.q, v0), dt, steps, method=method)
        p = self.system.momentum(q.reshape(steps + 1, b, -1), v.reshape(steps + 1, b, -1))
        return {"q": q, "p": p.reshape(q.shape)}

    def restrict(self, dataset: GraphTensorDataset) -> GraphTensorDataset:
        """Orbit-study restriction: gravity systems moved to their canonical pose (centroid at 0,
        principal axes on the coordinate axes); mirror systems flipped so ``q`` of the first node
        is >= 0."""
        batch = dataset.__getitems__(list(range(len(dataset))))
        b = int(batch.num_graphs)
        if self.particles:
            g = canonical_frames(batch.q, batch.batch, b)
        else:
            s = torch.where(batch.q.reshape(b, -1)[:, 0] < 0, -1.0, 1.0).to(batch.q.dtype)
            g = GroupElement(s[:, None, None], torch.zeros(b, 1, dtype=batch.q.dtype))
        moved = self.act(g, batch)
        n = dataset.n_nodes
        fields = [k for k in {**self.input_fields, **self.target_fields}]
        return dataset.with_fields(
            **{k: getattr(moved, k).reshape(b, n, *getattr(moved, k).shape[1:]) for k in fields}
        )


def model_order(model, batch=None) -> int:
    """1 for first-order models (outputs ``dq, dp``), 2 for second-order ones (``dq, dv``)."""
    order = getattr(model, "order", None)
    if order in (1, 2):
        return order
    if batch is None:
        raise ValueError("model_order needs a batch for models without an `order` attribute")
    with torch.enable_grad():
        out = model(batch)
    return 1 if "dp" in out else 2


# ----------------------------------------------------------------------------- registry
_DIMLESS = "dimensionless"
_SI = "SI: rad, kg m^2/s, s"


@register_task("spring")
def spring(noise: float = 0.0, train_size: int | None = None, horizon: int = 0) -> HamiltonianTask:
    """Mass-spring H = p^2/2 + q^2/2 (Greydanus et al. 2019); Z2 mirror symmetry."""
    return HamiltonianTask(
        "spring", Spring(), unit=_DIMLESS, noise=noise, train_size=train_size, horizon=horizon
    )


@register_task("pendulum")
def pendulum(noise: float = 0.0, train_size: int | None = None, horizon: int = 0) -> HamiltonianTask:
    """Ideal pendulum H = p^2/2 + 3(1 - cos q) (Greydanus et al. 2019); Z2 mirror symmetry."""
    return HamiltonianTask(
        "pendulum", Pendulum(), unit=_DIMLESS, noise=noise, train_size=train_size, horizon=horizon
    )


@register_task("double-pendulum")
def double_pendulum(noise: float = 0.0, train_size: int | None = None, horizon: int = 0) -> HamiltonianTask:
    """Double pendulum (unit masses and links, g = 9.81) in angles; Z2 mirror symmetry."""
    return HamiltonianTask(
        "double-pendulum",
        ChainPendulum(2),
        unit=_SI,
        noise=noise,
        train_size=train_size,
        horizon=horizon,
        description="double pendulum (unit point masses, unit links, g = 9.81), angles",
    )


@register_task("chain-pendulum", pattern=r"chain-pendulum-(\d+)", example="chain-pendulum-3")
def chain_pendulum(
    n: str, noise: float = 0.0, train_size: int | None = None, horizon: int = 0
) -> HamiltonianTask:
    """Chain of N pendulum links (Finzi et al. 2020 system, in angles); Z2 mirror symmetry."""
    n_links = int(n)
    if not 1 <= n_links <= 10:
        raise UnknownNameError(f"chain-pendulum-N needs 1 <= N <= 10 links, got {n_links}")
    return HamiltonianTask(
        f"chain-pendulum-{n_links}",
        ChainPendulum(n_links),
        unit=_SI,
        noise=noise,
        train_size=train_size,
        horizon=horizon,
        description=f"chain of {n_links} pendulum links (unit masses and links, g = 9.81), angles",
    )


def _gravity(
    n: str, dim: int, suffix: str, noise: float, train_size, softening: float | None, horizon: int
) -> HamiltonianTask:
    n_bodies = int(n)
    if not 2 <= n_bodies <= 20:
        raise UnknownNameError(f"gravity-N needs 2 <= N <= 20 bodies, got {n_bodies}")
    if softening is None:
        # N >= 3 rings break up into close encounters; with eps = 0.5 RK4 at the task's dt = 0.05
        # still resolves them (the exact vector field rolled out 1000 steps drifts 2e-5 in energy,
        # against ~5 with eps = 0.1).  Two near-circular bodies never come close: eps = 0.1.
        softening = 0.1 if n_bodies == 2 else 0.5
    if softening < 0:
        raise SymzooError(f"softening must be >= 0, got {softening}")
    return HamiltonianTask(
        f"gravity-{n_bodies}{suffix}",
        Gravity(n_bodies, dim, softening),
        unit=_DIMLESS,
        noise=noise,
        train_size=train_size,
        horizon=horizon,
        description=f"{n_bodies} unit masses in {dim}-D, G = 1, softening {softening}, "
        "near-circular ring orbits",
    )


@register_task("gravity", pattern=r"gravity-(\d+)", example="gravity-2")
def gravity(
    n: str,
    noise: float = 0.0,
    train_size: int | None = None,
    softening: float | None = None,
    horizon: int = 0,
) -> HamiltonianTask:
    """N-body gravity in 2-D (Greydanus 2-body/3-body generalized); E(2) x S_N symmetry."""
    return _gravity(n, 2, "", noise, train_size, softening, horizon)


@register_task("gravity-3d", pattern=r"gravity-(\d+)-3d", example="gravity-3-3d")
def gravity_3d(
    n: str,
    noise: float = 0.0,
    train_size: int | None = None,
    softening: float | None = None,
    horizon: int = 0,
) -> HamiltonianTask:
    """N-body gravity in 3-D; E(3) x S_N symmetry."""
    return _gravity(n, 3, "-3d", noise, train_size, softening, horizon)
