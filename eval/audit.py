"""How symmetric are the data?  The model-free symmetry audit behind ``symzoo audit``.

For every factor of the group being audited (``rotation``, ``reflection``, ``translation``,
``permutation``; the generator names of a finite group) the audit measures how far the **data**
depart from the symmetry, without training anything, and recommends *exact*, *relaxed* or *none*.

The figure
----------
For a map ``x -> y`` (inputs to targets) and a group element ``g``, the departure is
``y(g·x) - g·y(x)``: zero for every ``x`` and ``g`` exactly when the data have the symmetry.  The
audit reports its RMS over sampled inputs, divided by the spread of the targets (RMS of
``y - mean(y)`` over the samples), as the **relative residual** ``r`` of the factor.  For a finite
factor every non-identity element of the subgroup it generates is tried and the worst is reported
(named); for a continuous factor each sample gets its own random element.  The **null** figure is
the same ratio for random pairs of samples, ``y(x_j) - y(x_i)`` (≈ √2 when the targets are
independent): ``r`` near the null means the transformed target is no better a guess than a random
target.  When several targets are checked, ``r`` is the root mean of their squared ratios.

How ``y(g·x)`` is obtained (first that applies):

* the task's :meth:`symzoo.task.Task.audit_oracle` hook, when it overrides the default (a user's or
  a plugin's simulator);
* robots (:class:`~symzoo.datasets.robots_tasks.RobotTask`): the spec check against the simulator,
  :func:`symzoo.datasets.robots.check_spec` (inverse dynamics, accelerations and centroidal
  momentum at random states, per generator; its figure is the worst error over ``1 + max|f|``);
* attractors (:class:`~symzoo.datasets.attractors.AttractorTask`): the vector field on the test
  trajectories' states, ``|f(g·x) - g·f(x)|`` over the spread of ``f``;
* Hamiltonian systems (``spring``, ``pendulum``, ``gravity-N``, ...): their vector field
  ``dq/dt, dp/dt, d²q/dt²`` at moved test states;
* ``nbody-*`` (simulated): the simulator continued from the moved test states
  (:meth:`~symzoo.datasets.nbody.NBodyTask.reference_trajectory`, one frame, 1000 steps);
* 2-D flows simulated by :class:`~symzoo.datasets.flows.FlowTask` (not a user's snapshots): the
  vorticity solver one frame ahead from moved test states **and** the moved forcing
  (``tiny``/``small``, where the data are simulated on the stored grid);
* otherwise, stored pairs only: the **nearest-neighbour** estimate on the training split (the
  densest).  ``g·x`` is matched to the closest stored input ``x'`` (inputs standardized per field)
  and ``y(x') - g·y(x)`` is compared with the same estimate for ``g = e`` (the closest *other*
  input), which measures how much labels vary between neighbours anyway.  Labels of neighbours
  differ by about ``c · distance``; ``c`` is fitted on that identity control, and the factor's
  figure is the excess of the moved pairs over ``c² · distance²`` (they lie farther from their
  neighbours).  Its resolution is the identity control ``r_e``: the departure lies in
  ``excess ± r_e``, and a verdict is given only when that whole range falls in one band.  Otherwise,
  and when neighbours' labels differ almost as much as random ones (``r_e`` > null / 2), or when the
  moved inputs lie more than twice as far from the data as the data lie from each other (median
  nearest distances: the data do not cover their orbits), the verdict is ``undetermined``.

Recommendations and their thresholds
------------------------------------
``exact`` when ``r <= EXACT_BELOW`` (1e-3).  An exactly equivariant model can fit the data no better
than the symmetric part of the map, whose distance to the map is at most the departure ``r``
(the orbit average ``ȳ(x) = mean_g g⁻¹·y(g·x)`` differs from ``y(x)`` by at most the mean of the
departures).  At 1e-3 of the target spread that floor lies one to two orders of magnitude below the
test errors the zoo's models reach on its shipped tasks (RMS error over the target spread:
``nbody-charged`` EGNN about 7 % at tiny N = 200, ``kolmogorov2d`` steerable CNN 36 %,
``quadruped-com`` EMLP about 26 %), so the prior costs nothing measurable and buys its full sample
efficiency.  Symmetric data measure between 0 and 2e-14 here (float64 rounding).

``relaxed`` when ``EXACT_BELOW < r <= NONE_ABOVE`` (0.2): the symmetry holds approximately.  An exact
model pays an error floor of order ``r``; use an approximately equivariant model (``egnn-rpp``,
``relaxed-gcnn``), or keep the exact model if your target error is well above ``r`` — the sweep
measurements in ``docs/audit.md`` show exact models keep their lead while ``r`` stays below their
own error.

``none`` when ``r > NONE_ABOVE``: the moved target is off by more than a fifth of the spread of the
targets (with the null at ≈ 1.4, at least 1/7 of the way to a random guess); the symmetry is no
longer a good prior: train a plain model, and do not augment with this factor.  On the two shipped
sweeps whose measured gain crosses 1 (``quadruped-com`` payload, ``lorenz96-8`` forcing; see
``docs/audit.md``) the audit says ``none`` exactly at the strengths where the exact model lost.

Both thresholds are module constants and arguments of :func:`recommend` (``symzoo audit --exact-below
--none-above``); they are about the error a model would inherit, so a user aiming at a tighter error
should lower them.  This module is a measurement (below ``train/`` and the studies): it imports the
core, the tasks and the dataset modules only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from symzoo.errors import InputError
from symzoo.task import Task, cast_batch

__all__ = [
    "EXACT_BELOW",
    "NONE_ABOVE",
    "FactorAudit",
    "Audit",
    "recommend",
    "audit_task",
    "audit_breaking",
    "format_audits",
    "audits_json",
]

log = logging.getLogger(__name__)

#: relative residual at or below which the audit recommends an exactly equivariant model
EXACT_BELOW = 1e-3
#: relative residual above which the audit recommends no symmetry prior for the factor
NONE_ABOVE = 0.2
#: the nearest-neighbour estimate is ``undetermined`` when moved inputs lie this many times farther
#: from the data than the data lie from each other
COVERAGE_LIMIT = 2.0

_ORDER = {"exact": 0, "relaxed": 1, "undetermined": 2, "none": 3}  # a factor known to be broken decides


def recommend(residual: float, *, exact_below: float = EXACT_BELOW, none_above: float = NONE_ABOVE) -> str:
    """``"exact"``, ``"relaxed"`` or ``"none"`` for a relative residual (see the module docstring)."""
    if not 0 < exact_below < none_above:
        raise InputError(
            f"thresholds must satisfy 0 < exact_below < none_above, got {exact_below}, {none_above}"
        )
    if not math.isfinite(residual):
        return "none"
    if residual <= exact_below:
        return "exact"
    return "relaxed" if residual <= none_above else "none"


@dataclass
class FactorAudit:
    """The audit of one factor: relative ``residual``, ``null`` (random pairs, ``None`` where the
    measure has none), the ``worst`` element tried (finite factors), ``samples`` and the verdict."""

    factor: str
    residual: float
    null: float | None
    worst: str | None
    samples: int
    recommendation: str = ""
    note: str = ""
    #: ``(low, high)``: the range the departure lies in, for estimates with a resolution (nearest
    #: neighbours); the verdict is given only when the whole range falls in one band
    bounds: tuple[float, float] | None = None


@dataclass
class Audit:
    """The audit of one task (one breaking strength) against one group."""

    task: str
    preset: str
    group: str
    measure: str
    factors: list[FactorAudit]
    knob: str | None = None
    strength: float | None = None
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def residual(self) -> float:
        """The largest factor residual (the departure from the whole group)."""
        vals = [f.residual for f in self.factors]
        return max(vals) if vals else 0.0

    @property
    def recommendation(self) -> str:
        """The verdict for the whole group: that of its worst factor."""
        recs = [f.recommendation for f in self.factors] or ["exact"]
        return max(recs, key=_ORDER.__getitem__)

    def exact_factors(self) -> list[str]:
        return [f.factor for f in self.factors if f.recommendation == "exact"]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["residual"] = self.residual
        d["recommendation"] = self.recommendation
        return d


# ================================================================== helpers
def _rel(diff: dict[str, Tensor], dev: dict[str, Tensor]) -> float:
    """sqrt(mean over keys of |diff_k|² / |dev_k|²)."""
    terms = []
    for k, d in diff.items():
        den = float(dev[k].double().pow(2).sum())
        num = float(d.double().pow(2).sum())
        terms.append(num / den if den > 0 else (0.0 if num == 0 else math.inf))
    return math.sqrt(sum(terms) / len(terms)) if terms else 0.0


def _per_sample(y: Tensor, b: int) -> Tensor:
    return y.reshape(b, -1).double()


def _deviation(y: dict[str, Tensor], b: int) -> dict[str, Tensor]:
    out = {}
    for k, v in y.items():
        s = _per_sample(v, b)
        out[k] = s - s.mean(0, keepdim=True)
    return out


def _null(y: dict[str, Tensor], b: int, gen: torch.Generator) -> float:
    if b < 2:
        return math.nan
    perm = torch.randperm(b, generator=gen)
    other = perm.roll(1)  # a derangement of the shuffled order: every sample paired with another
    pair = torch.empty(b, dtype=torch.long)
    pair[perm] = other
    diff = {k: _per_sample(v, b)[pair] - _per_sample(v, b) for k, v in y.items()}
    return _rel(diff, _deviation(y, b))


def _short(word: str) -> str:
    """``"shift·shift·shift"`` -> ``"shift^3"`` (runs of one generator in an element's word)."""
    parts: list[str] = word.split("·")
    out: list[list[Any]] = []
    for p in parts:
        if out and out[-1][0] == p:
            out[-1][1] += 1
        else:
            out.append([p, 1])
    return "·".join(p if k == 1 else f"{p}^{k}" for p, k in out)


def _elements(group_task: Task, factor: str, batch, gen: torch.Generator) -> list[tuple[str | None, Any]]:
    """The elements tried for ``factor``: every non-identity element of a finite factor's subgroup
    (each applied to the whole batch), or one random element per sample of a continuous one."""
    grp = group_task.group
    b = int(batch.num_graphs)
    if getattr(grp, "finite", False):
        from symzoo.groups import FiniteGroup

        assert isinstance(grp, FiniteGroup)
        return [(_short(grp.element_names[i]), grp.element(i, b)) for i in grp.subgroup([factor]) if i != 0]
    return [(None, group_task.sample_group(batch, factors=[factor], generator=gen))]


_STRUCTURE = ("batch", "ptr", "edge_index")


def _inputs_only(task: Task, batch):
    """``batch`` without tensors the task does not declare as inputs (stored trajectories, targets):
    an oracle must see nothing a moved copy would not carry."""
    new = batch.clone()
    keep = set(task.input_fields) | set(_STRUCTURE)
    for k, v in batch.to_dict().items():
        if torch.is_tensor(v) and k not in keep:
            del new[k]
    new.num_graphs = int(batch.num_graphs)
    return new


def _stored_batch(task: Task, preset: str, n: int, seed: int, split: str = "test"):
    """Up to ``n`` samples of ``split`` (a seeded random subset), one float64 batch."""
    from symzoo.task import StackedDataset

    train, _, test = task.splits(preset, seed=0)
    ds = test if split == "test" else train
    if len(ds) == 0:
        raise InputError(f"{task.name}/{preset}: the {split} split is empty; nothing to audit")
    k = min(int(n), len(ds))
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:k].sort().values
    sub = ds.subset(idx) if isinstance(ds, StackedDataset) else torch.utils.data.Subset(ds, idx.tolist())
    return cast_batch(next(iter(task.loader(sub, k))), torch.float64)


