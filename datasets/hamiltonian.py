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
graph field ``dt``; the task's :meth:`HamiltonianTask.apply_model` then also rolls the model's
own derivatives out over those frames (differentiable RK4; the model itself only returns
derivatives), and the loss becomes the trajectory-chunk MSE of Finzi et al. (2020) (primary
metric ``traj_mse``).

Models return ``{"dq", "dp"}`` (first-order, canonical) or ``{"dq", "dv"}`` (second-order); the
loss is the mean squared error of the outputs a model returns, and every model is also scored on
the phase-space derivative ``(dq/dt, dp/dt)`` (``deriv_mse``, the primary metric; second-order
outputs are converted with ``dp/dt = d/dt (M(q) v)``).

Every task implements the dynamics protocol (:class:`symzoo.dynamics.Dynamics`): it names its
invariants (:meth:`HamiltonianTask.invariants`: energy; total momentum and angular momentum for
gravity), simulates reference trajectories (:meth:`HamiltonianTask.reference_trajectory`) and
rolls models out (:meth:`HamiltonianTask.rollout`); the rollout metrics live in
:mod:`symzoo.eval.rollout`.  This module holds the tasks; the physics (systems and simulator) is
in :mod:`symzoo.datasets.hamiltonian_systems`, the Z2 mirror group in
:mod:`symzoo.datasets.hamiltonian_group` (both re-exported here).

Samples are all saved frames of ``n_traj`` trajectories per split (trajectories differ between
splits), shuffled once with the data seed.  Data are cached atomically under
``SYMZOO_HOME/datasets/<task>/<preset>-<hash>``.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from symzoo.dynamics import Dynamics, Invariant
from symzoo.errors import InputError, SymzooError, UnknownNameError
from symzoo.groups import FiniteElement, FiniteGroup
from symzoo.integrators import odeint
from symzoo.paths import cached_npz, dataset_cache_dir
from symzoo.registry import register_task
from symzoo.symmetry import POSITION, SCALAR, VECTOR, EuclideanGroup, canonical_frames
from symzoo.task import Field, GraphTensorDataset, Task
from symzoo.taskargs import Arg, ArgSchema

from .hamiltonian_group import MirrorGroup, mirror_sign
from .hamiltonian_systems import ChainPendulum, Gravity, MechanicalSystem, Pendulum, Spring, single_thread

__all__ = [
    "MirrorGroup",
    "mirror_sign",
    "MechanicalSystem",
    "Spring",
    "Pendulum",
    "ChainPendulum",
    "Gravity",
    "HamiltonianTask",
    "single_thread",
    "model_order",
]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- the task
_FIELDS_OUT = ("dq", "dp", "dv")


