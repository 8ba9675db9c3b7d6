"""Robot dynamics tasks (domain ``"robotics"``) on the MuJoCo robots of :mod:`symzoo.datasets.robots`.

==================  =====================================================  =======  ==========
task                inputs -> targets                                      group    primary
==================  =====================================================  =======  ==========
``cartpole-id``     ``q, v, a`` -> joint forces ``tau`` (``mj_inverse``)   C2       tau_mse
``acrobot-id``      same                                                   C2       tau_mse
``walker-id``       same (planar base held fixed in the air)               C2       tau_mse
``quadruped-id``    same (free base held fixed in the air)                 K4       tau_mse
``ant-id``          same (dm_control's Ant, torso fixed)                   D4       tau_mse
``acrobot-fd``      ``q, v, u`` -> ``q_next, v_next`` after ``dt`` = 0.05 s C2       state_mse
``quadruped-com``   ``q, v`` -> centroidal ``momentum`` (linear, angular)  K4       momentum_mse
``ant-com``         same on the Ant                                        D4       momentum_mse
==================  =====================================================  =======  ==========

**Data** (generated offline, seeded, cached atomically under ``SYMZOO_HOME/datasets/<task>/``):
joint positions uniform within the joint limits clipped to ±π (±1 m for unlimited slides), joint
velocities uniform in ±π (MorphoSymm's ±min(velocity limit, π); MuJoCo models have no velocity
limits), accelerations ``a`` uniform in ±π, controls ``u`` (generalized joint forces, zero on
joints without an actuator) uniform within the actuators' force range.  Before any data are
generated the spec is checked against the simulator (:func:`~symzoo.datasets.robots.check_spec`),
so a wrong spec never produces a cache.

**Batches** (:class:`~symzoo.task.ArrayDataset`; every field is graph-level ``[B, J]`` with ``J`` the
spec's joints in the spec's order, or ``[B, 6]`` for momentum): inputs ``q`` (rep ``q``), ``v``, ``a``,
``u`` (rep ``v``); targets ``tau``, ``q_next``, ``v_next`` (reps ``v``, ``q``) or ``momentum``
(rep ``momentum`` = vector ⊕ pseudo-vector).  Every field is in physical units (rad, m, rad/s,
N·m or N, kg·m/s, kg·m²/s), and models return the targets in physical units under the same keys
(``{"tau"}``, ``{"momentum"}``, ``{"q_next", "v_next"}``).  The loss and the primary metric are the
MSE of **standardized** targets: ``(y - mu) / s`` with ``mu`` the group-invariant part of the
training mean and one scale ``s`` per group-orbit of channels (so standardization commutes with
the group); ``task.target_stats[k] = (mu, s)`` (set by :meth:`RobotTask.splits`).  The ``*_rmse_si``
metrics are in physical units.

``quadruped-com`` follows MorphoSymm: labels are averaged over the group orbit
(``y(x) = mean_g rho(g)^-1 f(g x)``), the test split is expanded by the full orbit (every test
state under all 4 elements), the metric is the MSE of the standardized 6-D momentum.

**Orbit study** (:meth:`RobotTask.restrict`): every sample is moved to its canonical orbit
representative, the element ``h`` maximizing ``<w, rho_q(h) q>`` with ``w = (1, 2, ..., J)``: a
fundamental domain that holds ``1/|G|`` of the state space (for the walker: states whose left leg
is "ahead" of the right one in that score).  Training on it and testing on the whole orbit is the
orbit study of ``symzoo compare``.

**Breaking knob** (``quadruped-com``, ``quadruped-id``): ``payload`` kg on a solid sphere fixed
off-centre on the front-left upper leg (the spec's ``payload`` entry); no mirror survives, the
residual group is C1.

**Models are built from the task instance**: :meth:`RobotTask.model_defaults` passes
``task=<description>``, the instance's fields with its spec's group and representations as data
(:meth:`RobotTask.model_symmetry`, :func:`symzoo.models.emlp.describe_robot_fields`), so a user's
robot (``robot-id|fd|com`` with ``spec=PATH``) gets a model of its own joints and group, and
``model.json`` rebuilds it without the spec file.  Every :meth:`RobotTask.splits` first checks
the spec against its simulator (:meth:`RobotTask.check_simulator`, once per task object), cached
data or not, so no command gets past a spec that disagrees with its model file.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import Tensor

from symzoo.dynamics import Dynamics, Invariant
from symzoo.errors import InputError, SymzooError
from symzoo.groups import FiniteElement, FiniteGroup, MatrixRep, signed_permutation_group
from symzoo.paths import cached_npz, dataset_cache_dir, sha256_file
from symzoo.registry import register_task
from symzoo.task import ArrayDataset, BreakingKnob, Field, Task, cast_batch
from symzoo.taskargs import Arg, ArgSchema

from .checks import check_spec
from .spec import ROBOTS_DIR, RobotSpec, load_spec

__all__ = ["RobotTask", "RobotDynamicsTask", "orbit_scales"]

log = logging.getLogger(__name__)

_STD = "dimensionless (error over the training std of the channel's orbit)"
_SIZES = {
    "tiny": {"train": 256, "val": 64, "test": 128},
    "small": {"train": 5000, "val": 1000, "test": 2000},
    "paper": {"train": 70000, "val": 15000, "test": 15000},
}
#: bumped whenever the generator changes, so old caches are not reused
_DATA_VERSION = 1
#: inverse dynamics: 2 since equality constraints are off (quadruped-id torques were ~1e6 N·m of
#: tendon-coupling constraint force); the other kinds' data did not change
_ID_DATA_VERSION = 2


def orbit_scales(rep: MatrixRep, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, s)`` for targets ``y [N, d]``: ``mu`` the group-invariant part of the mean, ``s``
    one std per orbit of channels (channels linked by a non-zero entry of some ``rho(g)``)."""
    mats = rep.matrices.numpy()
    mu = np.mean(mats @ y.mean(0), axis=0)
    d = mats.shape[1]
    link = (np.abs(mats).sum(0) > 0).astype(int)
    label = np.arange(d)
    for _ in range(d):  # propagate the smallest label along links
        label = np.array([label[link[i] > 0].min() for i in range(d)])
    s = np.ones(d)
    for lab in np.unique(label):
        idx = label == lab
        s[idx] = max(float(np.sqrt(np.mean((y[:, idx] - mu[idx]) ** 2))), 1e-12)
    return mu, s