def _check_group_task(task: Task, group_task: Task) -> None:
    names = set(task.input_fields) | set(task.target_fields)
    if names != set(group_task.input_fields) | set(group_task.target_fields):
        raise InputError(
            f"cannot audit {task.name} against {group_task.name}: their fields differ "
            f"({sorted(names)} vs {sorted(set(group_task.input_fields) | set(group_task.target_fields))})"
        )


# ================================================================== measures
Measured = list[FactorAudit]


def _oracle_measure(
    task: Task, group_task: Task, batch, oracle: Callable[[Any], dict[str, Tensor] | None], seed: int
) -> Measured:
    gen = torch.Generator().manual_seed(seed)
    clean = _inputs_only(group_task, batch)
    b = int(clean.num_graphs)
    y = oracle(clean)
    if y is None:
        raise InputError(f"{task.name}: audit_oracle returned None on the stored inputs")
    unknown = sorted(set(y) - set(group_task.target_fields))
    if unknown:
        raise InputError(
            f"{task.name}: the audit oracle returned {unknown}, which are not target fields "
            f"({sorted(group_task.target_fields)}): the audit would not know how they transform"
        )
    bad = [k for k, v in y.items() if not torch.isfinite(v).all()]
    if bad:
        raise InputError(f"{task.name}: the audit oracle returned NaN or inf in {bad}")
    dev = _deviation(y, b)
    null = _null(y, b, gen)
    out = []
    for factor in group_task.group.factors:
        worst, worst_name = -1.0, None
        for name, g in _elements(group_task, factor, clean, gen):
            # one call of the task's own act (which a task may override) moves the inputs and the
            # oracle's targets together
            full = batch.clone()
            for k, v in y.items():
                setattr(full, k, v)
            moved = group_task.act(g, full)
            yg = oracle(_inputs_only(group_task, moved))
            if yg is None:
                raise InputError(f"{task.name}: audit_oracle returned None at inputs moved by {name}")
            gy = {k: getattr(moved, k) for k in y}
            r = _rel({k: _per_sample(yg[k], b) - _per_sample(gy[k], b) for k in y}, dev)
            if r > worst:
                worst, worst_name = r, name
        out.append(FactorAudit(factor, max(worst, 0.0), null, worst_name, b))
    return out


