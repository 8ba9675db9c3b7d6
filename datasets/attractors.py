"""Chaotic attractors with exact discrete symmetries: next-state forecasting tasks.

Systems (parameters and characteristic period copied from the dysts 0.96 catalogue
``chaotic_attractors.json``, Gilpin 2021; no runtime dependency on dysts; the largest Lyapunov
exponent is **measured** with :mod:`symzoo.datasets.lyapunov`, :data:`MEASURED_LYAPUNOV`, not
copied: the catalogue's Thomas value 0.632 measures 0.491):

===============  ===================================================  ==========================
task             symmetry of the vector field (exact)                 group (factor names)
===============  ===================================================  ==========================
``lorenz``       (x, y, z) -> (-x, -y, z)                             C2 (``mirror``)
``chen``         (x, y, z) -> (-x, -y, z)                             C2 (``mirror``)
``rucklidge``    (x, y, z) -> (-x, -y, z)                             C2 (``mirror``)
``thomas``       cyclic permutation (x, y, z) -> (y, z, x) and x -> -x   C3 x C2 (``cycle``, ``inversion``)
``halvorsen``    cyclic permutation (x, y, z) -> (y, z, x)            C3 (``cycle``)
``lorenz96-N``   cyclic shift of the N sites of the ring (F = 8)      Z_N (``shift``)
===============  ===================================================  ==========================

Lorenz uses dysts' beta = 2.667 (not 8/3).  Lorenz-96 uses the classical forcing F = 8 (dysts'
entry is N = 4, F = 20); its Lyapunov exponent is computed here (Benettin's method, cached).

**Data.**  Trajectories are integrated in float64 with classical RK4 at a fine step ``h`` (at most
three times dysts' own ``dt``; tested against scipy's DOP853 at rtol 1e-12), from initial
conditions scattered around dysts' initial condition with a seed per split (train, val and test
never share an initial condition), after a transient of 10 periods, and sampled every
``Δ = period / 50`` (Lorenz-96: Δ = 0.05).  A sample is a **window** of ``window`` consecutive
states ``x [W, D]`` and its target is the next state ``x_next [D]`` (the flow map over one Δ).

**Standardization** ``(x - mean) / scale`` uses statistics that keep the group action unchanged:
the mean is projected onto the invariant subspace of the representation (Lorenz: mean x = mean
y = 0) and one scale is shared by the channels the group permutes or flips (Lorenz: x and y share
a scale; Thomas and Lorenz-96: one scale for all channels).  For catalogue systems these are
dysts' catalogue mean/std symmetrized this way; for Lorenz-96 they come from a seeded long run.

**Time unit.**  ``dt`` (one sampling step) is expressed in **Lyapunov times** (``Δ · λ_max``), so
``valid_time`` and the forecasting scores of :meth:`AttractorTask.trajectory_metrics` (valid prediction
time ``vpt`` as dysts' reference code computes it, see :mod:`symzoo.datasets.forecast_metrics`;
sMAPE at 1/2/5 Lyapunov times, attractor Wasserstein-1 distance) are in Lyapunov times.

**Breaking knob** (``lorenz96-N``): ``forcing_amplitude=s`` sets a forcing that varies along the
ring, ``F_i = F (1 + s cos(2π i / N))``, which breaks Z_N (residual group: the trivial group).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from symzoo.datasets.forecast_metrics import smape, valid_prediction_time
from torch import Tensor

from symzoo.dynamics import Dynamics, Invariant
from symzoo.errors import InputError, SymzooError, UnknownNameError, suggest
from symzoo.paths import cached_npz, dataset_cache_dir
from symzoo.registry import register_task
from symzoo.task import ArrayDataset, BreakingKnob, Field, Task, cast_batch

__all__ = [
    "AttractorSystem",
    "AttractorTask",
    "SYSTEMS",
    "rk4",
    "simulate",
    "smape",
    "lorenz96_rhs",
    "lyapunov_exponent",
]

log = logging.getLogger(__name__)

#: sMAPE threshold of the valid prediction time (Gilpin 2023: epsilon = 30, sMAPE in percent)
VPT_THRESHOLD = 30.0
#: horizons (Lyapunov times) of the fixed-horizon sMAPE scores
SMAPE_HORIZONS = (1.0, 2.0, 5.0)
#: score recorded for a non-finite forecast
_CAP = 1e6


# ------------------------------------------------------------------ vector fields
def _lorenz(x: np.ndarray, p: dict) -> np.ndarray:
    a, b, c = x[..., 0], x[..., 1], x[..., 2]
    s, r, be = p["sigma"], p["rho"], p["beta"]
    return np.stack([s * (b - a), r * a - a * c - b, a * b - be * c], -1)


def _chen(x: np.ndarray, p: dict) -> np.ndarray:
    a_, b_, c_ = p["a"], p["b"], p["c"]
    x0, y0, z0 = x[..., 0], x[..., 1], x[..., 2]
    return np.stack([a_ * (y0 - x0), (c_ - a_) * x0 - x0 * z0 + c_ * y0, x0 * y0 - b_ * z0], -1)


def _rucklidge(x: np.ndarray, p: dict) -> np.ndarray:
    x0, y0, z0 = x[..., 0], x[..., 1], x[..., 2]
    return np.stack([-p["a"] * x0 + p["b"] * y0 - y0 * z0, x0, -z0 + y0**2], -1)


def _thomas(x: np.ndarray, p: dict) -> np.ndarray:
    return -p["a"] * x + p["b"] * np.sin(np.roll(x, -1, axis=-1))


def _halvorsen(x: np.ndarray, p: dict) -> np.ndarray:
    a, b = p["a"], p["b"]
    y, z = np.roll(x, -1, axis=-1), np.roll(x, -2, axis=-1)
    return -a * x - b * y - b * z - y**2


def lorenz96_rhs(x: np.ndarray, forcing: np.ndarray | float) -> np.ndarray:
    """Lorenz-96 ``dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F_i`` on a ring, ``x [..., N]``."""
    return (np.roll(x, -1, -1) - np.roll(x, 2, -1)) * np.roll(x, 1, -1) - x + forcing


def _lorenz96(x: np.ndarray, p: dict) -> np.ndarray:
    return lorenz96_rhs(x, np.asarray(p["forcing"], dtype=np.float64))


# ------------------------------------------------------------------ systems
@dataclass(frozen=True)
class AttractorSystem:
    """One chaotic flow: vector field, catalogue constants and its symmetry generators.

    ``generators``: generator name -> signed permutation ``(perm, signs)`` of the coordinates
    (``x'_i = signs[i] * x[perm[i]]``); the group is built from them (``group_kind`` ``"C2"``,
    ``"C3"``, ``"C3xC2"`` or ``"shift"`` for Z_N shifts of a ring).
    """

    name: str
    rhs: Callable[[np.ndarray, dict], np.ndarray]
    dim: int
    params: dict
    period: float
    lyapunov: float | None  # largest Lyapunov exponent (None: computed)
    dysts_dt: float
    ic: tuple[float, ...]
    group_kind: str
    generators: Mapping[str, tuple[tuple[int, ...], tuple[float, ...]]] = field(default_factory=dict)
    mean: tuple[float, ...] | None = None  # dysts catalogue statistics (None: computed)
    std: tuple[float, ...] | None = None
    sample_dt: float | None = None  # None: period / 50

    @property
    def delta(self) -> float:
        """Sampling step Δ (time units of the system)."""
        return float(self.sample_dt if self.sample_dt is not None else self.period / 50.0)

    @property
    def substeps(self) -> int:
        """RK4 steps per sampling step (integration step at most 3x dysts' dt)."""
        return max(1, math.ceil(self.delta / (3.0 * self.dysts_dt) - 1e-9))

    def f(self, x: np.ndarray) -> np.ndarray:
        return self.rhs(x, self.params)


#: λ_max measured with symzoo's tangent-vector estimator (:func:`symzoo.datasets.lyapunov.
#: measure_catalogue`: 8 states on the attractor, RK4 at Δ/5, 400 periods; seed 0; seed 1 agrees
#: within 0.01), used as the time unit of the catalogue tasks.  ``python -m symzoo.datasets.lyapunov``
#: re-measures them.  The dysts catalogue's ``maximum_lyapunov_estimated`` values are kept in
#: :data:`CATALOGUE_LYAPUNOV` for reference only (Thomas: 0.632 there, 0.491 measured).
MEASURED_LYAPUNOV = {
    "lorenz": 0.903776459508486,
    "chen": 2.0512866661854505,
    "rucklidge": 0.19272610795295173,
    "thomas": 0.49126477321135653,
    "halvorsen": 0.6802540281362087,
}
#: dysts 0.96 catalogue values (``maximum_lyapunov_estimated``), not used
CATALOGUE_LYAPUNOV = {
    "lorenz": 0.8917098035724058,
    "chen": 2.005961349488129,
    "rucklidge": 0.1936356650629198,
    "thomas": 0.6324054000339867,
    "halvorsen": 0.6963711539102683,
}

_MIRROR = {"mirror": ((0, 1, 2), (-1.0, -1.0, 1.0))}
_CYCLE = {"cycle": ((1, 2, 0), (1.0, 1.0, 1.0))}

#: dysts 0.96 catalogue entries (params, period, dt, initial condition, mean, std); λ_max measured
#: (:data:`MEASURED_LYAPUNOV`)
SYSTEMS: dict[str, AttractorSystem] = {
    "lorenz": AttractorSystem(
        name="Lorenz",
        rhs=_lorenz,
        dim=3,
        params={"sigma": 10.0, "rho": 28.0, "beta": 2.667},
        period=1.5008,
        lyapunov=MEASURED_LYAPUNOV["lorenz"],
        dysts_dt=0.0003002100350058257,
        ic=(-9.7869288, -15.03852, 20.533978),
        group_kind="C2",
        generators=_MIRROR,
        mean=(-0.44713708338891345, -0.312509325103127, 23.545984293942695),
        std=(7.906225526391357, 8.999339290833237, 8.579487084165056),
    ),
    "chen": AttractorSystem(
        name="Chen",
        rhs=_chen,
        dim=3,
        params={"a": 35.0, "b": 3.0, "c": 28.0},
        period=0.58689,
        lyapunov=MEASURED_LYAPUNOV["chen"],
        dysts_dt=0.00011739756626106157,
        ic=(3.2689697, 5.2990458, 19.435349),
        group_kind="C2",
        generators=_MIRROR,
        mean=(-0.13402681788932083, -0.1409284522305115, 23.526691051678313),
        std=(8.360135269074323, 8.893486383938788, 5.134856614656072),
    ),
    "rucklidge": AttractorSystem(
        name="Rucklidge",
        rhs=_rucklidge,
        dim=3,
        params={"a": 2.0, "b": 6.7},
        period=6.0721,
        lyapunov=MEASURED_LYAPUNOV["rucklidge"],
        dysts_dt=0.0012146224370729896,
        ic=(1.9257158, 3.1923835, 5.7829655),
        group_kind="C2",
        generators=_MIRROR,
        mean=(-0.002386723834919391, 0.19124090476753497, 6.390259299763015),
        std=(2.5809680976656817, 2.533979780983924, 2.9711096612797765),
    ),
    "thomas": AttractorSystem(
        name="Thomas",
        rhs=_thomas,
        dim=3,
        params={"a": 1.85, "b": 10.0},
        period=4.969,
        lyapunov=MEASURED_LYAPUNOV["thomas"],
        dysts_dt=0.0009939656609435589,
        ic=(2.199442, 2.3634225, 3.220197),
        group_kind="C3xC2",
        generators={**_CYCLE, "inversion": ((0, 1, 2), (-1.0, -1.0, -1.0))},
        mean=(0.5992244994439071, 0.5330837278044998, 0.4953524274175052),
        std=(2.1376760978200635, 2.2161308468095715, 2.2431507163582944),
    ),
    "halvorsen": AttractorSystem(
        name="Halvorsen",
        rhs=_halvorsen,
        dim=3,
        params={"a": 1.4, "b": 4.0},
        period=1.4889,
        lyapunov=MEASURED_LYAPUNOV["halvorsen"],
        dysts_dt=0.000297829638273015,
        ic=(-8.6807408, -2.4741399, 0.070775762),
        group_kind="C3",
        generators=_CYCLE,
        mean=(-3.1845173356474064, -3.3610631992171265, -2.7619723963020575),
        std=(4.505313120437345, 4.1844498209273135, 4.515355409960407),
    ),
}


#: largest Lyapunov exponent of Lorenz-96 at F = 8 (``lyapunov_exponent(lorenz96_system(N),
#: t_total=1000)``, computed once); other N are computed on first use and cached
_L96_LYAPUNOV = {8: 1.610069937257341}


def lorenz96_system(n: int, forcing: float = 8.0, amplitude: float = 0.0) -> AttractorSystem:
    """Lorenz-96 with ``n`` sites, forcing ``F_i = F (1 + amplitude cos(2π i / n))``."""
    f = forcing * (1.0 + amplitude * np.cos(2 * np.pi * np.arange(n) / n))
    ic = tuple(float(forcing) + (0.01 if i == 0 else 0.0) for i in range(n))
    return AttractorSystem(
        f"Lorenz96-{n}",
        _lorenz96,
        n,
        {"forcing": tuple(float(v) for v in f)},
        1.0,
        None,
        0.005 / 3.0,
        ic,
        "shift",
        sample_dt=0.05,
    )


# ------------------------------------------------------------------ integration
def rk4(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float, n: int) -> np.ndarray:
    """``n`` classical RK4 steps of size ``h`` from ``x [..., D]`` (float64)."""
    for _ in range(n):
        k1 = f(x)
        k2 = f(x + 0.5 * h * k1)
        k3 = f(x + 0.5 * h * k2)
        k4 = f(x + h * k3)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def simulate(system: AttractorSystem, x0: np.ndarray, frames: int) -> np.ndarray:
    """States every Δ from ``x0 [B, D]``: ``[frames + 1, B, D]`` (entry 0 = ``x0``), float64."""
    h = system.delta / system.substeps
    out = np.empty((frames + 1, *x0.shape), dtype=np.float64)
    x = out[0] = np.asarray(x0, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(frames):
            x = out[t + 1] = rk4(system.f, x, h, system.substeps)
    return out


def _on_attractor(system: AttractorSystem, n: int, seed: int) -> np.ndarray:
    """``n`` states on the attractor: random initial conditions near dysts' one, after a transient
    of 10 periods (RK4 at Δ / 5)."""
    rng = np.random.default_rng(seed)
    ic = np.asarray(system.ic, dtype=np.float64)
    spread = np.asarray(system.std, dtype=np.float64) if system.std is not None else np.ones(system.dim)
    x = ic + 0.1 * spread * rng.standard_normal((n, system.dim))
    h = system.delta / 5.0
    with np.errstate(over="ignore", invalid="ignore"):
        x = rk4(system.f, x, h, int(math.ceil(10 * system.period / h)))
    if not np.isfinite(x).all():  # pragma: no cover (the transients are stable)
        raise SymzooError(f"{system.name}: a transient left the attractor (non-finite state)")
    return x


def lyapunov_exponent(system: AttractorSystem, t_total: float = 200.0, seed: int = 0) -> float:
    """Largest Lyapunov exponent by Benettin's method: a tangent vector renormalised every Δ
    (finite-difference tangent with separation 1e-8, RK4), averaged over 8 initial states."""
    x = _on_attractor(system, 8, seed)
    rng = np.random.default_rng(seed + 1)
    v = rng.standard_normal(x.shape)
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    eps, h, total = 1e-8, system.delta / system.substeps, 0.0
    steps = int(t_total / system.delta)
    for _ in range(steps):
        y = rk4(system.f, x + eps * v, h, system.substeps)
        x = rk4(system.f, x, h, system.substeps)
        d = (y - x) / eps
        norm = np.linalg.norm(d, axis=-1, keepdims=True)
        total += np.log(norm).mean()
        v = d / norm
    return float(total / (steps * system.delta))


# ------------------------------------------------------------------ metrics
def _wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))


