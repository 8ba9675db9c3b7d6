"""Find a robot's morphological symmetry group from its model file (``symzoo robots infer``).

MorphoSymm's specs are written by hand; this finds one and checks it.

1. **Kinematic tree** (MuJoCo loads the MJCF or URDF file): the *root* is the child of the world
   with the most joints below it; a free joint, or a planar base (two or more root joints, one a
   slide, as the walker's ``rootz/rootx/rooty``), is the *base*, held fixed like every spec's
   ``base``.  The robot's joints are the other hinge and slide joints below the root, in model order.
2. **Candidates**: transformations ``T`` of the root frame that keep gravity: reflections through
   vertical planes (normals every 15° around the vertical axis) and rotations about it by
   ``360°/n`` (n = 2, 3, 4, 5, 6, 8).  At the reference pose (``qpos0``) every body must map onto a
   body (the root onto itself) whose parent is the image of its parent, with the same mass, joint
   count, frame origin ``T p``, centre of mass ``T c`` and inertia tensor ``T I Tᵀ``; every joint
   onto a joint of the image body with the same type, anchor ``T a`` and axis ``±det(T) T u``
   (hinges: axes are pseudo-vectors) or ``±T u`` (slides).  The sign is the joint's sign in the
   signed permutation.  A candidate whose geometry does not map is discarded with the first body or
   joint that fails.
3. **Simulator check**: each geometric candidate becomes a one-generator spec and is verified with
   :func:`~symzoo.datasets.robots.check_spec` at random states (inverse dynamics = mass matrix and
   bias forces, accelerations under random joint forces, centroidal momentum of the root's subtree,
   to 1e-8 relative).
4. **Group**: the verified elements (less those that move no joint: a planar robot's mirror
   through its own plane, and products that bring one back) are closed under composition and the group identified in
   escnn's presentation: ``Cn`` (one generator of order n), ``K4`` (two commuting reflections,
   named ``sagittal`` for y -> -y and ``transversal`` for x -> -x when they are those), ``Dn``
   (a rotation of order n, then a reflection).  The spec is written in the project's format with
   joints bound by name (``perm: {joint: source joint}``, ``signs: {joint: -1}``) and checked again
   as a whole before it is returned.

MuJoCo is imported only when a model is inferred.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symzoo.errors import InputError, SymzooError
from symzoo.groups import SymmetrySpecError

__all__ = ["InferredSymmetry", "Candidate", "infer_spec", "spec_yaml"]

log = logging.getLogger(__name__)

#: rotation orders tried about the vertical axis
ROTATION_ORDERS = (2, 3, 4, 5, 6, 8)
#: angles (degrees) of the mirror planes' normals tried around the vertical axis
MIRROR_NORMALS = tuple(range(0, 180, 15))
#: URDF files: the relative tolerance on the links' inertial parameters (mass, centre of mass,
#: inertia) and on the simulator check.  Published URDFs round their inertias (Solo-12's mirrored
#: links differ by 1.4e-5 m in centre of mass and in the sign of a small I_xy: 4.4e-4 relative in
#: the simulator); a wrong joint, sign or axis is O(1e-2..1).  The same bound as the pinocchio
#: backend's (``robots_pinocchio.URDF_ASYMMETRY_TOL``).  Kinematics (joint anchors, axes, body
#: positions) are always matched exactly (1e-6 of the robot's size).
URDF_INERTIAL_TOL = 5e-3


@dataclass
class Candidate:
    """One transformation of the root frame tried as a symmetry."""

    name: str
    T: np.ndarray  # 3x3, root frame
    geometric: bool = False
    verified: bool = False
    perm: list[int] = field(default_factory=list)  # (M q)[i] = signs[i] q[perm[i]]
    signs: list[int] = field(default_factory=list)
    reason: str = ""
    mismatch: float | None = None


@dataclass
class InferredSymmetry:
    """What :func:`infer_spec` found: the spec (a mapping in the project's YAML format), the group,
    the worst simulator mismatch per generator and every candidate tried (with why it failed)."""

    spec: dict[str, Any]
    group: str
    order: int
    check: dict[str, float]
    candidates: list[Candidate]

    def summary(self) -> str:
        lines = [
            f"{self.spec['name']}: group {self.group} (order {self.order}), {len(self.spec['joints'])} joints"
        ]
        for c in self.candidates:
            if c.verified and c.reason:
                lines.append(f"  {c.name:<24} symmetry, not used: {c.reason}")
            elif c.verified:
                lines.append(f"  {c.name:<24} symmetry (simulator mismatch {c.mismatch:.1e})")
            elif c.geometric:
                lines.append(f"  {c.name:<24} geometry maps, simulator refuses: {c.reason}")
            else:
                lines.append(f"  {c.name:<24} no: {c.reason}")
        lines.append(
            "  generators: " + ", ".join(f"{g} (worst mismatch {v:.1e})" for g, v in self.check.items())
        )
        return "\n".join(lines)


# ------------------------------------------------------------------------------- geometry
def _rz(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _mirror(normal_deg: float) -> np.ndarray:
    a = math.radians(normal_deg)
    n = np.array([math.cos(a), math.sin(a), 0.0])
    n[np.abs(n) < 1e-15] = 0.0
    return np.eye(3) - 2.0 * np.outer(n, n)


def _mirror_name(normal_deg: int) -> str:
    return {0: "transversal", 90: "sagittal"}.get(normal_deg, f"mirror_{normal_deg}")


def _candidates() -> list[Candidate]:
    out = [Candidate(_mirror_name(d), _mirror(d)) for d in MIRROR_NORMALS]
    out += [
        Candidate(f"rotation_{360 // n}" if 360 % n == 0 else f"rotation_1/{n}", _rz(2 * math.pi / n))
        for n in ROTATION_ORDERS
    ]
    return out


class _Tree:
    """The model's kinematic tree at the reference pose, in the root body's frame."""

    def __init__(self, path: Path, base: list[str] | None, com_body: str | None, inertial_rtol: float = 1e-6):
        import mujoco

        self.mj = mujoco
        from .mujoco import load_mujoco_model

        try:
            m = load_mujoco_model(path)
        except (ValueError, RuntimeError, KeyError, OSError) as e:
            first = (str(e).strip().splitlines() or ["unknown error"])[0]
            raise InputError(f"model file {path} does not load in MuJoCo: {first}") from None
        self.model = m
        d = mujoco.MjData(m)
        nb = m.nbody
        parent = [int(m.body_parentid[b]) for b in range(nb)]
        jn = [m.joint(j).name for j in range(m.njnt)]
        if any(not n for n in jn):
            raise InputError(f"model file {path}: every joint needs a name (a spec binds joints by name)")

        def below(b: int) -> list[int]:
            out, stack = [], [b]
            while stack:
                x = stack.pop()
                out.append(x)
                stack += [c for c in range(1, nb) if parent[c] == x and c != x]
            return sorted(out)

        tops = [b for b in range(1, nb) if parent[b] == 0]
        if not tops:
            raise InputError(f"model file {path} has no body")
        njoints = {b: sum(int(m.body_jntnum[x]) for x in below(b)) for b in tops}
        root = max(tops, key=lambda b: (njoints[b], float(m.body_subtreemass[b])))
        self.root, self.bodies = root, below(root)
        root_joints = [j for j in range(m.njnt) if int(m.jnt_bodyid[j]) == root]
        free, ball = int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_BALL)
        slide, hinge = int(mujoco.mjtJoint.mjJNT_SLIDE), int(mujoco.mjtJoint.mjJNT_HINGE)
        if base is None:
            types = [int(m.jnt_type[j]) for j in root_joints]
            floating = free in types or (len(types) >= 2 and slide in types)
            base_ids = root_joints if floating else []
        else:
            unknown = [b for b in base if b not in jn]
            if unknown:
                raise InputError(
                    f"--base names joint(s) {unknown} that {path.name} does not have; its joints are {jn}"
                )
            base_ids = [jn.index(b) for b in base]
        self.base = [jn[j] for j in base_ids]
        qpos0 = np.array(m.qpos0)
        self.base_qpos: list[float] = []
        for j in base_ids:
            nq = {free: 7, ball: 4}.get(int(m.jnt_type[j]), 1)
            a = int(m.jnt_qposadr[j])
            self.base_qpos += [float(x) for x in qpos0[a : a + nq]]
        inside = set(self.bodies)
        self.joints = [
            j
            for j in range(m.njnt)
            if int(m.jnt_bodyid[j]) in inside and j not in base_ids and int(m.jnt_type[j]) in (hinge, slide)
        ]
        balls = [
            jn[j]
            for j in range(m.njnt)
            if int(m.jnt_bodyid[j]) in inside and j not in base_ids and int(m.jnt_type[j]) in (free, ball)
        ]
        if balls:
            raise InputError(
                f"{path.name}: joint(s) {balls} are ball or free joints inside the robot; specs take hinge and slide joints only"
            )
        if not self.joints:
            raise InputError(
                f"{path.name} has no hinge or slide joints below its root body {m.body(root).name!r}"
            )
        self.joint_names = [jn[j] for j in self.joints]
        self.is_hinge = {j: int(m.jnt_type[j]) == hinge for j in self.joints}
        if com_body is not None and mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, com_body) < 0:
            raise InputError(f"--com-body {com_body!r} is not a body of {path.name}")
        self.com_body = com_body or m.body(root).name

        d.qpos[:] = qpos0
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        o, rb = np.array(d.xpos[root]), np.array(d.xmat[root]).reshape(3, 3)
        self.frame = rb  # root frame -> world

        def loc(x):
            return rb.T @ (np.asarray(x) - o)

        self.parent = parent
        self.mass = np.array(m.body_mass)
        self.pos = {b: loc(d.xpos[b]) for b in self.bodies}
        self.com = {b: loc(d.xipos[b]) for b in self.bodies}
        self.inertia = {}
        for b in self.bodies:
            r = rb.T @ np.array(d.ximat[b]).reshape(3, 3)
            self.inertia[b] = r @ np.diag(m.body_inertia[b]) @ r.T
        self.anchor = {j: loc(d.xanchor[j]) for j in self.joints}
        self.axis = {j: rb.T @ np.array(d.xaxis[j]) for j in self.joints}
        self.body_joints = {b: [j for j in self.joints if int(m.jnt_bodyid[j]) == b] for b in self.bodies}
        g = rb.T @ np.array(m.opt.gravity)
        self.gravity = g
        ext = max(
            [float(np.abs(v).max()) for v in self.pos.values()]
            + [float(np.abs(v).max()) for v in self.com.values()]
            + [1e-3]
        )
        self.len_tol = 1e-6 * ext  # kinematics: always exact
        self.com_tol = inertial_rtol * ext
        self.mass_tol = inertial_rtol * max(float(self.mass[self.bodies].max()), 1e-9)
        self.inertia_tol = inertial_rtol * max(
            float(np.abs(np.array(list(self.inertia.values()))).max()), 1e-12
        )

    def name(self, b: int) -> str:
        return self.model.body(b).name or f"body {b}"

    # ------------------------------------------------------------------ one candidate
    def map_candidate(self, c: Candidate) -> None:
        """Fill ``c.perm``/``c.signs`` when the tree maps onto itself under ``c.T`` (else ``c.reason``)."""
        T = c.T
        if not np.allclose(
            T @ self.gravity, self.gravity, atol=float(1e-9 * (1 + np.linalg.norm(self.gravity)))
        ):
            c.reason = "it does not keep gravity"
            return
        det = float(np.linalg.det(T))
        phi = {self.root: self.root}
        for b in self.bodies:
            if b == self.root:
                ok = self._same_body(b, b, T)
                if ok:
                    c.reason = f"the root body {self.name(b)!r} is not symmetric ({ok})"
                    return
                continue
            pb = phi[self.parent[b]]
            used = set(phi.values())
            options = [x for x in self.bodies if self.parent[x] == pb and x not in used and x != self.root]
            why = None
            for x in options:
                why = self._same_body(b, x, T)
                if why is None:
                    phi[b] = x
                    break
            else:
                c.reason = f"body {self.name(b)!r} has no image" + (f" (nearest miss: {why})" if why else "")
                return
        perm = [0] * len(self.joints)
        signs = [1] * len(self.joints)
        index = {j: i for i, j in enumerate(self.joints)}
        for b in self.bodies:
            src, dst = self.body_joints[b], list(self.body_joints[phi[b]])
            for j in src:
                w = (det if self.is_hinge[j] else 1.0) * (T @ self.axis[j])
                hit = None
                for k in dst:
                    if self.is_hinge[k] != self.is_hinge[j]:
                        continue
                    if not np.allclose(T @ self.anchor[j], self.anchor[k], atol=self.len_tol):
                        continue
                    if np.allclose(w, self.axis[k], atol=1e-6):
                        hit = (k, 1)
                    elif np.allclose(w, -self.axis[k], atol=1e-6):
                        hit = (k, -1)
                    if hit:
                        break
                if hit is None:
                    c.reason = (
                        f"joint {self.model.joint(j).name!r} has no image on body {self.name(phi[b])!r}"
                    )
                    return
                dst.remove(hit[0])
                # the image of joint j is joint k: (M q)[k] = s * q[j]
                perm[index[hit[0]]] = index[j]
                signs[index[hit[0]]] = hit[1]
        c.geometric, c.perm, c.signs = True, perm, signs

    def _same_body(self, b: int, x: int, T: np.ndarray) -> str | None:
        if abs(self.mass[b] - self.mass[x]) > self.mass_tol:
            return f"{self.name(x)!r} has mass {self.mass[x]:.6g}, not {self.mass[b]:.6g}"
        if len(self.body_joints[b]) != len(self.body_joints[x]):
            return f"{self.name(x)!r} has {len(self.body_joints[x])} joints, not {len(self.body_joints[b])}"
        if not np.allclose(T @ self.pos[b], self.pos[x], atol=self.len_tol):
            return f"{self.name(x)!r} is not at the mirrored position"
        if not np.allclose(T @ self.com[b], self.com[x], atol=self.com_tol):
            return f"the centre of mass of {self.name(x)!r} is not at the mirrored position"
        if not np.allclose(T @ self.inertia[b] @ T.T, self.inertia[x], atol=self.inertia_tol):
            return f"the inertia of {self.name(x)!r} does not match"
        return None


# ------------------------------------------------------------------------------- the group
def _order(m: np.ndarray, limit: int = 64) -> int:
    p = m.copy()
    eye = np.eye(len(m))
    for k in range(1, limit + 1):
        if np.allclose(p, eye, atol=1e-9):
            return k
        p = m @ p
    raise SymzooError("a symmetry candidate has an order above 64")  # pragma: no cover


def _block(T: np.ndarray, perm: list[int], signs: list[int]) -> np.ndarray:
    n = len(perm)
    P = np.zeros((n, n))
    for i, (j, s) in enumerate(zip(perm, signs)):
        P[i, j] = s
    out = np.zeros((3 + n, 3 + n))
    out[:3, :3], out[3:, 3:] = T, P
    return out


def _closure(gens: list[np.ndarray], limit: int = 256) -> list[np.ndarray]:
    elems = [np.eye(len(gens[0]))]
    frontier = list(elems)
    while frontier:
        new = []
        for a in frontier:
            for g in gens:
                x = g @ a
                if not any(np.allclose(x, e, atol=1e-9) for e in elems):
                    elems.append(x)
                    new.append(x)
                    if len(elems) > limit:
                        raise SymzooError(f"the symmetries found generate more than {limit} elements")
        frontier = new
    return elems


def _faithful(verified: list[Candidate], n: int) -> list[np.ndarray]:
    """The verified symmetries that generate a group acting faithfully on the joints.

    A planar robot (the acrobot, the cartpole) is also symmetric under the mirror through its own
    plane, which moves no joint: such an element constrains no joint-space model and is left out,
    and so is any element that would bring one back through a product (e.g. the half turn of a
    planar robot that is also mirror-symmetric).  Mirrors through the sagittal and transversal
    planes are taken first."""
    eye = np.eye(n)

    def trivial(M: np.ndarray) -> bool:
        return bool(np.allclose(M[3:, 3:], eye)) and not np.allclose(M, np.eye(len(M)))

    rank = {"sagittal": 0, "transversal": 1}
    chosen: list[np.ndarray] = []
    for c in sorted(verified, key=lambda c: rank.get(c.name, 2)):
        M = _block(c.T, c.perm, c.signs)
        if trivial(M):
            c.reason = "it moves no joint (the robot lies in this plane)"
            continue
        if any(trivial(E) for E in _closure([*chosen, M])):
            c.reason = "with the others it would give an element that moves no joint"
            continue
        chosen.append(M)
    return chosen


def _elem_name(M: np.ndarray) -> str:
    T = M[:3, :3]
    if np.linalg.det(T) > 0:
        ang = math.degrees(math.atan2(T[1, 0], T[0, 0])) % 360
        return f"rotation_{round(ang):d}"
    # a reflection: its normal is the eigenvector of eigenvalue -1
    w, v = np.linalg.eigh((T + T.T) / 2)
    n = v[:, int(np.argmin(w))]
    deg = round(math.degrees(math.atan2(n[1], n[0]))) % 180
    return _mirror_name(deg)


def _presentation(elems: list[np.ndarray]) -> tuple[str, list[np.ndarray]]:
    """``(group name, generators)`` in escnn's presentation (Cn, K4, Dn)."""
    n = len(elems)
    orders = [_order(e) for e in elems]
    abelian = all(np.allclose(a @ b, b @ a, atol=1e-9) for a in elems for b in elems)
    full = [e for e, o in zip(elems, orders) if o == n]
    if full:
        full.sort(key=lambda e: -np.linalg.det(e[:3, :3]))  # a rotation rather than a rotoreflection
        return f"C{n}", [full[0]]
    if n == 4 and abelian:
        invol = [e for e, o in zip(elems, orders) if o == 2]
        pref = {"sagittal": 0, "transversal": 1}
        invol.sort(key=lambda e: (pref.get(_elem_name(e), 2), np.linalg.det(e[:3, :3])))
        return "K4", invol[:2]
    if n % 2 == 0 and not abelian:
        k = n // 2
        rots = [e for e, o in zip(elems, orders) if o == k and np.linalg.det(e[:3, :3]) > 0]
        flips = [e for e, o in zip(elems, orders) if o == 2 and np.linalg.det(e[:3, :3]) < 0]
        for r in rots:
            # the smallest positive turn generates the rotations
            for f in sorted(flips, key=lambda e: 0 if _elem_name(e) == "sagittal" else 1):
                if np.allclose(f @ r @ f, np.linalg.inv(r), atol=1e-9):
                    return f"D{k}", [r, f]
    raise SymzooError(
        f"the symmetries found form a group of order {n} that is not Cn, Dn or K4 (escnn's presentations); "
        "write the spec by hand"
    )


# ------------------------------------------------------------------------------- the spec
def _rounded(T: np.ndarray) -> list[list[float]]:
    out = []
    for row in T:
        vals = []
        for x in row:
            r = round(float(x))
            vals.append(int(r) if abs(x - r) < 1e-12 else float(x))
        out.append(vals)
    return out


def _spec_dict(
    tree: _Tree,
    path: Path,
    name: str,
    group: str,
    gens: dict[str, np.ndarray],
    model_ref: str,
    description: str,
) -> dict[str, Any]:
    names = tree.joint_names
    n = len(names)
    out_gens: dict[str, Any] = {}
    for g, M in gens.items():
        T, P = M[:3, :3], M[3:, 3:]
        perm = {
            names[i]: names[int(np.argmax(np.abs(P[i])))]
            for i in range(n)
            if int(np.argmax(np.abs(P[i]))) != i
        }
        signs = {names[i]: -1 for i in range(n) if P[i].sum() < 0}
        q: dict[str, Any] = {"perm": perm}
        if signs:
            q["signs"] = signs
        out_gens[g] = {"R": _rounded(tree.frame @ T @ tree.frame.T), "q": q}
    spec: dict[str, Any] = {
        "name": name,
        "description": description,
        "model": model_ref,
        "joints": list(names),
    }
    if tree.base:
        spec["base"] = {"joints": list(tree.base), "qpos": [round(x, 12) for x in tree.base_qpos]}
    spec.update(com_body=tree.com_body, group=group, generators=out_gens)
    return spec


def infer_spec(
    model_file: str | Path,
    *,
    name: str | None = None,
    base: list[str] | None = None,
    com_body: str | None = None,
    spec_dir: str | Path | None = None,
    n_states: int = 6,
    seed: int = 0,
    tol: float | None = None,
) -> InferredSymmetry:
    """Find the morphological symmetry group of the robot in ``model_file`` (MJCF or URDF that
    MuJoCo loads) and its spec (see the module docstring).

    ``base``: the joints held fixed (default: a free joint or planar base of the root body);
    ``com_body``: whose subtree's momentum is checked (default: the root body); ``spec_dir``: where
    the spec will be written (its ``model`` entry is then relative to it when the model file is
    below it, absolute otherwise).  ``tol``: the simulator check's relative tolerance and, for a
    URDF, that of the links' inertial parameters (default 1e-8 for MJCF, exact to rounding;
    :data:`URDF_INERTIAL_TOL` for URDF, whose published inertias are rounded).  Raises :class:`~symzoo.errors.SymzooError` when no symmetry is
    found or the group has no escnn presentation.
    """
    from .checks import check_spec
    from .mujoco import RobotSim
    from .spec import spec_from_dict

    path = Path(model_file).expanduser()
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    if path.suffix.lower() not in (".xml", ".mjcf", ".urdf"):
        raise InputError(f"model file {path}: expected an MJCF (.xml) or URDF (.urdf) file")
    urdf = path.suffix.lower() == ".urdf"
    if tol is None:
        tol = URDF_INERTIAL_TOL if urdf else 1e-8
    if not (math.isfinite(tol) and tol > 0):
        raise InputError(f"the simulator tolerance must be a positive number, got {tol}")
    tree = _Tree(path, base, com_body, inertial_rtol=tol if urdf else 1e-6)
    name = name or path.stem
    model_ref = _model_ref(path)
    if spec_dir is not None and ":" not in model_ref:
        try:
            model_ref = str(path.resolve().relative_to(Path(spec_dir).resolve()))
        except ValueError:
            pass
    n = len(tree.joint_names)
    tried = _candidates()
    for c in tried:
        tree.map_candidate(c)

    def one_generator(c: Candidate) -> dict[str, Any]:
        M = _block(c.T, c.perm, c.signs)
        return _spec_dict(tree, path, name, f"C{_order(M)}", {c.name: M}, str(path.resolve()), "candidate")

    sim = None
    for c in tried:
        if not c.geometric:
            continue
        raw = one_generator(c)
        try:
            spec = spec_from_dict(raw, path)
            if sim is None:  # MuJoCo for MJCF and URDF alike
                sim = RobotSim(spec)
            c.mismatch = check_spec(spec, sim=sim, n_states=n_states, seed=seed, tol=tol, diagnose=False)[
                c.name
            ]
            c.verified = True
        except SymmetrySpecError as e:
            c.reason = str(e).split(": ", 1)[-1]
    found = _faithful([c for c in tried if c.verified], n)
    if not found:
        tried_s = "; ".join(f"{c.name}: {c.reason}" for c in tried[:3])
        raise SymzooError(
            f"no morphological symmetry found in {path.name} ({n} joints, base {tree.base or 'none'}): "
            f"no mirror through a vertical plane or turn about the vertical axis maps the robot onto "
            f"itself (e.g. {tried_s})"
        )
    elems = _closure(found)
    group, gen_mats = _presentation(elems)
    gens = {}
    for M in gen_mats:
        g = _elem_name(M)
        if group.startswith("D") and g.startswith("rotation"):
            g = "rotation"
        gens[g] = M
    desc = f"inferred by `symzoo robots infer` from {path.name}: {group} = " + " x ".join(
        _describe(g, M) for g, M in gens.items()
    )
    spec_raw = _spec_dict(tree, path, name, group, gens, model_ref, desc)
    check_raw = {**spec_raw, "model": str(path.resolve())}
    spec = spec_from_dict(check_raw, path)
    worst = check_spec(spec, sim=sim, n_states=n_states, seed=seed + 1, tol=tol)
    log.info("%s: %s of order %d (%s)", path.name, group, len(elems), worst)
    return InferredSymmetry(spec_raw, group, len(elems), worst, tried)


def _model_ref(path: Path) -> str:
    """``dm_control:<path>`` for a file inside the dm_control package, else the absolute path."""
    import importlib.util

    spec = importlib.util.find_spec("dm_control")
    if spec is not None and spec.submodule_search_locations:
        pkg = Path(next(iter(spec.submodule_search_locations))).resolve()
        try:
            return "dm_control:" + str(path.resolve().relative_to(pkg))
        except ValueError:
            pass
    return str(path.resolve())


def _describe(g: str, M: np.ndarray) -> str:
    if g == "sagittal":
        return "sagittal mirror (y -> -y)"
    if g == "transversal":
        return "transversal mirror (x -> -x)"
    if g.startswith("rotation"):
        ang = math.degrees(math.atan2(M[1, 0], M[0, 0])) % 360
        return f"turns by {round(ang)}° about z"
    return f"mirror {g}"


def spec_yaml(spec: dict[str, Any]) -> str:
    """The spec as YAML in the project's layout (flow-style lists and mappings inside generators)."""
    import yaml

    def flow(x: Any) -> str:
        text = yaml.safe_dump(x, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True)
        return text.removesuffix("...\n").strip()  # a plain scalar ends its document

    lines = [
        f"# {spec['description']}",
        f"name: {flow(spec['name'])}",
        f"description: {flow(spec['description'])}",
    ]
    lines += [f"model: {flow(spec['model'])}", f"joints: {flow(spec['joints'])}"]
    if "base" in spec:
        lines.append(f"base: {flow(spec['base'])}")
    lines += [f"com_body: {flow(spec['com_body'])}", f"group: {spec['group']}", "generators:"]
    for g, act in spec["generators"].items():
        lines += [f"  {g}:", f"    R: {flow(act['R'])}", "    q:", f"      perm: {flow(act['q']['perm'])}"]
        if "signs" in act["q"]:
            lines.append(f"      signs: {flow(act['q']['signs'])}")
    text = "\n".join(lines) + "\n"
    if yaml.safe_load(text) != spec:  # pragma: no cover - the layout above must round-trip
        raise SymzooError("internal error: the written spec does not read back as the inferred one")
    return text