def _nbody_oracle(task) -> Callable[[Any], dict[str, Tensor]]:
    def oracle(b):
        return {"y": task.reference_trajectory(b, 1)["pos"][1]}

    return oracle


def _hamiltonian_oracle(task) -> Callable[[Any], dict[str, Tensor]]:
    def oracle(b):
        q, p = task.state(b)
        sysm, k = task.system, task.system.k
        dq, dp = sysm.vector_field(q, p)
        dv = sysm.acceleration(q, p)
        return {"dq": dq.reshape(-1, k), "dp": dp.reshape(-1, k), "dv": dv.reshape(-1, k)}

    return oracle


def _flow_oracle(task, preset: str) -> Callable[[Any], dict[str, Tensor]]:
    from symzoo.datasets.flows import VorticitySolver, downsample

    cfg = task.presets[preset]
    if cfg["n_sim"] != cfg["n"]:
        raise InputError(
            f"{task.name}/{preset}: the data are simulated at {cfg['n_sim']}² and stored at {cfg['n']}², "
            "so stored states cannot be re-simulated; audit the tiny or small preset"
        )

    def oracle(b):
        w, f = b.w.to(torch.float64), b.f.to(torch.float64)
        out = torch.empty_like(w)
        done = torch.zeros(w.shape[0], dtype=torch.bool)
        for i in range(w.shape[0]):
            if done[i]:
                continue
            same = (f == f[i]).flatten(1).all(1) & ~done
            solver = VorticitySolver(
                cfg["n"],
                nu=cfg["nu"],
                drag=task.drag,
                anisotropy=task.breaking_strength,
                forcing=f[i] if bool(f[i].abs().max() > 0) else None,
            )
            traj = solver.simulate(w[same], cfg["frame_dt"], 1, cfl=0.5)
            out[same] = downsample(traj[1], cfg["n"])
            done |= same
        return {"y": out[:, None]}

    return oracle