class HamiltonianTask(Dynamics, Task):
    """Learn the vector field of a Hamiltonian system from states; roll it out (module docstring).

    Implements the dynamics protocol (:class:`symzoo.dynamics.Dynamics`): trajectories are the
    canonical state ``{"q", "p"}: [steps + 1, n_nodes, k]``; invariants are the true energy and,
    for gravity, total momentum and angular momentum."""

    domain = "hamiltonian"
    domain_label = "Hamiltonian systems"
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
    rollout_method = "rk4"

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
        self.unit = unit
        self.time_unit = "s" if unit == _SI else "time units (dimensionless)"
        self.description = description or (system.__doc__ or "").split("\n")[0]
        vec = Field(VECTOR)
        if self.particles:
            self.group = EuclideanGroup(system.k, reflections=True, translations=True, permutations=True)
            self.input_fields = {"q": Field(POSITION), "p": vec, "v": vec, "mass": Field(SCALAR)}
            self.perm_labels = "mass"
        else:
            self.group = MirrorGroup()
            vec = Field(mirror_sign(self.group))
            self.input_fields = {"q": vec, "p": vec, "v": vec}
        self.target_fields = {"dq": vec, "dp": vec, "dv": vec}
        self.output_fields = {"dq": vec, "dp": vec, "dv": vec}
        if self.horizon:  # multi-step targets: the next `horizon` frames (Finzi et al.'s chunks)
            qkind = self.input_fields["q"]
            self.input_fields = {**self.input_fields, "dt": Field(SCALAR, "graph")}
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
            masses = cast(Gravity, sysm).masses(q)  # particles: a gravity system
            node["mass"] = masses[None, :, None].expand(q.shape[0], n, 1).to(torch.float32).clone()
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

    # ------------------------------------------------------------ dynamics protocol
    def reference_key(self, preset: str) -> dict:
        return self._sim_params(preset)

    def reference_trajectory(self, batch, steps: int) -> dict[str, Tensor]:
        """The true flow from the states of ``batch``: ``{"q", "p"}: [steps + 1, n_nodes, k]`` (float64)."""
        q, p = self.simulate(batch, steps)
        k = self.system.k
        return {"q": q.reshape(steps + 1, -1, k), "p": p.reshape(steps + 1, -1, k)}

    def _conserved_along(self, traj: dict[str, Tensor]) -> dict[str, Tensor]:
        t = traj["q"].shape[0]
        d = self.system.dof
        q, p = traj["q"].reshape(t, -1, d), traj["p"].reshape(t, -1, d)
        b = q.shape[1]
        cons = self.conserved(q.reshape(-1, d), p.reshape(-1, d))
        return {k: v.reshape(t, b, -1) for k, v in cons.items()}

    def invariants(self) -> dict[str, Invariant]:
        """True energy ``H(q, p)``; gravity also total momentum and angular momentum (all conserved)."""

        def quantity(key: str):
            def fn(traj, batch):
                x = self._conserved_along(traj)[key]
                return x[..., 0] if key == "energy" else x

            return fn

        def bodies(traj):
            b, k = int(traj["q"].shape[1]) // self.system.n_nodes, self.system.k
            return traj["q"][0].reshape(b, -1, k), traj["p"][0].reshape(b, -1, k)

        def scale_p(traj, batch):
            return bodies(traj)[1].norm(dim=-1).sum(-1).clamp(min=1e-300)

        def scale_l(traj, batch):
            x0, p0 = bodies(traj)
            return (x0.norm(dim=-1) * p0.norm(dim=-1)).sum(-1).clamp(min=1e-300)

        inv = {
            "energy": Invariant(
                quantity("energy"), f"energy, {self.unit}", description="relative |E(t) - E(0)| / |E(0)|"
            )
        }
        if self.system.has_momentum:
            inv["momentum"] = Invariant(
                quantity("momentum"),
                f"momentum, {self.unit}",
                scale=scale_p,
                description="relative to sum |p_i|",
            )
            inv["angular_momentum"] = Invariant(
                quantity("angular_momentum"),
                f"angular momentum, {self.unit}",
                scale=scale_l,
                description="relative to sum |q_i||p_i|",
            )
        return inv

    def apply_model(self, model, batch) -> dict[str, Tensor]:
        """``model(batch)``; with ``horizon`` also the model's own RK4 rollout over the next
        ``horizon`` frames, differentiable (``q_next`` and ``p_next`` or ``v_next``
        ``[n_nodes, H, k]``: the trajectory-chunk loss of Finzi et al. 2020)."""
        out = model(batch)
        if not self.horizon:
            return out
        dt_value = float(batch.dt.reshape(-1)[0])
        static = copy.copy(batch)
        for key in ("q_next", "p_next", "v_next"):
            if key in static:
                del static[key]
        second = "v" if "dv" in out else "p"
        dtype = out["dq"].dtype

        def f(z):
            s = copy.copy(static)
            s.q = z[0]
            setattr(s, second, z[1])
            o = model(s)
            return o["dq"], o["d" + second]

        z0 = (batch.q.to(dtype), getattr(batch, second).to(dtype))
        q, w = odeint(f, z0, dt_value, batch.q_next.shape[1], method="rk4")
        return {**out, "q_next": q[1:].transpose(0, 1), f"{second}_next": w[1:].transpose(0, 1)}

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
                    "multi-step training goes through task.apply_model"
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
        self, model, batch, steps: int, *, method: str = "rk4", dt: float | None = None, **options: Any
    ) -> dict[str, Tensor]:
        """Integrate ``model`` from the states of ``batch`` for ``steps`` steps of ``dt``.

        First-order models (outputs ``dq, dp``) evolve ``(q, p)``; second-order models (outputs
        ``dq, dv``) evolve ``(q, v)`` and their momenta are ``M(q) v``.  Returns node-shaped
        canonical trajectories ``{"q", "p"}: [steps + 1, n_nodes, k]`` (entry 0 = the batch).
        """
        if options:  # the protocol's **options: this task's rollout takes method= and dt= only
            raise InputError(f"{self.name}: rollout options are method= and dt=, not {sorted(options)}")
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
        g: Any
        if self.particles:
            g = canonical_frames(batch.q, batch.batch, b)
        else:
            flip = (batch.q.reshape(b, -1)[:, 0] < 0).long()  # element 1 of C2 is the mirror
            g = FiniteElement(flip, cast(FiniteGroup, self.group))  # MirrorGroup(): C2
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


