"""User-facing errors.

Anything a user can cause (a bad name, a bad file, bad numbers) raises :class:`SymzooError` or a
subclass with a sentence they can act on.  The CLI prints it as one line and exits with status 2.
"""

from __future__ import annotations

import difflib

__all__ = [
    "SymzooError",
    "UnknownNameError",
    "InputError",
    "IncompatibleError",
    "RunLockedError",
    "TrainingDiverged",
    "Interrupted",
    "PluginError",
    "suggest",
]


class SymzooError(Exception):
    """An error caused by user input, printed as one line by the CLI (exit status ``exit_code``)."""

    exit_code: int = 2


class UnknownNameError(SymzooError, KeyError):
    """An unknown model, task, preset or pretrained name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(SymzooError, ValueError):
    """Input data that cannot be used: NaN/inf values, wrong shapes, an empty graph..."""


class IncompatibleError(SymzooError):
    """A model that cannot run on a task: it needs inputs the task does not provide, or returns
    none of the outputs the task trains on (see :func:`symzoo.compat.check_compatible`)."""


class RunLockedError(SymzooError):
    """A run or comparison folder owned by another live process (see :mod:`symzoo.runlock`)."""


class TrainingDiverged(SymzooError):
    """A non-finite training loss or validation metric: the run is stopped."""


class Interrupted(SymzooError):
    """Ctrl-C during training; the message names the resume command.  Exit status 130."""

    exit_code = 130


class PluginError(SymzooError):
    """A plugin that cannot be used: it fails to import, names a missing builder, or registers a
    name that a built-in model or task already has (see :mod:`symzoo.plugins`)."""


def suggest(name: str, choices) -> str:
    """Return ' (did you mean X?)' for the closest match of ``name`` in ``choices``, or ''."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
