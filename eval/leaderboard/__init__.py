"""``symzoo leaderboard``: one symmetry leaderboard across every domain, from comparison grids.

A **recipe** (``configs/leaderboard/<name>.yaml``, or any YAML file) lists one or two reference
tasks per domain (N-body, Hamiltonian systems, force fields, robot dynamics, forecasting, 2-D
flows), each with its equivariant model, its plain baseline (the same kind of model without the
symmetry) and its augmented baseline (``+aug``), training sizes, seeds, config overrides and, optionally, a
symmetry-breaking sweep::

    name: tiny
    preset: tiny                 # data preset of every grid (a task may set its own)
    seeds: 2
    tasks:
      - task: nbody-charged       # its domain (nbody) and label come from the task
        equivariant: egnn
        plain: mlp
        augmented: mlp+aug
        train_sizes: [50, 200]
        overrides: [trainer.max_epochs=10]
        breaking: {strengths: [0, 0.3, 1], train_sizes: [200]}   # optional

Every task's grid is an ordinary ``symzoo compare`` run (:func:`symzoo.eval.compare.compare`) in
``<out>/<task>/`` (the sweep in ``<out>/<task>-breaking/``), with its ``results.json`` exactly as
``symzoo compare`` writes it: a grid run by hand with the same settings there is reused, a finished
cell is never retrained, and an interrupted leaderboard resumes where it stopped.  Cells run on
the chosen executor (``local`` or ``dask://HOST:PORT``, :mod:`symzoo.eval.executors`).

``leaderboard.json`` (JSON first) is built from the grids' ``results.json`` only
(:func:`build_leaderboard`); ``leaderboard.md`` and ``leaderboard.png`` are rendered from it
(:func:`render_leaderboard`; ``symzoo leaderboard --report DIR`` re-renders without training).

Per task, with *gain* = baseline error ÷ equivariant error on the task's primary test metric:

* **symmetry gain** over the plain and over the augmented baseline at every N, mean ± std over
  seeds of the per-seed ratio (the same seed's baseline and equivariant cells);
* **data-efficiency factor** (:func:`symzoo.eval.stats.data_efficiency`): how many times more
  data the baseline needs to reach the equivariant model's error at the smallest N;
* **orbit ratio** (out-of-orbit ÷ in-orbit error after training on the symmetry-restricted set);
* the domain's **physics metric** from the rollouts the task declares: the task's own score when it
  has one (valid prediction time of the attractors, ...), else the drift of its lead invariant
  (energy), else the rollout error (``physics_metric:`` in the recipe picks another);
* the **breaking crossover**: the knob strength where the gain over the plain baseline falls to 1
  (log-linear interpolation between swept strengths), where a sweep was run.

The summary plot puts the domains on the same dimensionless axes: gain (log) against N / N_max,
and the gains at N_max side by side.
"""

from .recipe import LEADERBOARD_FORMAT, Entry, load_recipe, recipe_path
from .render import plot_summary, render_leaderboard, render_markdown
from .run import rebuild, run_leaderboard
from .summary import (
    _task_label,  # noqa: F401  (tests and older code)
    build_leaderboard,
    crossover,
    load_leaderboard,
    paired_gain,
    physics_key,
    summarize_task,
)

__all__ = [
    "LEADERBOARD_FORMAT",
    "Entry",
    "recipe_path",
    "load_recipe",
    "paired_gain",
    "physics_key",
    "crossover",
    "summarize_task",
    "build_leaderboard",
    "load_leaderboard",
    "render_markdown",
    "plot_summary",
    "render_leaderboard",
    "run_leaderboard",
    "rebuild",
]
