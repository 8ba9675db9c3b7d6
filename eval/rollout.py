"""Rollout metrics of learned dynamics: trajectory error, valid time, drift of every invariant.

The entry point is :func:`rollout_metrics` (used by ``symzoo eval`` and ``symzoo compare``)::

    from symzoo.eval.rollout import rollout_metrics
    m = rollout_metrics(model, task, steps=1000)     # task: any task with dynamics
    m["rollout_error"], m["valid_time"], m["energy_drift"]

It works for every task that implements the dynamics protocol (:class:`symzoo.dynamics.Dynamics`)
and iterates over what the task declares: its trajectory fields, its time step ``dt`` and its
:meth:`~symzoo.dynamics.Dynamics.invariants`.  Definitions (``z`` the reference state of one
system -- the task's :meth:`~symzoo.dynamics.Dynamics.error_fields` of the trajectory, flattened --,
``z_hat`` the model's rollout from the same initial state, ``t = 1..T`` steps of ``task.dt``):

* ``rollout_error``: ``e_t = |z_t - z_hat_t| / (|z_t| + |z_hat_t|)`` (in [0, 1]), geometric mean
  over ``t`` (Finzi et al. 2020), then arithmetic mean over trajectories;
* ``valid_time``: time until ``e_t`` first exceeds ``threshold`` (default 0.1), mean over
  trajectories (the whole horizon if it never does), in the task's ``time_unit``;
* for every declared invariant ``I`` (e.g. ``energy``, ``momentum``, ``angular_momentum``):
  ``I_drift``: ``|I(z_hat_t) - I(z_0)| / scale`` (conserved invariants; ``scale`` as the invariant
  declares, default ``|I(z_0)|``), or ``|I(z_hat_t) - I(z_t)| / scale`` (invariants that only
  matter), mean over ``t`` and trajectories; ``I_drift_final``: the same at ``t = T``;
  ``I_drift_reference``: the same for the reference trajectory (the floor of the measurement);
  scalar invariants also get ``I_mse``: ``(I(z_hat_t) - I(z_t))^2``, mean over ``t`` and
  trajectories, in squared units (``energy_mse`` is the "energy MSE" of Greydanus et al. 2019);
* ``diverged``: fraction of rollouts that produced non-finite states (their errors count as 1 and
  their drifts as ``1e6``).

Rollouts run in float64 by default (a float64 copy of the model), so that round-off does not
hide structural drift.  Reference trajectories are simulated once and cached under
``SYMZOO_HOME/datasets/<task>/<preset>-<hash>/``.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from symzoo.dynamics import Dynamics
from symzoo.errors import SymzooError
from symzoo.paths import atomic_path, dataset_cache_dir

__all__ = ["rollout_metrics", "reference_trajectories", "plot_rollouts", "format_rollout", "DRIFT_CAP"]

log = logging.getLogger(__name__)

#: drift value recorded for diverged (non-finite) rollouts
DRIFT_CAP = 1e6


def _check_task(task) -> Dynamics:
    if not isinstance(task, Dynamics):
        raise SymzooError(
            f"task {task.name!r} has no dynamics to roll out (it does not implement "
            "symzoo.dynamics.Dynamics); rollout metrics apply to tasks with dynamics"
        )
    return task


def reference_trajectories(
    task, *, preset: str | None = None, split: str = "test", n_traj: int = 16, steps: int = 1000
) -> dict[str, Tensor]:
    """Reference trajectories ``{field: [steps + 1, n_nodes, ...]}`` (float64) from the first
    frames of ``split``, simulated by ``task.reference_trajectory`` and cached."""
    task = _check_task(task)
    preset = preset or task.default_preset
    batch = task.initial_batch(preset, split, n_traj)
    n = int(batch.num_graphs)
    params = {
        "sim": task.reference_key(preset),
        "split": split,
        "n": n,
        "steps": steps,
        "kind": "reference",
        "layout": "trajectory-dict",
    }
    path = dataset_cache_dir(task.name, preset, params) / "reference.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return {k: torch.from_numpy(z[k]) for k in z.files}
        except Exception as e:
            log.warning("re-simulating corrupt reference cache %s (%s)", path, e)
    log.info("simulating %d reference trajectories of %d steps for %s", n, steps, task.name)
    traj = {k: v.to(torch.float64) for k, v in task.reference_trajectory(batch, steps).items()}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: v.numpy() for k, v in traj.items()})
    return traj


def _per_graph(x: Tensor, steps: int, b: int) -> Tensor:
    return x.to(torch.float64).reshape(steps + 1, b, -1)


@torch.no_grad()
def rollout_metrics(
    model: torch.nn.Module,
    task,
    *,
    steps: int | None = None,
    n_traj: int = 16,
    preset: str | None = None,
    split: str = "test",
    method: str | None = None,
    threshold: float = 0.1,
    dtype: torch.dtype = torch.float64,
    plot: str | Path | None = None,
    return_series: bool = False,
) -> dict[str, Any]:
    """Roll ``model`` out from ``n_traj`` initial states of ``task`` for ``steps`` steps (default
    ``task.rollout_steps``) and compare with the reference (see the module docstring for the
    definitions).  ``method``: passed to ``task.rollout`` when given (e.g. ``"rk4"``, ``"euler"``
    for ODE tasks).  Returns a flat dict of floats plus ``units`` and ``invariants`` (and ``series``
    of per-step means when ``return_series``); writes a PNG of error and drift vs. time when
    ``plot`` is a path.
    """
    from symzoo._logging import single_thread

    task = _check_task(task)
    steps = int(task.rollout_steps if steps is None else steps)
    if steps < 1:
        raise SymzooError(f"rollout steps must be >= 1, got {steps}")
    if not 0 < threshold < 1:
        raise SymzooError(f"the valid-time threshold must be in (0, 1), got {threshold}")
    preset = preset or task.default_preset
    t0 = time.perf_counter()
    ref = reference_trajectories(task, preset=preset, split=split, n_traj=n_traj, steps=steps)
    m = copy.deepcopy(model).to(dtype)
    m.eval()
    batch = task.initial_batch(preset, split, n_traj, dtype=dtype)
    b = int(batch.num_graphs)
    options = {} if method is None else {"method": method}
    with single_thread():
        pred = task.rollout(m, batch, steps, **options)
    missing = sorted(set(ref) - set(pred))
    if missing:
        raise SymzooError(f"{task.name}: the rollout lacks the trajectory field(s) {missing}")
    fields = task.error_fields() or tuple(ref)
    z = torch.cat([_per_graph(ref[k], steps, b) for k in fields], -1)
    z_hat = torch.cat([_per_graph(pred[k], steps, b) for k in fields], -1)
    finite = torch.ones(steps + 1, b, dtype=torch.bool)
    for k in ref:
        finite &= torch.isfinite(_per_graph(pred[k], steps, b)).all(-1)  # [T+1, B]
    z_hat_safe = torch.where(finite[..., None], z_hat, torch.zeros_like(z_hat))
    err = (z - z_hat_safe).norm(dim=-1) / (z.norm(dim=-1) + z_hat_safe.norm(dim=-1)).clamp(min=1e-300)
    # non-finite states, and finite ones so large that the norms overflow, count as error 1
    err = torch.where(finite & torch.isfinite(err), err, torch.ones_like(err))[1:]  # [T, B]
    geo = torch.exp(torch.log(err.clamp(min=1e-300)).mean(0))  # per trajectory

    # non-finite states are replaced by the initial state before the invariants see them
    safe = {
        k: torch.where(
            finite[..., None], _per_graph(pred[k], steps, b), _per_graph(ref[k][:1], 0, b)
        ).reshape(ref[k].shape)
        for k in ref
    }

    exceeded = err > threshold
    first = torch.where(exceeded.any(0), exceeded.float().argmax(0), torch.full((b,), steps))
    dt = float(task.dt)
    res: dict[str, Any] = {
        "task": task.name,
        "model": getattr(model, "builder_name", type(model).__name__),
        "preset": preset,
        "split": split,
        "n_traj": b,
        "steps": steps,
        "dt": dt,
        "horizon": steps * dt,
        "time_unit": task.time_unit,
        "method": method or task.rollout_method,
        "dtype": str(dtype).replace("torch.", ""),
        "rollout_error": float(geo.mean()),
        "valid_time": float(first.double().mean() * dt),
        "valid_threshold": threshold,
        "diverged": float((~finite).any(0).double().mean()),
    }
    units = {
        "rollout_error": "relative, geometric mean over the horizon",
        "valid_time": f"{task.time_unit}, until the relative error exceeds {threshold}",
        "diverged": "fraction of trajectories with non-finite states",
    }
    series: dict[str, list] = {
        "time": [dt * (i + 1) for i in range(steps)],
        "error": torch.exp(torch.log(err.clamp(min=1e-300)).mean(1)).tolist(),
    }
    declared = {}
    for name, inv in task.invariants().items():
        i_hat = inv.fn(safe, batch).to(torch.float64)
        i_ref = inv.fn(ref, batch).to(torch.float64)
        vec = i_hat.dim() == 3
        scale = (inv.scale(ref, batch) if inv.scale is not None else _norm(i_ref[0], vec)).clamp(min=1e-300)
        base_hat = i_ref[:1] if inv.conserved else i_ref
        drift = _norm(i_hat - base_hat, vec) / scale
        ok = finite & torch.isfinite(drift)
        drift = torch.where(ok, drift.clamp(max=DRIFT_CAP), torch.full_like(drift, DRIFT_CAP))[1:]
        drift_ref = (_norm(i_ref - i_ref[:1], vec) / scale)[1:]
        res[f"{name}_drift"] = float(drift.mean())
        res[f"{name}_drift_final"] = float(drift[-1].mean())
        if inv.conserved:
            res[f"{name}_drift_reference"] = float(drift_ref.mean())
        if not vec:
            sq = (i_hat - i_ref) ** 2
            sq = torch.where(finite & torch.isfinite(sq), sq, torch.full_like(i_hat, DRIFT_CAP))[1:]
            res[f"{name}_mse"] = float(sq.mean())
            units[f"{name}_mse"] = f"squared {inv.unit}"
        what = "drift |I(t) - I(0)|" if inv.conserved else "error |I(t) - I_ref(t)|"
        units[f"{name}_drift"] = f"relative {what} / scale ({inv.description or 'scale |I(0)|'}), mean over t"
        declared[name] = {"unit": inv.unit, "conserved": inv.conserved, "description": inv.description}
        series[f"{name}_drift"] = drift.mean(1).tolist()
        if inv.conserved:
            series[f"{name}_drift_reference"] = drift_ref.mean(1).tolist()
    res["invariants"] = declared
    for name, (value, unit) in task.trajectory_metrics(safe, ref, batch).items():
        res[name], units[name] = float(value), unit
    res["units"] = units
    res["seconds"] = round(time.perf_counter() - t0, 3)
    if plot is not None:
        plot_rollouts(
            {res["model"]: series}, plot, title=f"{task.name}: {steps}-step rollouts ({res['method']})"
        )
        res["plot"] = str(plot)
    if return_series:
        res["series"] = series
    return res


def _norm(x: Tensor, vec: bool) -> Tensor:
    return x.norm(dim=-1) if vec else x.abs()


def format_rollout(r: dict) -> str:
    """Plain-text lines of one :func:`rollout_metrics` result (used by ``symzoo eval``)."""
    lines = [
        f"rollout: {r['n_traj']} trajectories x {r['steps']} steps of dt = {r['dt']:g} ({r['method']}, "
        f"{r['dtype']}; horizon {r['horizon']:g} {r.get('time_unit', '')})",
        f"  {'rollout_error':<30}{r['rollout_error']:>12.4g}",
        f"  {'valid_time':<30}{r['valid_time']:>12.4g}  {r.get('time_unit', '')}",
        f"  {'diverged':<30}{r['diverged']:>12.4g}",
    ]
    for name, inv in (r.get("invariants") or {}).items():
        kind = "drift" if inv.get("conserved", True) else "error"
        ref = r.get(f"{name}_drift_reference")
        tail = f"  (reference {ref:.3g})" if ref is not None else ""
        lines.append(f"  {name + ' ' + kind:<30}{r[f'{name}_drift']:>12.4g}{tail}")
    # the task's own metrics (Dynamics.trajectory_metrics): units beyond the generic keys
    generic = {"rollout_error", "valid_time", "diverged"}
    generic |= {f"{n}_{s}" for n in (r.get("invariants") or {}) for s in ("drift", "mse")}
    for name, unit in (r.get("units") or {}).items():
        if name not in generic and isinstance(r.get(name), (int, float)):
            lines.append(f"  {name:<30}{r[name]:>12.4g}  {unit}")
    return "\n".join(lines)


def plot_rollouts(
    series: dict[str, dict], path: str | Path, *, title: str = "", invariant: str | None = None
) -> Path:
    """PNG with two panels, relative state error and the relative drift of one invariant vs. time
    (log scale), one line per model; ``series[name]`` holds ``time``, ``error`` and
    ``<invariant>_drift`` lists (as returned by ``rollout_metrics(..., return_series=True)["series"]``).
    ``invariant``: default ``energy`` when present, else the first one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if invariant is None:
        names = [k[: -len("_drift")] for s in series.values() for k in s if k.endswith("_drift")]
        invariant = "energy" if "energy" in names else (names[0] if names else "energy")
    key = f"{invariant}_drift"
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ref_drawn = False
    for name, s in series.items():
        t = s["time"]
        axes[0].plot(t, np.maximum(s["error"], 1e-16), label=name)
        if key in s:
            axes[1].plot(t, np.maximum(s[key], 1e-16), label=name)
        if not ref_drawn and f"{key}_reference" in s:
            axes[1].plot(t, np.maximum(s[f"{key}_reference"], 1e-16), "k:", lw=1, label="reference")
            ref_drawn = True
    label = invariant.replace("_", " ")
    axes[0].set(yscale="log", xlabel="time", ylabel="|z - ẑ| / (|z| + |ẑ|)", title="state error")
    axes[1].set(yscale="log", xlabel="time", ylabel=f"relative {label} drift", title=f"true-{label} drift")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