#: the declared task arguments of the Hamiltonian tasks (``data.task_args.*``; checked by ``get_task``)
HAMILTONIAN_ARGS = ArgSchema(
    {
        "noise": Arg(float, min=0.0, help="standard deviation of the Gaussian noise on the targets"),
        "train_size": Arg(int, min=1, nullable=True, help="training samples"),
        "horizon": Arg(int, min=0, max=20, help="rollout steps of the training loss"),
    }
)
GRAVITY_ARGS = ArgSchema(
    {
        **HAMILTONIAN_ARGS.args,
        "softening": Arg(
            float, min=0.0, nullable=True, help="softening length; null: 0.1 for 2 bodies, else 0.5"
        ),
    }
)


@register_task("spring", args=HAMILTONIAN_ARGS)
def spring(noise: float = 0.0, train_size: int | None = None, horizon: int = 0) -> HamiltonianTask:
    """Mass-spring H = p^2/2 + q^2/2 (Greydanus et al. 2019); Z2 mirror symmetry."""
    return HamiltonianTask(
        "spring", Spring(), unit=_DIMLESS, noise=noise, train_size=train_size, horizon=horizon
    )


@register_task("pendulum", args=HAMILTONIAN_ARGS)
def pendulum(noise: float = 0.0, train_size: int | None = None, horizon: int = 0) -> HamiltonianTask:
    """Ideal pendulum H = p^2/2 + 3(1 - cos q) (Greydanus et al. 2019); Z2 mirror symmetry."""
    return HamiltonianTask(
        "pendulum", Pendulum(), unit=_DIMLESS, noise=noise, train_size=train_size, horizon=horizon
    )


@register_task("double-pendulum", args=HAMILTONIAN_ARGS)
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


@register_task(
    "chain-pendulum", pattern=r"chain-pendulum-(\d+)", example="chain-pendulum-3", args=HAMILTONIAN_ARGS
)
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


@register_task("gravity", pattern=r"gravity-(\d+)", example="gravity-2", args=GRAVITY_ARGS)
def gravity(
    n: str,
    noise: float = 0.0,
    train_size: int | None = None,
    softening: float | None = None,
    horizon: int = 0,
) -> HamiltonianTask:
    """N-body gravity in 2-D (Greydanus 2-body/3-body generalized); E(2) x S_N symmetry."""
    return _gravity(n, 2, "", noise, train_size, softening, horizon)


@register_task("gravity-3d", pattern=r"gravity-(\d+)-3d", example="gravity-3-3d", args=GRAVITY_ARGS)
def gravity_3d(
    n: str,
    noise: float = 0.0,
    train_size: int | None = None,
    softening: float | None = None,
    horizon: int = 0,
) -> HamiltonianTask:
    """N-body gravity in 3-D; E(3) x S_N symmetry."""
    return _gravity(n, 3, "-3d", noise, train_size, softening, horizon)
