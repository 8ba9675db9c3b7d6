"""The pinocchio backend of the robot specs (URDF robots), and MorphoSymm's ``solo-com`` anchor task.

Needs the optional extra ``pip install 'symzoo[robotics-pinocchio]'`` (``pin`` and ``example-robot-data``;
``pin`` 2.7 is the newest release that runs with numpy<2, the ``pin`` 3.x wheels need numpy 2).
A spec whose ``model`` is a ``.urdf`` file (relative to the spec, absolute, or
``example-robot-data:<path inside the package's share/example-robot-data>``) is simulated by
:class:`PinocchioSim`, which has :class:`~symzoo.datasets.robots.RobotSim`'s interface, so
:func:`~symzoo.datasets.robots.check_spec` validates it the same way as the MuJoCo specs:
inverse dynamics (``pin.rnea``, base held at rest), accelerations (``pin.aba``, base free) and
the centroidal momentum (``pin.computeCentroidalMomentum``: linear then angular momentum about
the centre of mass, world axes) of the transformed state equal the transformed outputs to 1e-8.

==================  =======================================================  =====  ============
task                inputs -> targets                                        group  primary
==================  =======================================================  =====  ============
``solo-com``        Solo-12 ``q, v`` -> centroidal ``momentum`` (MorphoSymm)  K4     momentum_mse
``solo-com-c2``     the same data; the model's group is the sagittal C2      C2     momentum_mse
==================  =======================================================  =====  ============

MorphoSymm's protocol (Ordoñez-Apraez et al.): joint positions uniform within the URDF limits
clipped to ±π, velocities uniform in ±min(velocity limit, π) (Solo's URDF: ±10 rad and 1000 rad/s,
so both are ±π), base fixed at the origin at rest; labels averaged over the K4 orbit; 100k samples
split 70/15/15 at ``paper`` (``small`` 5000/1000/2000, ``tiny`` 256/64/128); the test split is
expanded by the full K4 orbit (also for ``solo-com-c2``: MorphoSymm tests its C2 models on the K4
orbit); the metric is the MSE of standardized targets (:class:`~symzoo.datasets.robots.tasks.RobotTask`).
``solo-com-c2`` shares ``solo-com``'s data and cache; only the group the models and the
augmentation see is C2.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from symzoo.errors import InputError
from symzoo.groups import SymmetrySpecError
from symzoo.registry import register_task
from symzoo.task import ArrayDataset, Field

from .spec import RobotSpec, load_spec, register_model_source, register_sim_backend, spec_from_dict
from .tasks import RobotTask

__all__ = ["PinocchioSim", "SoloComTask", "check_urdf_spec", "example_robot_data_path"]

log = logging.getLogger(__name__)

_EXTRA = "pip install 'symzoo[robotics-pinocchio]'"


def _import_pinocchio():
    try:
        import pinocchio
    except ImportError:
        raise InputError(
            f"this robot is simulated with pinocchio, which is not installed; {_EXTRA}"
        ) from None
    return pinocchio


def example_robot_data_path(rel: str, robot: str = "robot") -> Path:
    """The file ``rel`` of the installed ``example-robot-data`` package (its ``share/example-robot-data``)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("example-robot-data")
    except metadata.PackageNotFoundError:
        raise InputError(
            f"robot {robot!r} uses a URDF from example-robot-data, which is not installed; {_EXTRA}"
        ) from None
    root = Path(str(dist.locate_file("cmeel.prefix/share/example-robot-data")))
    path = root / rel
    if not path.is_file():
        raise InputError(f"robot {robot!r}: {rel} is not in the installed example-robot-data ({root})")
    return path