class RobotTask(Task):
    """One robot, one target kind (``"id"``, ``"fd"`` or ``"com"``); see the module docstring."""

    domain = "robotics"
    domain_label = "Robot dynamics"
    group: FiniteGroup  # a robot's group is finite (signed permutations of its joints)

    def __init__(
        self,
        name: str,
        robot: str,
        kind: str,
        *,
        train_size: int | None = None,
        payload: float = 0.0,
        description: str = "",
        fd_steps: int = 5,
    ):
        self.name, self.robot, self.kind = name, robot, kind
        self.spec: RobotSpec = load_spec(robot)
        self.train_size = train_size
        self.fd_steps = int(fd_steps)
        self.presets = {k: dict(v) for k, v in _SIZES.items()}
        self.group = self.spec.group
        reps = self.spec.reps
        if self.spec.payload:
            res = _residual(self.spec)
            self.breaking = BreakingKnob(
                name="payload",
                description=f"a payload on {self.spec.payload['body']} at {self.spec.payload.get('pos')} (body frame)",
                unit="kg",
                arg="payload",
                residual_group=res[0],
            )
            self.payload = self.breaking.check(payload)
            if self.payload > 0:
                self.group, reps = res
        elif payload:
            raise InputError(f"{name}: robot {robot!r} declares no payload (its spec has no 'payload' entry)")
        else:
            self.payload = 0.0
        self.breaking_strength = self.payload  # the Task hook audit and compare --breaking read
        self.reps = reps
        self.input_fields, self.target_fields, self.primary_metric, self.units = _fields(
            name, robot, kind, self.spec, reps
        )
        self.output_fields = dict(self.target_fields)
        self.description = description or f"{self.spec.description}: {kind}"
        self.target_stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._kwargs: dict[str, Any] = dict(train_size=train_size, description=description, fd_steps=fd_steps)
        self._checked: dict[str, float] | None = None

    def model_symmetry(self) -> ModelView:
        """What robot models are built for: this instance's fields with the representations of its
        spec's (unbroken) group.  With a payload the data are only C1-symmetric, but an equivariant
        model keeps the robot's morphological group (that is the breaking study)."""
        ins, outs, _, _ = _fields(self.name, self.robot, self.kind, self.spec, self.spec.reps)
        return ModelView(self.name, self.spec.group, ins, dict(outs))

    def check_simulator(self) -> dict[str, float]:
        """:func:`~symzoo.datasets.robots.check_spec` of the spec against its simulator (without a
        payload), once per task object; every command that builds data calls it (through
        :meth:`splits`) before writing anything, cached data or not."""
        if self._checked is None:
            self._checked = check_spec(self.spec)
        return self._checked

    # ------------------------------------------------------------------ data
    def _params(self, preset: str) -> dict:
        return {
            "version": _ID_DATA_VERSION if self.kind == "id" else _DATA_VERSION,
            "robot": self.spec.raw,
            "model_sha256": sha256_file(self.spec.model_path()) if self.spec.model_path().is_file() else None,
            "kind": self.kind,
            "sizes": self.presets[preset],
            "payload": self.payload,
            "fd_steps": self.fd_steps if self.kind == "fd" else None,
            "data_seed": 0,
        }

    def _generate(self, preset: str) -> dict[str, np.ndarray]:
        params = self._params(preset)
        path = dataset_cache_dir(self.name, preset, params) / "data.npz"
        return cached_npz(path, lambda: self._make(preset), what=f"{self.name}/{preset} robot data")

    def _make(self, preset: str) -> dict[str, np.ndarray]:
        from symzoo._logging import single_thread

        self.check_simulator()  # a spec that disagrees with its simulator never makes data
        sim = self.spec.sim(payload_mass=self.payload)
        sizes = self.presets[preset]
        rng = np.random.default_rng(np.random.SeedSequence([0, 12, {"id": 1, "fd": 2, "com": 3}[self.kind]]))
        out: dict[str, np.ndarray] = {}
        with single_thread():
            for split in ("train", "val", "test"):
                n = int(sizes[split])
                q, v = sim.sample_states(n, rng)
                out[f"{split}_q"], out[f"{split}_v"] = q, v
                if self.kind == "id":
                    a = rng.uniform(-np.pi, np.pi, size=q.shape)
                    out[f"{split}_a"] = a
                    out[f"{split}_tau"] = sim.inverse_dynamics(q, v, a)
                elif self.kind == "fd":
                    u = rng.uniform(-1.0, 1.0, size=q.shape) * sim.force_range()
                    out[f"{split}_u"] = u
                    out[f"{split}_q_next"], out[f"{split}_v_next"] = sim.step(q, v, u, self.fd_steps)
                else:
                    out[f"{split}_momentum"] = self._orbit_averaged_momentum(sim, q, v)
        return out

    def _orbit_averaged_momentum(self, sim, q: np.ndarray, v: np.ndarray) -> np.ndarray:
        Q, V, P = (self.reps[k].matrices.numpy() for k in ("q", "v", "momentum"))
        acc = np.zeros((len(q), 6))
        for i in range(self.group.order):
            y = sim.momentum(q @ Q[i].T, v @ V[i].T)
            acc += y @ np.linalg.inv(P[i]).T
        return acc / self.group.order

    def splits(self, preset: str | None = None, seed: int = 0):
        """``(train, val, test)`` :class:`ArrayDataset`\\ s (targets standardized by training stats)."""
        preset = preset or self.default_preset
        self.check_preset(preset)
        self.check_simulator()  # a spec that disagrees with its model file never gets further
        arr = self._generate(preset)
        keys = list(self.input_fields) + list(self.target_fields)
        self.target_stats = {}
        for k, f in self.target_fields.items():
            assert isinstance(f.rep, MatrixRep)
            self.target_stats[k] = orbit_scales(f.rep, arr[f"train_{k}"])
        out = []
        for split in ("train", "val", "test"):
            fields = {k: torch.from_numpy(np.asarray(arr[f"{split}_{k}"], dtype=np.float64)) for k in keys}
            ds = ArrayDataset(fields, meta={"split": split})
            if split == "test" and self.kind == "com":
                ds = self.orbit_expand(ds)
            out.append(ds)
        if self.train_size is not None:
            if self.train_size > len(out[0]):
                raise SymzooError(
                    f"{self.name}/{preset} has {len(out[0])} training samples; train_size={self.train_size} is too many"
                )
            out[0] = out[0].subset(range(self.train_size))
        return tuple(out)

    def orbit_expand(self, ds: ArrayDataset) -> ArrayDataset:
        """Every sample of ``ds`` under every group element (``|G| * len(ds)`` samples)."""
        batch = ds.__getitems__(list(range(len(ds))))
        parts = [self.act(g, batch) for g in self.group.elements(len(ds))]
        return ArrayDataset(
            {k: torch.cat([getattr(p, k) for p in parts]) for k in ds.fields}, meta=dict(ds.meta)
        )

    # -------------------------------------------------------------- training
    def _scale(self, k: str, x: Tensor) -> Tensor:
        if not self.target_stats:
            raise SymzooError(
                f"{self.name}: call splits() before loss/metrics (they use the training scales)"
            )
        return torch.as_tensor(self.target_stats[k][1], dtype=x.dtype, device=x.device)

    def loss(self, out: dict[str, Tensor], batch) -> Tensor:
        """MSE of the standardized targets (errors divided by each channel's orbit scale)."""
        return sum(
            (((out[k] - getattr(batch, k)) / self._scale(k, out[k])) ** 2).mean() for k in self.target_fields
        )

    def metrics(self, out: dict[str, Tensor], batch) -> dict[str, Tensor]:
        res: dict[str, Tensor] = {}
        se = {k: (out[k] - getattr(batch, k)) ** 2 for k in self.target_fields}
        res[self.primary_metric] = torch.cat([e / self._scale(k, e) ** 2 for k, e in se.items()], -1).mean()
        for k, phys in se.items():
            if self.kind == "id":
                res["tau_rmse_si"] = phys.mean().sqrt()
            elif self.kind == "com":
                res["linear_rmse_si"] = phys[:, :3].mean().sqrt()
                res["angular_rmse_si"] = phys[:, 3:].mean().sqrt()
            else:
                res[f"{k[0]}_rmse_si"] = phys.mean().sqrt()
        return res

    def metric_terms(self, out: dict[str, Tensor], batch):
        n = int(batch.num_graphs)
        terms = {}
        for k, v in self.metrics(out, batch).items():
            red = "rms" if k.endswith("_rmse_si") else "mean"
            terms[k] = (red, (v.detach() ** 2 if red == "rms" else v.detach()) * n, n)
        return terms

    # -------------------------------------------------------------- symmetry
    def restrict(self, dataset: ArrayDataset) -> ArrayDataset:
        """Every sample moved to its canonical orbit representative (see the module docstring)."""
        batch = dataset.__getitems__(list(range(len(dataset))))
        q = batch.q.to(torch.float64)
        mats = self.reps["q"].matrices  # [|G|, J, J]
        w = torch.arange(1, q.shape[1] + 1, dtype=torch.float64)
        score = torch.einsum("j,gjk,bk->bg", w, mats, q)
        g = FiniteElement(score.argmax(1), self.group)
        moved = self.act(g, batch)
        return ArrayDataset({k: getattr(moved, k) for k in dataset.fields}, meta=dict(dataset.meta))

    def with_breaking(self, strength: float) -> RobotTask:
        """This task with a payload of ``strength`` kg (see the module docstring)."""
        if self.breaking is None:
            return super().with_breaking(strength)
        task = type(self)(
            self.name, self.robot, self.kind, payload=self.breaking.check(strength), **self._kwargs
        )
        task.default_preset = self.default_preset
        return task

    def model_defaults(self, model_name: str, train_set) -> dict[str, Any]:
        from symzoo.registry import model_defaults_for  # the robot models' own rule, by domain

        return model_defaults_for("robotics", self.model_symmetry(), model_name)

    def prepare_model(
        self, model, train_set, *, pretrained: bool = False, keep_pretrained: bool = False
    ) -> dict[str, Any] | None:
        """Fit ``emlp``'s / the robot ``mlp``'s (group-symmetrized) input and output standardization
        and ``delan``'s Lagrangian scale to the training set
        (``model.fit_normalization(fields)`` where the model has one, on the training set's fields in
        physical units).  A pretrained model keeps the statistics
        its weights were trained with (re-fitting them on a small fine-tuning set would change
        what every layer sees).  Returns ``{"normalization": "kept" | "fitted"}`` (``prepare.json``)."""
        if pretrained and not _unfitted(model):
            return {"normalization": "kept"}
        fit = getattr(model, "fit_normalization", None)
        fields = getattr(train_set, "fields", None)
        if fit is not None and fields is not None:
            fit(dict(fields))
            return {"normalization": "fitted"}
        return None

    def info(self) -> dict[str, Any]:
        d = super().info()
        d.update(robot=self.spec.name, joints=list(self.spec.joints), payload_kg=self.payload)
        return d


