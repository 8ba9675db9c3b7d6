"""Rollout metrics of learned dynamics: trajectory error, energy drift, valid time, momentum.

The entry point is :func:`rollout_metrics` (used by ``symzoo compare`` for its energy-drift
column)::

    from symzoo.eval.rollout import rollout_metrics
    m = rollout_metrics(model, task, steps=1000)     # task: any task with ``rollout``/``simulate``
    m["energy_drift"], m["rollout_error"], m["valid_time"]

Definitions (``z = (q, p)`` canonical state of one system, ``z_hat`` the model's rollout from the
same initial state, ``E`` the **true** energy of the task, ``t = 1..T`` steps of ``task.dt``):

* ``rollout_error``: ``e_t = |z_t - z_hat_t| / (|z_t| + |z_hat_t|)`` (in [0, 1]), geometric mean
  over ``t`` (Finzi et al. 2020), then arithmetic mean over trajectories;
* ``energy_drift``: ``|E(z_hat_t) - E(z_0)| / |E(z_0)|``, mean over ``t`` and trajectories
  (``energy_drift_final``: at ``t = T``; ``energy_drift_reference``: the same for the reference
  integrator, the floor of the measurement);
* ``energy_mse``: ``(E(z_hat_t) - E(z_t))^2``, mean over ``t`` and trajectories, in squared energy
  units: the "energy MSE" Greydanus et al. (2019) report (their spring 1.7e-1 -> 3.8e-4);
* ``valid_time``: time until ``e_t`` first exceeds ``threshold`` (default 0.1), mean over
  trajectories (the whole horizon if it never does);
* ``momentum_drift`` / ``angular_momentum_drift`` (tasks that conserve them, e.g. gravity):
  ``|P(z_hat_t) - P(z_0)|`` over ``sum_i |p_i(0)|`` (and ``|L_t - L_0|`` over
  ``sum_i |q_i(0)| |p_i(0)|``), mean over ``t`` and trajectories;
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

from symzoo.errors import SymzooError
from symzoo.paths import atomic_path, dataset_cache_dir

__all__ = ["rollout_metrics", "reference_trajectories", "plot_rollouts", "DRIFT_CAP"]

log = logging.getLogger(__name__)

#: drift value recorded for diverged (non-finite) rollouts
DRIFT_CAP = 1e6


def _check_task(task) -> None:
    for attr in ("rollout", "simulate", "initial_batch", "conserved", "state"):
        if not hasattr(task, attr):
            raise SymzooError(
                f"task {getattr(task, 'name', task)!r} has no dynamics to roll out "
                f"(it lacks {attr!r}); rollout metrics apply to Hamiltonian tasks"
            )


def reference_trajectories(
    task, *, preset: str | None = None, split: str = "test", n_traj: int = 16, steps: int = 1000
) -> tuple[Tensor, Tensor]:
    """Reference flat ``q, p [steps + 1, n, D]`` (float64) from the first frames of ``split``,
    simulated by ``task.simulate`` and cached."""
    preset = preset or task.default_preset
    batch = task.initial_batch(preset, split, n_traj)
    n = int(batch.num_graphs)
    params = {"sim": task._sim_params(preset), "split": split, "n": n, "steps": steps, "kind": "reference"}
    path = dataset_cache_dir(task.name, preset, params) / "reference.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return torch.from_numpy(z["q"]), torch.from_numpy(z["p"])
        except Exception as e:
            log.warning("re-simulating corrupt reference cache %s (%s)", path, e)
    log.info("simulating %d reference trajectories of %d steps for %s", n, steps, task.name)
    q, p = task.simulate(batch, steps)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, q=q.numpy(), p=p.numpy())
    return q, p


def _finite_rows(x: Tensor) -> Tensor:
    return torch.isfinite(x).all(-1)


@torch.no_grad()
def rollout_metrics(
    model: torch.nn.Module,
    task,
    *,
    steps: int | None = None,
    n_traj: int = 16,
    preset: str | None = None,
    split: str = "test",
    method: str = "rk4",
    threshold: float = 0.1,
    dtype: torch.dtype = torch.float64,
    plot: str | Path | None = None,
    return_series: bool = False,
) -> dict[str, Any]:
    """Roll ``model`` out from ``n_traj`` initial states of ``task`` for ``steps`` steps and compare
    with the reference (see the module docstring for the definitions).  Returns a flat dict of
    floats (plus ``series`` of per-step means when ``return_series``); writes a PNG of error and
    energy vs. time when ``plot`` is a path.
    """
    from symzoo.datasets.hamiltonian import single_thread

    _check_task(task)
    steps = int(getattr(task, "rollout_steps", 1000) if steps is None else steps)
    if steps < 1:
        raise SymzooError(f"rollout steps must be >= 1, got {steps}")
    if not 0 < threshold < 1:
        raise SymzooError(f"the valid-time threshold must be in (0, 1), got {threshold}")
    preset = preset or task.default_preset
    t0 = time.perf_counter()
    q_ref, p_ref = reference_trajectories(task, preset=preset, split=split, n_traj=n_traj, steps=steps)
    m = copy.deepcopy(model).to(dtype)
    m.eval()
    batch = task.initial_batch(preset, split, n_traj, dtype=dtype)
    b = int(batch.num_graphs)
    with single_thread():
        pred = task.rollout(m, batch, steps, method=method)
    q_hat = pred["q"].to(torch.float64).reshape(steps + 1, b, -1)
    p_hat = pred["p"].to(torch.float64).reshape(steps + 1, b, -1)

    z, z_hat = torch.cat([q_ref, p_ref], -1), torch.cat([q_hat, p_hat], -1)
    finite = _finite_rows(z_hat)  # [T+1, B]
    z_hat_safe = torch.where(finite[..., None], z_hat, torch.zeros_like(z_hat))
    err = (z - z_hat_safe).norm(dim=-1) / (z.norm(dim=-1) + z_hat_safe.norm(dim=-1)).clamp(min=1e-300)
    err = torch.where(finite, err, torch.ones_like(err))[1:]  # [T, B]
    geo = torch.exp(torch.log(err.clamp(min=1e-300)).mean(0))  # per trajectory

    qs, ps = (
        torch.where(finite[..., None], q_hat, q_ref[:1]),
        torch.where(finite[..., None], p_hat, p_ref[:1]),
    )
    cons_hat = task.conserved(qs.reshape(-1, qs.shape[-1]), ps.reshape(-1, ps.shape[-1]))
    cons_ref = task.conserved(q_ref.reshape(-1, q_ref.shape[-1]), p_ref.reshape(-1, p_ref.shape[-1]))

    def view(x: Tensor) -> Tensor:
        return x.reshape(steps + 1, b, -1)

    e_hat, e_ref = view(cons_hat["energy"])[..., 0], view(cons_ref["energy"])[..., 0]
    e0 = e_ref[0].abs().clamp(min=1e-300)
    drift = (e_hat - e_ref[0]).abs() / e0
    drift = torch.where(finite, drift.clamp(max=DRIFT_CAP), torch.full_like(drift, DRIFT_CAP))[1:]
    drift_ref = ((e_ref - e_ref[0]).abs() / e0)[1:]

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
        "method": method,
        "dtype": str(dtype).replace("torch.", ""),
        "rollout_error": float(geo.mean()),
        "energy_drift": float(drift.mean()),
        "energy_drift_final": float(drift[-1].mean()),
        "energy_drift_reference": float(drift_ref.mean()),
        "energy_mse": float(
            torch.where(finite, (e_hat - e_ref) ** 2, torch.full_like(e_hat, DRIFT_CAP))[1:].mean()
        ),
        "valid_time": float(first.double().mean() * dt),
        "valid_threshold": threshold,
        "diverged": float((~finite).any(0).double().mean()),
    }
    if "momentum" in cons_ref:
        x0 = q_ref[0].reshape(b, -1, task.system.k)
        p0 = p_ref[0].reshape(b, -1, task.system.k)
        scale_p = p0.norm(dim=-1).sum(-1).clamp(min=1e-300)
        scale_l = (x0.norm(dim=-1) * p0.norm(dim=-1)).sum(-1).clamp(min=1e-300)
        for key, scale in (("momentum", scale_p), ("angular_momentum", scale_l)):
            if key not in cons_ref:
                continue
            d = (view(cons_hat[key]) - view(cons_ref[key])[:1]).norm(dim=-1) / scale
            d = torch.where(finite, d.clamp(max=DRIFT_CAP), torch.full_like(d, DRIFT_CAP))[1:]
            res[f"{key}_drift"] = float(d.mean())
    res["seconds"] = round(time.perf_counter() - t0, 3)
    series = {
        "time": [dt * (i + 1) for i in range(steps)],
        "error": torch.exp(torch.log(err.clamp(min=1e-300)).mean(1)).tolist(),
        "energy_drift": drift.mean(1).tolist(),
        "energy_drift_reference": drift_ref.mean(1).tolist(),
    }
    if plot is not None:
        plot_rollouts({res["model"]: series}, plot, title=f"{task.name}: {steps}-step rollouts ({method})")
        res["plot"] = str(plot)
    if return_series:
        res["series"] = series
    return res


def plot_rollouts(series: dict[str, dict], path: str | Path, *, title: str = "") -> Path:
    """PNG with two panels, relative state error and relative energy drift vs. time (log scale),
    one line per model; ``series[name]`` holds ``time``, ``error``, ``energy_drift`` lists (as
    returned by ``rollout_metrics(..., return_series=True)["series"]``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ref_drawn = False
    for name, s in series.items():
        t = s["time"]
        axes[0].plot(t, np.maximum(s["error"], 1e-16), label=name)
        axes[1].plot(t, np.maximum(s["energy_drift"], 1e-16), label=name)
        if not ref_drawn and "energy_drift_reference" in s:
            axes[1].plot(t, np.maximum(s["energy_drift_reference"], 1e-16), "k:", lw=1, label="reference RK4")
            ref_drawn = True
    axes[0].set(yscale="log", xlabel="time", ylabel="|z - ẑ| / (|z| + |ẑ|)", title="state error")
    axes[1].set(yscale="log", xlabel="time", ylabel="|E(ẑ) - E(z0)| / |E(z0)|", title="true-energy drift")
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
