"""Deep Lagrangian Networks (Lutter, Ritter & Peters, ICLR 2019) and a group-averaged, equivariant DeLaN.

Inverse dynamics from a learned Lagrangian ``L = ½ q̇ᵀ H(q) q̇ − V(q)``::

    τ = H(q) q̈ + c(q, q̇) + g(q),   c = Ḣ q̇ − ½ ∂(q̇ᵀ H q̇)/∂q,   g = ∂V/∂q,   Ḣ = Σ_k ∂H/∂q_k q̇_k

* ``H(q) = L(q) L(q)ᵀ`` with ``L`` lower-triangular and a positive diagonal (softplus + ε), so the
  mass matrix is symmetric positive definite for every state by construction (:class:`MassNet`);
* ``V(q)`` a scalar network (:class:`PotentialNet`);
* ``c`` and ``g`` by autograd: one backward pass gives ``∂(V − ½ q̇ᵀHq̇)/∂q`` and ``Jᵀw`` for
  ``J = ∂(H q̇)/∂q`` at a dummy ``w = 0``; a second one (w.r.t. ``w``) gives ``J q̇ = Ḣ q̇``.

With ``damping=True`` (off by default, so the published weights are unchanged) a learned viscous
friction ``τ_f = D q̇``, ``D = diag(softplus(θ))`` per joint (a Rayleigh dissipation
``½ q̇ᵀ D q̇``; MuJoCo's joint damping is exactly this) is added: without it a DeLaN cannot represent
damped joints, which dominate the torques of MuJoCo's quadruped and Ant.  ``delan-eq`` averages it
like the mass matrix, ``D_s = mean_g ρ_v(g)ᵀ D ρ_v(g)`` (a signed permutation maps a positive
diagonal to a positive diagonal), so friction stays dissipative and equivariant.

``delan-eq`` (new; none is published) averages over the robot's finite symmetry group ``G``
acting on joint positions by ``ρ_q`` and on velocities, accelerations and torques by ``ρ_v``
(signed permutations, so orthogonal)::

    H_s(q) = mean_g ρ_v(g)ᵀ H(ρ_q(g) q) ρ_v(g),      V_s(q) = mean_g V(ρ_q(g) q)

``H_s`` is a mean of SPD matrices (still SPD) with ``H_s(ρ_q(h) q) = ρ_v(h) H_s(q) ρ_v(h)ᵀ`` and
``V_s`` is invariant, so the Lagrangian is invariant and ``τ(ρ_q q, ρ_v q̇, ρ_v q̈) = ρ_v τ(q, q̇, q̈)``
exactly, on every element and in any dtype.  It costs ``|G|`` evaluations of ``H`` and ``V``.

Joint positions are the task's ``q`` field (angles in rad / positions in m, not a cos/sin
encoding: ``∂/∂q`` is taken through it); features ``[q, cos q, sin q]`` feed the networks.
Builder arguments name the task: the harness passes the task instance's description
(``task=<dict>``, :func:`symzoo.models.emlp.describe_robot_fields`); a registered name
(``task="quadruped-id"``, as published entries record it) or a task object works too; and, optionally, its fields (``q``,
``qd``, ``qdd``, ``tau``; by default the first of :data:`ALIASES` the task declares, e.g. ``v`` for
``qd``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from symzoo.contract import ANY, as_field
from symzoo.registry import register_model
from symzoo.task import Field

from .base import SymmetryContract
from .emlp import TaskKwargs, robot_fit_problem

__all__ = [
    "MassNet",
    "PotentialNet",
    "Damping",
    "SymmetrizedMass",
    "SymmetrizedPotential",
    "SymmetrizedDamping",
    "DeLaN",
    "delan",
    "delan_eq",
]

DOMAIN = "robotics"
_ACTS = {"softplus": nn.Softplus, "tanh": nn.Tanh, "elu": nn.ELU, "silu": nn.SiLU}


def _features(q: Tensor) -> Tensor:
    return torch.cat([q, torch.cos(q), torch.sin(q)], -1)


def _net(d_in: int, hidden: int, layers: int, d_out: int, act: str, last_bias: bool = True) -> nn.Sequential:
    if act not in _ACTS:
        raise ValueError(f"delan activation must be one of {sorted(_ACTS)} (smooth: H is differentiated)")
    if int(hidden) < 1 or int(layers) < 1:
        raise ValueError(f"hidden and layers must be >= 1, got hidden={hidden}, layers={layers}")
    mods: list[nn.Module] = []
    d = d_in
    for _ in range(int(layers)):
        mods += [nn.Linear(d, int(hidden)), _ACTS[act]()]
        d = int(hidden)
    mods.append(nn.Linear(d, d_out, bias=last_bias))
    return nn.Sequential(*mods)


class MassNet(nn.Module):
    """``H(q) = L Lᵀ + 0``: ``L`` lower-triangular from an MLP of ``[q, cos q, sin q]``, diagonal
    ``softplus(·) + eps`` (> 0), so ``H`` is SPD with eigenvalues bounded away from 0 by ``eps²``."""

    def __init__(
        self, n_dof: int, hidden: int = 64, layers: int = 2, act: str = "softplus", eps: float = 1e-3
    ):
        super().__init__()
        if int(n_dof) < 1:
            raise ValueError(f"n_dof must be >= 1, got {n_dof}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0 to keep the mass matrix positive definite, got {eps}")
        self.n, self.eps = int(n_dof), float(eps)
        self.net = _net(3 * self.n, hidden, layers, self.n * (self.n + 1) // 2, act)
        rows, cols = torch.tril_indices(self.n, self.n)
        self.rows: Tensor  # buffer
        self.register_buffer("rows", rows, persistent=False)
        self.cols: Tensor  # buffer
        self.register_buffer("cols", cols, persistent=False)
        self.diag: Tensor  # buffer
        self.register_buffer("diag", (rows == cols), persistent=False)

    def forward(self, q: Tensor) -> Tensor:
        """``q [B, n]`` -> ``H [B, n, n]`` (SPD)."""
        raw = self.net(_features(q))
        vals = torch.where(self.diag, F.softplus(raw) + self.eps, raw)
        low = _fill_tril(q.new_zeros(q.shape[0], self.n, self.n), vals, self.rows, self.cols)
        return low @ low.transpose(-1, -2)


def _fill_tril(low: Tensor, vals: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    n = low.shape[-1]
    flat = low.reshape(low.shape[0], n * n)
    flat = flat.index_add(1, rows * n + cols, vals)
    return flat.reshape(low.shape)


class PotentialNet(nn.Module):
    """``V(q)``: an MLP of ``[q, cos q, sin q]`` -> scalar (no output bias: a constant offset of
    ``V`` is a gauge that no torque depends on)."""

    def __init__(self, n_dof: int, hidden: int = 64, layers: int = 2, act: str = "softplus"):
        super().__init__()
        self.net = _net(3 * int(n_dof), hidden, layers, 1, act, last_bias=False)

    def forward(self, q: Tensor) -> Tensor:
        """``q [B, n]`` -> ``V [B]``."""
        return self.net(_features(q)).squeeze(-1)


class Damping(nn.Module):
    """Viscous friction per joint: ``D = diag(softplus(θ)) [n, n]`` (positive: dissipative)."""

    def __init__(self, n_dof: int, init: float = 0.05):
        super().__init__()
        self.raw = nn.Parameter(torch.full((n_dof,), float(torch.log(torch.expm1(torch.tensor(init))))))

    def forward(self) -> Tensor:
        return torch.diag(F.softplus(self.raw))


class SymmetrizedDamping(nn.Module):
    """``D_s = mean_g ρ_v(g)ᵀ D ρ_v(g)``: positive definite and ``ρ_v D_s ρ_vᵀ = D_s``."""

    def __init__(self, base: Damping, rho_v: Tensor):
        super().__init__()
        self.base = base
        self.rho_v: Tensor  # buffer
        self.register_buffer("rho_v", torch.as_tensor(rho_v, dtype=torch.float32).clone())

    def forward(self) -> Tensor:
        d = self.base()
        rv = self.rho_v.to(d.dtype)
        return torch.einsum("gki,kl,glj->ij", rv, d, rv) / rv.shape[0]


class SymmetrizedMass(nn.Module):
    """``H_s(q) = mean_g ρ_v(g)ᵀ H(ρ_q(g) q) ρ_v(g)`` (SPD, and ``H_s(ρ_q q) = ρ_v H_s(q) ρ_vᵀ``)."""

    def __init__(self, base: nn.Module, rho_q: Tensor, rho_v: Tensor):
        super().__init__()
        self.base = base
        self.rho_q: Tensor  # buffer
        self.register_buffer("rho_q", torch.as_tensor(rho_q, dtype=torch.float32).clone())
        self.rho_v: Tensor  # buffer
        self.register_buffer("rho_v", torch.as_tensor(rho_v, dtype=torch.float32).clone())

    def forward(self, q: Tensor) -> Tensor:
        """``q [B, n]`` -> ``H_s [B, n, n]``."""
        k, b, n = self.rho_q.shape[0], q.shape[0], q.shape[-1]
        rq, rv = self.rho_q.to(q.dtype), self.rho_v.to(q.dtype)
        qg = torch.einsum("gij,bj->gbi", rq, q).reshape(k * b, n)
        h = self.base(qg).reshape(k, b, n, n)
        return torch.einsum("gki,gbkl,glj->bij", rv, h, rv) / k


class SymmetrizedPotential(nn.Module):
    """``V_s(q) = mean_g V(ρ_q(g) q)`` (G-invariant)."""

    def __init__(self, base: nn.Module, rho_q: Tensor):
        super().__init__()
        self.base = base
        self.rho_q: Tensor  # buffer
        self.register_buffer("rho_q", torch.as_tensor(rho_q, dtype=torch.float32).clone())

    def forward(self, q: Tensor) -> Tensor:
        """``q [B, n]`` -> ``V_s [B]``."""
        k, b, n = self.rho_q.shape[0], q.shape[0], q.shape[-1]
        qg = torch.einsum("gij,bj->gbi", self.rho_q.to(q.dtype), q).reshape(k * b, n)
        return self.base(qg).reshape(k, b).mean(0)


class DeLaN(TaskKwargs, SymmetryContract, nn.Module):
    """Inverse dynamics ``τ = H q̈ + Ḣ q̇ − ½ ∂(q̇ᵀHq̇)/∂q + ∂V/∂q`` from a mass and a potential module.

    ``mass``: ``q [B, n] -> H [B, n, n]``; ``potential``: ``q [B, n] -> V [B]`` (any modules, e.g.
    :class:`MassNet`/:class:`PotentialNet`, their symmetrized versions, or an analytic system).
    ``keys`` names the batch fields ``q``, ``qd``, ``qdd`` and the output ``tau``; ``irreps`` maps
    them to the task's :class:`~symzoo.task.Field` (or ``Rep``) objects, the declared contract.
    """

    @classmethod
    def fit_problem(cls, task: Any) -> str | None:
        """A robot task with joint positions, velocities, accelerations and torques of one size."""
        problem = robot_fit_problem(task)
        if problem is not None or isinstance(task, (str, Mapping)) or task is None:
            return problem
        try:
            _robot_io(task, dict.fromkeys(ALIASES))
        except ValueError as e:
            return str(e)
        return None

    def __init__(
        self,
        mass: nn.Module,
        potential: nn.Module,
        keys: Mapping[str, str] | None = None,
        symmetry: frozenset[str] = frozenset(),
        irreps: Mapping[str, Any] | None = None,
        damping: nn.Module | None = None,
    ):
        super().__init__()
        self.mass, self.potential = mass, potential
        #: optional viscous friction ``() -> D [n, n]`` (``τ += D q̇``)
        self.damping = damping
        self.keys = {"q": "q", "qd": "qd", "qdd": "qdd", "tau": "tau", **dict(keys or {})}
        self.symmetry = frozenset(symmetry)
        # ``irreps``: field -> the task's Field (or Rep) of each of them; strings are deprecated
        fields = {k: as_field(v, "graph") for k, v in dict(irreps or {}).items()}
        any_vec = Field(ANY, "graph")
        self.input_fields = {self.keys[k]: fields.get(self.keys[k], any_vec) for k in ("q", "qd", "qdd")}
        self.output_fields = {self.keys["tau"]: fields.get(self.keys["tau"], any_vec)}
        #: a positive scale of the Lagrangian (H and V), fitted to the torque scale of the data
        self.scale: Tensor  # buffer
        self.register_buffer("scale", torch.ones(()))

    @torch.no_grad()
    def fit_normalization(self, fields: Mapping[str, Tensor]) -> None:
        """Set :attr:`scale` = rms(τ) / rms(q̈) from training data ``fields`` (physical units), so
        that an initial ``H ~ O(1)`` gives torques of the right size (a scalar keeps ``H`` SPD and
        ``delan-eq`` equivariant)."""
        tau, qdd = fields.get(self.keys["tau"]), fields.get(self.keys["qdd"])
        if tau is None or qdd is None:
            return
        num, den = float(tau.double().pow(2).mean().sqrt()), float(qdd.double().pow(2).mean().sqrt())
        if num > 0 and den > 0:
            self.scale.fill_(num / den)
        qd = fields.get(self.keys["qd"])
        if self.damping is not None and qd is not None:
            # start the friction at the per-joint least-squares slope of τ on q̇ (clipped positive):
            # joint damping can dominate the torques, and a softplus parameter learns its size slowly
            t, v = tau.double().reshape(-1, tau.shape[-1]), qd.double().reshape(-1, qd.shape[-1])
            slope = ((t * v).sum(0) / v.pow(2).sum(0).clamp(min=1e-12)).clamp(min=1e-4) / float(self.scale)
            base = self.damping.base if isinstance(self.damping, SymmetrizedDamping) else self.damping
            raw = cast(Tensor, base.raw)
            raw.copy_((slope + torch.log(-torch.expm1(-slope))).to(raw.dtype))  # softplus⁻¹

    def dynamics_terms(
        self, q: Tensor, qd: Tensor, qdd: Tensor, create_graph: bool = False
    ) -> dict[str, Tensor]:
        """``q, qd, qdd [B, n]`` -> ``{"mass_matrix": [B, n, n], "inertial": H q̈, "coriolis": c,
        "gravity": g, "friction": D q̇, "tau": τ}`` (each ``[B, n]`` but the mass matrix)."""
        with torch.enable_grad():
            qv = q.detach().requires_grad_(True)
            sc = self.scale.to(qv.dtype)
            h = sc * self.mass(qv)
            v = sc * self.potential(qv)
            hqd = (h @ qd.unsqueeze(-1)).squeeze(-1)
            w = torch.zeros_like(qd, requires_grad=True)
            kin = (qd * hqd).sum(-1)
            # ∂/∂q [V − ½ q̇ᵀHq̇ + wᵀ H q̇] = ∂(V − ½ q̇ᵀHq̇)/∂q + Jᵀ w,  J = ∂(H q̇)/∂q  (w = 0)
            grad_v = torch.autograd.grad(v.sum(), qv, create_graph=create_graph)[0]
            gq = torch.autograd.grad((-0.5 * kin + (w * hqd).sum(-1)).sum(), qv, create_graph=True)[0]
            hdot_qd = torch.autograd.grad((gq * qd).sum(), w, create_graph=create_graph)[0]  # J q̇ = Ḣ q̇
            inertial = (h @ qdd.unsqueeze(-1)).squeeze(-1)
            cor = hdot_qd + (gq if create_graph else gq.detach())
            friction = torch.zeros_like(qd)
            if self.damping is not None:
                friction = sc * (qd @ self.damping().to(qd.dtype).transpose(0, 1))
            tau = inertial + cor + grad_v + friction
        return {
            "mass_matrix": h,
            "inertial": inertial,
            "coriolis": cor,
            "gravity": grad_v,
            "friction": friction,
            "tau": tau,
        }

    def forward(self, batch) -> dict[str, Tensor]:
        """``q, qd, qdd [B, n]`` (named by ``keys``) -> ``{tau: [B, n]}``: inverse-dynamics joint
        torques (forces for slides) in the units of the inputs' Lagrangian (physical units)."""
        k = self.keys
        q, qd, qdd = getattr(batch, k["q"]), getattr(batch, k["qd"]), getattr(batch, k["qdd"])
        create = self.training and torch.is_grad_enabled()
        tau = self.dynamics_terms(q, qd, qdd, create_graph=create)["tau"]
        return {k["tau"]: tau if create else tau.detach()}