class ModelView:
    """A task's name, group and fields (what :func:`symzoo.models.emlp.robot_fields` reads)."""

    def __init__(self, name: str, group, input_fields: dict[str, Field], output_fields: dict[str, Field]):
        self.name, self.group = name, group
        self.input_fields, self.output_fields = input_fields, output_fields


def _fields(name: str, robot: str, kind: str, spec: RobotSpec, reps: dict[str, MatrixRep]):
    """``(input_fields, target_fields, primary_metric, units)`` of a robot task of ``kind``."""
    qr, vr = reps["q"], reps["v"]
    if kind == "id":
        inputs = {"q": Field(qr, "graph", "rad|m"), "v": Field(vr, "graph", "rad/s|m/s"),
                  "a": Field(vr, "graph", "rad/s^2|m/s^2")}  # fmt: skip
        return (
            inputs,
            {"tau": Field(vr, "graph", "N·m|N")},
            "tau_mse",
            {
                "tau_mse": _STD + ", squared",
                "tau_rmse_si": "N·m (hinges) / N (slides)",
            },
        )
    if kind == "com":
        if spec.com_body is None:
            raise InputError(f"{name}: robot {robot!r} has no com_body in its spec")
        inputs = {"q": Field(qr, "graph", "rad"), "v": Field(vr, "graph", "rad/s")}
        targets = {"momentum": Field(reps["momentum"], "graph", "kg·m/s|kg·m²/s")}
        return (
            inputs,
            targets,
            "momentum_mse",
            {
                "momentum_mse": _STD + ", squared",
                "linear_rmse_si": "kg·m/s",
                "angular_rmse_si": "kg·m²/s",
            },
        )
    if kind == "fd":
        inputs = {"q": Field(qr, "graph", "rad"), "v": Field(vr, "graph", "rad/s"),
                  "u": Field(vr, "graph", "N·m")}  # fmt: skip
        targets = {"q_next": Field(qr, "graph", "rad"), "v_next": Field(vr, "graph", "rad/s")}
        return (
            inputs,
            targets,
            "state_mse",
            {
                "state_mse": _STD + ", squared",
                "q_rmse_si": "rad",
                "v_rmse_si": "rad/s",
            },
        )
    raise ValueError(f"unknown robot task kind {kind!r}")


