"""The check of a robot spec against its simulator (:func:`check_spec`): every generator must commute
with the dynamics (inverse dynamics, accelerations, centroidal momentum) at random states.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from symzoo.groups import SymmetrySpecError

from .spec import SIM_BACKENDS, RobotSpec, _registered, load_spec, spec_from_dict

__all__ = ["check_spec"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------- the check
def check_spec(
    spec: RobotSpec | str | Path,
    *,
    n_states: int = 6,
    seed: int = 0,
    tol: float = 1e-8,
    sim: Any = None,
    diagnose: bool = True,
) -> dict[str, float]:
    """Check ``spec`` against its simulator; return the worst relative mismatch per generator.

    For ``n_states`` random states ``x`` and every generator ``g``: ``f(g·x) == g·f(x)`` for the
    inverse dynamics ``f = tau(q, v, a)``, the accelerations ``f = a(q, v, u)`` and (with a
    ``com_body``) the centroidal momentum, to ``tol · (1 + max|f|)``.  Raises a one-line
    :class:`SymmetrySpecError` naming the generator, the quantity, the joint (or momentum
    component) and the mismatch on the first failure.  ``sim``: a simulator with
    :class:`~symzoo.datasets.robots.mujoco.RobotSim`'s interface (default: the spec's own,
    :meth:`RobotSpec.sim`).
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


def _outputs(sim: Any, q, v, a, u) -> dict[str, np.ndarray]:
    out = {
        "inverse-dynamics torque": sim.inverse_dynamics(q, v, a),
        "acceleration": sim.accelerations(q, v, u),
    }
    if sim.com_body is not None:
        out["centroidal momentum"] = sim.momentum(q, v)
    return out


def _sign_hint(spec: RobotSpec, sim: Any, gen: str) -> str:
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
