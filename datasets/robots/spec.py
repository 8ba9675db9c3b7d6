"""Robot symmetry specs (YAML) -> groups and representations, MuJoCo simulators, and the check
that a spec agrees with its simulator.

A **robot spec** is a YAML file (the shipped ones are ``datasets/robots/<robot>.yaml``; any user
path works too) with:

```yaml
name: quadruped
description: dm_control quadruped; K4 = sagittal (y -> -y) x transversal (x -> -x) mirrors
model: dm_control:suite/quadruped.xml   # MJCF file: relative to this file, absolute, or
                                        # dm_control:<path inside the dm_control package>
joints: [yaw_front_left, pitch_front_left, ...]   # the order of every q, v, tau tensor
base: {joints: [root], qpos: [0, 0, 2, 1, 0, 0, 0]}  # held fixed (zero velocity/acceleration)
com_body: torso                         # whose subtree's centroidal momentum is computed
group: K4                               # Cn, Dn or K4 (escnn's presentation)
generators:                             # in escnn's generator order
  sagittal:
    R: [[1, 0, 0], [0, -1, 0], [0, 0, 1]]   # action on world/base vectors (here y -> -y)
    q: {perm: [...], signs: [...]}          # (M q)[i] = signs[i] * q[perm[i]]; perm by index
                                            # or by joint name, or name-bound mappings:
                                            # perm: {joint: source joint}, signs: {joint: -1}
    v: {perm: [...], signs: [...]}          # optional: defaults to q's action
  transversal: {...}
payload: {body: knee_front_left, pos: [0.1, 0.05, 0], residual: C1}   # optional breaking knob
```

From it :func:`load_spec` builds (through :func:`symzoo.groups.signed_permutation_group`, which
checks generator orders and closure) the group and the representations ``q``, ``v`` (joint
positions and velocities; torques and accelerations transform like ``v``), ``vector`` (``R``),
``pseudovector`` (``det(R) R``: angular momentum, torques about the base) and ``momentum``
(``vector ⊕ pseudovector``: linear then angular centroidal momentum).

:class:`RobotSim` wraps the MuJoCo model: joint names are looked up in the model (a spec naming
unknown joints fails with one line naming them), states are set with the base held at
``base.qpos``, and contacts are disabled (states are sampled in the air, so the data do not
depend on the floor); equality constraints are disabled too (the quadruped's tendon couplings:
sampled states violate them, and their soft-constraint force would swamp the torques), so the
data describe the open kinematic chain; inverse dynamics include no constraint force at all
(rigid-body plus passive forces; sampled states are inside the joint limits).  Inverse dynamics use ``mj_inverse`` (joint torques from ``q, q̇, q̈``),
accelerations ``mj_forward`` under generalized joint forces ``u`` (floating base), one-step
dynamics ``mj_step``, centroidal momentum ``mj_subtreeVel`` (linear momentum
``m · subtree_linvel``, angular momentum ``subtree_angmom`` about the subtree's centre of mass).

:func:`check_spec` verifies a spec against its simulator: for random states and every generator
``g``, simulating ``g · x`` must equal ``g`` applied to the simulated ``x`` (inverse dynamics,
accelerations and, with ``com_body``, momentum) to ``tol`` (1e-8 relative to the output's size);
a wrong joint order or sign fails with one :class:`~symzoo.groups.SymmetrySpecError` line naming the
generator, the quantity, the joint and the mismatch (and the joint whose sign flip would fix it,
when one does).  MuJoCo is imported only when a simulator is built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from symzoo.errors import InputError, UnknownNameError, suggest
from symzoo.groups import FiniteGroup, MatrixRep, SymmetrySpecError, signed_permutation_group

__all__ = [
    "SIM_BACKENDS",
    "MODEL_SOURCES",
    "register_sim_backend",
    "register_model_source",
    "RobotSpec",
    "RobotSim",
    "load_spec",
    "list_robots",
    "check_spec",
    "load_mujoco_model",
    "ROBOTS_DIR",
]

log = logging.getLogger(__name__)

ROBOTS_DIR = Path(__file__).parent  # the shipped specs (*.yaml) beside this module
_SPEC_KEYS = {
    "name",
    "description",
    "model",
    "joints",
    "base",
    "com_body",
    "group",
    "generators",
    "payload",
    "source",
}


def list_robots() -> list[str]:
    """Names of the shipped robot specs (``datasets/robots/*.yaml``)."""
    return sorted(p.stem for p in ROBOTS_DIR.glob("*.yaml"))


#: simulator backends other than MuJoCo, by model-file suffix: ``{"sim": fn(spec, payload_mass),
#: "check": fn(spec, n_states=, seed=, tol=) -> {quantity: worst mismatch}}``.  A backend module
#: registers itself on import (``.urdf``: :mod:`symzoo.datasets.robots.pinocchio`); backends build
#: on the spec, so the spec finds them here instead of importing them
SIM_BACKENDS: dict[str, dict[str, Any]] = {}
#: model-file sources by prefix (``example-robot-data:<path>``): ``fn(path, robot_name) -> Path``
MODEL_SOURCES: dict[str, Any] = {}


def register_sim_backend(suffix: str, *, sim: Any, check: Any) -> None:
    """Simulate the models whose file ends in ``suffix`` with ``sim(spec, payload_mass)`` and check a
    spec against them with ``check(spec, n_states=, seed=, tol=)`` (see :data:`SIM_BACKENDS`)."""
    SIM_BACKENDS[suffix] = {"sim": sim, "check": check}


def register_model_source(prefix: str, resolve: Any) -> None:
    """Resolve a spec's ``model: <prefix><path>`` with ``resolve(path, robot_name) -> Path``."""
    MODEL_SOURCES[prefix] = resolve


def _registered(table: dict[str, Any], key: str) -> Any:
    """``table[key]``, after the registry imported every dataset module (where backends register)."""
    if key not in table and key != ".xml":  # MJCF is MuJoCo's (RobotSim), built in here
        from symzoo.registry import load_builtins

        load_builtins()
    return table.get(key)


@dataclass
class RobotSpec:
    """A parsed, validated robot symmetry spec (see the module docstring)."""

    name: str
    path: Path | None
    model: str
    joints: list[str]
    group: FiniteGroup
    reps: dict[str, MatrixRep]
    base_joints: list[str] = field(default_factory=list)
    base_qpos: list[float] = field(default_factory=list)
    com_body: str | None = None
    payload: dict | None = None
    description: str = ""
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def n_joints(self) -> int:
        return len(self.joints)

    def model_path(self) -> Path:
        """The MJCF file of the spec's ``model`` entry."""
        m = self.model
        if m.startswith("dm_control:"):
            import importlib.util

            spec = importlib.util.find_spec("dm_control")
            if spec is None or not spec.submodule_search_locations:
                raise InputError(
                    f"robot {self.name!r} uses a dm_control model file; pip install 'symzoo[robotics]'"
                )
            return Path(next(iter(spec.submodule_search_locations))) / m.split(":", 1)[1]
        prefix = m.split(":", 1)[0] + ":" if ":" in m else ""
        if prefix and len(prefix) > 2 and _registered(MODEL_SOURCES, prefix):  # not a Windows drive
            return MODEL_SOURCES[prefix](m.split(":", 1)[1], self.name)
        p = Path(m).expanduser()
        if not p.is_absolute() and self.path is not None:
            p = self.path.parent / p
        return p

    def sim(self, payload_mass: float = 0.0) -> RobotSim:
        """The MuJoCo simulator of this robot (with a payload of ``payload_mass`` kg, see ``payload``);
        a ``.urdf`` model gets the pinocchio backend (:mod:`symzoo.datasets.robots.pinocchio`,
        found through :data:`SIM_BACKENDS`)."""
        backend = _registered(SIM_BACKENDS, self.model_path().suffix)
        if backend is not None:
            return backend["sim"](self, payload_mass)
        return RobotSim(self, payload_mass=payload_mass)

    def generator_matrices(self, space: str) -> dict[str, np.ndarray]:
        """``{generator: matrix}`` of representation ``space`` (``q``, ``v``, ``momentum``...)."""
        rep = self.reps[space]
        return {g: rep.matrices[i].numpy() for g, i in self.group.generator_index.items()}


def _fail(name: str, msg: str) -> SymmetrySpecError:
    return SymmetrySpecError(f"robot spec {name!r}: {msg}")


def load_spec(name_or_path: str | Path) -> RobotSpec:
    """Load a robot spec by shipped name (``"quadruped"``) or by path to a YAML file.

    Checks the file's structure and the group (orders, closure); the check against the simulator
    is :func:`check_spec`.  Every failure is one line (:class:`SymmetrySpecError` / :class:`InputError`).
    """
    import yaml

    s = str(name_or_path)
    if s.endswith((".yaml", ".yml")) or "/" in s:
        path = Path(s).expanduser()
        if not path.is_file():
            where = (
                "" if path.is_absolute() else f" (relative paths start from the current folder, {Path.cwd()})"
            )
            raise InputError(f"robot spec file {s} does not exist{where}")
    else:
        path = ROBOTS_DIR / f"{s}.yaml"
        if not path.is_file():
            raise UnknownNameError(
                f"unknown robot {s!r}{suggest(s, list_robots())}; shipped: {', '.join(list_robots())}"
            )
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        first = str(e).strip().splitlines()[0]
        raise SymmetrySpecError(f"robot spec {path} is not valid YAML: {first}") from None
    if not isinstance(raw, dict):
        raise SymmetrySpecError(
            f"robot spec {path} must be a mapping (name, model, joints, group, generators)"
        )
    return spec_from_dict(raw, path)


def spec_from_dict(raw: dict, path: Path | None = None) -> RobotSpec:
    """A :class:`RobotSpec` from an already-parsed spec mapping (``path``: for relative model files)."""
    name = str(raw.get("name") or (path.stem if path else "robot"))
    unknown = sorted(set(raw) - _SPEC_KEYS)
    if unknown:
        raise _fail(name, f"unknown key(s) {unknown}; known: {sorted(_SPEC_KEYS)}")
    for key in ("model", "joints", "group", "generators"):
        if key not in raw:
            raise _fail(name, f"missing key {key!r}")
    joints = raw["joints"]
    if not isinstance(joints, list) or not joints or not all(isinstance(j, str) for j in joints):
        raise _fail(name, "'joints' must be a non-empty list of joint names")
    if len(set(joints)) != len(joints):
        dup = sorted({j for j in joints if joints.count(j) > 1})
        raise _fail(name, f"joint(s) {dup} are listed twice")
    n = len(joints)
    gens = raw["generators"]
    if not isinstance(gens, dict) or not gens:
        raise _fail(name, "'generators' must map generator names to their actions")
    actions: dict[str, dict[str, Any]] = {}
    for g, act in gens.items():
        if not isinstance(act, dict) or "q" not in act:
            raise _fail(name, f"generator {g!r} needs at least 'q: {{perm, signs}}' (and optionally v, R)")
        bad = sorted(set(act) - {"q", "v", "R"})
        if bad:
            raise _fail(name, f"generator {g!r} has unknown key(s) {bad}; use q, v and R")
        q = _joint_action(name, g, "q", act["q"], joints)
        v = _joint_action(name, g, "v", act.get("v", act["q"]), joints)
        try:
            r = np.asarray(act.get("R", np.eye(3)), dtype=float)
        except (TypeError, ValueError):
            raise _fail(
                name, f"generator {g!r}: R must be an orthogonal 3x3 matrix of numbers, got {act.get('R')!r}"
            ) from None
        if r.shape != (3, 3) or not np.allclose(r @ r.T, np.eye(3), atol=1e-9):
            raise _fail(name, f"generator {g!r}: R must be an orthogonal 3x3 matrix, got {act.get('R')}")
        actions[str(g)] = {
            "q": q,
            "v": v,
            "vector": r.tolist(),
            "pseudovector": (np.linalg.det(r) * r).tolist(),
        }
    try:
        group, reps = signed_permutation_group(
            str(raw["group"]), actions, dims={"q": n, "v": n, "vector": 3, "pseudovector": 3}
        )
    except SymmetrySpecError as e:
        raise _fail(name, str(e)) from None
    mom = torch.zeros(group.order, 6, 6, dtype=torch.float64)
    mom[:, :3, :3] = reps["vector"].matrices
    mom[:, 3:, 3:] = reps["pseudovector"].matrices
    reps["momentum"] = MatrixRep(group, mom, name="momentum")
    base = raw.get("base") or {}
    if not isinstance(base, dict) or set(base) - {"joints", "qpos"}:
        raise _fail(name, "'base' must be {joints: [...], qpos: [...]}")
    qpos = base.get("qpos", [])
    if not isinstance(qpos, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) for x in qpos
    ):
        raise _fail(name, f"base.qpos must be a list of finite numbers, got {qpos!r}")
    payload = raw.get("payload")
    if payload is not None and (not isinstance(payload, dict) or "body" not in payload):
        raise _fail(name, "'payload' must be {body: NAME, pos: [x, y, z], residual: GROUP}")
    return RobotSpec(
        name=name,
        path=path,
        model=str(raw["model"]),
        joints=list(joints),
        group=group,
        reps=reps,
        base_joints=list(base.get("joints", [])),
        base_qpos=[float(x) for x in base.get("qpos", [])],
        com_body=raw.get("com_body"),
        payload=payload,
        description=str(raw.get("description", "")),
        raw=raw,
    )


def _joint_action(name: str, gen: str, space: str, act: Any, joints: list[str]) -> Any:
    """Joint names in ``perm``/``signs`` -> indices into ``joints`` (indices pass through).

    ``perm`` is a list (one entry per joint of ``joints``, by index or by name) or a mapping
    ``{joint: source joint}`` (joints it leaves out keep their own value); ``signs`` a list or a
    mapping ``{joint: -1}`` (left-out joints: +1).  The mappings bind joints by name only, so the
    spec means the same whatever the order of ``joints``."""
    if not isinstance(act, dict) or "perm" not in act:
        raise _fail(name, f"generator {gen!r} on {space!r}: give {{perm: [...], signs: [...]}}")
    perm_in, signs_in = act["perm"], act.get("signs")
    where = f"generator {gen!r} on {space!r}"
    if isinstance(perm_in, dict):
        unknown = sorted(str(k) for k in [*perm_in, *perm_in.values()] if k not in joints)
        if unknown:
            raise _fail(name, f"{where}: perm names joint(s) {unknown} not in 'joints'")
        perm: list[Any] = [perm_in.get(j, j) for j in joints]
    elif isinstance(perm_in, list):
        perm = list(perm_in)
    else:
        raise _fail(name, f"{where}: perm must be a list or a mapping {{joint: source joint}}")
    if len(perm) != len(joints):
        raise _fail(name, f"{where}: perm has {len(perm)} entries for {len(joints)} joints")
    unknown = [p for p in perm if isinstance(p, str) and p not in joints]
    if unknown:
        raise _fail(name, f"{where}: perm names joint(s) {unknown} not in 'joints'")
    whole = [p for p in perm if not isinstance(p, str) and (isinstance(p, bool) or not isinstance(p, int))]
    if whole:  # 0.5 would be truncated to joint 0 further down
        raise _fail(name, f"{where}: perm entries must be joint names or whole indices, got {whole[0]!r}")
    idx = [joints.index(p) if isinstance(p, str) else p for p in perm]
    out: dict[str, Any] = {"perm": idx}
    if isinstance(signs_in, dict):
        unknown = sorted(str(k) for k in signs_in if k not in joints)
        if unknown:
            raise _fail(name, f"{where}: signs name joint(s) {unknown} not in 'joints'")
        out["signs"] = [signs_in.get(j, 1) for j in joints]
    elif signs_in is not None:
        out["signs"] = list(signs_in) if isinstance(signs_in, (list, tuple)) else signs_in
    if any(isinstance(x, str) or isinstance(x, bool) for x in out.get("signs", [])):
        raise _fail(name, f"{where}: signs must be +1 or -1 per joint, got {out['signs']}")
    return out


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


# ---------------------------------------------------------------------------------- the check
def check_spec(
    spec: RobotSpec | str | Path,
    *,
    n_states: int = 6,
    seed: int = 0,
    tol: float = 1e-8,
    sim: RobotSim | None = None,
    diagnose: bool = True,
) -> dict[str, float]:
    """Check ``spec`` against its simulator; return the worst relative mismatch per generator.

    For ``n_states`` random states ``x`` and every generator ``g``: ``f(g·x) == g·f(x)`` for the
    inverse dynamics ``f = tau(q, v, a)``, the accelerations ``f = a(q, v, u)`` and (with a
    ``com_body``) the centroidal momentum, to ``tol · (1 + max|f|)``.  Raises a one-line
    :class:`SymmetrySpecError` naming the generator, the quantity, the joint (or momentum
    component) and the mismatch on the first failure.
    """
    if not isinstance(spec, RobotSpec):
        spec = load_spec(spec)
    backend = _registered(SIM_BACKENDS, spec.model_path().suffix) if sim is None else None
    if backend is not None:  # pinocchio (URDF): geometry, then inertias
        return backend["check"](spec, n_states=n_states, seed=seed, tol=tol)
    sim = sim or spec.sim()
    rng = np.random.default_rng(seed)
    q, v = sim.sample_states(n_states, rng)
    a = rng.uniform(-np.pi, np.pi, size=q.shape)
    u = rng.uniform(-1.0, 1.0, size=q.shape)
    Q, V = spec.generator_matrices("q"), spec.generator_matrices("v")
    P = spec.generator_matrices("momentum")
    worst: dict[str, float] = {}
    base = _outputs(sim, q, v, a, u)
    for g in spec.group.generator_names:
        qg, vg, ag, ug = q @ Q[g].T, v @ V[g].T, a @ V[g].T, u @ V[g].T
        sim_of_g = _outputs(sim, qg, vg, ag, ug)
        worst[g] = 0.0
        for what, y in base.items():
            mat = P[g] if what == "centroidal momentum" else V[g]
            g_of_sim = y @ mat.T
            err = np.abs(sim_of_g[what] - g_of_sim)
            scale = 1.0 + np.abs(g_of_sim).max()
            rel = float(err.max() / scale)
            worst[g] = max(worst[g], rel)
            if rel > tol:
                col = int(np.unravel_index(err.argmax(), err.shape)[1])
                if what == "centroidal momentum":
                    comp = f"component {['l_x', 'l_y', 'l_z', 'k_x', 'k_y', 'k_z'][col]}"
                    advice = "check the generator's R and the perm and signs"
                else:
                    comp = f"joint {spec.joints[col]!r}"
                    advice = "check that joint's perm and signs"
                hint = _sign_hint(spec, sim, g) if diagnose else ""
                raise SymmetrySpecError(
                    f"robot spec {spec.name!r} disagrees with the simulator: generator {g!r}, {what} of {comp} "
                    f"differs by {err.max():.3g} (relative {rel:.2g} > tolerance {tol:g}); {advice}{hint}"
                )
    log.info("robot spec %s agrees with the simulator (worst relative mismatch %s)", spec.name, worst)
    return worst


def _outputs(sim: RobotSim, q, v, a, u) -> dict[str, np.ndarray]:
    out = {
        "inverse-dynamics torque": sim.inverse_dynamics(q, v, a),
        "acceleration": sim.accelerations(q, v, u),
    }
    if sim.com_body is not None:
        out["centroidal momentum"] = sim.momentum(q, v)
    return out


def _sign_hint(spec: RobotSpec, sim: RobotSim, gen: str) -> str:
    """``"; flipping the sign of joint 'x' in 'g' agrees with the simulator"`` when one flip does."""
    raw = spec.raw
    for j, joint in enumerate(spec.joints):
        trial = {**raw, "generators": {k: dict(val) for k, val in raw["generators"].items()}}
        act = trial["generators"][gen]
        ok = True
        for sp in ("q", "v"):
            if sp not in act and sp == "v":
                continue
            raw_signs = act[sp].get("signs", [1] * spec.n_joints)
            signs: Any
            if isinstance(raw_signs, dict):  # name-bound signs
                signs = {**raw_signs, joint: -int(raw_signs.get(joint, 1))}
            else:
                signs = list(raw_signs)
                signs[j] = -signs[j]
            act[sp] = {**act[sp], "signs": signs}
        try:
            cand = spec_from_dict(trial, spec.path)
            if np.allclose(cand.generator_matrices("q")[gen], np.eye(spec.n_joints)):
                continue  # the identity always agrees: not a fix
            check_spec(cand, sim=sim, n_states=3, diagnose=False)
        except SymmetrySpecError:
            ok = False
        if ok:
            return f" (flipping the sign of joint {joint!r} in {gen!r} agrees with the simulator)"
    return ""