def _residual(spec: RobotSpec):
    """The residual group with a payload (the spec's ``payload.residual``; only C1 is supported)."""
    res = str(spec.payload.get("residual", "C1")) if spec.payload else "C1"
    if res != "C1":
        raise InputError(f"robot spec {spec.name!r}: payload residual {res!r} is not supported (use C1)")
    n = spec.n_joints
    eye = {"perm": list(range(n))}
    grp, reps = signed_permutation_group(
        "C1", {"e": {"q": eye, "v": eye, "momentum": np.eye(6).tolist()}}, dims={"q": n, "v": n}
    )
    return grp, reps


class RobotDynamicsTask(Dynamics, RobotTask):
    """One-step forward dynamics with the dynamics protocol: rollouts hold the initial control."""

    rollout_steps = 20
    time_unit = "s"
    rollout_method = "the model's one-step map iterated, control u held constant"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sim = None
        self.dt = float(self.spec.sim().dt) * self.fd_steps

    @property
    def sim(self):
        if self._sim is None:
            self._sim = self.spec.sim(payload_mass=self.payload)
        return self._sim

    def initial_batch(self, preset: str | None = None, split: str = "test", n: int | None = None, dtype=None):
        ds = dict(zip(("train", "val", "test"), self.splits(preset)))[split]
        n = min(n or 16, len(ds))
        b = ds.__getitems__(list(range(n)))
        return cast_batch(b, dtype) if dtype is not None else b

    def rollout(self, model, batch, steps: int, **options):
        """``{"q", "v"}`` ``[steps + 1, B, J]`` in physical units from the model's one-step map."""
        qs, vs = [batch.q], [batch.v]
        cur = batch.clone()
        for _ in range(steps):
            out = model(cur)
            q, v = out["q_next"], out["v_next"]
            qs.append(q)
            vs.append(v)
            cur = cur.clone()
            cur.q, cur.v = q, v
        return {"q": torch.stack(qs), "v": torch.stack(vs)}

    def reference_trajectory(self, batch, steps: int):
        q, v = batch.q.double().numpy(), batch.v.double().numpy()
        u = batch.u.double().numpy()
        qs, vs = [q], [v]
        for _ in range(steps):
            q, v = self.sim.step(q, v, u, self.fd_steps)
            qs.append(q)
            vs.append(v)
        return {"q": torch.from_numpy(np.stack(qs)), "v": torch.from_numpy(np.stack(vs))}

    def invariants(self) -> dict[str, Invariant]:
        def energy(traj, batch):
            q, v = traj["q"].detach().double().numpy(), traj["v"].detach().double().numpy()
            e = self.sim.energy(q.reshape(-1, q.shape[-1]), v.reshape(-1, v.shape[-1]))
            return torch.from_numpy(e.reshape(q.shape[:2]))

        return {
            "energy": Invariant(
                energy, "J", conserved=False, description="potential + kinetic energy (damped and driven)"
            )
        }

    def reference_key(self, preset: str) -> dict:
        return {**super().reference_key(preset), "fd_steps": self.fd_steps, "payload": self.payload}


