"""Declared model/task compatibility.

A model declares the inputs it reads (``irreps_in``: batch field -> irreps; fields in
``optional_inputs`` may be absent) and the outputs it returns (``irreps_out``); a task declares
the fields its batches provide (``input_fields``) and the model outputs its loss and metrics use
(``output_fields``).  A (model, task) pair is compatible when every required input is provided
and the model returns at least one output the task trains on.  The harness, ``symzoo compare``,
``symzoo finetune``, ``symzoo eval --task`` and the ASE calculator call
:func:`check_compatible` before running anything, so a mismatch is a one-line
:class:`~symzoo.errors.IncompatibleError` instead of an ``AttributeError`` from inside ``forward``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import IncompatibleError

__all__ = ["missing_inputs", "check_compatible", "check_fields"]


def _name(model) -> str:
    return str(getattr(model, "builder_name", None) or type(model).__name__)


def missing_inputs(model, provided: Iterable[str]) -> list[str]:
    required = set(getattr(model, "irreps_in", {}) or {}) - set(getattr(model, "optional_inputs", ()) or ())
    return sorted(required - set(provided))


def check_fields(model, provided: Iterable[str], outputs: Iterable[str], where: str) -> None:
    """Raise :class:`IncompatibleError` unless ``model`` can run on batches with ``provided``
    fields and returns one of ``outputs``; ``where`` names the task (or file) in the message."""
    provided, outputs = set(provided), set(outputs)
    miss = missing_inputs(model, provided)
    if miss:
        raise IncompatibleError(
            f"model {_name(model)!r} does not fit {where}: it needs input field(s) "
            f"{', '.join(miss)} but {where} provides {', '.join(sorted(provided)) or 'none'}"
        )
    returns = set(getattr(model, "irreps_out", {}) or {})
    if returns and outputs and not (returns & outputs):
        raise IncompatibleError(
            f"model {_name(model)!r} does not fit {where}: it returns {', '.join(sorted(returns))} "
            f"but {where} trains on {', '.join(sorted(outputs))}"
        )


def check_compatible(model, task) -> None:
    """Raise :class:`IncompatibleError` when ``model`` cannot be trained or evaluated on ``task``."""
    check_fields(
        model,
        getattr(task, "input_fields", {}) or {},
        getattr(task, "output_fields", {}) or {},
        f"task {getattr(task, 'name', task)!r}",
    )
