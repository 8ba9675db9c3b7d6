"""An ODE of one's own: the ``ode`` task, next-state forecasting on the user's vector field.

``symzoo train ode eqmlp data.task_args.vector_field=my_lorenz:lorenz data.task_args.dim=3
data.task_args.dt=0.03 data.task_args.generators.mirror=[-1,-2,3]`` (``docs/byo_ode.md``).

Task arguments (``data.task_args.<key>=...``)

``vector_field``  ``module:function`` or ``path/to/file.py:function``: ``f(x, **params) -> dx/dt``
                  with ``x [..., D]`` (a NumPy array; vectorised over the leading axes -- a function
                  written for one state ``[D]`` also works, more slowly).  A module is imported from
                  the current folder too.
``dysts``         instead of ``vector_field``: the name of any ``dysts`` system (``Lorenz``,
                  ``Thomas``, ...; needs ``pip install 'symzoo[forecasting]'``); its own parameters,
                  initial condition and ``dt`` (sampling step ``period / 50``) are the defaults.
``params``        keyword arguments of ``f`` (a mapping; for dysts, overrides of its parameters)
``dim``           state dimension D (required with ``vector_field`` unless ``ic`` gives it)
``ic``            initial condition ``[D]`` around which trajectories start (default ``[1, ..., 1]``)
``ic_spread``     standard deviation of the initial conditions around ``ic`` (default 1.0)
``dt``            sampling step Δ between states (required with ``vector_field``)
``h``             RK4 integration step (default ``dt / 10``; ``dt / h`` is rounded up to an integer)
``group``         the abstract group (``C2``, ``C3``, ``K4``, ``D4``, ``C3xC2``...; default: C_n from
                  one generator's order, the trivial group without generators)
``generators``    ``{name: action}``: each generator's action on the state, a signed permutation in
                  1-based signed-index form (``[-1, -2, 3]``: x -> -x, y -> -y, z -> z;
                  ``[2, 3, 1]``: (x, y, z) -> (y, z, x)), ``{perm: [...], signs: [...]}`` (0-based) or
                  an orthogonal matrix
``symmetry_tol``  relative tolerance of the symmetry check (default 1e-8)
``window``, ``horizon_lyapunov``, ``train_size``: as for the shipped attractors
``lyapunov_time`` averaging time of the λ_max estimate (default ``2000 dt``)

**The declared group is verified on the vector field before anything is written**: at 64 states (on
the attractor after a transient of ``10 · 50 · dt``) ``|f(g x) − g f(x)| / |f(x)|`` must stay below
``symmetry_tol`` for every generator ``g``; otherwise a one-line :class:`~symzoo.errors.InputError`
names the generator and the measured error.  λ_max is measured with
:func:`symzoo.datasets.lyapunov.max_lyapunov` (tangent vectors, QR) and cached with the data
statistics under ``SYMZOO_HOME/datasets/ode``; the cache key holds a fingerprint of the vector
field (its values at fixed points), so an edited function is never served stale data.

Everything else (windows, standardization that keeps the group action, rollout, forecast scores in
Lyapunov times) is :class:`symzoo.datasets.attractors.AttractorTask`'s.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import logging
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symzoo.errors import InputError, SymzooError
from symzoo.registry import register_task
from symzoo.task import Task

from .attractors import AttractorSystem, AttractorTask, _on_attractor, simulate

__all__ = ["UserODETask", "load_vector_field", "dysts_system", "check_symmetry"]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ loading the vector field
def load_vector_field(spec: str) -> Callable:
    """The function named by ``module:function`` or ``path/to/file.py:function``."""
    if not isinstance(spec, str) or ":" not in spec:
        raise InputError(f"vector_field must be 'module:function' or 'file.py:function', got {spec!r}")
    mod_name, _, fn_name = spec.rpartition(":")
    if not mod_name or not fn_name:
        raise InputError(f"vector_field must be 'module:function' or 'file.py:function', got {spec!r}")
    try:
        if mod_name.endswith(".py") or "/" in mod_name:
            path = Path(mod_name).expanduser()
            if not path.is_file():
                raise InputError(f"vector_field: file {path} does not exist")
            name = "_symzoo_user_ode_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise InputError(f"vector_field: cannot import {path}")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(mod_name)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 (the user's module: any error is theirs, one line)
        raise InputError(
            f"vector_field {spec!r}: cannot import {mod_name} ({type(e).__name__}: {e})"
        ) from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise InputError(f"vector_field {spec!r}: {mod_name} has no function {fn_name!r}")
    return fn


def dysts_system(name: str) -> Any:
    """An instance of the dysts system ``name`` (one-line errors when dysts is missing or the
    name is unknown)."""
    try:
        import dysts.flows as flows
    except ImportError:
        raise InputError(
            "the dysts systems need the optional extra: pip install 'symzoo[forecasting]' (dysts)"
        ) from None
    cls = getattr(flows, str(name), None)
    if not isinstance(cls, type):
        from symzoo.errors import UnknownNameError, suggest

        names = [n for n in dir(flows) if n[:1].isupper() and isinstance(getattr(flows, n), type)]
        raise UnknownNameError(f"unknown dysts system {name!r}{suggest(str(name), names)}")
    return cls()


def _call(fn: Callable, params: dict, x: np.ndarray) -> np.ndarray:
    """``fn(x, **params)`` on states ``x [..., D]``, falling back to one state at a time."""
    try:
        y = np.asarray(fn(x, **params), dtype=np.float64)
        if y.shape == x.shape:
            return y
    except Exception:  # noqa: BLE001 (a function written for one state [D]: loop below)
        if x.ndim == 1:
            raise
    flat = x.reshape(-1, x.shape[-1])
    out = np.stack([np.asarray(fn(row, **params), dtype=np.float64).reshape(-1) for row in flat])
    return out.reshape(x.shape)


def _dysts_rhs(model: Any, x: np.ndarray, p: dict) -> np.ndarray:
    out = model._rhs(*np.moveaxis(x, -1, 0), 0.0, **p)
    return np.stack([np.broadcast_to(np.asarray(o, dtype=np.float64), x.shape[:-1]) for o in out], -1)


def _user_rhs(fn: Callable, x: np.ndarray, p: dict) -> np.ndarray:
    return _call(fn, p, x)


# ------------------------------------------------------------------ the declared group
def _parse_generators(generators: Any, dim: int) -> dict[str, Any]:
    """``{name: action}`` with signed 1-based index lists turned into ``{perm, signs}``."""
    if generators is None:
        return {}
    if not isinstance(generators, Mapping):
        raise InputError(f"generators must be a mapping {{name: action}}, got {generators!r}")
    out: dict[str, Any] = {}
    for name, act in generators.items():
        if (
            isinstance(act, (list, tuple))
            and act
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in act)
        ):
            idx = [int(v) for v in act]
            if any(v != a for v, a in zip(idx, act)) or sorted(abs(v) for v in idx) != list(
                range(1, len(idx) + 1)
            ):
                raise InputError(
                    f"generator {name!r}: {list(act)} is not a signed permutation of 1..{len(idx)} "
                    "(e.g. [-1, -2, 3] for (x, y, z) -> (-x, -y, z))"
                )
            out[str(name)] = {"perm": [abs(v) - 1 for v in idx], "signs": [1 if v > 0 else -1 for v in idx]}
        else:
            out[str(name)] = act
    return out


def _group_and_rep(group: str | None, generators: dict[str, Any], dim: int):
    from symzoo.groups import (
        _as_signed_perm,
        _extend_to_group,
        _matrix_order,
        cyclic,
        signed_permutation_group,
    )

    if not generators:
        if group not in (None, "C1", "trivial"):
            raise InputError(
                f"group {group!r} declared without generators (data.task_args.generators.NAME=...)"
            )
        g = cyclic(1, "identity", name="C1")
        return g, _extend_to_group(g, {"identity": _eye(dim)}, "state")
    if group is None:
        if len(generators) != 1:
            raise InputError(
                "several generators need the abstract group: data.task_args.group=K4 (or D4, C3xC2, ...)"
            )
        ((name, act),) = generators.items()
        order = _matrix_order(_as_signed_perm(name, "state", act, dim))
        if order is None:
            raise InputError(f"generator {name!r} has no finite order")
        group = f"C{order}"
    grp, reps = signed_permutation_group(
        str(group), {n: {"state": a} for n, a in generators.items()}, dims={"state": dim}
    )
    return grp, reps["state"]


def _eye(dim: int):
    import torch

    return torch.eye(dim, dtype=torch.float64)


def check_symmetry(
    f: Callable[[np.ndarray], np.ndarray], mats: dict[str, np.ndarray], states: np.ndarray
) -> dict[str, float]:
    """``max |f(g x) − g f(x)| / mean |f(x)|`` over ``states [N, D]`` for each generator matrix."""
    fx = f(states)
    ref = float(np.linalg.norm(fx, axis=-1).mean()) or 1.0
    out = {}
    for name, m in mats.items():
        gx = states @ m.T
        err = np.linalg.norm(f(gx) - fx @ m.T, axis=-1).max() / ref
        out[name] = float(err)
    return out


def _fingerprint(f: Callable[[np.ndarray], np.ndarray], dim: int, center: np.ndarray) -> str:
    pts = center + np.random.default_rng(1234).standard_normal((8, dim))
    with np.errstate(all="ignore"):
        vals = f(pts)
    return hashlib.sha256(np.round(vals, 10).tobytes()).hexdigest()[:16]


# ------------------------------------------------------------------ task
class UserODETask(AttractorTask):
    """Next-state forecasting on the user's vector field or a dysts system (module docstring)."""

    domain = "forecasting"

    def __init__(
        self,
        vector_field: str | None = None,
        *,
        dysts: str | None = None,
        params: Mapping | None = None,
        dim: int | None = None,
        ic: list | None = None,
        ic_spread: float = 1.0,
        dt: float | None = None,
        h: float | None = None,
        group: str | None = None,
        generators: Mapping | None = None,
        symmetry_tol: float = 1e-8,
        window: int = 4,
        horizon_lyapunov: float = 15.0,
        train_size: int | None = None,
        lyapunov_time: float | None = None,
    ):
        if (vector_field is None) == (dysts is None):
            raise InputError(
                "the ode task needs exactly one of data.task_args.vector_field=module:function "
                "and data.task_args.dysts=NAME"
            )
        params = dict(params or {})
        if dysts is not None:
            model = dysts_system(dysts)
            p = {**dict(model.params), **params}
            rhs = functools.partial(_dysts_rhs, model)
            spec = f"dysts:{dysts}"
            dim = int(dim or len(np.atleast_1d(model.ic)))
            ic = list(np.atleast_1d(model.ic)) if ic is None else ic
            dt = float(dt or model.period / 50.0)
            h = float(h or min(dt, 3 * model.dt))
        else:
            fn = load_vector_field(str(vector_field))
            rhs = functools.partial(_user_rhs, fn)
            p = params
            spec = str(vector_field)
            if dim is None and ic is None:
                raise InputError(
                    "declare the state dimension: data.task_args.dim=D (or an initial condition ic=[...])"
                )
        if dt is None:
            raise InputError(
                "declare the sampling step: data.task_args.dt=... (time between forecast states)"
            )
        dim = int(dim if dim is not None else len(ic or []))
        if dim < 1:
            raise InputError(f"dim must be >= 1, got {dim}")
        ic_arr = np.ones(dim) if ic is None else np.asarray(ic, dtype=np.float64).reshape(-1)
        if ic_arr.shape != (dim,) or not np.isfinite(ic_arr).all():
            raise InputError(f"ic must be {dim} finite numbers, got {ic!r}")
        dt = float(dt)
        h = float(h) if h is not None else dt / 10.0
        if not (dt > 0 and math.isfinite(dt) and h > 0 and math.isfinite(h)):
            raise InputError(f"dt and h must be finite and > 0, got dt={dt}, h={h}")
        if h > dt:
            raise InputError(f"the integration step h={h} must not exceed the sampling step dt={dt}")
        if not (ic_spread >= 0 and math.isfinite(ic_spread)):
            raise InputError(f"ic_spread must be finite and >= 0, got {ic_spread}")

        def f(x: np.ndarray) -> np.ndarray:
            return rhs(x, p)

        try:
            with np.errstate(all="ignore"):
                probe = f(ic_arr[None])
        except Exception as e:  # noqa: BLE001 (the user's function: one line)
            raise InputError(
                f"vector field {spec}: calling it on the initial condition failed ({type(e).__name__}: {e})"
            ) from None
        if probe.shape != (1, dim):
            raise InputError(
                f"vector field {spec} returned shape {list(probe.shape[1:])} for a state of dimension {dim}"
            )
        fp = _fingerprint(f, dim, ic_arr)
        self.spec, self.fingerprint, self.vector_field_params = spec, fp, p
        self.ic_spread = float(ic_spread)
        self._lyapunov_time = float(lyapunov_time) if lyapunov_time else 2000.0 * dt
        self._gen_spec = _parse_generators(generators, dim)
        self._group_name = group
        system = AttractorSystem(
            name=f"ode[{spec}#{fp}]",
            rhs=rhs,
            dim=dim,
            params=p,
            period=50.0 * dt,  # the transient is 10 "periods" = 500 dt
            lyapunov=None,
            dysts_dt=h / 3.0,  # substeps = ceil(dt / h)
            ic=tuple(float(v) for v in ic_arr),
            group_kind="user",
            std=tuple([self.ic_spread / 0.1] * dim),  # _on_attractor scatters 0.1 * std around ic
            sample_dt=dt,
        )
        super().__init__(
            "ode", system, window=window, horizon_lyapunov=horizon_lyapunov, train_size=train_size
        )
        self.description = (
            f"next-state forecasting on {spec} (D = {dim}, Δ = {dt:g}, symmetry {self.group.name})"
        )
        self._verify_group(symmetry_tol)

    # ------------------------------------------------------------ symmetry
    def _group(self):
        return _group_and_rep(self._group_name, self._gen_spec, self.system.dim)

    def _verify_group(self, tol: float) -> None:
        if not self._gen_spec:
            return
        states = self._states(64, seed=4321)
        from symzoo.groups import _as_signed_perm

        mats = {n: _as_signed_perm(n, "state", a, self.system.dim).numpy() for n, a in self._gen_spec.items()}
        errs = check_symmetry(self.system.f, mats, states)
        self.symmetry_errors = errs
        for name, err in errs.items():
            if not err <= tol:
                raise InputError(
                    f"the declared generator {name!r} is not a symmetry of {self.spec}: "
                    f"max |f(g x) - g f(x)| / mean |f(x)| = {err:.3g} over 64 states (tolerance {tol:g})"
                )
        log.info("%s: declared group verified on the vector field (errors %s)", self.spec, errs)

    def _states(self, n: int, seed: int) -> np.ndarray:
        x = _on_attractor(self.system, n, seed)
        if not np.isfinite(x).all():
            raise InputError(f"{self.spec}: the trajectories leave every bounded region (non-finite states)")
        return x

    # ------------------------------------------------------------ statistics
    def stats(self) -> dict[str, np.ndarray]:
        """Mean/scale of the state (symmetrized) and λ_max measured with
        :func:`symzoo.datasets.lyapunov.max_lyapunov`, cached under ``SYMZOO_HOME``."""
        if "stats" in self._cache:
            return self._cache["stats"][0]
        from symzoo.paths import cached_npz, dataset_cache_dir

        from .lyapunov import max_lyapunov

        s = self.system
        key = {"system": s.name, "delta": s.delta, "substeps": s.substeps, "ic_spread": self.ic_spread,
               "lyapunov_time": self._lyapunov_time, "version": 1}  # fmt: skip
        path = dataset_cache_dir(self.name, "stats", key) / "stats.npz"

        def make():
            x0 = self._states(16, 12345)
            traj = simulate(s, x0, 400)[1:].reshape(-1, s.dim)
            if not np.isfinite(traj).all():
                raise SymzooError(f"{self.spec}: the integration produced non-finite states; use a smaller h")
            h = s.delta / s.substeps
            lam = max_lyapunov(s.f, x0[:8], h=h, t_total=self._lyapunov_time, t_transient=0.0)
            log.info(
                "%s: λ_max = %.4g (tangent-vector estimate over %g time units)",
                self.spec,
                lam,
                self._lyapunov_time,
            )
            return {"mean": traj.mean(0), "std": traj.std(0), "lyapunov": np.array(lam)}

        z = cached_npz(path, make, what=f"{self.spec} statistics and Lyapunov exponent")
        mean, std, lam = z["mean"], np.maximum(z["std"], 1e-12), float(z["lyapunov"])
        if not lam > 0:
            log.warning(
                "%s: λ_max = %.3g <= 0: not chaotic; times are still in units of 1/|λ_max|", self.spec, lam
            )
            lam = abs(lam) or 1.0
        mats = self.rep_matrices().numpy()
        mean_sym = mats.mean(0) @ mean
        second = std**2 + (mean - mean_sym) ** 2
        from .attractors import _scale_classes

        scale = np.empty_like(std)
        for members in _scale_classes(mats):
            scale[members] = math.sqrt(second[members].mean())
        out = {"mean": mean_sym, "scale": scale, "lyapunov": np.array(lam)}
        self._cache["stats"] = (out,)
        return out

    def _sim_params(self, preset: str) -> dict:
        return {
            **super()._sim_params(preset),
            "ic_spread": self.ic_spread,
            "params": _jsonable(self.vector_field_params),
        }

    def model_defaults(self, model_name: str, train_set) -> dict[str, Any]:
        """As the shipped attractors; ``eqmlp`` gets the group's matrices from this instance."""
        if model_name == "eqmlp":
            return {
                "window": self.window,
                "rho": self.rep_matrices().tolist(),
                "factors": list(self.group.factors),
                "system": "ode",
            }
        if model_name == "circnet":
            raise InputError("circnet is for rings (lorenz96-N); use eqmlp, mlp, node or esn on an ode task")
        return super().model_defaults(model_name, train_set)

    def with_breaking(self, strength: float):
        return super(AttractorTask, self).with_breaking(strength)