# ------------------------------------------------------------------ builders
#: field names tried, in order, when a builder is not told a task's names
ALIASES = {
    "q": ("q", "qpos"),
    "qd": ("qd", "v", "qvel", "dq"),
    "qdd": ("qdd", "a", "qacc", "ddq"),
    "tau": ("tau", "torque", "qfrc", "u"),
}


def _default_id_task() -> str:
    """The first registered robotics task (sorted) with inverse-dynamics fields."""
    from symzoo.registry import get_task, list_tasks

    for name in list_tasks():
        try:
            t = get_task(name)
            if t.domain == DOMAIN:
                _robot_io(t, dict.fromkeys(ALIASES))
                return name
        except Exception:  # noqa: BLE001,S112 - a task that does not fit is not a default
            continue
    raise ValueError("no robotics inverse-dynamics task is registered: pass task=<name> to build delan")


def _robot_io(task: Any, names: Mapping[str, str | None]):
    from .emlp import robot_fields

    group, inputs, outputs = robot_fields(_default_id_task() if task is None else task)
    keys: dict[str, str] = {}
    for role, given in names.items():
        pool = outputs if role == "tau" else inputs
        found = given if given is not None else next((a for a in ALIASES[role] if a in pool), None)
        if found is None or found not in pool:
            raise ValueError(
                f"delan needs input fields q, qd, qdd and an output tau; the task has inputs {sorted(inputs)} "
                f"and outputs {sorted(outputs)} (no {role} field{'' if given is None else ' ' + repr(given)}): "
                f"pass {role}=<field name>"
            )
        keys[role] = found
    n = inputs[keys["q"]].dim
    if any(r.dim != n for r in (inputs[keys["qd"]], inputs[keys["qdd"]], outputs[keys["tau"]])):
        raise ValueError(f"delan needs q, qd, qdd and tau of the same size ({n} joints)")
    irreps = {k: Field(r, "graph") for k, r in {**inputs, **outputs}.items() if k in keys.values()}
    reps = {role: (outputs if role == "tau" else inputs)[k] for role, k in keys.items()}
    return group, reps, keys, n, irreps