# ------------------------------------------------------------------ task
class AttractorTask(Dynamics, Task):
    """Next-state forecasting on a chaotic attractor (module docstring): window ``x [B, W, D]``
    -> ``x_next [B, D]``, both standardized; loss and ``next_mse`` are the MSE of ``x_next``.

    Implements the dynamics protocol: trajectories are ``{"x": [steps + 1, B, D]}`` (standardized;
    entry 0 = the last state of the initial window); the model's rollout iterates its flow map,
    the reference integrates the true vector field.
    """

    domain = "forecasting"
    domain_label = "Forecasting"
    primary_metric = "next_mse"
    rollout_method = "flow map, iterated"
    time_unit = "Lyapunov times"
    presets = {
        # trajectories per split and sampled states per trajectory
        "tiny": {"train": 4, "val": 2, "test": 4, "frames": 64, "data_seed": 7},
        "small": {"train": 32, "val": 8, "test": 16, "frames": 400, "data_seed": 7},
        "paper": {"train": 100, "val": 20, "test": 32, "frames": 2000, "data_seed": 7},
    }

    def __init__(
        self,
        name: str,
        system: AttractorSystem,
        *,
        window: int = 4,
        horizon_lyapunov: float = 15.0,
        train_size: int | None = None,
        forcing_amplitude: float = 0.0,
        n_sites: int | None = None,
    ):
        if not 1 <= int(window) <= 64:
            raise InputError(f"{name}: window must be between 1 and 64 states, got {window}")
        if not (isinstance(horizon_lyapunov, (int, float)) and math.isfinite(horizon_lyapunov)):
            raise InputError(f"{name}: horizon_lyapunov must be a finite number, got {horizon_lyapunov!r}")
        if horizon_lyapunov <= 0:
            raise InputError(
                f"{name}: the forecast horizon must be > 0 Lyapunov times, got {horizon_lyapunov}"
            )
        self.name, self.system, self.window = name, system, int(window)
        self.horizon_lyapunov = float(horizon_lyapunov)
        self.train_size = train_size
        self.n_sites = n_sites
        self.description = (
            f"{system.name} attractor: a window of {self.window} states -> the state one step "
            f"Δ = {system.delta:.4g} later (symmetry {system.group_kind})"
        )
        self.forcing_amplitude = 0.0
        if n_sites is not None:
            from symzoo.groups import cyclic

            self.breaking = BreakingKnob(
                name="forcing_amplitude",
                description="forcing varying along the ring, F_i = F (1 + s cos(2π i / N))",
                unit="relative amplitude s of the forcing modulation (dimensionless)",
                arg="forcing_amplitude",
                residual_group=cyclic(1, "shift", name="C1"),
            )
            self.forcing_amplitude = self.breaking.check(forcing_amplitude)
            self.breaking_strength = self.forcing_amplitude
            if self.forcing_amplitude:
                self.system = lorenz96_system(n_sites, amplitude=self.forcing_amplitude)
                self.description += (
                    f"; forcing modulated along the ring, amplitude {self.forcing_amplitude:g}"
                )
        elif forcing_amplitude:
            raise InputError(f"{name}: forcing_amplitude applies to lorenz96-N only")
        self.group, self.rep = self._group()
        if self.forcing_amplitude:
            self.group = self.breaking.residual_group if self.breaking else self.group
            self.rep = self._shift_rep(self.group)
        shape = (self.window, int(self.system.dim))  # a window of states [W, D] per sample
        self.input_fields = {"x": Field(self.rep, "graph", "standardized state", shape)}
        self.target_fields = {"x_next": Field(self.rep, "graph", "standardized state")}
        self.output_fields = {"x_next": Field(self.rep, "graph", "standardized state")}
        self.units = {
            "next_mse": "standardized state squared (one-step flow map), dimensionless",
            "next_rmse_physical": "RMSE of the next state in the system's own units",
            "valid_time": "Lyapunov times",
            "vpt": f"Lyapunov times, until sMAPE exceeds {VPT_THRESHOLD:g}",
        }
        self._cache: dict[str, tuple] = {}

    # ------------------------------------------------------------ symmetry
    def _shift_rep(self, group):
        from symzoo.groups import ShiftRep

        return ShiftRep(group, axis=-1)

    def _group(self):
        from symzoo.groups import _extend_to_group, cyclic, direct_product, signed_permutation_matrix

        kind = self.system.group_kind
        if kind == "shift":
            g = cyclic(int(self.n_sites or self.system.dim), "shift", name=f"C{self.n_sites}")
            return g, self._shift_rep(g)
        if kind == "C2":
            g = cyclic(2, "mirror", name="C2")
        elif kind == "C3":
            g = cyclic(3, "cycle", name="C3")
        elif kind == "C3xC2":
            g = direct_product(cyclic(3, "cycle"), cyclic(2, "inversion"), name="C3xC2")
        else:  # pragma: no cover
            raise ValueError(f"unknown group kind {kind!r}")
        gens = {nm: signed_permutation_matrix(p, s) for nm, (p, s) in self.system.generators.items()}
        return g, _extend_to_group(g, gens, "state")

    def rep_matrices(self) -> Tensor:
        """The matrices ``[|G|, D, D]`` of the group on the state (shifts as permutations)."""
        from symzoo.groups import ShiftRep

        if isinstance(self.rep, ShiftRep):
            return self.rep.matrices(self.system.dim)
        return self.rep.matrices

    def with_breaking(self, strength: float) -> AttractorTask:
        """This task with the ring forcing modulated at ``strength`` (lorenz96-N; module docstring)."""
        if self.breaking is None:
            return super().with_breaking(strength)
        task = make_task(
            self.name,
            window=self.window,
            horizon_lyapunov=self.horizon_lyapunov,
            train_size=self.train_size,
            forcing_amplitude=self.breaking.check(strength),
        )
        task.default_preset = self.default_preset
        return task

    # ------------------------------------------------------------ standardization
    def stats(self) -> dict[str, np.ndarray]:
        """``mean [D]``, ``scale [D]`` (symmetric, see the module docstring) and ``lyapunov``."""
        if "stats" in self._cache:
            return self._cache["stats"][0]
        s = self.system
        if s.mean is not None and s.std is not None and s.lyapunov is not None:
            mean, std, lam = np.asarray(s.mean), np.asarray(s.std), float(s.lyapunov)
        else:
            # version 2: files written before the table Lyapunov exponents and this recipe (16
            # trajectories, seed 12345, 400 steps) carried other statistics; never reuse them
            params = {"system": s.name, "params": _jsonable(s.params), "delta": s.delta, "version": 2}
            path = dataset_cache_dir(self.name, "stats", params) / "stats.npz"

            def make():
                x0 = _on_attractor(s, 16, 12345)
                traj = simulate(s, x0, 400)[1:].reshape(-1, s.dim)
                known = (
                    _L96_LYAPUNOV.get(s.dim)
                    if s.name.startswith("Lorenz96") and not self.forcing_amplitude
                    else None
                )
                if self.forcing_amplitude:  # time is measured in the unbroken system's Lyapunov times
                    lam = math.nan
                else:
                    lam = known if known is not None else lyapunov_exponent(s)
                return {"mean": traj.mean(0), "std": traj.std(0), "lyapunov": np.array(lam)}

            z = cached_npz(path, make, what=f"{s.name} statistics and Lyapunov exponent")
            mean, std, lam = z["mean"], z["std"], float(z["lyapunov"])
        mats = self.rep_matrices().numpy()
        proj = mats.mean(0)
        mean_sym = proj @ mean
        second = std**2 + (mean - mean_sym) ** 2  # second moment about the symmetric mean
        scale = np.empty_like(std)
        for members in _scale_classes(mats):
            scale[members] = math.sqrt(second[members].mean())
        out = {"mean": mean_sym, "scale": scale, "lyapunov": np.array(lam)}
        self._cache["stats"] = (out,)
        return out

    @property
    def lyapunov(self) -> float:
        """Largest Lyapunov exponent of the (unbroken) system, 1 / time unit of the system."""
        if "lyapunov" not in self._cache:
            if self.forcing_amplitude and self.n_sites:
                lam = float(make_task(f"lorenz96-{self.n_sites}").stats()["lyapunov"])
            else:
                lam = float(self.stats()["lyapunov"])
            self._cache["lyapunov"] = (lam,)
        return self._cache["lyapunov"][0]

    @property
    def dt(self) -> float:  # type: ignore[override]
        """One sampling step Δ in Lyapunov times (``Δ · λ_max``)."""
        return self.system.delta * self.lyapunov

    @property
    def rollout_steps(self) -> int:  # type: ignore[override]
        """Default rollout horizon: ``horizon_lyapunov`` Lyapunov times, in steps."""
        return max(1, int(round(self.horizon_lyapunov / self.dt)))

    def standardize(self, x: np.ndarray | Tensor):
        st = self.stats()
        if torch.is_tensor(x):
            return (x - torch.as_tensor(st["mean"], dtype=x.dtype)) / torch.as_tensor(
                st["scale"], dtype=x.dtype
            )
        return (x - st["mean"]) / st["scale"]

    def physical(self, x: Tensor) -> Tensor:
        st = self.stats()
        return x * torch.as_tensor(st["scale"], dtype=x.dtype) + torch.as_tensor(st["mean"], dtype=x.dtype)

    # ------------------------------------------------------------ data
    def _sim_params(self, preset: str) -> dict:
        cfg = self.presets[preset]
        return {
            "system": self.system.name,
            "params": _jsonable(self.system.params),
            "delta": self.system.delta,
            "substeps": self.system.substeps,
            "sizes": [cfg["train"], cfg["val"], cfg["test"]],
            "frames": cfg["frames"],
            "seed": cfg["data_seed"],
            "version": 1,
        }

    def trajectories(self, preset: str | None = None) -> dict[str, np.ndarray]:
        """Physical float64 trajectories ``{split}: [n_traj, frames, D]`` (cached atomically)."""
        preset = preset or self.default_preset
        self.check_preset(preset)
        if preset in self._cache:
            return self._cache[preset][0]
        cfg = self.presets[preset]
        path = dataset_cache_dir(self.name, preset, self._sim_params(preset)) / "trajectories.npz"

        def make():
            out = {}
            for i, split in enumerate(("train", "val", "test")):
                x0 = _on_attractor(self.system, cfg[split], cfg["data_seed"] * 1000 + i)
                traj = simulate(self.system, x0, cfg["frames"] - 1)
                if not np.isfinite(traj).all():  # pragma: no cover
                    raise SymzooError(f"{self.name}: the integration produced non-finite states")
                out[split] = np.ascontiguousarray(traj.transpose(1, 0, 2))
            return out

        arrays = cached_npz(path, make, what=f"{self.name}/{preset} trajectories")
        self._cache[preset] = (arrays,)
        return arrays

    def _windows(self, traj: np.ndarray) -> tuple[Tensor, Tensor]:
        w = self.window
        n, frames, d = traj.shape
        if frames <= w:
            raise SymzooError(f"{self.name}: trajectories of {frames} states are too short for window {w}")
        z = self.standardize(traj)
        idx = np.arange(frames - w)[:, None] + np.arange(w)[None]  # [S, W]
        x = z[:, idx]  # [n, S, W, D]
        y = z[:, w:]  # [n, S, D]
        return torch.from_numpy(x.reshape(-1, w, d)), torch.from_numpy(y.reshape(-1, d))

    def splits(self, preset: str | None = None, seed: int = 0):
        preset = preset or self.default_preset
        arrays = self.trajectories(preset)
        cfg = self.presets[preset]
        out = []
        for i, split in enumerate(("train", "val", "test")):
            x, y = self._windows(arrays[split])
            order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(cfg["data_seed"] + i))
            ds = ArrayDataset(
                {"x": x[order].float(), "x_next": y[order].float()}, {"split": split, "preset": preset}
            )
            out.append(ds)
        if self.train_size is not None:
            if not 1 <= int(self.train_size) <= len(out[0]):
                raise InputError(
                    f"{self.name}/{preset} has {len(out[0])} training windows; train_size={self.train_size} is not possible"
                )
            out[0] = out[0].subset(range(int(self.train_size)))
        return tuple(out)

    # ------------------------------------------------------------ training
    def validate_batch(self, batch) -> None:
        super().validate_batch(batch)
        x = batch.x
        if x.dim() != 3 or x.shape[-2] != self.window:
            raise InputError(
                f"{self.name}: field 'x' must be windows [B, {self.window}, {self.system.dim}], got {list(x.shape)}"
            )

    def model_defaults(self, model_name: str, train_set) -> dict[str, Any]:
        """Builder arguments implied by the task: the system (for models that rebuild its group),
        the window and state size, and this task's fields for the shared ``mlp`` and ``node``
        builders (which pick their flow-map layout from them)."""
        d = self.system.dim
        if model_name == "mlp":  # the builder reads the window [W, D] from the declared fields
            from symzoo.contract import describe_task_fields

            return {"task": describe_task_fields(self)}
        if model_name == "node":  # as mlp: the builder reads the state size from the fields
            from symzoo.contract import describe_task_fields

            return {"task": describe_task_fields(self)}
        if model_name in ("eqmlp", "esn"):
            return (
                {"system": self.name, "window": self.window}
                if model_name == "eqmlp"
                else {
                    "state_dim": d,
                    "window": self.window,
                }
            )
        if model_name == "circnet":
            return {"window": self.window}
        return {}

    def loss(self, out: dict[str, Tensor], batch) -> Tensor:
        return ((out["x_next"] - batch.x_next) ** 2).mean()

    def metrics(self, out: dict[str, Tensor], batch) -> dict[str, Tensor]:
        err = out["x_next"] - batch.x_next
        scale = torch.as_tensor(self.stats()["scale"], dtype=err.dtype, device=err.device)
        return {"next_mse": (err**2).mean(), "next_rmse_physical": ((err * scale) ** 2).mean().sqrt()}

    def metric_terms(self, out: dict[str, Tensor], batch) -> dict[str, tuple[str, Tensor, Any]]:
        err = (out["x_next"] - batch.x_next).detach()
        scale = torch.as_tensor(self.stats()["scale"], dtype=err.dtype, device=err.device)
        n = err.numel()
        return {
            "next_mse": ("mean", (err**2).sum(), n),
            "next_rmse_physical": ("rms", ((err * scale) ** 2).sum(), n),
        }

    # ------------------------------------------------------------ dynamics protocol
    def initial_batch(self, preset: str | None = None, split: str = "test", n: int | None = None, dtype=None):
        """The first window of each trajectory of ``split`` (float64 by default)."""
        if split not in ("train", "val", "test"):
            raise InputError(f"split must be train, val or test, not {split!r}")
        traj = self.trajectories(preset)[split]
        if n is not None:
            if n < 1:
                raise InputError(f"the number of rollout trajectories must be >= 1, got {n}")
            traj = traj[:n]
        x = torch.from_numpy(np.ascontiguousarray(self.standardize(traj[:, : self.window])))
        from torch_geometric.data import Data

        b = Data(x=x, x_next=torch.from_numpy(self.standardize(traj[:, self.window])))
        b.num_graphs = int(x.shape[0])
        return cast_batch(b, dtype or torch.float64)

    def rollout(self, model, batch, steps: int, **options) -> dict[str, Tensor]:
        """Iterate the model's flow map ``steps`` times from the windows of ``batch``:
        ``{"x": [steps + 1, B, D]}`` (entry 0 = the last state of each window)."""
        if int(steps) < 1:
            raise InputError(f"rollout steps must be >= 1, got {steps}")
        window = batch.x
        states = [window[:, -1]]
        for _ in range(int(steps)):
            b = batch.clone()
            b.x = window
            nxt = model(b)["x_next"]
            states.append(nxt)
            window = torch.cat([window[:, 1:], nxt[:, None]], 1)
        return {"x": torch.stack(states)}

    def reference_key(self, preset: str) -> dict:
        return {**self._sim_params(preset), "window": self.window}

    def reference_trajectory(self, batch, steps: int) -> dict[str, Tensor]:
        """The true flow from the last state of each window (float64, standardized)."""
        if int(steps) < 1:
            raise InputError(f"rollout steps must be >= 1, got {steps}")
        x0 = self.physical(batch.x[:, -1].to(torch.float64)).numpy()
        traj = simulate(self.system, x0, int(steps))
        return {"x": torch.from_numpy(self.standardize(traj))}

    def invariants(self) -> dict[str, Invariant]:
        """None: a dissipative chaotic flow conserves nothing; see :meth:`trajectory_metrics`."""
        return {}

    def trajectory_metrics(
        self, pred: dict[str, Tensor], ref: dict[str, Tensor], batch
    ) -> dict[str, tuple[float, str]]:
        """Forecast scores on the physical state (:mod:`symzoo.datasets.forecast_metrics`), sMAPE on
        dysts' 0-200 scale (``scaled=False``): ``vpt`` (valid prediction time, dysts' ``vpt_smape``:
        ``dt`` times the number of leading steps whose running sMAPE over the forecast prefix is
        <= 30; first exceeded at step ``k`` -> ``(k - 1) dt``, wrong at step 1 -> 0, never -> the
        horizon; mean over trajectories), ``vpt_pointwise`` (the same counting on the sMAPE of each
        step alone, symzoo's definition before it was pinned to dysts), ``smape_<h>lt`` (sMAPE of
        the state at ``h`` Lyapunov times alone, mean; not dysts' running sMAPE), and
        ``attractor_w1`` (Wasserstein-1 distance between the
        pooled rollout states and the pooled reference states, per coordinate in standardized
        units, mean over coordinates: the attractor's statistics)."""
        p, r = pred["x"].to(torch.float64), ref["x"].to(torch.float64)
        steps = p.shape[0] - 1
        finite = torch.isfinite(p).all(-1)  # [T+1, B]
        s = smape(self.physical(torch.where(finite[..., None], p, torch.zeros_like(p))), self.physical(r))
        s = torch.where(finite & torch.isfinite(s), s, torch.full_like(s, 200.0))[1:]  # [T, B]
        dt = self.dt
        vpt = valid_prediction_time(s, dt, VPT_THRESHOLD, cumulative=True)
        vpt_pointwise = valid_prediction_time(s, dt, VPT_THRESHOLD, cumulative=False)
        out = {
            "vpt": (
                float(vpt.mean()),
                f"Lyapunov times, until the running sMAPE > {VPT_THRESHOLD:g} (dysts)",
            ),
            "vpt_pointwise": (
                float(vpt_pointwise.mean()),
                f"Lyapunov times, until one step's sMAPE > {VPT_THRESHOLD:g}",
            ),
        }
        for h in SMAPE_HORIZONS:
            k = int(round(h / dt))
            if 1 <= k <= steps:
                out[f"smape_{h:g}lt"] = (float(s[k - 1].mean()), f"sMAPE (percent) at {h:g} Lyapunov times")
        pf, rf = p[1:].reshape(-1, p.shape[-1]), r[1:].reshape(-1, r.shape[-1])
        ok = torch.isfinite(pf).all(-1)
        if ok.sum() < 2:
            w1 = _CAP
        else:
            pn, rn = pf[ok].numpy(), rf.numpy()
            w1 = float(np.mean([_wasserstein1(pn[:, i], rn[:, i]) for i in range(pn.shape[1])]))
            w1 = min(w1, _CAP) if math.isfinite(w1) else _CAP
        out["attractor_w1"] = (w1, "Wasserstein-1 of the rollout's state distribution, standardized units")
        return out