def _jsonable(p: Mapping) -> dict:
    out = {}
    for k, v in p.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, tuple):
            v = list(v)
        out[str(k)] = v
    return out


class UnconfiguredTask(Task):
    """A user-data task named without its data (``symzoo train ode MODEL`` before the
    ``data.task_args`` are read, ``symzoo list``): it has a name, description and presets, and
    every data access is a one-line :class:`InputError` saying which task arguments are missing."""

    def __init__(self, name: str, domain: str, presets: dict, message: str, description: str):
        self.name, self.domain, self.presets = name, domain, dict(presets)
        self.message, self.description = message, description

    def splits(self, preset: str | None = None, seed: int = 0):
        raise InputError(self.message)

    def example_batch(self, *args, **kwargs):
        raise InputError(self.message)


@register_task("ode")
def ode(**kw) -> Task:
    """Your ODE: vector_field=module:function (or dysts=NAME) dim dt params ic group generators.NAME=[-1,-2,3] (checked on f)."""
    if kw.get("vector_field") is None and kw.get("dysts") is None:
        msg = (
            "the ode task needs data.task_args.vector_field=module:function (with dim=D dt=...) "
            "or data.task_args.dysts=NAME (see docs/byo_ode.md)"
        )
        if kw:
            raise InputError(msg)
        return UnconfiguredTask("ode", "forecasting", AttractorTask.presets, msg, msg)
    return UserODETask(**kw)


ode.task_class = UserODETask  # for `symzoo train ode MODEL --help`