@register_model("delan", domain=DOMAIN)
def delan(
    task: Any = None,
    hidden: int = 64,
    layers: int = 2,
    act: str = "softplus",
    eps: float = 1e-3,
    q: str | None = None,
    qd: str | None = None,
    qdd: str | None = None,
    tau: str | None = None,
    damping: bool = False,
) -> DeLaN:
    """Deep Lagrangian Network (Lutter et al. 2019): SPD mass matrix L Lᵀ, potential, autograd Coriolis
    (``damping=True``: plus learned viscous joint friction)."""
    _, _, keys, n, irreps = _robot_io(task, {"q": q, "qd": qd, "qdd": qdd, "tau": tau})
    return DeLaN(
        MassNet(n, hidden, layers, act, eps),
        PotentialNet(n, hidden, layers, act),
        keys,
        irreps=irreps,
        damping=Damping(n) if damping else None,
    )


@register_model("delan-eq", domain=DOMAIN)
def delan_eq(
    task: Any = None,
    hidden: int = 64,
    layers: int = 2,
    act: str = "softplus",
    eps: float = 1e-3,
    q: str | None = None,
    qd: str | None = None,
    qdd: str | None = None,
    tau: str | None = None,
    damping: bool = False,
) -> DeLaN:
    """Equivariant DeLaN: mass matrix and potential averaged over the robot's symmetry group
    (``damping=True``: plus group-averaged viscous joint friction)."""
    group, reps, keys, n, irreps = _robot_io(task, {"q": q, "qd": qd, "qdd": qdd, "tau": tau})
    rho_q, rho_v = reps["q"].matrices, reps["qd"].matrices
    for role in ("qdd", "tau"):
        if not torch.allclose(reps[role].matrices, rho_v):
            raise ValueError(f"delan-eq needs {keys[role]!r} to transform like the velocities {keys['qd']!r}")
    if not torch.allclose(rho_v @ rho_v.transpose(-1, -2), torch.eye(n, dtype=rho_v.dtype).expand_as(rho_v)):
        raise ValueError("delan-eq needs orthogonal velocity representations (signed permutations)")
    mass = SymmetrizedMass(MassNet(n, hidden, layers, act, eps), rho_q, rho_v)
    pot = SymmetrizedPotential(PotentialNet(n, hidden, layers, act), rho_q)
    fric = SymmetrizedDamping(Damping(n), rho_v) if damping else None
    return DeLaN(mass, pot, keys, symmetry=frozenset(group.factors), irreps=irreps, damping=fric)
