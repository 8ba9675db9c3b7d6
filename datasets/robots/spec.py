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

:class:`~symzoo.datasets.robots.mujoco.RobotSim` (module ``mujoco``) wraps the MuJoCo model: joint names are looked up in the model (a spec naming
unknown joints fails with one line naming them), states are set with the base held at
``base.qpos``, and contacts are disabled (states are sampled in the air, so the data do not
depend on the floor); equality constraints are disabled too (the quadruped's tendon couplings:
sampled states violate them, and their soft-constraint force would swamp the torques), so the
data describe the open kinematic chain; inverse dynamics include no constraint force at all
(rigid-body plus passive forces; sampled states are inside the joint limits).  Inverse dynamics use ``mj_inverse`` (joint torques from ``q, q̇, q̈``),
accelerations ``mj_forward`` under generalized joint forces ``u`` (floating base), one-step
dynamics ``mj_step``, centroidal momentum ``mj_subtreeVel`` (linear momentum
``m · subtree_linvel``, angular momentum ``subtree_angmom`` about the subtree's centre of mass).

:func:`~symzoo.datasets.robots.checks.check_spec` (module ``checks``) verifies a spec against its simulator: for random states and every generator
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
    "load_spec",
    "list_robots",
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
    if key not in table and key != ".xml":  # MJCF is MuJoCo's (the "" backend, symzoo.datasets.robots.mujoco)
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

    def sim(self, payload_mass: float = 0.0) -> Any:
        """The MuJoCo simulator of this robot (with a payload of ``payload_mass`` kg, see ``payload``);
        a ``.urdf`` model gets the pinocchio backend (:mod:`symzoo.datasets.robots.pinocchio`,
        found through :data:`SIM_BACKENDS`)."""
        backend = _registered(SIM_BACKENDS, self.model_path().suffix) or _registered(SIM_BACKENDS, "")
        return backend["sim"](self, payload_mass)

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