def _vector_field_measure(task, group_task, preset: str, n: int, seed: int) -> Measured:
    import numpy as np

    traj = task.trajectories(preset)["test"]
    x = traj.reshape(-1, traj.shape[-1]).astype(np.float64)
    rng = np.random.default_rng(seed)
    if len(x) > n:
        x = x[np.sort(rng.choice(len(x), size=n, replace=False))]
    f = task.system.f(x)
    dev = f - f.mean(0, keepdims=True)
    den = float((dev**2).sum())
    mats = group_task.rep_matrices().double().numpy()
    grp = group_task.group
    pair = rng.permutation(len(x))
    null = math.sqrt(float(((f[pair] - f) ** 2).sum()) / den) if den > 0 else math.nan
    out = []
    for factor in grp.factors:
        worst, worst_name = 0.0, None
        for i in grp.subgroup([factor]):
            if i == 0:
                continue
            m = mats[i]
            r = math.sqrt(float(((task.system.f(x @ m.T) - f @ m.T) ** 2).sum()) / den) if den > 0 else 0.0
            if r >= worst:
                worst, worst_name = r, _short(grp.element_names[i])
        out.append(FactorAudit(factor, worst, null, worst_name, len(x)))
    return out


def _robot_measure(task, group_task, n: int, seed: int) -> Measured:
    """The task's own target (inverse-dynamics torques, centroidal momentum or the next state)
    from the robot's simulator at random states, moved by every element of each factor; the spec
    check (:func:`~symzoo.datasets.robots.check_spec`, all three quantities, worst error over
    ``1 + max|f|`` per generator) is reported beside it."""
    import numpy as np
    from symzoo.datasets.robots import check_spec

    spec = task.spec
    grp = group_task.group
    if getattr(grp, "order", None) == 1:
        return [
            FactorAudit(f, 0.0, None, None, 0, note="trivial group: nothing to check") for f in grp.factors
        ]
    payload = float(getattr(task, "payload", 0.0) or 0.0)
    sim = spec.sim(payload_mass=payload)
    rng = np.random.default_rng(seed)
    q, v = sim.sample_states(n, rng)
    reps = {k: r.matrices.double().numpy() for k, r in group_task.reps.items() if hasattr(r, "matrices")}
    if task.kind == "id":
        a = rng.uniform(-np.pi, np.pi, size=q.shape)

        def f(i: int) -> dict[str, np.ndarray]:
            Q, V = reps["q"][i], reps["v"][i]
            return {"tau": sim.inverse_dynamics(q @ Q.T, v @ V.T, a @ V.T)}

        out_rep = {"tau": "v"}
    elif task.kind == "com":

        def f(i: int) -> dict[str, np.ndarray]:
            return {"momentum": sim.momentum(q @ reps["q"][i].T, v @ reps["v"][i].T)}

        out_rep = {"momentum": "momentum"}
    else:  # fd
        u = rng.uniform(-1.0, 1.0, size=q.shape) * sim.force_range()

        def f(i: int) -> dict[str, np.ndarray]:
            V = reps["v"][i]
            qn, vn = sim.step(q @ reps["q"][i].T, v @ V.T, u @ V.T, task.fd_steps)
            return {"q_next": qn, "v_next": vn}

        out_rep = {"q_next": "q", "v_next": "v"}
    y = {k: torch.from_numpy(np.asarray(val, dtype=np.float64)) for k, val in f(0).items()}
    dev = _deviation(y, n)
    null = _null(y, n, torch.Generator().manual_seed(seed))
    if spec.model_path().suffix == ".urdf":
        checked = check_spec(spec, n_states=min(n, 6), seed=seed, tol=math.inf) if not payload else {}
    else:
        checked = check_spec(spec, sim=sim, n_states=min(n, 6), seed=seed, tol=math.inf, diagnose=False)
    out = []
    for factor in grp.factors:
        worst, worst_name = 0.0, None
        for i in grp.subgroup([factor]):
            if i == 0:
                continue
            yg = f(i)
            diff = {k: torch.from_numpy(yg[k]) - y[k] @ torch.from_numpy(reps[out_rep[k]][i]).T for k in y}
            r = _rel(diff, dev)
            if r >= worst:
                worst, worst_name = r, _short(grp.element_names[i])
        note = f"check_spec {checked[factor]:.3g}" if factor in checked else ""
        out.append(FactorAudit(factor, worst, null, worst_name, n, note=note))
    return out