def _scale_classes(mats: np.ndarray) -> list[list[int]]:
    """Channels that share a scale: the orbits of the signed permutations ``mats [|G|, D, D]``,
    merged when they carry the same character (block traces), e.g. Lorenz's x and y (both flip
    sign under the mirror).  A scale constant on each class commutes with every ``rho(g)``."""
    d = mats.shape[-1]
    link = np.abs(mats).sum(0) > 0
    orbits: list[list[int]] = []
    seen: set[int] = set()
    for i in range(d):
        if i not in seen:
            orbit = sorted(int(j) for j in np.nonzero(link[i])[0])
            seen.update(orbit)
            orbits.append(orbit)
    classes: dict[tuple, list[int]] = {}
    for orbit in orbits:
        sig = (len(orbit), *np.round(mats[:, orbit][:, :, orbit].trace(axis1=1, axis2=2), 9).tolist())
        classes.setdefault(sig, []).extend(orbit)
    return [sorted(c) for c in classes.values()]


def _jsonable(p: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items()}


# ------------------------------------------------------------------ registration
_FIXED = ("lorenz", "chen", "rucklidge", "thomas", "halvorsen")


def make_task(name: str, **kwargs: Any) -> AttractorTask:
    """The attractor task ``name`` (``lorenz``, ``thomas``, ``lorenz96-8``...); one-line errors."""
    if name in SYSTEMS:
        return AttractorTask(name, SYSTEMS[name], **kwargs)
    if name.startswith("lorenz96-"):
        tail = name[len("lorenz96-") :]
        if not tail.isdigit() or not 4 <= int(tail) <= 64:
            raise UnknownNameError(f"lorenz96-N needs 4 <= N <= 64 sites, got {tail!r}")
        n = int(tail)
        return AttractorTask(name, lorenz96_system(n), n_sites=n, **kwargs)
    raise UnknownNameError(f"unknown attractor {name!r}{suggest(name, [*_FIXED, 'lorenz96-8'])}")


