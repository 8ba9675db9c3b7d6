"""The Task interface: data + symmetry + loss + metrics (+ rollout) for one system.

The harness and the eval suite talk to tasks only through this class.  A task declares its fields
with :class:`Field` (how each input, target and model output transforms under the group), which
is enough for the generic :meth:`Task.act` used by augmentation, equivariance tests and the
orbit study; tasks with unusual data override :meth:`act` / :meth:`act_output`.

Batches are ``torch_geometric.data.Data`` objects with a ``batch`` vector (node -> graph) and an
integer ``num_graphs``; node-level tensors are ``[n_nodes, ...]``, graph-level ``[n_graphs, ...]``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .errors import InputError, UnknownNameError, suggest
from .symmetry import Group, GroupElementBase, Rep, as_rep

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "Field",
    "Task",
    "GraphTensorDataset",
    "ArrayDataset",
    "StackedDataset",
    "BreakingKnob",
    "DOMAIN_ALIASES",
    "canonical_domain",
]

log = logging.getLogger(__name__)

#: older or alternative spellings of a domain word -> the one word tasks and models use
#: (``nbody``, ``hamiltonian``, ``atoms``, ``robotics``, ``forecasting``, ``flows``; the
#: install extras use the same words).  User-facing inputs (``list_models(domain=...)``, a
#: leaderboard recipe's ``domain:``) accept these aliases.
DOMAIN_ALIASES = {
    "forcefield": "atoms",
    "forcefields": "atoms",
    "force-fields": "atoms",
    "robots": "robotics",
    "robot": "robotics",
    "attractors": "forecasting",
    "attractors-ring": "forecasting",
    "attractors-user": "forecasting",
    "hamiltonian-particles": "hamiltonian",
    "flows-user": "flows",
    "flow": "flows",
}


def canonical_domain(word: str) -> str:
    """The one spelling of a domain word (:data:`DOMAIN_ALIASES` resolved; others unchanged)."""
    w = str(word or "").strip().lower()
    return DOMAIN_ALIASES.get(w, w)


@dataclass(frozen=True)
class Field:
    """One tensor of a sample: the representation ``rep`` that acts on it, its ``level`` and unit.

    ``rep`` is a :class:`symzoo.symmetry.Rep` (e.g. ``symzoo.symmetry.POSITION``, an e3nn
    ``IrrepsRep``, or a finite-group ``MatrixRep``/``GridRep``/``ShiftRep`` from
    :mod:`symzoo.groups`); the names ``"scalar"``, ``"position"``, ``"vector"`` and
    ``"pseudovector"`` are shorthand for the Euclidean ones.  ``level`` is ``"node"`` (rows are
    nodes, permuted with them) or ``"graph"`` (rows are samples).  ``shape``: the shape of one
    row when it is not just the representation's vector (e.g. ``(window, dim)`` for a window of
    states); ``None`` (default) says nothing.  Models declare their inputs and outputs with the
    same objects (:mod:`symzoo.contract`).
    """

    rep: Rep = "scalar"  # type: ignore[assignment]  # a shorthand name is resolved in __post_init__
    level: str = "node"  # "node" or "graph"
    unit: str = ""
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rep", as_rep(self.rep))
        if self.level not in ("node", "graph"):
            raise ValueError(f"Field level must be 'node' or 'graph', got {self.level!r}")

    @property
    def kind(self) -> str:
        """The representation's name (kept for reading old code; use :attr:`rep`)."""
        return self.rep.name


@dataclass(frozen=True)
class BreakingKnob:
    """A symmetry-breaking knob of a task (swept by ``symzoo compare --breaking``).

    At strength 0 the data have the task's full ``group``; at any strength > 0 they keep only
    ``residual_group`` (a subgroup with the same factor names, e.g. rotations about a field axis).
    ``arg`` is the task keyword that sets the strength (``data.task_args.<arg>`` in a recipe), so
    :meth:`Task.with_breaking` and a config override give the same data.
    """

    name: str
    description: str
    unit: str
    arg: str
    residual_group: Group

    def check(self, strength: float) -> float:
        """The strength as a float; :class:`InputError` unless it is finite and >= 0."""
        try:
            s = float(strength)
        except (TypeError, ValueError):
            raise InputError(f"breaking strength {strength!r} is not a number") from None
        if not math.isfinite(s) or s < 0:
            raise InputError(f"breaking strength of {self.name} must be finite and >= 0, got {strength!r}")
        return s


