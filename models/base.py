"""Shared pieces of model builders: the symmetry contract and small MLP/graph helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from symzoo.contract import TaskView, contract_problem, describe_task_fields, irreps_string, model_contract
from symzoo.task import Field

__all__ = [
    "SymmetryContract",
    "TaskDescribedKwargs",
    "task_fields_object",
    "mlp",
    "ACTIVATIONS",
    "segment_mean",
    "segment_sum",
]

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "softplus": nn.Softplus}


class SymmetryContract:
    """Mixin declaring what a model claims, like escnn's ``in_type/out_type`` and e3nn's
    ``irreps_in/irreps_out``, in the vocabulary tasks use (:mod:`symzoo.contract`).

    ``symmetry``: the group factors the model is **built** to respect exactly (a subset of
    ``symzoo.symmetry.FACTORS``, or the generators of a finite group); generic tests assert
    equivariance for exactly these and report (without asserting) the others.
    ``input_fields`` / ``output_fields``: batch field -> :class:`symzoo.task.Field` of the inputs
    the model reads and the outputs it returns, with the representation each transforms by under
    the task's group (``Field(POSITION)`` for a position, whether or not the model is equivariant;
    a :class:`symzoo.contract.RepKind` for a family of them).  ``optional_inputs``: inputs the model
    uses when present but does not need (e.g. a periodic cell).  :mod:`symzoo.compat` checks the
    declaration against a task's fields; :meth:`fit_problem` says, before anything is built, whether
    the builder's model can run on a task (``symzoo.list_models(task=...)``).

    ``irreps_in`` / ``irreps_out`` (read-only here): e3nn-style strings of the declared fields, as
    ``model.json`` records them.  **Deprecated**: declaring a model by setting ``irreps_in`` /
    ``irreps_out`` strings (instead of ``input_fields`` / ``output_fields``) still works and is
    normalised to ``Rep`` objects by :func:`symzoo.contract.model_contract`.
    """

    symmetry: frozenset[str] = frozenset()
    input_fields: dict[str, Field] = {}
    optional_inputs: frozenset[str] = frozenset()
    output_fields: dict[str, Field] = {}

    @property
    def irreps_in(self) -> dict[str, str]:
        legacy = self.__dict__.get("_legacy_irreps_in")
        if legacy is not None:
            return legacy
        return {k: irreps_string(f.rep) for k, f in model_contract(self).inputs.items()}

    @irreps_in.setter
    def irreps_in(self, value: dict[str, str]) -> None:  # deprecated: declare input_fields
        self.__dict__["_legacy_irreps_in"] = dict(value)

    @property
    def irreps_out(self) -> dict[str, str]:
        legacy = self.__dict__.get("_legacy_irreps_out")
        if legacy is not None:
            return legacy
        return {k: irreps_string(f.rep) for k, f in model_contract(self).outputs.items()}

    @irreps_out.setter
    def irreps_out(self, value: dict[str, str]) -> None:  # deprecated: declare output_fields
        self.__dict__["_legacy_irreps_out"] = dict(value)

    @classmethod
    def fit_problem(cls, task: Any) -> str | None:
        """Why a model of this class cannot run on ``task`` (one sentence), ``None`` if it can.
        Default: the class's declared fields against the task's (:func:`symzoo.contract.contract_problem`).
        Models built from the task's own fields override it."""
        return contract_problem(model_contract(cls), task)

    def fit_closed_form(self, task, train_set) -> None:
        """Fit parameters in closed form before training (e.g. an echo state network's ridge
        readout); the harness calls it once on fresh runs, after ``task.prepare_model``.  Parameters
        left with ``requires_grad=False`` are not optimized; a model with none left trains no
        steps (its epochs only validate).  Default: nothing."""

    def regularization(self) -> Tensor | None:
        """A penalty the harness adds to the training loss (e.g. the residual pathway prior of
        ``egnn-rpp``); ``None`` (the default) adds nothing.  Returns a scalar tensor."""
        return None


class TaskDescribedKwargs:
    """Mixin: a task *object* among the builder arguments (``create_model("mlp", task=task)``) is
    recorded as the JSON description of its fields (:func:`symzoo.contract.describe_task_fields`),
    so ``model.json`` stays JSON and rebuilds the model."""

    @property
    def builder_kwargs(self) -> dict[str, Any]:
        return self._described_kwargs

    @builder_kwargs.setter
    def builder_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        kw = dict(kwargs)
        task = kw.get("task")
        if task is not None and not isinstance(task, (str, Mapping)):
            kw["task"] = describe_task_fields(task)
        self._described_kwargs = kw


def task_fields_object(task: Any) -> Any:
    """A task instance as is; a registered name -> the task; a JSON description -> its fields
    (a robot task's description, with group generators, stays a description for ``RobotMLP``)."""
    if isinstance(task, str):
        from symzoo.registry import get_task

        return get_task(task)
    if isinstance(task, Mapping) and "generators" not in task:
        return TaskView(task)
    return task


def mlp(
    sizes: Sequence[int],
    act: str = "silu",
    *,
    last_act: bool = False,
    last_bias: bool = True,
    last_gain: float | None = None,
) -> nn.Sequential:
    """A plain MLP ``sizes[0] -> ... -> sizes[-1]`` with ``act`` between layers."""
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        lin = nn.Linear(sizes[i], sizes[i + 1], bias=(last_bias or not last))
        if last and last_gain is not None:
            nn.init.xavier_uniform_(lin.weight, gain=last_gain)
        layers.append(lin)
        if not last or last_act:
            layers.append(ACTIVATIONS[act]())
    return nn.Sequential(*layers)


def segment_sum(src: Tensor, index: Tensor, n: int) -> Tensor:
    """Sum the rows of ``src [E, ...]`` into ``n`` segments given by ``index [E]``."""
    from torch_geometric.utils import scatter

    return scatter(src, index, dim=0, dim_size=n, reduce="sum")


def segment_mean(src: Tensor, index: Tensor, n: int) -> Tensor:
    from torch_geometric.utils import scatter

    return scatter(src, index, dim=0, dim_size=n, reduce="mean")
