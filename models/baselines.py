"""Non-equivariant and trivial baselines for particle dynamics: ``gnn``, ``mlp``, ``linear``.

* ``gnn`` -- message passing on raw coordinates (the GNN of the EGNN paper): permutation
  equivariant, not rotation/translation equivariant.
* ``mlp`` -- an MLP on the flattened coordinates of a fixed-size system: no symmetry at all
  (its ``+aug`` variant in comparisons learns symmetry from augmentation).
* ``linear`` -- constant-velocity extrapolation ``x + tau v`` with one learned ``tau``
  (EGNN's "Linear" baseline); exactly E(3) x S_n equivariant, and a floor for the others.

All three predict a displacement added to the input positions.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from symzoo.errors import InputError
from symzoo.registry import register_model
from symzoo.symmetry import POSITION, SCALAR, VECTOR
from symzoo.task import Field

from ._atoms import AtomisticModel
from .base import SymmetryContract, TaskDescribedKwargs, mlp, segment_sum, task_fields_object

__all__ = ["GNN", "FlatMLP", "EnergyMLP", "LinearDynamics"]


class GNN(SymmetryContract, nn.Module):
    """Message passing on raw coordinates: node input ``[pos, vel, |vel|]``, edge input attr product."""

    symmetry = frozenset({"permutation"})
    input_fields = {"pos": Field(POSITION), "vel": Field(VECTOR), "attr": Field(SCALAR)}
    output_fields = {"pos": Field(POSITION)}

    def __init__(self, hidden: int = 64, layers: int = 4, act: str = "silu", attr_dim: int = 1, dim: int = 3):
        super().__init__()
        self.embed = nn.Linear(2 * dim + 1, hidden)
        self.edge_mlps = nn.ModuleList(
            mlp([2 * hidden + attr_dim, hidden, hidden], act, last_act=True) for _ in range(layers)
        )
        self.node_mlps = nn.ModuleList(mlp([2 * hidden, hidden, hidden], act) for _ in range(layers))
        self.decoder = mlp([hidden, hidden, dim], act)

    def forward(self, batch) -> dict[str, Tensor]:
        """``pos, vel [N, d]``, ``attr [N, k]``, ``edge_index [2, E]`` -> ``{"pos": [N, d]}``."""
        x, v, attr, (row, col) = batch.pos, batch.vel, batch.attr, batch.edge_index
        h = self.embed(torch.cat([x, v, v.norm(dim=-1, keepdim=True)], -1))
        ea = attr[row] * attr[col]
        for em, nm in zip(self.edge_mlps, self.node_mlps):
            m = em(torch.cat([h[row], h[col], ea], -1))
            h = h + nm(torch.cat([h, segment_sum(m, row, h.shape[0])], -1))
        return {"pos": x + self.decoder(h)}


class FlatMLP(TaskDescribedKwargs, SymmetryContract, nn.Module):
    """MLP on the flattened ``[pos, vel, attr]`` of a fixed-size system."""

    symmetry: frozenset[str] = frozenset()
    input_fields = {"pos": Field(POSITION), "vel": Field(VECTOR), "attr": Field(SCALAR)}
    output_fields = {"pos": Field(POSITION)}

    def __init__(
        self,
        n_particles: int = 5,
        hidden: int = 256,
        layers: int = 3,
        act: str = "silu",
        attr_dim: int = 1,
        dim: int = 3,
    ):
        super().__init__()
        if n_particles < 1:
            raise ValueError(f"n_particles must be >= 1, got {n_particles}")
        self.n, self.dim = n_particles, dim
        self.net = mlp([n_particles * (2 * dim + attr_dim)] + [hidden] * layers + [n_particles * dim], act)

    def forward(self, batch) -> dict[str, Tensor]:
        """``pos, vel [B*n, d]``, ``attr [B*n, k]`` with exactly ``n`` nodes per graph -> ``{"pos"}``."""
        x, v, attr = batch.pos, batch.vel, batch.attr
        b = x.shape[0] // self.n
        if b * self.n != x.shape[0] or (hasattr(batch, "num_graphs") and int(batch.num_graphs) != b):
            raise InputError(
                f"mlp was built for systems of {self.n} particles; the batch has "
                f"{x.shape[0]} nodes in {getattr(batch, 'num_graphs', '?')} graphs"
            )
        z = torch.cat([x, v, attr], -1).reshape(b, -1)
        return {"pos": x + self.net(z).reshape(b * self.n, self.dim)}


class LinearDynamics(SymmetryContract, nn.Module):
    """Constant-velocity extrapolation ``x + tau * v`` with a learned time ``tau``."""

    symmetry = frozenset({"rotation", "reflection", "translation", "permutation"})
    input_fields = {"pos": Field(POSITION), "vel": Field(VECTOR)}
    output_fields = {"pos": Field(POSITION)}

    def __init__(self, tau: float = 1.0):
        super().__init__()
        self.tau = nn.Parameter(torch.tensor(float(tau)))

    def forward(self, batch) -> dict[str, Tensor]:
        """``pos, vel [N, d]`` -> ``{"pos": pos + tau * vel}``."""
        return {"pos": batch.pos + self.tau.to(batch.pos.dtype) * batch.vel}


class EnergyMLP(TaskDescribedKwargs, AtomisticModel):
    """Energy of a fixed molecule from its flattened coordinates (the plain baseline of force-field
    comparisons): ``E = scale * MLP(pos.flatten()) + sum_i E0[z_i]``, ``forces = -dE/dpos``.

    Atoms must come in the same order in every structure (true of rMD17 trajectories).  No symmetry
    is built in; ``mlp+aug`` learns it from augmentation.
    """

    symmetry: frozenset[str] = frozenset()
    input_fields = {"pos": Field(POSITION), "z": Field(SCALAR)}
    optional_inputs: frozenset[str] = frozenset()
    output_fields = {"energy": Field(SCALAR, "graph"), "forces": Field(VECTOR)}

    def __init__(self, n_atoms: int, hidden: int = 256, layers: int = 3, act: str = "silu"):
        super().__init__(cutoff=5.0, min_distance=0.0)
        if n_atoms < 1:
            raise ValueError(f"n_atoms must be >= 1, got {n_atoms}")
        self.n = n_atoms
        self.net = mlp([3 * n_atoms] + [hidden] * layers + [1], act)

    def forward(self, batch, *, compute_stress: bool = False) -> dict[str, Tensor]:
        """``pos [B*n, 3]`` (Å), ``z [B*n]`` with exactly ``n`` atoms per structure ->
        ``{"energy": [B] (eV), "forces": [B*n, 3] (eV/Å)}``."""
        z = batch.z.reshape(-1).long()
        dtype = self.atomic_reference.dtype
        pos = batch.pos.to(dtype)
        self._check(z, pos)
        b = pos.shape[0] // self.n
        if b * self.n != pos.shape[0] or int(getattr(batch, "num_graphs", b)) != b:
            raise InputError(
                f"mlp was built for structures of {self.n} atoms; the batch has {pos.shape[0]} "
                f"atoms in {getattr(batch, 'num_graphs', '?')} structures"
            )
        with torch.enable_grad():
            if not pos.requires_grad:
                pos = pos.detach().requires_grad_(True)
            e = self.net(pos.reshape(b, 3 * self.n)).squeeze(-1) * self.energy_scale.to(dtype)
            energy = e + self.atomic_reference.to(dtype)[z].reshape(b, self.n).sum(-1)
            (grad,) = torch.autograd.grad(energy.sum(), [pos], create_graph=self.training)
        return {"energy": energy, "forces": -grad}


@register_model("gnn", domain="nbody")
def gnn(hidden: int = 64, layers: int = 4, act: str = "silu", attr_dim: int = 1, dim: int = 3) -> GNN:
    """Message-passing GNN on raw coordinates (EGNN paper's GNN baseline); permutation equivariant only."""
    return GNN(hidden, layers, act, attr_dim, dim)


def _plain_mlps() -> dict[str, Any]:
    """The plain MLPs the ``mlp`` builder chooses from, by the fields of the task (first that fits);
    a new kind of task with its own field layout adds its class here."""
    from .emlp import RobotMLP
    from .flowmaps import FlowMLP

    return {"positions": FlatMLP, "energy": EnergyMLP, "flow": FlowMLP, "robot": RobotMLP}


def _mlp_problem(task: Any) -> str | None:
    """Why no plain MLP layout fits ``task`` (``None`` when one does)."""
    obj = task_fields_object(task)
    problems = []
    for cls in _plain_mlps().values():
        problem = cls.fit_problem(obj)
        if problem is None:
            return None
        problems.append(f"{cls.__name__}: {problem}")
    return "no plain MLP layout fits its fields (" + "; ".join(problems) + ")"


@register_model("mlp", domain="nbody")
def flat_mlp(
    n_particles: int = 5,
    hidden: int = 256,
    layers: int = 3,
    act: str = "silu",
    attr_dim: int = 1,
    dim: int = 3,
    target: str | None = None,
    task: Any = None,
) -> nn.Module:
    """MLP from the task's flattened input fields to its output fields; no built-in symmetry.

    The layout follows the fields of ``task`` (a task instance, its registered name, or the JSON
    description a task's ``model_defaults`` passes): the first of the plain MLPs whose declared
    contract fits them (:meth:`SymmetryContract.fit_problem`): particle positions and velocities ->
    positions (:class:`FlatMLP`, ``n_particles`` nodes of dimension ``dim``), positions and species
    -> an energy and its forces by autograd (:class:`EnergyMLP`, ``n_particles`` atoms), a window of
    states -> the next state (:class:`~symzoo.models.flowmaps.FlowMLP`, sizes from the window's
    declared shape), a robot's joint fields -> its outputs (:class:`~symzoo.models.emlp.RobotMLP`).
    Without a task: the N-body :class:`FlatMLP`.  ``target`` (``"positions"``, ``"energy"``,
    ``"robot"``, ``"flow"``) names a layout explicitly; **deprecated** (model files written before
    the layout followed the fields record it, and still load).
    """
    layouts = _plain_mlps()
    obj = None if task is None else task_fields_object(task)
    if target is not None:
        if target not in layouts:
            raise ValueError(f"mlp target must be one of {', '.join(layouts)}, got {target!r}")
        cls = layouts[target]
    elif obj is None:
        cls = layouts["positions"]
    else:
        cls = next((c for c in layouts.values() if c.fit_problem(obj) is None), None)
        if cls is None:
            raise ValueError(
                f"mlp cannot be built on task {getattr(obj, 'name', obj)!r}: {_mlp_problem(obj)}"
            )
    if cls is layouts["robot"]:
        from .emlp import robot_mlp

        return robot_mlp(task=task, hidden=hidden, layers=layers, act=act)
    if cls is layouts["flow"]:
        x = getattr(obj, "input_fields", {}).get("x") if obj is not None else None
        if x is not None and x.shape is not None and len(x.shape) == 2:
            n_particles, dim = int(x.shape[0]), int(x.shape[1])  # a window of states [W, D]
        return cls(window=n_particles, dim=dim, hidden=hidden, layers=layers, act=act)
    if cls is layouts["energy"]:
        return cls(n_particles, hidden, layers, act)
    return cls(n_particles, hidden, layers, act, attr_dim, dim)


flat_mlp.fit_problem = _mlp_problem


@register_model("linear", domain="nbody")
def linear(tau: float = 1.0) -> LinearDynamics:
    """Constant-velocity extrapolation x + tau v (EGNN's linear baseline); E(3) x S_n equivariant."""
    return LinearDynamics(tau)
