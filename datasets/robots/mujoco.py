"""The MuJoCo backend of the robot specs: :class:`RobotSim` (inverse dynamics, accelerations,
centroidal momentum, steps, energy) for MJCF models, and the default simulator of a spec
(:meth:`RobotSpec.sim <symzoo.datasets.robots.spec.RobotSpec.sim>`; registered below).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from symzoo.errors import InputError
from symzoo.groups import SymmetrySpecError

from .spec import RobotSpec, register_sim_backend

__all__ = ["RobotSim", "load_mujoco_model"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------- simulator
def load_mujoco_model(path: Path):
    """``mujoco.MjModel`` of an MJCF file, or of a URDF file read for its dynamics only: its
    ``<visual>``/``<collision>`` geometry is dropped (meshes behind ``package://`` paths do not load,
    and contacts are off anyway) and static links are kept as bodies (``fusestatic="false"``), so a
    fixed base stays the root of the tree.  Raises what MuJoCo raises."""
    import re

    import mujoco

    if Path(path).suffix.lower() != ".urdf":
        return mujoco.MjModel.from_xml_path(str(path))
    text = re.sub(r"<(visual|collision)\b.*?</\1>", "", Path(path).read_text(), flags=re.S)
    text = re.sub(r"<(visual|collision)\b[^>]*/>", "", text)
    text = re.sub(r"(<robot\b[^>]*>)", r'\1<mujoco><compiler fusestatic="false"/></mujoco>', text, count=1)
    return mujoco.MjModel.from_xml_string(text)


class RobotSim:
    """The MuJoCo model of a :class:`RobotSpec`; every method takes batches ``[n, n_joints]``.

    The base joints are held at ``spec.base_qpos`` with zero velocity (and zero acceleration in
    inverse dynamics); joints the spec does not list stay at ``qpos0``; contacts are disabled.
    """

    def __init__(self, spec: RobotSpec, payload_mass: float = 0.0):
        import mujoco

        self.spec, self.mj = spec, mujoco
        path = spec.model_path()
        if not path.is_file():
            raise InputError(f"robot {spec.name!r}: model file {path} does not exist")
        try:
            if payload_mass > 0:
                self.model = self._with_payload(path, payload_mass)
            else:
                self.model = load_mujoco_model(path)
        except (ValueError, RuntimeError, KeyError) as e:
            first = (str(e).strip().splitlines() or ["unknown error"])[0]
            raise InputError(f"robot {spec.name!r}: model file {path} does not load: {first}") from None
        m = self.model
        # Contacts off (states are sampled in the air) and equality constraints off: uniformly
        # sampled joint states do not satisfy them (the quadruped's tendon couplings pitch + knee +
        # ankle = 0), and mj_inverse would add the stiff soft-constraint force of the violation
        # (~1e5-1e6 N·m) to every torque.  The data describe the open kinematic chain.
        m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
        m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_EQUALITY)
        m.opt.enableflags |= int(mujoco.mjtEnableBit.mjENBL_ENERGY)
        names = [m.joint(i).name for i in range(m.njnt)]
        missing = [j for j in spec.joints + spec.base_joints if j not in names]
        if missing:
            raise SymmetrySpecError(
                f"robot spec {spec.name!r} names joint(s) {missing} that the model {path.name} does not have; "
                f"its joints are {names}"
            )
        jid = [names.index(j) for j in spec.joints]
        kinds = {int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)}
        bad = [j for j, i in zip(spec.joints, jid) if int(m.jnt_type[i]) not in kinds]
        if bad:
            raise SymmetrySpecError(
                f"robot spec {spec.name!r}: joint(s) {bad} are not hinge or slide joints; list a floating "
                f"base under 'base'"
            )
        self.qadr = np.array([m.jnt_qposadr[i] for i in jid])
        self.dadr = np.array([m.jnt_dofadr[i] for i in jid])
        self.is_hinge = np.array([int(m.jnt_type[i]) == int(mujoco.mjtJoint.mjJNT_HINGE) for i in jid])
        lo = np.where(self.is_hinge, -np.pi, -1.0)
        hi = -lo
        lim = np.array([bool(m.jnt_limited[i]) for i in jid])
        rng = np.array([m.jnt_range[i] for i in jid])
        self.q_low = np.where(lim, np.maximum(rng[:, 0], lo), lo)
        self.q_high = np.where(lim, np.minimum(rng[:, 1], hi), hi)
        badj = [j for j, a, b in zip(spec.joints, self.q_low, self.q_high) if not a < b]
        if badj:
            raise InputError(f"robot {spec.name!r}: joint(s) {badj} have an empty range")
        self.base_qadr: list[int] = []
        for j in spec.base_joints:
            i = names.index(j)
            nq = {0: 7, 1: 4, 2: 1, 3: 1}[int(m.jnt_type[i])]
            self.base_qadr += list(range(m.jnt_qposadr[i], m.jnt_qposadr[i] + nq))
        if len(self.base_qadr) != len(spec.base_qpos):
            raise SymmetrySpecError(
                f"robot spec {spec.name!r}: base.qpos has {len(spec.base_qpos)} values, its joints "
                f"{spec.base_joints} have {len(self.base_qadr)} position coordinates"
            )
        self.com_body = None
        if spec.com_body is not None:
            self.com_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, spec.com_body)
            if self.com_body < 0:
                raise SymmetrySpecError(
                    f"robot spec {spec.name!r}: com_body {spec.com_body!r} is not a body of the model"
                )
        self.data = mujoco.MjData(m)
        self.dt = float(m.opt.timestep)

    def _with_payload(self, path: Path, mass: float):
        p = self.spec.payload
        if not p:
            raise InputError(
                f"robot {self.spec.name!r} declares no payload (its spec has no 'payload' entry)"
            )
        s = self.mj.MjSpec.from_file(str(path))
        body = s.body(str(p["body"]))
        if body is None:
            raise SymmetrySpecError(
                f"robot spec {self.spec.name!r}: payload body {p['body']!r} is not in the model"
            )
        r = 0.03  # a solid sphere of radius 3 cm
        inertia = 0.4 * mass * r * r
        body.add_body(
            name="symzoo_payload", pos=list(p.get("pos", [0, 0, 0])), mass=mass, inertia=[inertia] * 3
        )
        return s.compile()

    def force_range(self) -> np.ndarray:
        """Largest generalized force ``[J]`` the actuators put on each joint (``|gear| * ctrl``
        limit, for actuators driving a joint directly; 0 on unactuated joints)."""
        m, out = self.model, np.zeros(self.spec.n_joints)
        jid = {
            int(m.jnt_dofadr[i]): k
            for i in range(m.njnt)
            for k, d in enumerate(self.dadr)
            if m.jnt_dofadr[i] == d
        }
        for a in range(m.nu):
            if int(m.actuator_trntype[a]) != int(self.mj.mjtTrn.mjTRN_JOINT):
                continue
            k = jid.get(int(m.jnt_dofadr[m.actuator_trnid[a, 0]]))
            if k is not None:
                lim = np.abs(m.actuator_ctrlrange[a]).max() if m.actuator_ctrllimited[a] else 1.0
                out[k] += abs(float(m.actuator_gear[a, 0])) * lim
        return out

    # ------------------------------------------------------------------ states
    def sample_states(
        self, n: int, rng: np.random.Generator, vel: float = np.pi
    ) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions uniform within limits (clipped to ±π; ±1 m for unlimited slides) and
        velocities uniform in ``±vel`` (MuJoCo has no velocity limits; MorphoSymm's ±min(limit, π))."""
        q = rng.uniform(self.q_low, self.q_high, size=(n, self.spec.n_joints))
        v = rng.uniform(-vel, vel, size=(n, self.spec.n_joints))
        return q, v

    def _set(self, q: np.ndarray, v: np.ndarray) -> None:
        d, m = self.data, self.model
        d.qpos[:] = m.qpos0
        if self.base_qadr:
            d.qpos[self.base_qadr] = self.spec.base_qpos
        d.qpos[self.qadr] = q
        d.qvel[:] = 0.0
        d.qvel[self.dadr] = v
        d.qfrc_applied[:] = 0.0
        d.ctrl[:] = 0.0
        d.act[:] = 0.0

    def inverse_dynamics(self, q: np.ndarray, v: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Joint torques (generalized forces) ``[n, J]`` that produce accelerations ``a`` at ``(q, v)``
        with the base held fixed (``mj_inverse``)."""
        out = np.empty_like(np.asarray(q, dtype=float))
        opt = self.model.opt
        flags = int(opt.disableflags)
        # rigid-body dynamics plus passive (damping, springs) forces only: a state outside the joint
        # limits (a wrong spec's image in check_spec) gets no limit force; sampled states are inside
        opt.disableflags = flags | int(self.mj.mjtDisableBit.mjDSBL_CONSTRAINT)
        try:
            for k in range(len(out)):
                self._set(q[k], v[k])
                self.data.qacc[:] = 0.0
                self.data.qacc[self.dadr] = a[k]
                self.mj.mj_inverse(self.model, self.data)
                out[k] = self.data.qfrc_inverse[self.dadr]
        finally:
            opt.disableflags = flags
        return out

    def accelerations(self, q: np.ndarray, v: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """Joint accelerations ``[n, J]`` under generalized joint forces ``u`` (``mj_forward``; a
        floating base starts at its base pose at rest)."""
        out = np.empty_like(np.asarray(q, dtype=float))
        for k in range(len(out)):
            self._set(q[k], v[k])
            if u is not None:
                self.data.qfrc_applied[self.dadr] = u[k]
            self.mj.mj_forward(self.model, self.data)
            out[k] = self.data.qacc[self.dadr]
        return out

    def momentum(self, q: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Centroidal momentum ``[n, 6]`` of ``com_body``'s subtree (fixed base): linear momentum
        (kg m/s, world frame) then angular momentum about the subtree's centre of mass (kg m²/s)."""
        if self.com_body is None:
            raise InputError(f"robot {self.spec.name!r} has no com_body: its spec cannot give momentum")
        b = self.com_body
        out = np.empty((len(q), 6))
        for k in range(len(out)):
            self._set(q[k], v[k])
            self.mj.mj_forward(self.model, self.data)
            self.mj.mj_subtreeVel(self.model, self.data)
            out[k, :3] = self.model.body_subtreemass[b] * self.data.subtree_linvel[b]
            out[k, 3:] = self.data.subtree_angmom[b]
        return out

    def step(
        self, q: np.ndarray, v: np.ndarray, u: np.ndarray | None = None, n_steps: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(q, v)`` after ``n_steps`` ``mj_step`` of ``dt`` under constant joint forces ``u``."""
        qn, vn = np.empty_like(q, dtype=float), np.empty_like(v, dtype=float)
        for k in range(len(q)):
            self._set(q[k], v[k])
            if u is not None:
                self.data.qfrc_applied[self.dadr] = u[k]
            for _ in range(n_steps):
                self.mj.mj_step(self.model, self.data)
            qn[k], vn[k] = self.data.qpos[self.qadr], self.data.qvel[self.dadr]
        return qn, vn

    def energy(self, q: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Total mechanical energy ``[n]`` (J; potential + kinetic, MuJoCo's ``data.energy``)."""
        out = np.empty(len(q))
        for k in range(len(q)):
            self._set(q[k], v[k])
            self.mj.mj_forward(self.model, self.data)
            out[k] = float(self.data.energy.sum())
        return out


# every model file the other backends do not claim (MJCF; URDF read by MuJoCo when no backend has it)
register_sim_backend(
    "", sim=lambda spec, payload_mass=0.0: RobotSim(spec, payload_mass=payload_mass), check=None
)