# ------------------------------------------------------------------------- registration
def _id(robot: str):
    def factory(train_size: int | None = None, payload: float = 0.0) -> RobotTask:
        return RobotTask(f"{robot}-id", robot, "id", train_size=train_size, payload=payload)

    return factory


for _robot, _doc in (
    ("cartpole", "cartpole inverse dynamics (mj_inverse): q, q̇, q̈ -> joint forces; C2 mirror"),
    ("acrobot", "acrobot inverse dynamics (mj_inverse): q, q̇, q̈ -> joint torques; C2 mirror"),
    ("walker", "dm_control walker inverse dynamics, base fixed: q, q̇, q̈ -> torques; C2 leg swap"),
    ("quadruped", "dm_control quadruped inverse dynamics, base fixed: q, q̇, q̈ -> torques; K4"),
    ("ant", "dm_control's Ant inverse dynamics, torso fixed: q, q̇, q̈ -> torques; D4 (4 legs at 90°)"),
):
    register_task(f"{_robot}-id", description=_doc)(_id(_robot))


@register_task(
    "acrobot-fd",
    args=ArgSchema(
        {
            "train_size": Arg(int, min=1, nullable=True, help="training samples"),
            "fd_steps": Arg(int, min=1, max=1000, help="simulator steps per prediction"),
        }
    ),
)
def acrobot_fd(train_size: int | None = None, fd_steps: int = 5) -> RobotDynamicsTask:
    """Acrobot one-step forward dynamics under random torques (q, q̇, u -> state after 0.05 s); C2."""
    return RobotDynamicsTask("acrobot-fd", "acrobot", "fd", train_size=train_size, fd_steps=fd_steps)


