"""Hamiltonian and Lagrangian networks and their neural-ODE baselines.

All models read a batch of states of a :mod:`symzoo.datasets.hamiltonian` task -- canonical
coordinates ``q, p [n_nodes, k]``, generalized velocities ``v [n_nodes, k]`` and, for particle
systems, ``mass [n_nodes, 1]`` and a fully connected ``edge_index`` -- and return time
derivatives:

=========  ===========================================================  ===============  ==========
name       dynamics                                                     outputs          symmetry
=========  ===========================================================  ===============  ==========
``hnn``    scalar ``H = MLP(q, p)``; ``(dH/dp, -dH/dq)`` (Greydanus 2019)  ``dq, dp``       none
``lnn``    scalar ``L = MLP(q, v)``; Euler-Lagrange accelerations         ``dq = v, dv``   none
           ``(d2L/dv2)^-1 (dL/dq - d2L/dv dq v)`` (Cranmer 2020)
``node``   first-order neural ODE ``(dq, dp) = MLP(q, p)``                 ``dq, dp``       none
``node2``  second-order neural ODE ``dv = MLP(q, v)`` (Gruver 2022)       ``dq = v, dv``   none
``ehnn``   ``H = sum_i phi(h_i)``, ``h`` from an EGNN on ``(q, p, mass)``;    ``dq, dp``       E(d) x S_N
           ``(dH/dp, -dH/dq)``: conservative and E(n)-equivariant
=========  ===========================================================  ===============  ==========

The MLP models act on the flattened state of one system (``n_nodes * k`` coordinates); their
layers are *lazy*: the input size is read from the first batch, so one builder serves every
task (``state_dim=`` makes them eager).  Smooth activations (tanh, softplus, silu) are required
because the dynamics differentiate the network.  Gradients are enabled inside ``forward`` (the
models work under ``torch.no_grad``); the returned derivatives keep their autograd graph only when
gradients are enabled by the caller (training), so long rollouts under ``no_grad`` stay cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from symzoo.contract import ANY
from symzoo.errors import InputError
from symzoo.registry import register_model
from symzoo.symmetry import POSITION, SCALAR, VECTOR
from symzoo.task import Field

from .base import ACTIVATIONS, SymmetryContract, mlp, segment_sum, task_fields_object

__all__ = ["LazyMLP", "HNN", "LNN", "NeuralODE", "NeuralODE2", "EHNN"]

_SMOOTH = ("tanh", "softplus", "silu", "gelu")


def _check_act(act: str, who: str) -> None:
    if act not in _SMOOTH:
        raise ValueError(
            f"{who} differentiates its network, so it needs a smooth activation "
            f"({', '.join(_SMOOTH)}), not {act!r}"
        )


class LazyMLP(nn.Module):
    """MLP ``in -> hidden... -> out`` that takes its input size (and, with ``out="same"`` or
    ``"half"``, its output size) from the first input ``x [B, in]`` it sees, unless ``in_features``
    is given.  Initialised like ``nn.Linear``.

    Until then its input-facing weights are empty placeholders (so ``parameters()`` can be listed and
    counted -- the count grows at the first forward).  Sizing keeps the ``Parameter`` objects and
    only replaces their data, so an optimizer built before the first forward (as Lightning does)
    stays valid; loading a state dict sizes the module from the checkpoint.  Once sized, inputs of
    another size raise :class:`~symzoo.errors.InputError`.
    """

    def __init__(
        self, hidden: Sequence[int], out: int | str, act: str = "tanh", in_features: int | None = None
    ):
        super().__init__()
        if isinstance(out, str) and out not in ("same", "half"):
            raise ValueError(f"out must be an int, 'same' or 'half', not {out!r}")
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
        self.hidden, self.out = tuple(int(h) for h in hidden), out
        self.act = ACTIVATIONS[act]()
        sizes = self._sizes(in_features or 0)
        for i in range(len(sizes) - 1):
            self.register_parameter(f"w{i}", nn.Parameter(torch.empty(sizes[i + 1], sizes[i])))
            self.register_parameter(f"b{i}", nn.Parameter(torch.empty(sizes[i + 1])))
        self.in_features = in_features
        self._init(sizes)
        self._register_load_state_dict_pre_hook(self._size_from_state_dict)

    def _sizes(self, d_in: int) -> list[int]:
        out = self.out if isinstance(self.out, int) else (d_in if self.out == "same" else d_in // 2)
        return [d_in, *self.hidden, out]

    def _init(self, sizes: list[int]) -> None:
        with torch.no_grad():
            for i in range(len(sizes) - 1):
                w, b = getattr(self, f"w{i}"), getattr(self, f"b{i}")
                if sizes[i] > 0 and w.numel() > 0:
                    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
                    bound = 1 / math.sqrt(sizes[i])
                    nn.init.uniform_(b, -bound, bound)
                else:
                    b.zero_()

    def _resize(self, shapes: dict[str, tuple[int, ...]]) -> None:
        for name, shape in shapes.items():
            p = getattr(self, name)
            if tuple(p.shape) != tuple(shape):
                p.data = torch.empty(shape, dtype=p.dtype, device=p.device)

    def _size_from_state_dict(self, state_dict, prefix, *args) -> None:
        shapes = {}
        for i in range(len(self.hidden) + 1):
            for n in (f"w{i}", f"b{i}"):
                if prefix + n in state_dict:
                    shapes[n] = tuple(state_dict[prefix + n].shape)
        if "w0" in shapes:
            self._resize(shapes)
            self.in_features = shapes["w0"][1]

    def forward(self, x: Tensor) -> Tensor:
        if self.in_features is None:
            sizes = self._sizes(x.shape[-1])
            self._resize(
                {
                    **{f"w{i}": (sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)},
                    **{f"b{i}": (sizes[i + 1],) for i in range(len(sizes) - 1)},
                }
            )
            self._init(sizes)
            self.in_features = x.shape[-1]
        elif x.shape[-1] != self.in_features:
            raise InputError(
                f"this model was sized for states of {self.in_features} numbers, got {x.shape[-1]}; "
                "a model trained on one system cannot run on another"
            )
        n = len(self.hidden) + 1
        for i in range(n):
            x = torch.nn.functional.linear(x, getattr(self, f"w{i}"), getattr(self, f"b{i}"))
            if i < n - 1:
                x = self.act(x)
        return x


def _flat(batch, name: str, dtype: torch.dtype) -> Tensor:
    x = getattr(batch, name, None)
    if x is None:
        raise InputError(
            f"the batch has no field {name!r} (Hamiltonian models need a symzoo Hamiltonian task)"
        )
    b = int(batch.num_graphs)
    if x.shape[0] % b:
        raise InputError(f"field {name!r}: {x.shape[0]} nodes do not split into {b} equal systems")
    return x.to(dtype).reshape(b, -1)


def _param_dtype(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        return p.dtype
    return torch.get_default_dtype()


def _leaf(x: Tensor) -> Tensor:
    return x if x.requires_grad else x.detach().requires_grad_(True)


class _Dynamics(SymmetryContract, nn.Module):
    """Shared ``forward``: time derivatives only (multi-step training objectives are built by the
    task, :meth:`symzoo.datasets.hamiltonian.HamiltonianTask.apply_model`)."""

    order = 1

    def _derivatives(self, batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def forward(self, batch) -> dict[str, Tensor]:
        """Derivatives ``{"dq", "dp" | "dv"}: [n_nodes, k]`` of the states in ``batch``."""
        return self._derivatives(batch)


class _FlatDynamics(_Dynamics):
    symmetry: frozenset[str] = frozenset()
    order = 1

    def _shape_out(self, batch, **flat: Tensor) -> dict[str, Tensor]:
        k = batch.q.shape[-1]
        return {name: x.reshape(-1, k) for name, x in flat.items()}


class HNN(_FlatDynamics):
    """Hamiltonian neural network: ``H = MLP(q, p)``, dynamics ``(dH/dp, -dH/dq)``.

    ``q, p [n_nodes, k]`` -> ``{"dq", "dp": [n_nodes, k], "energy": [B]}`` (``energy`` is the
    learned ``H``, defined up to a constant).  Conserves its own ``H`` exactly along exact flows.
    """

    input_fields = {"q": Field(ANY), "p": Field(ANY)}
    output_fields = {"dq": Field(ANY), "dp": Field(ANY)}

    def __init__(self, hidden: int = 200, layers: int = 2, act: str = "tanh", state_dim: int | None = None):
        super().__init__()
        _check_act(act, "hnn")
        self.net = LazyMLP([hidden] * layers, 1, act, None if state_dim is None else 2 * state_dim)

    def _derivatives(self, batch) -> dict[str, Tensor]:
        keep = torch.is_grad_enabled()
        dtype = _param_dtype(self)
        with torch.enable_grad():
            q, p = _leaf(_flat(batch, "q", dtype)), _leaf(_flat(batch, "p", dtype))
            h = self.net(torch.cat([q, p], -1)).squeeze(-1)
            dhdq, dhdp = torch.autograd.grad(h.sum(), (q, p), create_graph=keep)
        if not keep:
            h = h.detach()
        return {**self._shape_out(batch, dq=dhdp, dp=-dhdq), "energy": h}


class NeuralODE(_FlatDynamics):
    """First-order neural ODE baseline: ``(dq, dp) = MLP(q, p)`` (no conservation built in)."""

    input_fields = {"q": Field(ANY), "p": Field(ANY)}
    output_fields = {"dq": Field(ANY), "dp": Field(ANY)}

    def __init__(self, hidden: int = 200, layers: int = 2, act: str = "tanh", state_dim: int | None = None):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
        self.net = LazyMLP([hidden] * layers, "same", act, None if state_dim is None else 2 * state_dim)

    def _derivatives(self, batch) -> dict[str, Tensor]:
        dtype = _param_dtype(self)
        q, p = _flat(batch, "q", dtype), _flat(batch, "p", dtype)
        dz = self.net(torch.cat([q, p], -1))
        dq, dp = dz.chunk(2, dim=-1)
        return self._shape_out(batch, dq=dq, dp=dp)


class NeuralODE2(_FlatDynamics):
    """Second-order neural ODE baseline (Gruver et al. 2022): ``dq = v``, ``dv = MLP(q, v)``."""

    order = 2
    input_fields = {"q": Field(ANY), "v": Field(ANY)}
    output_fields = {"dq": Field(ANY), "dv": Field(ANY)}

    def __init__(self, hidden: int = 200, layers: int = 2, act: str = "tanh", state_dim: int | None = None):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
        self.net = LazyMLP([hidden] * layers, "half", act, None if state_dim is None else 2 * state_dim)

    def _derivatives(self, batch) -> dict[str, Tensor]:
        dtype = _param_dtype(self)
        q, v = _flat(batch, "q", dtype), _flat(batch, "v", dtype)
        a = self.net(torch.cat([q, v], -1))
        return self._shape_out(batch, dq=v, dv=a)


class LNN(_FlatDynamics):
    """Lagrangian neural network (Cranmer et al. 2020): ``L = MLP(q, v)``; accelerations from the
    Euler-Lagrange equations ``a = (d2L/dv2)^-1 (dL/dq - (d2L/dv dq) v)``.

    ``damping`` (default 1e-3) is added to the diagonal of ``d2L/dv2`` before the solve, which
    keeps the untrained network well posed.
    """

    order = 2
    input_fields = {"q": Field(ANY), "v": Field(ANY)}
    output_fields = {"dq": Field(ANY), "dv": Field(ANY)}

    def __init__(
        self,
        hidden: int = 200,
        layers: int = 2,
        act: str = "softplus",
        damping: float = 1e-3,
        state_dim: int | None = None,
    ):
        super().__init__()
        _check_act(act, "lnn")
        if damping < 0:
            raise ValueError(f"damping must be >= 0, got {damping}")
        self.damping = damping
        self.net = LazyMLP([hidden] * layers, 1, act, None if state_dim is None else 2 * state_dim)

    def _derivatives(self, batch) -> dict[str, Tensor]:
        keep = torch.is_grad_enabled()
        dtype = _param_dtype(self)
        v_in = _flat(batch, "v", dtype)
        with torch.enable_grad():
            q, v = _leaf(_flat(batch, "q", dtype)), _leaf(v_in)
            lag = self.net(torch.cat([q, v], -1)).sum()
            dldq, dldv = torch.autograd.grad(lag, (q, v), create_graph=True)
            d = v.shape[-1]
            rows_vv, rows_vq = [], []
            for i in range(d):
                gq, gv = torch.autograd.grad(dldv[:, i].sum(), (q, v), create_graph=True)
                rows_vq.append(gq)
                rows_vv.append(gv)
            h_vv = torch.stack(rows_vv, 1)  # [B, d, d]: d2L / dv_i dv_j
            h_vq = torch.stack(rows_vq, 1)  # [B, d, d]: d2L / dv_i dq_j
            rhs = dldq - (h_vq @ v.unsqueeze(-1)).squeeze(-1)
            eye = torch.eye(d, dtype=dtype, device=v.device)
            a = torch.linalg.solve(h_vv + self.damping * eye, rhs.unsqueeze(-1)).squeeze(-1)
        if not keep:
            a = a.detach()
        return self._shape_out(batch, dq=v_in, dv=a)


class EHNN(_Dynamics):
    """E(n)-equivariant Hamiltonian network for particle systems.

    An EGNN-style network (Satorras et al. 2021) on positions ``q``, momenta ``p`` and masses:
    node features start from ``(|p_i|^2, m_i)``; edge messages read ``(h_i, h_j, |x_i - x_j|^2,
    p_i . p_j, (x_i - x_j) . (p_i - p_j), m_i m_j)``; positions ``x`` are updated equivariantly
    along ``x_i - x_j`` as in EGNN (tanh-bounded).  ``H = sum_i phi(h_i)`` is invariant under
    rotations, reflections, translations and permutations of identical particles, so
    ``(dq, dp) = (dH/dp, -dH/dq)`` is E(d) x S_N-equivariant and conserves ``H``.

    ``q [N, d]``, ``p [N, d]``, ``mass [N, 1]``, ``edge_index [2, E]`` ->
    ``{"dq", "dp": [N, d], "energy": [B]}``.
    """

    symmetry = frozenset({"rotation", "reflection", "translation", "permutation"})
    input_fields = {"q": Field(POSITION), "p": Field(VECTOR), "mass": Field(SCALAR)}
    output_fields = {"dq": Field(VECTOR), "dp": Field(VECTOR)}
    order = 1

    def __init__(self, hidden: int = 64, layers: int = 3, act: str = "silu"):
        super().__init__()
        _check_act(act, "ehnn")
        if hidden < 1 or layers < 1:
            raise ValueError(f"ehnn needs hidden >= 1 and layers >= 1, got hidden={hidden}, layers={layers}")
        self.embed = mlp([2, hidden], act)
        self.edge_mlps = nn.ModuleList(
            mlp([2 * hidden + 4, hidden, hidden], act, last_act=True) for _ in range(layers)
        )
        self.node_mlps = nn.ModuleList(mlp([2 * hidden, hidden, hidden], act) for _ in range(layers))
        self.coord_mlps = nn.ModuleList(
            nn.Sequential(mlp([hidden, hidden, 1], act, last_gain=0.01), nn.Tanh()) for _ in range(layers)
        )
        self.readout = mlp([hidden, hidden, 1], act)

    def energy(
        self, q: Tensor, p: Tensor, mass: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int
    ) -> Tensor:
        """The learned Hamiltonian ``[num_graphs]``."""
        row, col = edge_index
        pp = (p * p).sum(-1, keepdim=True)
        h = self.embed(torch.cat([pp, mass], -1))
        x = q
        dp_ = p[row] - p[col]
        pij = (p[row] * p[col]).sum(-1, keepdim=True)
        mm = mass[row] * mass[col]
        for em, nm, cm in zip(self.edge_mlps, self.node_mlps, self.coord_mlps):
            diff = x[row] - x[col]
            r2 = (diff * diff).sum(-1, keepdim=True)
            rp = (diff * dp_).sum(-1, keepdim=True)
            m = em(torch.cat([h[row], h[col], r2, pij, rp, mm], -1))
            x = x + segment_sum(diff * cm(m), row, x.shape[0])
            h = h + nm(torch.cat([h, segment_sum(m, row, h.shape[0])], -1))
        return segment_sum(self.readout(h).squeeze(-1), batch, num_graphs)

    def _derivatives(self, batch) -> dict[str, Tensor]:
        keep = torch.is_grad_enabled()
        dtype = _param_dtype(self)
        for name in ("q", "p", "mass", "edge_index"):
            if getattr(batch, name, None) is None:
                raise InputError(f"ehnn needs a particle system with field {name!r} (e.g. gravity-N)")
        nb = getattr(batch, "batch", None)
        if nb is None:
            nb = torch.zeros(batch.q.shape[0], dtype=torch.long, device=batch.q.device)
        with torch.enable_grad():
            q, p = _leaf(batch.q.to(dtype)), _leaf(batch.p.to(dtype))
            h = self.energy(q, p, batch.mass.to(dtype), batch.edge_index, nb, int(batch.num_graphs))
            dhdq, dhdp = torch.autograd.grad(h.sum(), (q, p), create_graph=keep)
        if not keep:
            h = h.detach()
        return {"dq": dhdp, "dp": -dhdq, "energy": h}


@register_model("hnn", domain="hamiltonian")
def hnn(hidden: int = 200, layers: int = 2, act: str = "tanh", state_dim: int | None = None) -> HNN:
    """Hamiltonian neural network (Greydanus et al. 2019): learned scalar H, symplectic gradient."""
    return HNN(hidden, layers, act, state_dim)


@register_model("lnn", domain="hamiltonian")
def lnn(
    hidden: int = 200,
    layers: int = 2,
    act: str = "softplus",
    damping: float = 1e-3,
    state_dim: int | None = None,
) -> LNN:
    """Lagrangian neural network (Cranmer et al. 2020): learned scalar L, Euler-Lagrange accelerations."""
    return LNN(hidden, layers, act, damping, state_dim)


@register_model("node", domain="hamiltonian")
def node(
    hidden: int = 200,
    layers: int = 2,
    act: str = "tanh",
    state_dim: int | None = None,
    target: str | None = None,
    task: Any = None,
) -> nn.Module:
    """First-order neural ODE baseline: an MLP for (dq/dt, dp/dt).

    On a task whose input is a window of states (``task``: the instance, its name, or the
    description its ``model_defaults`` passes), a neural ODE on the last state integrated by RK4
    over one sampling step (:class:`symzoo.models.flowmaps.FlowNODE`; ``state_dim`` from the
    window's declared shape).  ``target`` (``"derivatives"`` or ``"flow"``) names the kind
    explicitly; **deprecated** (model files written before record it, and still load)."""
    from .flowmaps import FlowNODE

    if target is None:
        obj = None if task is None else task_fields_object(task)
        target = "flow" if obj is not None and FlowNODE.fit_problem(obj) is None else "derivatives"
        x = getattr(obj, "input_fields", {}).get("x") if target == "flow" else None
        if x is not None and x.shape is not None and len(x.shape) == 2:
            state_dim = int(x.shape[1])  # a window of states [W, D]
    if target == "flow":
        return FlowNODE(state_dim or 3, hidden, layers, act)
    if target != "derivatives":
        raise ValueError(f"node target must be 'derivatives' or 'flow', got {target!r}")
    return NeuralODE(hidden, layers, act, state_dim)


def _node_problem(task) -> str | None:
    """``node`` builds a :class:`NeuralODE` (derivatives) or, on a window of states, a
    :class:`~symzoo.models.flowmaps.FlowNODE` (``target="flow"``): why neither fits ``task``."""
    from .flowmaps import FlowNODE

    first = NeuralODE.fit_problem(task)
    if first is None or FlowNODE.fit_problem(task) is None:
        return None
    return first


node.fit_problem = _node_problem


@register_model("node2", domain="hamiltonian")
def node2(hidden: int = 200, layers: int = 2, act: str = "tanh", state_dim: int | None = None) -> NeuralODE2:
    """Second-order neural ODE baseline (Gruver et al. 2022): an MLP for the acceleration."""
    return NeuralODE2(hidden, layers, act, state_dim)


@register_model("ehnn", domain="hamiltonian")
def ehnn(hidden: int = 64, layers: int = 3, act: str = "silu") -> EHNN:
    """E(n)-equivariant Hamiltonian network: invariant H from an EGNN, E(d) x S_N-equivariant dynamics."""
    return EHNN(hidden, layers, act)