class StackedDataset(torch.utils.data.Dataset):
    """Datasets stored as stacked tensors whose ``__getitems__`` returns a collated batch and that
    implement ``subset(idx)``: :class:`GraphTensorDataset` and :class:`ArrayDataset`."""

    def subset(self, idx) -> StackedDataset:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitems__(self, idx: list[int]) -> Any:
        """The samples ``idx`` as one collated batch."""
        raise NotImplementedError


class GraphTensorDataset(StackedDataset):
    """Graphs of a fixed node count stored as stacked tensors (fast batching, no per-item objects).

    ``node[k]`` has shape ``[n_graphs, n_nodes, ...]``, ``graph[k]`` ``[n_graphs, ...]``;
    ``edge_index [2, E]`` is the edge template of one graph.  Indexing with a list of indices
    (``__getitems__``) returns a collated batch directly.
    """

    def __init__(
        self,
        node: dict[str, Tensor],
        graph: dict[str, Tensor] | None = None,
        edge_index: Tensor | None = None,
        meta: dict | None = None,
    ):
        self.node = dict(node)
        self.graph = dict(graph or {})
        first = next(iter(self.node.values()))
        self.n_graphs, self.n_nodes = first.shape[0], first.shape[1]
        self.edge_index = edge_index
        self.meta = dict(meta or {})

    def __len__(self) -> int:
        return self.n_graphs

    def __getitem__(self, i: int):
        return self.__getitems__([i])

    def __getitems__(self, idx) -> Any:
        from torch_geometric.data import Data

        idx = torch.as_tensor(idx, dtype=torch.long)
        b, n = idx.numel(), self.n_nodes
        data = {k: v[idx].reshape(b * n, *v.shape[2:]) for k, v in self.node.items()}
        data.update({k: v[idx] for k, v in self.graph.items()})
        batch = torch.arange(b).repeat_interleave(n)
        out = Data(**data, batch=batch, ptr=torch.arange(b + 1) * n)
        if self.edge_index is not None:
            off = (torch.arange(b) * n).repeat_interleave(self.edge_index.shape[1])
            out.edge_index = self.edge_index.repeat(1, b) + off
        out.num_graphs = b
        out.num_nodes = b * n
        out.sample_index = idx
        return out

    def subset(self, idx) -> GraphTensorDataset:
        idx = torch.as_tensor(idx, dtype=torch.long)
        return GraphTensorDataset(
            {k: v[idx] for k, v in self.node.items()},
            {k: v[idx] for k, v in self.graph.items()},
            self.edge_index,
            self.meta,
        )

    def with_fields(self, **fields: Tensor) -> GraphTensorDataset:
        node, graph = dict(self.node), dict(self.graph)
        for k, v in fields.items():
            (node if k in node else graph)[k] = v
        return GraphTensorDataset(node, graph, self.edge_index, self.meta)


class ArrayDataset(StackedDataset):
    """Samples that are not graphs (robot states, attractor windows, grids): stacked tensors.

    ``fields[k]`` has shape ``[n_samples, ...]``.  Indexing with a list of indices returns one
    ``torch_geometric.data.Data`` batch whose tensors are graph-level (``[B, ...]``) with
    ``num_graphs = B`` and no nodes, so the harness, the toolkit and ``Task.act`` treat every
    domain alike (declare such fields with ``level="graph"``).
    """

    def __init__(self, fields: dict[str, Tensor], meta: dict | None = None):
        if not fields:
            raise ValueError("ArrayDataset needs at least one field")
        self.fields = dict(fields)
        sizes = {k: int(v.shape[0]) for k, v in self.fields.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"ArrayDataset fields must have the same number of samples, got {sizes}")
        self.n = next(iter(sizes.values()))
        self.meta = dict(meta or {})

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.__getitems__([i])

    def __getitems__(self, idx) -> Any:
        from torch_geometric.data import Data

        idx = torch.as_tensor(idx, dtype=torch.long)
        out = Data(**{k: v[idx] for k, v in self.fields.items()})
        out.num_graphs = int(idx.numel())
        out.sample_index = idx
        return out

    def subset(self, idx) -> ArrayDataset:
        idx = torch.as_tensor(idx, dtype=torch.long)
        return ArrayDataset({k: v[idx] for k, v in self.fields.items()}, self.meta)

    def with_fields(self, **fields: Tensor) -> ArrayDataset:
        return ArrayDataset({**self.fields, **fields}, self.meta)


