"""Declared model/task compatibility.

A model declares the inputs it reads (``input_fields``: batch field -> :class:`~symzoo.task.Field`;
fields in ``optional_inputs`` may be absent) and the outputs it returns (``output_fields``), in the
vocabulary tasks use (:mod:`symzoo.contract`; deprecated ``irreps_in``/``irreps_out`` strings are
still read); a task declares the fields its batches provide (``input_fields``) and the model
outputs its loss and metrics use (``output_fields``).  A (model, task) pair is compatible when
every required input is provided, at the same level and with a representation the model accepts,
and the model returns at least one output the task trains on.  The harness, ``symzoo compare``,
``symzoo finetune``, ``symzoo eval --task`` and the ASE calculator call
:func:`check_compatible` before running anything, so a mismatch is a one-line
:class:`~symzoo.errors.IncompatibleError` instead of an ``AttributeError`` from inside ``forward``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .errors import IncompatibleError, SymzooError

__all__ = ["missing_inputs", "check_compatible", "check_fields", "probe_model"]

log = logging.getLogger(__name__)


def _name(model) -> str:
    return str(getattr(model, "builder_name", None) or type(model).__name__)


def missing_inputs(model, provided: Iterable[str]) -> list[str]:
    from .contract import model_contract

    return sorted(model_contract(model).required - set(provided))


def check_fields(model, provided: Iterable[str], outputs: Iterable[str], where: str) -> None:
    """Raise :class:`IncompatibleError` unless ``model`` can run on batches with ``provided``
    fields and returns one of ``outputs``; ``where`` names the task (or file) in the message.
    When ``provided``/``outputs`` are the task's ``{name: Field}`` dictionaries, the levels and
    representations the model declares are checked too (:func:`symzoo.contract.contract_problem`)."""
    from .contract import contract_problem, model_contract

    contract = model_contract(model)
    if isinstance(provided, dict) and isinstance(outputs, dict):
        view = type("_Fields", (), {"input_fields": provided, "output_fields": outputs})()
        problem = contract_problem(contract, view)
        if problem is not None:
            raise IncompatibleError(
                f"model {_name(model)!r} does not fit {where}: {problem.replace('the task', where)}"
            )
    provided, outputs = set(provided), set(outputs)
    miss = missing_inputs(model, provided)
    if miss:
        raise IncompatibleError(
            f"model {_name(model)!r} does not fit {where}: it needs input field(s) "
            f"{', '.join(miss)} but {where} provides {', '.join(sorted(provided)) or 'none'}"
        )
    returns = set(contract.outputs)
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


def probe_model(model, task, dataset, name: str) -> None:
    """One forward pass and loss of ``model`` on the first samples of ``dataset``, before anything
    is written: data or arguments that only fail inside the model (a field of another width, a
    cell the neighbour search cannot use, a pretrained model on another robot) are refused in
    one line instead of leaving a half-written folder or a raw exception.  Random state,
    gradients and training mode are left as they were.  (The declared check is
    :func:`check_compatible`; this one is measured.  ``symzoo train``, ``finetune`` and ``eval``
    call both.)"""
    import torch

    from .task import StackedDataset, cast_batch

    n = min(2, len(dataset))
    sub: Any = (
        dataset.subset(range(n))
        if isinstance(dataset, StackedDataset)
        else torch.utils.data.Subset(dataset, list(range(n)))
    )
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[]):
            batch = cast_batch(next(iter(task.loader(sub, n))), dtype)
            model.eval()
            with torch.set_grad_enabled(bool(task.needs_grad)):
                out = task.apply_model(model, batch)
                loss = task.loss(out, batch)
            if not torch.is_tensor(loss) or loss.numel() != 1:
                raise TypeError("the loss is not a scalar")
    except SymzooError:
        raise
    except Exception as e:  # noqa: BLE001 -- whatever the model raised: the sentence is ours
        log.debug("probe of %s on %s failed", name, task.name, exc_info=e)
        raise SymzooError(
            f"model {name!r} does not fit the data of task {task.name!r}: it fails on its first samples "
            "(tensor shapes or values it cannot take); check the task's data and model.args"
        ) from None
    finally:
        model.train(was_training)
        model.zero_grad(set_to_none=True)