def _nn_measure(task: Task, group_task: Task, batch, seed: int) -> Measured:
    gen = torch.Generator().manual_seed(seed)
    b = int(batch.num_graphs)
    if b < 3:
        raise InputError(f"{task.name}: the nearest-neighbour audit needs at least 3 stored samples, got {b}")

    def features(bt) -> Tensor:
        cols = []
        for name in group_task.input_fields:
            v = getattr(bt, name)
            if not torch.is_floating_point(v):
                v = v.double()
            try:
                cols.append(_per_sample(v, b))
            except RuntimeError:
                raise InputError(
                    f"{task.name}: the nearest-neighbour audit needs samples of one size (field {name!r})"
                ) from None
        return torch.cat(cols, 1)

    def targets(bt) -> dict[str, Tensor]:
        return {k: _per_sample(getattr(bt, k), b) for k in group_task.target_fields}

    x, y = features(batch), targets(batch)
    # standardize each input column block by its own spread (fields in different units)
    widths = [_per_sample(getattr(batch, k).double(), b).shape[1] for k in group_task.input_fields]
    scales = []
    for blk in torch.split(x, widths, 1):
        s = float((blk - blk.mean(0)).pow(2).mean().sqrt()) or 1.0
        scales.append(torch.full((blk.shape[1],), s, dtype=torch.float64))
    scale = torch.cat(scales)
    xs = x / scale
    dev = _deviation(y, b)

    def nearest(q: Tensor) -> tuple[Tensor, Tensor]:
        d = torch.cdist(q, xs)
        d.fill_diagonal_(math.inf)  # never the sample itself (the same for every g: a fair control)
        dist, j = d.min(1)
        return j, dist

    def sq(pairs: dict[str, Tensor]) -> float:
        return _rel(pairs, dev) ** 2

    j0, d0 = nearest(xs)
    r_e = math.sqrt(sq({k: y[k][j0] - y[k] for k in y}))
    # labels of neighbours differ anyway, by about c·distance: fit c² on the identity control and
    # subtract the expected c²·distance² of the moved pairs, which lie farther from their neighbours
    c2 = r_e**2 / float(d0.pow(2).mean()) if float(d0.pow(2).mean()) > 0 else 0.0
    d_e = float(d0.median())
    null = _null(y, b, gen)
    blind = r_e > 0.5 * null  # neighbours' labels are nearly as different as random ones
    out = []
    for factor in group_task.group.factors:
        worst, worst_name, cover = -1.0, None, 0.0
        for name, g in _elements(group_task, factor, batch, gen):
            moved = group_task.act(g, batch)
            j, dist = nearest(features(moved) / scale)
            yg = targets(moved)
            r_g2 = sq({k: y[k][j] - yg[k] for k in y})
            excess = math.sqrt(max(r_g2 - c2 * float(dist.pow(2).mean()), 0.0))
            if excess > worst:
                worst, worst_name = excess, name
            cover = max(cover, float(dist.median()) / d_e if d_e > 0 else math.inf)
        fa = FactorAudit(factor, max(worst, 0.0), null, worst_name, b)
        fa.bounds = (max(fa.residual - r_e, 0.0), fa.residual + r_e)  # resolution: the identity control
        fa.note = f"nearest-neighbour: identity control {r_e:.3g}, moved/own nearest distance {cover:.2f}"
        if blind:
            fa.recommendation = "undetermined"
            fa.note += (
                " (neighbours' labels differ almost as much as random ones: too few samples to resolve)"
            )
        elif cover > COVERAGE_LIMIT:
            fa.recommendation = "undetermined"
            fa.note += (
                " (the data do not cover their orbits under this factor; more or augmented data needed)"
            )
        out.append(fa)
    return out


