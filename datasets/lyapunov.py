"""Lyapunov exponents of a vector field, measured with symzoo's own tangent-space estimator.

:func:`lyapunov_spectrum` is Benettin's method with QR re-orthonormalisation (Benettin et al.
1980; Shimada & Nagashima 1979): the state ``x`` and ``k`` tangent vectors ``V`` are integrated
together with classical RK4, the tangent vectors by the **variational equation** ``dV/dt = J(x) V``,
whose Jacobian-vector products are central finite differences of the vector field
``J v ≈ (f(x + εu) − f(x − εu)) / 2ε · |v|`` with ``u = v / |v|`` (so any ``f`` works, no
autograd).  Every ``renorm_every`` steps ``V = QR`` and ``log |R_ii|`` is accumulated; the
exponents are the accumulated logs over the elapsed time, averaged over ``n_states`` initial
states.  Exponents are in 1 / (time unit of ``f``), largest first.

Used for the attractor catalogue (:data:`symzoo.datasets.attractors.SYSTEMS` stores the values it
measures, not the dysts catalogue's) and for a user's vector field (:mod:`symzoo.datasets.user_ode`).
Accuracy: Lorenz (σ = 10, ρ = 28, β = 8/3) gives 0.906 ± 0.01 with the defaults (h = 0.01,
t = 200 from 8 states) against the reference 0.9056 (Sprott 2003).

``python -m symzoo.datasets.lyapunov`` re-measures the catalogue and prints the values.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from symzoo.errors import InputError, SymzooError

__all__ = ["lyapunov_spectrum", "max_lyapunov", "jvp", "measure_catalogue"]

VectorField = Callable[[np.ndarray], np.ndarray]


def jvp(f: VectorField, x: np.ndarray, v: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``J(x) v`` by central differences; ``x [B, D]``, ``v [B, k, D]`` -> ``[B, k, D]``."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    u = v / np.where(n > 0, n, 1.0)
    scale = eps * max(1.0, float(np.abs(x).max()))
    xp = x[:, None, :] + scale * u
    xm = x[:, None, :] - scale * u
    return (f(xp) - f(xm)) / (2 * scale) * n


def _rk4_joint(f: VectorField, x: np.ndarray, v: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    k1 = f(x)
    l1 = jvp(f, x, v)
    x2, v2 = x + 0.5 * h * k1, v + 0.5 * h * l1
    k2, l2 = f(x2), jvp(f, x2, v2)
    x3, v3 = x + 0.5 * h * k2, v + 0.5 * h * l2
    k3, l3 = f(x3), jvp(f, x3, v3)
    x4, v4 = x + h * k3, v + h * l3
    k4, l4 = f(x4), jvp(f, x4, v4)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), v + h / 6 * (l1 + 2 * l2 + 2 * l3 + l4)


def lyapunov_spectrum(
    f: VectorField,
    x0: np.ndarray,
    *,
    h: float,
    t_total: float = 200.0,
    t_transient: float = 20.0,
    n_exponents: int = 1,
    renorm_every: int = 10,
    seed: int = 0,
) -> np.ndarray:
    """The ``n_exponents`` largest Lyapunov exponents of ``dx/dt = f(x)`` (module docstring).

    ``f`` maps states ``[..., D]`` to their time derivatives (vectorised over leading axes);
    ``x0 [B, D]`` are initial states (each is first integrated for ``t_transient``); ``h`` is the RK4
    step; ``t_total`` the averaging time after the transient.  Returns ``[n_exponents]`` (mean over
    the ``B`` states), in 1 / time unit of ``f``."""
    x = np.atleast_2d(np.asarray(x0, dtype=np.float64))
    b, d = x.shape
    if not (h > 0 and math.isfinite(h)):
        raise InputError(f"the integration step h must be finite and > 0, got {h}")
    if not 1 <= n_exponents <= d:
        raise InputError(f"n_exponents must be in 1..{d}, got {n_exponents}")
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(math.ceil(t_transient / h))):
            x = _rk4_joint(f, x, np.zeros((b, 0, d)), h)[0]
        if not np.isfinite(x).all():
            raise SymzooError(
                "the trajectory left every bounded region during the transient (non-finite state)"
            )
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((b, d, n_exponents)))
        v = np.swapaxes(q, 1, 2)  # [B, k, D], orthonormal rows
        total = np.zeros((b, n_exponents))
        steps = max(renorm_every, int(round(t_total / h)))
        steps -= steps % renorm_every
        for i in range(1, steps + 1):
            x, v = _rk4_joint(f, x, v, h)
            if i % renorm_every == 0:
                q, r = np.linalg.qr(np.swapaxes(v, 1, 2))  # columns = tangent vectors
                diag = np.abs(np.diagonal(r, axis1=1, axis2=2))
                total += np.log(np.maximum(diag, 1e-300))
                v = np.swapaxes(q, 1, 2) * np.sign(np.diagonal(r, axis1=1, axis2=2))[..., None]
        if not (np.isfinite(x).all() and np.isfinite(total).all()):
            raise SymzooError("the Lyapunov estimate diverged (non-finite state); use a smaller step h")
    return total.mean(0) / (steps * h)


def max_lyapunov(f: VectorField, x0: np.ndarray, *, h: float, **kw) -> float:
    """The largest Lyapunov exponent λ_max of ``dx/dt = f(x)`` (:func:`lyapunov_spectrum`)."""
    return float(lyapunov_spectrum(f, x0, h=h, n_exponents=1, **kw)[0])


def measure_catalogue(periods: float = 400.0, seed: int = 0) -> dict[str, float]:
    """λ_max of every catalogue system (:data:`symzoo.datasets.attractors.SYSTEMS`): 8 states on
    the attractor, RK4 at h = Δ / 5, averaged over ``periods`` characteristic periods."""
    from .attractors import SYSTEMS, _on_attractor

    out = {}
    for key, s in SYSTEMS.items():
        x0 = _on_attractor(s, 8, seed)
        out[key] = max_lyapunov(
            s.f, x0, h=s.delta / 5, t_total=periods * s.period, t_transient=0.0, seed=seed
        )
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(measure_catalogue(), indent=2))
