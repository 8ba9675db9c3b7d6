"""The dynamics protocol: what a task with dynamics declares so that the eval suite can roll
models out, compare them with the true dynamics and measure the drift of named invariants.

A task with dynamics subclasses :class:`Dynamics` next to :class:`symzoo.task.Task`
(``class MyTask(Dynamics, Task)``).  The eval suite (:func:`symzoo.eval.rollout.rollout_metrics`,
``symzoo eval``, ``symzoo compare``) talks to it only through these members, so a new domain
(robots, attractors, fluid flows) gets rollout error, valid time and invariant drift without a
change in ``eval/``:

* :meth:`Dynamics.initial_batch`: a batch of initial states (first frames of a split);
* :meth:`Dynamics.rollout`: the model's trajectory from those states for ``steps`` steps;
* :meth:`Dynamics.reference_trajectory`: the true trajectory (the task's simulator);
* :meth:`Dynamics.invariants`: the quantities the true dynamics conserve or that matter, each an
  :class:`Invariant` with a unit (energy, momentum, angular momentum; enstrophy, spectra...);
* ``dt`` / ``time_unit``: one rollout step in the task's time unit (valid time and horizon are
  reported in it); ``rollout_steps``: the default horizon in steps.

**Trajectories** are dicts of named tensors with a leading time axis, ``[steps + 1, n_nodes, ...]``
in the layout of the batch (entry 0 = the initial states); every graph of a rollout batch has the
same number of nodes, so ``x.reshape(steps + 1, n_graphs, -1)`` is the per-system state.
:attr:`Dynamics.error_fields` names the fields the rollout error compares (default: all of them).

Models return derivatives or next states only; multi-step training objectives live in the task
(:meth:`symzoo.task.Task.apply_model` / :meth:`symzoo.task.Task.loss`), not in ``forward``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

__all__ = ["Dynamics", "Invariant", "Trajectory"]

#: named tensors ``[steps + 1, n_nodes, ...]`` (see the module docstring)
Trajectory = dict[str, Tensor]


@dataclass(frozen=True)
class Invariant:
    """A named quantity of a trajectory that the eval suite tracks along rollouts.

    ``fn(traj, batch)`` returns ``[steps + 1, n_graphs]`` (scalar) or ``[steps + 1, n_graphs, m]``
    (vector) values of the quantity along ``traj`` (``batch``: the initial batch, for static data
    such as charges).  ``conserved``: the true dynamics keep it constant, so the suite reports its
    **drift** ``|I(t) - I(0)| / scale`` (``scale(traj, batch) -> [n_graphs]``, default ``|I(0)|``);
    for quantities that only matter (``conserved=False``) it reports the error against the
    reference ``|I(t) - I_ref(t)| / scale``.  ``unit`` is the unit of the quantity itself; drifts
    are relative (dimensionless).
    """

    fn: Callable[[Trajectory, Any], Tensor]
    unit: str
    conserved: bool = True
    scale: Callable[[Trajectory, Any], Tensor] | None = None
    description: str = ""


class Dynamics(ABC):
    """Mixin of tasks with dynamics (see the module docstring).  Sets ``has_dynamics = True``."""

    name: str
    has_dynamics: bool = True
    #: one rollout step, in ``time_unit``
    dt: float = 1.0
    time_unit: str = "time units"
    #: default rollout horizon in steps of ``dt``
    rollout_steps: int = 1000
    #: how :meth:`rollout` advances the model (recorded with the metrics)
    rollout_method: str = ""

    @abstractmethod
    def initial_batch(self, preset: str | None = None, split: str = "test", n: int | None = None, dtype=None):
        """A batch of ``n`` initial states (the first frames of ``split``'s trajectories)."""

    @abstractmethod
    def rollout(self, model, batch, steps: int, **options) -> Trajectory:
        """Roll ``model`` out from the states of ``batch`` for ``steps`` steps of ``dt``."""

    @abstractmethod
    def reference_trajectory(self, batch, steps: int) -> Trajectory:
        """The true trajectory from the states of ``batch`` (float64), same fields as :meth:`rollout`."""

    @abstractmethod
    def invariants(self) -> dict[str, Invariant]:
        """Quantities of a trajectory the eval suite reports (name -> :class:`Invariant`)."""

    def trajectory_metrics(self, pred: Trajectory, ref: Trajectory, batch) -> dict[str, tuple[float, str]]:
        """Task-specific rollout metrics beyond the generic ones (e.g. a flow's vorticity
        correlation time): ``name -> (value, unit)``, from the model's trajectory ``pred`` and the
        reference ``ref`` (finite-masked).  :func:`symzoo.eval.rollout.rollout_metrics` adds them to
        its result.  Default: none."""
        return {}

    def error_fields(self) -> tuple[str, ...] | None:
        """Trajectory fields the rollout error compares (``None``: all of them)."""
        return None

    def reference_key(self, preset: str) -> dict:
        """Everything that determines the reference trajectories of ``preset`` besides the initial
        states (the cache key of :func:`symzoo.eval.rollout.reference_trajectories`)."""
        return {"task": self.name, "preset": preset, "dt": self.dt}