# ================================================================== the audit
def _measure(task: Task, group_task: Task, preset: str, n: int | None, seed: int) -> tuple[str, Measured]:
    from symzoo.datasets.attractors import AttractorTask
    from symzoo.datasets.flows import FlowTask
    from symzoo.datasets.hamiltonian import HamiltonianTask
    from symzoo.datasets.nbody import NBodyTask
    from symzoo.datasets.robots.tasks import RobotTask

    if type(task).audit_oracle is not Task.audit_oracle:
        batch = _stored_batch(task, preset, n or 64, seed)
        oracle = task.audit_oracle
        if oracle(_inputs_only(group_task, batch)) is None:
            raise InputError(f"{task.name}: audit_oracle returned None on the stored inputs")
        return "task oracle (Task.audit_oracle) at moved test inputs", _oracle_measure(
            task, group_task, batch, oracle, seed
        )
    if isinstance(task, RobotTask):
        k = n or 64
        return (
            f"the robot's simulator at {k} random states: the task's target at moved states vs the "
            "moved target (and check_spec's figure)",
            _robot_measure(task, group_task, k, seed),
        )
    if isinstance(task, AttractorTask):
        k = n or 512
        return (
            f"vector field |f(g·x) - g·f(x)| / spread of f, at {k} test-trajectory states (worst element)",
            _vector_field_measure(task, group_task, preset, k, seed),
        )
    if isinstance(task, NBodyTask) and task.path is None:
        batch = _stored_batch(task, preset, n or 64, seed)
        return (
            "simulator one frame ahead from moved test states (reference_trajectory, 1000 steps)",
            _oracle_measure(task, group_task, batch, _nbody_oracle(task), seed),
        )
    if isinstance(task, HamiltonianTask):
        batch = _stored_batch(task, preset, n or 64, seed)
        return (
            "the system's vector field (dq/dt, dp/dt, d²q/dt²) at moved test states",
            _oracle_measure(task, group_task, batch, _hamiltonian_oracle(task), seed),
        )
    if isinstance(task, FlowTask) and type(task)._generate is FlowTask._generate:  # simulated here
        batch = _stored_batch(task, preset, n or 16, seed)
        return (
            "vorticity solver one frame ahead from moved test states and moved forcing",
            _oracle_measure(task, group_task, batch, _flow_oracle(task, preset), seed),
        )
    batch = _stored_batch(task, preset, n or 1024, seed, split="train")  # the densest split
    return (
        "nearest neighbour in the stored training pairs (excess over the identity control)",
        _nn_measure(task, group_task, batch, seed),
    )