class PinocchioSim:
    """A URDF robot in pinocchio with :class:`~symzoo.datasets.robots.RobotSim`'s interface.

    ``spec.base`` names the root joint (``root_joint``: a free flyer, qpos ``[x, y, z, qx, qy, qz,
    qw]``) held at ``base.qpos`` with zero velocity, or is empty for a URDF loaded with a fixed
    base.  ``com_body`` (any value) turns on :meth:`momentum` of the whole robot.
    """

    def __init__(self, spec: RobotSpec, payload_mass: float = 0.0, symmetrize_inertia: bool = False):
        pin = _import_pinocchio()
        self.spec, self.pin = spec, pin
        if payload_mass:
            raise InputError(f"robot {spec.name!r}: the pinocchio backend has no payload knob")
        path = spec.model_path()
        if not path.is_file():
            raise InputError(f"robot {spec.name!r}: model file {path} does not exist")
        free = bool(spec.base_joints)
        if free and spec.base_joints != ["root_joint"]:
            raise SymmetrySpecError(
                f"robot spec {spec.name!r}: with a URDF, base.joints is [root_joint] (a free flyer) or empty"
            )
        try:
            if free:
                m = pin.buildModelFromUrdf(str(path), pin.JointModelFreeFlyer())
            else:
                m = pin.buildModelFromUrdf(str(path))
        except (ValueError, RuntimeError, IndexError) as e:
            first = (str(e).strip().splitlines() or ["unknown error"])[0]
            raise InputError(f"robot {spec.name!r}: model file {path} does not load: {first}") from None
        self.model, self.data = m, m.createData()
        names = list(m.names)
        missing = [j for j in spec.joints if j not in names]
        if missing:
            raise SymmetrySpecError(
                f"robot spec {spec.name!r} names joint(s) {missing} that the model {path.name} does not "
                f"have; its joints are {names[1 + free :]}"
            )
        jid = [m.getJointId(j) for j in spec.joints]
        bad = [j for j, i in zip(spec.joints, jid) if m.joints[i].nq != 1 or m.joints[i].nv != 1]
        if bad:
            raise SymmetrySpecError(f"robot spec {spec.name!r}: joint(s) {bad} are not 1-DoF joints")
        self.qadr = np.array([m.joints[i].idx_q for i in jid])
        self.dadr = np.array([m.joints[i].idx_v for i in jid])
        nbase = 7 if free else 0
        if len(spec.base_qpos) != nbase:
            raise SymmetrySpecError(
                f"robot spec {spec.name!r}: base.qpos has {len(spec.base_qpos)} values, the base needs {nbase}"
            )
        self.base_qpos = np.asarray(spec.base_qpos, dtype=float)
        self.q0 = pin.neutral(m)
        if free:
            self.q0[:7] = self.base_qpos
        lo, hi = m.lowerPositionLimit[self.qadr], m.upperPositionLimit[self.qadr]
        self.q_low, self.q_high = np.maximum(lo, -np.pi), np.minimum(hi, np.pi)
        self.v_max = np.minimum(m.velocityLimit[self.dadr], np.pi)
        badj = [
            j for j, a, b, w in zip(spec.joints, self.q_low, self.q_high, self.v_max) if not (a < b and w > 0)
        ]
        if badj:
            raise InputError(f"robot {spec.name!r}: joint(s) {badj} have an empty position or velocity range")
        self.com_body = spec.com_body
        self.dt = 0.0
        self.base_id = 1 if free else None
        self.spec_mismatch: dict[str, float] = {}  # set by check_urdf_spec
        if symmetrize_inertia:
            self._symmetrize_inertia()

    def _symmetrize_inertia(self) -> None:
        """Replace every listed link's inertial parameters (mass, first moment, inertia about the
        joint origin) by their average over the group: link ``i`` gets ``A m_j, A (m c)_j, A I_j
        Aᵀ`` of the link ``j`` it is mirrored onto, ``A = R_i0ᵀ R R_j0`` (frames at the neutral
        pose).  Kinematics (joint placements and axes) are left alone, so the spec's joint order,
        signs and ``R`` are still checked against the URDF's geometry."""
        pin, m = self.pin, self.model
        data = m.createData()
        pin.forwardKinematics(m, data, self.q0)
        rot = {k: np.array(data.oMi[k].rotation) for k in range(m.njoints)}
        ids = [m.getJointId(j) for j in self.spec.joints]
        qm = self.spec.reps["q"].matrices.numpy()
        rm = self.spec.reps["vector"].matrices.numpy()
        maps = [dict(zip(ids, [ids[int(np.abs(row).argmax())] for row in mat])) for mat in qm]
        if self.base_id is not None:
            for mp in maps:
                mp[self.base_id] = self.base_id

        def split(p: np.ndarray):
            i3 = np.array([[p[4], p[5], p[7]], [p[5], p[6], p[8]], [p[7], p[8], p[9]]])
            return p[0], p[1:4], i3

        new = {}
        for i in maps[0]:
            acc = np.zeros(10)
            for mp, r in zip(maps, rm):
                j = mp[i]
                a = rot[i].T @ r @ rot[j]
                mass, mc, i3 = split(np.asarray(m.inertias[j].toDynamicParameters()))
                mc, i3 = a @ mc, a @ i3 @ a.T
                acc += [mass, *mc, i3[0, 0], i3[0, 1], i3[1, 1], i3[0, 2], i3[1, 2], i3[2, 2]]
            new[i] = acc / len(maps)
        for i, prm in new.items():
            m.inertias[i] = pin.Inertia.FromDynamicParameters(prm)
        self.data = m.createData()

    def asymmetry(self, n_states: int = 20, seed: int = 0) -> float:
        """The URDF's own asymmetry: the worst relative mismatch of the centroidal momentum of
        ``g · x`` and ``g`` applied to that of ``x`` (generators, random states); 0 for an exactly
        symmetric model."""
        rng = np.random.default_rng(seed)
        q, v = self.sample_states(n_states, rng)
        y = self.momentum(q, v)
        worst = 0.0
        for g in self.spec.group.generator_names:
            mq, mv = self.spec.generator_matrices("q")[g], self.spec.generator_matrices("v")[g]
            mp = self.spec.generator_matrices("momentum")[g]
            err = np.abs(self.momentum(q @ mq.T, v @ mv.T) - y @ mp.T).max()
            worst = max(worst, float(err / (1.0 + np.abs(y).max())))
        return worst

    # ------------------------------------------------------------------ states
    def sample_states(self, n: int, rng: np.random.Generator, vel: float | None = None):
        """MorphoSymm's states: positions uniform within limits clipped to ±π, velocities uniform
        in ±min(velocity limit, π) (``vel`` overrides the bound)."""
        q = rng.uniform(self.q_low, self.q_high, size=(n, self.spec.n_joints))
        vmax = self.v_max if vel is None else np.full(self.spec.n_joints, float(vel))
        v = rng.uniform(-vmax, vmax, size=(n, self.spec.n_joints))
        return q, v

    def _qv(self, q: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        qf = self.q0.copy()
        qf[self.qadr] = q
        vf = np.zeros(self.model.nv)
        vf[self.dadr] = v
        return qf, vf

    def inverse_dynamics(self, q: np.ndarray, v: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Joint torques ``[n, J]`` for accelerations ``a`` at ``(q, v)``, base held at rest (``rnea``)."""
        out = np.empty((len(q), self.spec.n_joints))
        for k in range(len(q)):
            qf, vf = self._qv(q[k], v[k])
            af = np.zeros(self.model.nv)
            af[self.dadr] = a[k]
            out[k] = self.pin.rnea(self.model, self.data, qf, vf, af)[self.dadr]
        return out

    def accelerations(self, q: np.ndarray, v: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """Joint accelerations ``[n, J]`` under joint torques ``u`` (``aba``; a floating base is free)."""
        out = np.empty((len(q), self.spec.n_joints))
        for k in range(len(q)):
            qf, vf = self._qv(q[k], v[k])
            tau = np.zeros(self.model.nv)
            if u is not None:
                tau[self.dadr] = u[k]
            out[k] = self.pin.aba(self.model, self.data, qf, vf, tau)[self.dadr]
        return out

    def momentum(self, q: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Centroidal momentum ``[n, 6]`` (``computeCentroidalMomentum``): linear (kg m/s) then
        angular momentum about the centre of mass (kg m²/s), world axes."""
        if self.com_body is None:
            raise InputError(f"robot {self.spec.name!r} has no com_body: its spec cannot give momentum")
        out = np.empty((len(q), 6))
        for k in range(len(q)):
            qf, vf = self._qv(q[k], v[k])
            h = self.pin.computeCentroidalMomentum(self.model, self.data, qf, vf)
            out[k, :3], out[k, 3:] = h.linear, h.angular
        return out


# ------------------------------------------------------------------------------- solo-com
class SoloComTask(RobotTask):
    """``solo-com`` (K4) and ``solo-com-c2`` (the sagittal C2 subgroup, same data): see the module docstring."""

    def __init__(self, name: str = "solo-com", subgroup: str = "K4", train_size: int | None = None):
        super().__init__(name, "solo", "com", train_size=train_size)
        self.full_spec = self.spec
        if subgroup == "K4":
            return
        if subgroup != "C2":
            raise InputError(f"{name}: subgroup must be K4 or C2, got {subgroup!r}")
        raw = dict(self.spec.raw)
        raw.update(group="C2", generators={"sagittal": raw["generators"]["sagittal"]})
        spec = spec_from_dict(raw, self.spec.path)
        self.spec, self.group, self.reps = spec, spec.group, spec.reps
        self.input_fields = {k: Field(spec.reps[k], "graph", f.unit) for k, f in self.input_fields.items()}
        self.target_fields = {"momentum": Field(spec.reps["momentum"], "graph", "kg·m/s|kg·m²/s")}
        self.output_fields = dict(self.target_fields)
        self.description = "Solo-12 centroidal momentum (MorphoSymm); models see the sagittal C2 of K4"

    # data: always K4's (labels averaged over K4, cached under solo-com, test set on the K4 orbit)
    def _params(self, preset: str) -> dict:
        spec, self.spec = self.spec, self.full_spec
        try:
            return super()._params(preset)
        finally:
            self.spec = spec

    def _generate(self, preset: str) -> dict[str, np.ndarray]:
        from symzoo.paths import cached_npz, dataset_cache_dir

        path = dataset_cache_dir("solo-com", preset, self._params(preset)) / "data.npz"
        return cached_npz(path, lambda: self._make(preset), what=f"solo-com/{preset} robot data")

    def _make(self, preset: str) -> dict[str, np.ndarray]:
        from symzoo._logging import single_thread

        sim = check_urdf_spec(self.full_spec)  # a spec that disagrees never makes data
        sizes = self.presets[preset]
        rng = np.random.default_rng(np.random.SeedSequence([0, 12, 4]))
        spec, group, reps = self.spec, self.group, self.reps
        self.spec, self.group, self.reps = self.full_spec, self.full_spec.group, self.full_spec.reps
        out: dict[str, np.ndarray] = {}
        try:
            with single_thread():
                for split in ("train", "val", "test"):
                    q, v = sim.sample_states(int(sizes[split]), rng)
                    out[f"{split}_q"], out[f"{split}_v"] = q, v
                    out[f"{split}_momentum"] = self._orbit_averaged_momentum(sim, q, v)
        finally:
            self.spec, self.group, self.reps = spec, group, reps
        return out

    def orbit_expand(self, ds: ArrayDataset) -> ArrayDataset:
        """Every sample under every element of K4 (``4 * len(ds)``), whatever the models' group."""
        reps = self.full_spec.reps
        space = {"q": "q", "v": "v", "momentum": "momentum"}
        fields: dict[str, Any] = {}
        for k, x in ds.fields.items():
            mats = reps[space[k]].matrices.to(x.dtype)
            fields[k] = torch.cat([x @ mats[i].T for i in range(len(mats))])
        return ArrayDataset(fields, meta=dict(ds.meta))


@register_task("solo-com")
def solo_com(train_size: int | None = None) -> SoloComTask:
    """Solo-12 centroidal momentum from joint q, q̇ (pinocchio, MorphoSymm's anchor); K4. Needs symzoo[robotics-pinocchio]."""
    return SoloComTask("solo-com", "K4", train_size=train_size)


@register_task("solo-com-c2")
def solo_com_c2(train_size: int | None = None) -> SoloComTask:
    """solo-com's data with the sagittal C2 subgroup as the models' group (MorphoSymm's C2-EMLP)."""
    return SoloComTask("solo-com-c2", "C2", train_size=train_size)


#: the largest relative asymmetry of a URDF's own inertial parameters that the check accepts
#: (Solo-12's: 4.9e-4; a wrong joint sign or order gives O(1e-2..1))
URDF_ASYMMETRY_TOL = 5e-3


def check_urdf_spec(
    spec: RobotSpec | str | Path, *, n_states: int = 6, seed: int = 0, tol: float = 1e-8
) -> PinocchioSim:
    """Check a URDF robot's spec against pinocchio; return the (raw) simulator, with the worst
    relative mismatch per generator in ``spec_mismatch`` (what ``check_spec(spec)`` returns).

    Two parts, each failing with one :class:`SymmetrySpecError` line: (1) the spec against the
    URDF's geometry: :func:`~symzoo.datasets.robots.check_spec` (inverse dynamics, accelerations,
    centroidal momentum of the transformed state, to ``tol``) on the model whose link inertias are
    averaged over the group (:meth:`PinocchioSim._symmetrize_inertia`; placements and axes
    untouched); (2) the URDF's own inertial parameters: the momentum asymmetry of the unmodified
    model must stay below :data:`URDF_ASYMMETRY_TOL` (the rest is what MorphoSymm's orbit-averaged
    labels cancel).  Shipped URDFs are not exactly symmetric: Solo-12's hip-flexion links have
    their centre of mass 1.4e-5 m off the mirror image, and the hind hip-abduction links the
    wrong sign of I_xy, so the raw model agrees only to 4.9e-4 (relative).
    """
    from .checks import check_spec

    if not isinstance(spec, RobotSpec):
        spec = load_spec(spec)
    worst = check_spec(
        spec, sim=PinocchioSim(spec, symmetrize_inertia=True), n_states=n_states, seed=seed, tol=tol
    )
    sim = PinocchioSim(spec)
    sim.spec_mismatch = worst
    asym = sim.asymmetry(n_states=max(n_states, 20), seed=seed)
    if asym > URDF_ASYMMETRY_TOL:
        raise SymmetrySpecError(
            f"robot spec {spec.name!r}: its URDF's links are not mirror images under the spec's group "
            f"(centroidal momentum mismatch {asym:.2g} relative > {URDF_ASYMMETRY_TOL:g}, with the "
            f"kinematics consistent): check the masses and inertias of the mirrored links"
        )
    log.info("robot spec %s agrees with pinocchio; the URDF's own asymmetry is %.2g", spec.name, asym)
    return sim


# the spec (symzoo.datasets.robots) finds this backend and the example-robot-data files through
# its registries; it never imports this module
register_sim_backend(
    ".urdf",
    sim=lambda spec, payload_mass=0.0: PinocchioSim(spec, payload_mass=payload_mass),
    check=lambda spec, **kw: check_urdf_spec(spec, **kw).spec_mismatch,
)
register_model_source("example-robot-data:", example_robot_data_path)
