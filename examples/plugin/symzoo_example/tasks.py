"""``example-charged-4``: a user's own system as a symzoo task.

A task owns its data, splits, loss, metrics and symmetry (see ``symzoo.task.Task``).  This one
reuses symzoo's N-body simulator with four charged particles instead of five; a task of your own
subclasses ``symzoo.task.Task`` (or a task family such as ``symzoo.datasets.nbody.NBodyTask``).
"""

from __future__ import annotations

__all__ = ["charged_4"]


def charged_4(**kwargs):
    """4 charged particles (example plugin): frame 30 -> frame 40 positions."""
    from symzoo.datasets.nbody import NBodyTask  # imported when the task is made, not at listing

    return NBodyTask("example-charged-4", "charged", n_particles=4, **kwargs)