def audit_task(
    task: Task,
    *,
    preset: str | None = None,
    n: int | None = None,
    seed: int = 0,
    against: Task | None = None,
    exact_below: float = EXACT_BELOW,
    none_above: float = NONE_ABOVE,
) -> Audit:
    """Audit ``task``'s data against ``against.group`` (default: the task's own declared group).

    ``n``: samples (default 64 stored test samples for simulators and oracles, 16 flow states, 512
    attractor states, 64 robot states, 1024 stored training pairs for nearest neighbours); ``seed`` seeds the
    sample choice and the random elements.  ``against`` is the task whose group and field
    representations are audited, e.g. ``task.with_breaking(0)`` to audit broken data against the
    unbroken group.
    """
    recommend(0.0, exact_below=exact_below, none_above=none_above)  # validates the thresholds
    if n is not None and int(n) < 2:
        raise InputError(f"the audit needs at least 2 samples, got n={n}")
    preset = preset or task.default_preset
    task.check_preset(preset)
    group_task = against or task
    _check_group_task(task, group_task)
    measure, factors = _measure(task, group_task, preset, n, seed)
    for f in factors:
        if f.recommendation:
            continue
        if f.bounds is None:
            f.recommendation = recommend(f.residual, exact_below=exact_below, none_above=none_above)
            continue
        lo, hi = (recommend(x, exact_below=exact_below, none_above=none_above) for x in f.bounds)
        f.recommendation = lo if lo == hi else "undetermined"
        if lo != hi:
            f.note += (
                f"; the departure lies between {f.bounds[0]:.2g} and {f.bounds[1]:.2g}, across {lo} and {hi}: "
                "more samples would resolve it"
            )
    knob = task.breaking
    return Audit(
        task=task.name,
        preset=preset,
        group=repr(group_task.group),
        measure=measure,
        factors=factors,
        knob=None if knob is None else knob.name,
        strength=None if knob is None else _strength_of(task),
        thresholds={"exact_below": exact_below, "none_above": none_above},
    )