@register_task("quadruped-com")
def quadruped_com(train_size: int | None = None, payload: float = 0.0) -> RobotTask:
    """dm_control quadruped centroidal momentum from joint q, q̇ (MorphoSymm protocol); K4."""
    return RobotTask("quadruped-com", "quadruped", "com", train_size=train_size, payload=payload)


@register_task("ant-com")
def ant_com(train_size: int | None = None) -> RobotTask:
    """dm_control's Ant centroidal momentum from joint q, q̇ (quadruped-com's protocol); D4."""
    return RobotTask("ant-com", "ant", "com", train_size=train_size)


@register_task(
    "robot-id",
    pattern=r"robot-(id|fd|com)",
    example="robot-id",
    description="any robot from a user's spec file: robot-id|robot-fd|robot-com with task arg spec=PATH.yaml",
)
def robot_from_spec(
    kind: str, spec: str | None = None, train_size: int | None = None, payload: float = 0.0
) -> RobotTask:
    """A user's robot (``spec=path/to/robot.yaml`` beside its MJCF file): no code needed.  Without
    ``spec`` the shipped example is used (acrobot for ``id``/``fd``, the quadruped for ``com``).
    ``payload`` kg: the breaking knob of a spec with a ``payload`` entry (``compare --breaking`` and
    ``audit --breaking`` sweep it; refused for a spec without one)."""
    if spec is None:
        spec = str(ROBOTS_DIR / ("quadruped.yaml" if kind == "com" else "acrobot.yaml"))
    cls = RobotDynamicsTask if kind == "fd" else RobotTask
    return cls(f"robot-{kind}", spec, kind, train_size=train_size, payload=payload)


def _unfitted(model) -> bool:
    """True when some of the model's standardization is still at its construction defaults (zero
    means, unit scales): a fine-tuned model whose statistics were not all copied from the
    pretrained weights (e.g. input layers reinitialised for another robot's joints) gets them
    fitted (statistics of another robot's data mean nothing here)."""
    bufs = dict(model.named_buffers())
    pairs: list[tuple[Any, Any]] = [
        (bufs.get(m), bufs.get(v))
        for m, v in (("in_mean", "in_std"), ("out_mean", "out_std"), (None, "scale"))
    ]
    pairs = [(m, v) for m, v in pairs if v is not None]
    return any((m is None or bool((m == 0).all())) and bool((v == 1).all()) for m, v in pairs)