def collate_identity(x):
    """Collate function for datasets whose ``__getitems__`` already returns a batch."""
    return x


class Task:
    """Base class of tasks.  Subclasses set the class attributes and implement :meth:`splits`.

    Attributes
    ----------
    name, description
    domain : the task's domain, one word (``nbody``, ``hamiltonian``, ``atoms``, ``robotics``,
        ``forecasting``, ``flows``, or a new one; see :func:`canonical_domain`)
    domain_label : how reports title the domain (``"Force fields"``); default: the domain word
    group : the symmetry group of the data (``symzoo.symmetry.Group``)
    units : metric name -> unit
    presets : preset name -> dict of sizes/settings (``tiny`` for tests, ``small``, ``paper``)
    input_fields, target_fields : batch attribute -> :class:`Field`
    output_fields : model output key -> :class:`Field`
    perm_labels : node attribute marking interchangeable nodes (``None``: all nodes of a graph)
    primary_metric : metric used for model selection and the headline number (lower is better)
    breaking : the task's symmetry-breaking knob (:class:`BreakingKnob`), ``None`` if it has none;
        ``breaking_strength`` is the strength of this task's data (0: exactly ``group``-symmetric)
    """

    name: str = ""
    description: str = ""
    domain: str = ""
    domain_label: str = ""
    group: Group
    units: dict[str, str] = {}
    presets: dict[str, dict] = {}
    default_preset: str = "tiny"
    input_fields: dict[str, Field] = {}
    target_fields: dict[str, Field] = {}
    output_fields: dict[str, Field] = {}
    perm_labels: str | None = None
    primary_metric: str = "loss"
    #: the model is differentiated when it is evaluated (forces ``-dE/dx``, Hamiltonian vector
    #: fields): the harness and the eval suite keep autograd on (``inference_mode=False``)
    needs_grad: bool = False
    #: the task implements the dynamics protocol (:class:`symzoo.dynamics.Dynamics`, which sets it)
    has_dynamics: bool = False
    breaking: BreakingKnob | None = None
    breaking_strength: float = 0.0

    # ----------------------------------------------------------------- data
    def check_preset(self, preset: str) -> None:
        if preset not in self.presets:
            raise UnknownNameError(
                f"task {self.name!r} has no preset {preset!r}{suggest(preset, self.presets)}; "
                f"presets: {', '.join(self.presets)}"
            )

    def splits(self, preset: str | None = None, seed: int = 0):
        """Return ``(train, val, test)`` datasets for ``preset`` (default ``self.default_preset``)."""
        raise NotImplementedError

    def loader(self, dataset, batch_size: int, *, shuffle: bool = False, sampler=None, num_workers: int = 0):
        """A ``DataLoader`` producing batches for this task."""
        from torch.utils.data import DataLoader

        if isinstance(dataset, StackedDataset):
            return DataLoader(
                dataset,
                batch_size=batch_size,
                shuffle=shuffle if sampler is None else False,
                sampler=sampler,
                collate_fn=collate_identity,
                num_workers=num_workers,
            )
        from torch_geometric.loader import DataLoader as PygLoader

        return PygLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle if sampler is None else False,
            sampler=sampler,
            num_workers=num_workers,
        )

    def example_batch(self, num_graphs: int = 4, seed: int = 0, dtype: torch.dtype = torch.float64):
        """A small batch for tests (default: the first graphs of the tiny test split)."""
        _, _, test = self.splits("tiny", seed=0)
        n = min(num_graphs, len(test))
        sub = (
            test.subset(range(n))
            if isinstance(test, StackedDataset)
            else torch.utils.data.Subset(test, range(n))
        )
        return cast_batch(next(iter(self.loader(sub, n))), dtype)

    # -------------------------------------------------------------- training
    def loss(self, out: dict[str, Tensor], batch) -> Tensor:
        raise NotImplementedError

    def metrics(self, out: dict[str, Tensor], batch) -> dict[str, Tensor]:
        """Per-batch values of every metric (means over the batch)."""
        raise NotImplementedError

    def metric_terms(self, out: dict[str, Tensor], batch) -> dict[str, tuple[str, Tensor, Any]]:
        """The sufficient statistics of every metric on this batch: ``name -> (reduction, sum,
        count)`` with ``reduction`` ``"mean"`` (metric = sum / count) or ``"rms"`` (sqrt(sum /
        count)); :class:`symzoo.metrics.MetricSums` adds them over a split, so that the figure is
        exact whatever the batch size.  The default weights :meth:`metrics` by ``batch.num_graphs``
        (exact for means over graphs of equal size); tasks with RMSEs or graphs of different sizes
        override it (``AtomsTask``)."""
        n = int(batch.num_graphs)
        return {k: ("mean", v.detach() * n, n) for k, v in self.metrics(out, batch).items()}

    def validate_batch(self, batch) -> None:
        """Raise :class:`InputError` on non-finite values or wrong shapes in the input fields."""
        for name, f in {**self.input_fields, **self.target_fields}.items():
            x = getattr(batch, name, None)
            if x is None:
                raise InputError(f"{self.name}: the batch has no field {name!r}")
            if torch.is_floating_point(x) and not torch.isfinite(x).all():
                raise InputError(f"{self.name}: field {name!r} contains NaN or inf values")
            problem = f.rep.check(x, self.group)
            if problem:
                raise InputError(f"{self.name}: field {name!r} {problem}")
        has_nodes = any(f.level == "node" for f in {**self.input_fields, **self.target_fields}.values())
        if has_nodes and getattr(batch, "num_nodes", None) == 0:
            raise InputError(f"{self.name}: empty graph (no nodes)")

    # -------------------------------------------------------------- symmetry
    def sample_group(
        self, batch, *, factors: Iterable[str] | None = None, generator: torch.Generator | None = None
    ) -> GroupElementBase:
        """Random group elements for ``batch`` (one per graph), from ``factors`` (default all)."""
        labels = getattr(batch, self.perm_labels) if self.perm_labels else None
        dtype = _float_dtype(batch)
        return self.group.sample(
            int(batch.num_graphs),
            batch=getattr(batch, "batch", None),
            labels=labels,
            factors=factors,
            generator=generator,
            dtype=dtype,
        )

    @staticmethod
    def _act_field(f: Field, g: GroupElementBase, x: Tensor, batch) -> Tensor:
        if f.level == "node":
            x = x if g.perm is None else x[g.perm]
            return f.rep.act(g, x, batch.batch)
        return f.rep.act(g, x, None)

    def act(self, g: GroupElementBase, batch):
        """Return a copy of ``batch`` with ``g`` applied to its inputs **and** targets.

        Each declared field transforms by its ``rep``; node fields are also permuted by ``g.perm``
        (and the edges relabelled) when the element carries a node permutation.
        """
        new = batch.clone()
        inv = g.inverse_perm()
        for name, f in {**self.input_fields, **self.target_fields}.items():
            setattr(new, name, self._act_field(f, g, getattr(batch, name), batch))
        if inv is not None and getattr(batch, "edge_index", None) is not None:
            new.edge_index = inv[batch.edge_index]
        return new

    def act_output(self, g: GroupElementBase, out: dict[str, Tensor], batch) -> dict[str, Tensor]:
        """Apply ``g`` to the model outputs (the expected outputs on the transformed input)."""
        res = dict(out)
        for name, f in self.output_fields.items():
            if name in out:
                res[name] = self._act_field(f, g, out[name], batch)
        return res

    def with_breaking(self, strength: float) -> Self:
        """This task with its data generated at breaking ``strength`` (see :attr:`breaking`).

        The returned task's ``group`` is ``breaking.residual_group`` for strength > 0.  The default
        refuses (:class:`InputError`): a task without a knob cannot be swept.  Tasks with a knob
        validate through :meth:`BreakingKnob.check` and return a new task (never mutate ``self``).
        """
        if self.breaking is None:
            raise InputError(f"task {self.name!r} has no symmetry-breaking knob")
        raise NotImplementedError(f"{type(self).__name__} declares a breaking knob but no with_breaking")

    def audit_oracle(self, batch) -> dict[str, Tensor] | None:
        """The true targets at the inputs of ``batch``, for the symmetry audit (``symzoo audit``,
        :mod:`symzoo.eval.audit`): ``target field name -> tensor`` laid out like the batch's
        targets, computed from the inputs alone by the task's simulator or closed form.

        The audit moves the inputs by group elements ``g``, calls this on ``g·x`` and compares with
        ``g`` applied to the targets at ``x``; the difference, over the spread of the targets, is
        how far the data depart from the symmetry (exactly 0 for symmetric data).  It must read the
        declared input fields only (the audit passes moved copies of those).  Default ``None``: the
        task has no oracle, and the audit uses its domain measures (robot spec check, ODE vector
        field, the shipped simulators) or, failing those, nearest neighbours in the stored pairs.
        """
        return None

    def restrict(self, dataset):
        """The symmetry-restricted training set of the orbit study (default: unchanged)."""
        return dataset

    def ood_variants(self) -> dict[str, Task]:
        """Out-of-domain variants of this task, by name: tasks whose **test split** a model trained
        here is also evaluated on (``symzoo eval`` reports them under ``metrics_ood``, ``symzoo
        compare`` adds a column each), e.g. ``{"rotated_forcing": self.rotated()}`` for a flow
        trained with its forcing along x.  Default: none."""
        return {}

    # ------------------------------------------------------- harness hooks
    def model_defaults(self, model_name: str, train_set) -> dict[str, Any]:
        """Data-dependent builder arguments for ``model_name`` (e.g. the atom count of a
        flattened-coordinate MLP); recipe arguments override them.  Default: none."""
        return {}

    def prepare_model(
        self, model, train_set, *, pretrained: bool = False, keep_pretrained: bool = False
    ) -> dict[str, Any] | None:
        """Fit model statistics to the training set before training (e.g. per-species reference
        energies); not called on resume.  ``pretrained``: the weights were initialised from another
        run or a zoo entry (``symzoo finetune``, ``init_weights``), whose statistics belong to those
        weights and should be kept or only adjusted.  ``keep_pretrained`` (run config
        ``refit_reference=false``): keep them unchanged where they exist; statistics the pretrained
        model does not have (e.g. for an element it never saw) must still be fitted.  Returns a
        JSON-able summary of what it did (the harness writes it to the run folder's ``prepare.json``
        and into ``eval.json`` under ``prepare``) or ``None``.  Default: nothing."""
        return None

    def finalize_model(self, model, train_set) -> dict[str, Any] | None:
        """Adjust the trained model once after fitting, on the weights that get exported (the
        best-validation epoch; the EMA weights when EMA is on), before the test evaluation, the
        export and ``eval.json`` (e.g. re-fit per-species reference energies to the trained model).
        Whatever it changes must live in the model's parameters or buffers, so that it is saved in
        ``model.safetensors``.  Returns a JSON-able summary of what it did (recorded as
        ``finalize`` in ``eval.json``) or ``None``.  Called on every export, resumed runs included
        (the checkpoints keep the weights before it).  Default: nothing."""
        return None

    def apply_model(self, model, batch) -> dict[str, Tensor]:
        """The outputs :meth:`loss` and :meth:`metrics` see: ``model(batch)`` by default.  Tasks with
        training objectives beyond one call (multi-step rollout losses) build them here, so that
        models return derivatives or next states only."""
        return model(batch)

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "domain": self.domain,
            "domain_label": self.domain_label or self.domain,
            "group": repr(self.group),
            "units": dict(self.units),
            "presets": {k: dict(v) for k, v in self.presets.items()},
            "primary_metric": self.primary_metric,
        }


def _float_dtype(batch) -> torch.dtype:
    for v in batch.to_dict().values() if hasattr(batch, "to_dict") else []:
        if torch.is_tensor(v) and torch.is_floating_point(v):
            return v.dtype
    return torch.get_default_dtype()


def cast_batch(batch, dtype: torch.dtype):
    """Return a copy of ``batch`` with every floating tensor in ``dtype``."""
    new = batch.clone()
    for k, v in batch.to_dict().items():
        if torch.is_tensor(v) and torch.is_floating_point(v):
            new[k] = v.to(dtype)
    return new