def _strength_of(task: Task) -> float:
    """The breaking strength of ``task``'s data: ``breaking_strength``, or the knob's own argument
    when a task records it only there (the robot tasks keep the payload as ``payload``)."""
    s = float(task.breaking_strength or 0.0)
    if not s and task.breaking is not None:
        v = getattr(task, task.breaking.arg, None)
        if isinstance(v, (int, float)) and math.isfinite(v):
            s = float(v)
    return s


def audit_breaking(task: Task, strengths: Sequence[float], **kwargs: Any) -> list[Audit]:
    """Audit ``task`` at every breaking strength, each against the **unbroken** group (the task at
    strength 0), which is what an exactly equivariant model of the full group assumes."""
    if task.breaking is None:
        raise InputError(f"task {task.name!r} has no symmetry-breaking knob; drop --breaking")
    checked = [task.breaking.check(s) for s in strengths]
    if not checked:
        raise InputError("--breaking needs at least one strength")
    base = task.with_breaking(0.0)
    out = []
    for s in checked:
        a = audit_task(task.with_breaking(s), against=base, **kwargs)
        a.strength = s  # the swept value (not every task records it as breaking_strength)
        out.append(a)
    return out


# ================================================================== output
def _g(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.3g}"


def format_audits(audits: Sequence[Audit]) -> str:
    """The human-readable report: one table per audit (factor, residual, null, worst, verdict)."""
    if not audits:
        return ""
    a0 = audits[0]
    th = a0.thresholds
    lines = [
        f"symmetry audit of {a0.task} (preset {a0.preset}) against {a0.group}",
        f"measure: {a0.measure}",
        f"residual = |y(g·x) - g·y(x)| / spread of y; exact <= {th.get('exact_below', EXACT_BELOW):g} "
        f"< relaxed <= {th.get('none_above', NONE_ABOVE):g} < none",
    ]
    for a in audits:
        lines.append("")
        if a.knob is not None and (len(audits) > 1 or a.strength):
            lines.append(f"{a.knob} = {a.strength:g}:")
        w = max([len("factor")] + [len(f.factor) for f in a.factors])
        lines.append(f"  {'factor':<{w}}  {'residual':>9}  {'null':>6}  {'worst element':<16} recommendation")
        for f in a.factors:
            lines.append(
                f"  {f.factor:<{w}}  {_g(f.residual):>9}  {_g(f.null):>6}  {(f.worst or '-'):<16} {f.recommendation}"
                + (f"  ({f.note})" if f.note else "")
            )
        keep = a.exact_factors()
        extra = ""
        if a.recommendation != "exact" and keep:
            extra = f"; exact for {', '.join(keep)}"
        lines.append(f"  => {a.recommendation} (largest residual {_g(a.residual)}){extra}")
    if len(audits) > 1:
        lines.append("")
        lines.append(
            "largest residual by strength: " + ", ".join(f"{a.strength:g}: {_g(a.residual)}" for a in audits)
        )
    return "\n".join(lines)


def audits_json(audits: Sequence[Audit]) -> dict[str, Any]:
    """The JSON document of ``symzoo audit --json`` / ``--out``."""
    a0 = audits[0]
    return {
        "task": a0.task,
        "preset": a0.preset,
        "group": a0.group,
        "measure": a0.measure,
        "thresholds": a0.thresholds,
        "audits": [a.to_dict() for a in audits],
    }