def _register(key: str) -> None:
    system = SYSTEMS[key]
    sym = {"C2": "C2 mirror (x, y, z) -> (-x, -y, z)", "C3": "C3 cyclic permutation", "C3xC2": "C3 x C2"}

    def factory(
        window: int = 4, horizon_lyapunov: float = 15.0, train_size: int | None = None
    ) -> AttractorTask:
        return make_task(key, window=window, horizon_lyapunov=horizon_lyapunov, train_size=train_size)

    factory.__doc__ = f"{system.name} attractor, next-state forecasting; symmetry {sym[system.group_kind]}."
    register_task(key)(factory)


for _key in _FIXED:
    _register(_key)


@register_task("lorenz96", pattern=r"lorenz96-(\d+)", example="lorenz96-8")
def lorenz96(
    n: str,
    window: int = 4,
    horizon_lyapunov: float = 15.0,
    train_size: int | None = None,
    forcing_amplitude: float = 0.0,
) -> AttractorTask:
    """Lorenz-96 ring of N sites (F = 8), next-state forecasting; symmetry Z_N (cyclic shifts)."""
    return make_task(
        f"lorenz96-{n}",
        window=window,
        horizon_lyapunov=horizon_lyapunov,
        train_size=train_size,
        forcing_amplitude=forcing_amplitude,
    )
