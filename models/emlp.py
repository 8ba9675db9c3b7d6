"""Equivariant MLPs for robots with morphological symmetries (MorphoSymm's EMLP), and the plain MLP.

``emlp`` is an MLP whose every layer is an ``escnn.nn.Linear`` between escnn ``FieldType``\\ s of a
finite group (``escnn.gspaces.no_base_space``): the input type is the direct sum of the task's
declared input representations (joint positions, velocities, accelerations as signed
permutations, :meth:`symzoo.groups.MatrixRep.escnn_rep`), hidden types are copies of the regular
representation (``ceil(hidden / |G|)`` copies, so a hidden layer is as wide as the MLP's) with a
pointwise ELU between them (as MorphoSymm), and the output type is the task's output representation
(torques, centroidal momentum).  The network is equivariant by construction, on every element of the
group and in any dtype.  :meth:`EMLP.export` turns it into plain ``torch.nn`` layers (escnn's
``export()``) for deployment: same outputs, still equivariant, no escnn needed at run time.

``mlp`` on robot tasks is :class:`RobotMLP`: the same inputs and outputs, no symmetry (``mlp+aug``
learns it from augmentation).  The registered name ``mlp`` belongs to ``symzoo.models.baselines``,
which builds a :class:`RobotMLP` from a robot task's fields (``Task.model_defaults`` passes
``task=<description of the task instance>``, :func:`robot_model_defaults`).

Builder arguments are JSON-serializable: the harness passes ``task=<description>``, the task
instance's group and field representations as data (:func:`describe_robot_fields`: generator
actions as signed permutations), so a model is built from the task it trains on (a user's robot
spec included) and ``model.json`` rebuilds it with neither the spec file nor the registry.  A task
object (``create_model("emlp", task=task)``) and a registered task name (``task="quadruped-com"``,
as published entries record it) work too; without one, the first registered robotics task (sorted)
is used, so ``create_model("emlp")`` builds.

Both models standardize inputs and outputs with buffers (``fit_normalization``); for ``emlp`` the
statistics are symmetrized over the group (invariant mean, orbit-averaged variance), so
standardization keeps equivariance exact.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from symzoo.registry import register_model, register_model_defaults
from symzoo.task import Field

from .base import SymmetryContract

__all__ = [
    "EMLP",
    "ExportedEMLP",
    "RobotMLP",
    "TaskKwargs",
    "emlp",
    "prepare_robot_model",
    "describe_robot_fields",
    "robot_fields",
    "robot_model_defaults",
    "robot_fit_problem",
]

DOMAIN = "robotics"


# ------------------------------------------------------------------ task -> representations
@functools.lru_cache(maxsize=1)
def _default_robot_task() -> str:
    from symzoo.registry import get_task, list_tasks

    for name in list_tasks():
        try:
            if get_task(name).domain == DOMAIN:
                return name
        except Exception:  # noqa: BLE001 - a task that cannot be built is not a default
            continue
    raise ValueError("no robotics task is registered: pass task=<robot task name> to build this model")


def _action(m: Tensor) -> Any:
    """One generator's matrix as JSON data: ``{perm, signs}`` for a signed permutation, else rows."""
    a = m.abs()
    if bool(((a == 0) | (a == 1)).all()) and bool((a.sum(0) == 1).all()) and bool((a.sum(1) == 1).all()):
        perm = a.argmax(1)
        signs = m[torch.arange(m.shape[0]), perm]
        return {"perm": [int(i) for i in perm], "signs": [int(s) for s in signs]}
    return [[float(x) for x in row] for row in m]


def describe_robot_fields(task: Any) -> dict[str, Any]:
    """The JSON description of a robot task instance's symmetry that :func:`robot_fields` rebuilds:
    ``{"name", "group", "generators": {gen: {space: action}}, "inputs": {field: space},
    "outputs": {field: space}}`` (``action``: ``{perm, signs}`` or a matrix).  Builders take it as
    ``task=<description>``, so a saved model rebuilds the representations it was trained with, with
    neither the task's registry name nor its spec file."""
    group, inputs, outputs = robot_fields(task)
    spaces: dict[str, Any] = {}
    names: dict[int, str] = {}

    def space_of(rep) -> str:
        if id(rep) in names:
            return names[id(rep)]
        base = str(rep.name or "rep")
        nm, k = base, 2
        while nm in spaces and not torch.equal(spaces[nm].matrices, rep.matrices):
            nm, k = f"{base}_{k}", k + 1
        spaces[nm] = rep
        names[id(rep)] = nm
        return nm

    ins = {k: space_of(r) for k, r in inputs.items()}
    outs = {k: space_of(r) for k, r in outputs.items()}
    gens = {
        g: {sp: _action(rep.matrices[i]) for sp, rep in spaces.items()}
        for g, i in group.generator_index.items()
    }
    return {
        "name": str(getattr(task, "name", "")),
        "group": group.name,
        "generators": gens,
        "inputs": ins,
        "outputs": outs,
    }


def _from_description(d: Mapping[str, Any]):
    from symzoo.groups import SymmetrySpecError, signed_permutation_group

    missing = [k for k in ("group", "generators", "inputs", "outputs") if k not in d]
    if missing:
        raise ValueError(
            f"task description is missing {missing}: pass a task name, a task object, or "
            "symzoo.models.emlp.describe_robot_fields(task)"
        )
    try:
        group, reps = signed_permutation_group(str(d["group"]), d["generators"])
    except SymmetrySpecError as e:
        raise ValueError(f"task description: {e}") from None

    def pick(fields: Mapping[str, str], what: str):
        bad = sorted(sp for sp in fields.values() if sp not in reps)
        if bad:
            raise ValueError(f"task description: {what} space(s) {bad} have no generator actions")
        return {k: reps[sp] for k, sp in fields.items()}

    return group, pick(d["inputs"], "input"), pick(d["outputs"], "output"), str(d.get("name") or "robot")


def robot_fields(task: Any = None):
    """``(group, inputs, outputs)`` of a robot task: ``inputs``/``outputs`` map the declared batch
    fields to their :class:`~symzoo.groups.MatrixRep`.  ``task`` is a task *instance* (an object with
    ``group``, ``input_fields`` and ``output_fields``: what the harness passes), the JSON description
    of one (:func:`describe_robot_fields`, what ``model.json`` records), or a registered task name
    (published weights name their task; ``None``: the first registered robotics task)."""
    from symzoo.groups import FiniteGroup, MatrixRep
    from symzoo.registry import get_task

    if isinstance(task, Mapping):
        group, ins, outs, name = _from_description(task)
        if not ins or not outs:
            raise ValueError(f"task description {name!r} declares no input or no output fields")
        return group, ins, outs
    if task is None:
        task = _default_robot_task()
    obj = get_task(task) if isinstance(task, str) else task
    group = obj.group
    if not isinstance(group, FiniteGroup):
        raise ValueError(f"task {obj.name!r} has group {group}; robot models need a finite group")

    def reps(fields: Mapping[str, Any], what: str) -> dict[str, MatrixRep]:
        out = {}
        for k, f in fields.items():
            if not isinstance(f.rep, MatrixRep) or f.rep.group is not group:
                raise ValueError(
                    f"task {obj.name!r}: {what} field {k!r} has representation {f.rep!r}; robot models "
                    f"need a MatrixRep of {group.name} on every field"
                )
            if f.level != "graph":
                raise ValueError(f"task {obj.name!r}: {what} field {k!r} must be level 'graph'")
            out[k] = f.rep
        if not out:
            raise ValueError(f"task {obj.name!r} declares no {what} fields")
        return out

    return group, reps(obj.input_fields, "input"), reps(obj.output_fields, "output")


@register_model_defaults("robotics")
def robot_model_defaults(task: Any, model_name: str) -> dict[str, Any]:
    """What a robot task's ``model_defaults`` returns: ``task=<description of the task instance>``
    (:func:`describe_robot_fields`) for the robot models and the registered ``mlp`` (which then
    builds a :class:`RobotMLP`, with emlp's ELU).  ``task`` is the task instance (a name
    is still accepted and passed through, as published entries record it)."""
    base = model_name.split("+")[0]
    if base not in ("mlp", "emlp", "delan", "delan-eq"):
        return {}
    ref = task if isinstance(task, str) else describe_robot_fields(task)
    if base == "mlp":
        return {"task": ref, "act": "elu"}
    return {"task": ref}


def prepare_robot_model(model: nn.Module, train_set: Any) -> None:
    """A robot task's ``prepare_model``: ``model.fit_normalization(train_set.fields)`` (an
    ``ArrayDataset`` in physical units) where the model has one: ``emlp``'s / the robot ``mlp``'s
    input and output standardization, ``delan``'s Lagrangian scale; other models are left alone."""
    fit = getattr(model, "fit_normalization", None)
    fields = getattr(train_set, "fields", None)
    if fit is not None and fields is not None:
        fit(dict(fields))


def _fields(reps: Mapping[str, Any]) -> dict[str, Field]:
    """The declared fields of a model built on a robot task: the task's own representations."""
    return {k: Field(r, "graph") for k, r in reps.items()}


def robot_fit_problem(task: Any) -> str | None:
    """Why a model built from a robot task's fields (``emlp``, the robot ``mlp``, ``delan``) cannot
    be built on ``task``, or ``None``: a finite group with a :class:`~symzoo.groups.MatrixRep` on
    every field, one vector per sample (not a window of states)."""
    if isinstance(task, (str, Mapping)) or task is None:
        return None
    try:
        robot_fields(task)
    except ValueError as e:
        return str(e)
    for k, f in {**task.input_fields, **task.output_fields}.items():
        if f.shape is not None and tuple(f.shape) != (f.rep.dim,):
            return f"field {k!r} holds {list(f.shape)} per sample; robot models read one vector per sample"
    return None


def _check_width(hidden: int, layers: int) -> None:
    if int(hidden) < 1:
        raise ValueError(f"hidden must be >= 1, got {hidden}")
    if int(layers) < 1:
        raise ValueError(f"layers (hidden layers) must be >= 1, got {layers}")


class TaskKwargs:
    """Mixin: a task *object* among the builder arguments (``create_model("emlp", task=task)``) is
    recorded as its description (:func:`describe_robot_fields`), so ``model.json`` stays JSON and
    rebuilds the model."""

    @property
    def builder_kwargs(self) -> dict[str, Any]:
        return self._task_builder_kwargs

    @builder_kwargs.setter
    def builder_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        kw = dict(kwargs)
        task = kw.get("task")
        if task is not None and not isinstance(task, (str, Mapping)):
            kw["task"] = describe_robot_fields(task)
        self._task_builder_kwargs = kw


class _Standardized(TaskKwargs, SymmetryContract, nn.Module):
    """Concatenates the input fields, standardizes them, and splits the de-standardized output.
    Its ``input_fields``/``output_fields`` are the task's (set when built from a task)."""

    @classmethod
    def fit_problem(cls, task: Any) -> str | None:
        return robot_fit_problem(task)

    def _init_io(self, in_dims: Mapping[str, int], out_dims: Mapping[str, int]) -> None:
        self.in_keys, self.out_keys = list(in_dims), list(out_dims)
        self.in_dims, self.out_dims = (
            [int(in_dims[k]) for k in self.in_keys],
            [int(out_dims[k]) for k in self.out_keys],
        )
        din, dout = sum(self.in_dims), sum(self.out_dims)
        self.in_mean: Tensor  # buffer
        self.register_buffer("in_mean", torch.zeros(din))
        self.in_std: Tensor  # buffer
        self.register_buffer("in_std", torch.ones(din))
        self.out_mean: Tensor  # buffer
        self.register_buffer("out_mean", torch.zeros(dout))
        self.out_std: Tensor  # buffer
        self.register_buffer("out_std", torch.ones(dout))

    def _inputs(self, batch) -> Tensor:
        x = torch.cat([getattr(batch, k) for k in self.in_keys], -1)
        return (x - self.in_mean.to(x.dtype)) / self.in_std.to(x.dtype)

    def _outputs(self, y: Tensor) -> dict[str, Tensor]:
        y = y * self.out_std.to(y.dtype) + self.out_mean.to(y.dtype)
        return dict(zip(self.out_keys, y.split(self.out_dims, -1)))

    def _symmetrize(self, mean: Tensor, var: Tensor, mats: Tensor | None) -> tuple[Tensor, Tensor]:
        return mean, var

    @torch.no_grad()
    def fit_normalization(self, fields: Mapping[str, Tensor]) -> None:
        """Set the standardization buffers from training data ``fields[k] [N, d_k]`` (the inputs
        and the targets named like the outputs); statistics are symmetrized where the model is
        equivariant, so standardizing never breaks it."""
        for keys, mean_b, std_b, mats in (
            (self.in_keys, self.in_mean, self.in_std, getattr(self, "_in_mats", None)),
            (self.out_keys, self.out_mean, self.out_std, getattr(self, "_out_mats", None)),
        ):
            if not all(k in fields for k in keys):
                continue
            x = torch.cat([torch.as_tensor(fields[k]).double().reshape(len(fields[k]), -1) for k in keys], -1)
            mean, var = self._symmetrize(x.mean(0), x.var(0, unbiased=False), mats)
            mean_b.copy_(mean.to(mean_b.dtype))
            std_b.copy_(var.clamp(min=1e-12).sqrt().clamp(min=1e-6).to(std_b.dtype))


def _own_basis_buffers(net: nn.Module) -> None:
    """Give ``net`` its own copies of escnn's sampled bases.  escnn shares one basis-expansion module
    between every layer (of every model) built on the same pair of representations; ``.double()``
    on one model converted the shared buffer, and every emlp built afterwards in the process failed
    with a dtype mismatch.  Same values and state-dict keys, only no sharing."""
    import copy

    from escnn.nn.modules.basismanager.basisexpansion_singleblock import SingleBlockBasisExpansion

    for mod in list(net.modules()):
        for name, child in list(mod._modules.items()):
            if isinstance(child, SingleBlockBasisExpansion):
                own = copy.copy(child)
                own._buffers = {k: None if v is None else v.clone() for k, v in child._buffers.items()}
                own._parameters = dict(child._parameters)
                own._modules = dict(child._modules)
                own._non_persistent_buffers_set = set(child._non_persistent_buffers_set)
                mod._modules[name] = own


def _block_diag(group, reps: Mapping[str, Any]) -> Tensor:
    """``[order, D, D]`` block-diagonal matrices of the direct sum of ``reps`` (in order)."""
    return torch.stack(
        [torch.block_diag(*[r.matrices[i] for r in reps.values()]) for i in range(group.order)]
    )


class EMLP(_Standardized):
    """Equivariant MLP over a finite group (escnn ``Linear`` layers, pointwise ELU on regular fields).

    ``inputs``/``outputs``: batch field -> :class:`~symzoo.groups.MatrixRep` of ``group``;
    ``hidden`` the width of each hidden layer (rounded up to whole regular representations),
    ``layers`` the number of hidden layers.
    """

    def __init__(
        self,
        group,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        hidden: int = 128,
        layers: int = 2,
        act: str = "elu",
    ):
        super().__init__()
        _check_width(hidden, layers)
        import escnn.nn as enn
        from escnn.gspaces import no_base_space

        acts = {"elu": enn.ELU, "relu": enn.ReLU}
        if act not in acts:
            raise ValueError(f"emlp activation must be one of {sorted(acts)} (pointwise on regular fields)")
        self._init_io({k: r.dim for k, r in inputs.items()}, {k: r.dim for k, r in outputs.items()})
        self.group = group
        self.symmetry = frozenset(group.factors)
        self.input_fields, self.output_fields = _fields(inputs), _fields(outputs)
        self._in_mats, self._out_mats = _block_diag(group, inputs), _block_diag(group, outputs)
        gspace = no_base_space(group.escnn)
        self.in_type = enn.FieldType(gspace, [r.escnn_rep() for r in inputs.values()])
        self.out_type = enn.FieldType(gspace, [r.escnn_rep() for r in outputs.values()])
        n_reg = max(1, math.ceil(int(hidden) / group.order))
        hid = enn.FieldType(gspace, [group.escnn.regular_representation] * n_reg)
        mods: list[Any] = []
        prev = self.in_type
        for _ in range(int(layers)):
            mods += [enn.Linear(prev, hid, bias=True), acts[act](hid)]
            prev = hid
        mods.append(enn.Linear(prev, self.out_type, bias=True))
        self.net = enn.SequentialModule(*mods)
        _own_basis_buffers(self.net)
        self._settle_escnn_cache()

    def _settle_escnn_cache(self) -> None:
        """escnn's ``Linear`` caches its expanded matrix as a buffer in eval mode (built with autograd
        on, and deleted in train mode): keep it out of the state dict (non-persistent, so saved
        weights do not depend on the mode) and detached (so the model can be deep-copied)."""
        for mod in self.net.modules():
            for name in ("matrix", "expanded_bias"):
                buf = mod._buffers.get(name)
                if buf is not None:
                    mod._buffers[name] = buf.detach()
                    mod._non_persistent_buffers_set.add(name)

    def train(self, mode: bool = True) -> EMLP:
        with torch.no_grad():
            super().train(mode)
        self._settle_escnn_cache()
        return self

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        res = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.train(self.training)  # rebuild escnn's eval-mode cache from the loaded weights
        return res

    def _symmetrize(self, mean: Tensor, var: Tensor, mats: Tensor | None) -> tuple[Tensor, Tensor]:
        assert mats is not None
        # invariant mean (projection on the fixed subspace); variance averaged over |rho(g)|
        # (exact for signed permutations: the scale then commutes with every rho(g))
        return (mats @ mean).mean(0), (mats.abs() @ var).mean(0)

    def forward(self, batch) -> dict[str, Tensor]:
        """Input fields ``[B, d_k]`` (concatenated in the task's order) -> ``{output: [B, d_out]}``."""
        from escnn.nn import GeometricTensor

        x = self._inputs(batch)
        y = self.net(GeometricTensor(x, self.in_type)).tensor
        return self._outputs(y)

    def export(self) -> ExportedEMLP:
        """The same network as plain ``torch.nn`` layers (escnn's ``export()``; same outputs in eval
        mode, same batch interface and symmetry contract, no escnn at run time)."""
        was = self.training
        self.eval()
        seq = self.net.export()
        self.train(was)
        return ExportedEMLP(self, seq)


class ExportedEMLP(_Standardized):
    """An :class:`EMLP` exported to ``torch.nn.Sequential`` (``Linear``/``ELU``): deployable as is."""

    def __init__(self, src: EMLP, seq: nn.Sequential):
        super().__init__()
        self._init_io(dict(zip(src.in_keys, src.in_dims)), dict(zip(src.out_keys, src.out_dims)))
        self.load_state_dict(
            {k: v for k, v in src.state_dict().items() if not k.startswith("net.")}, strict=False
        )
        self.symmetry, self.input_fields, self.output_fields = (
            src.symmetry,
            dict(src.input_fields),
            dict(src.output_fields),
        )
        self.net = seq

    def forward(self, batch) -> dict[str, Tensor]:
        """Input fields ``[B, d_k]`` -> ``{output: [B, d_out]}`` (as :meth:`EMLP.forward`)."""
        return self._outputs(self.net(self._inputs(batch)))


class RobotMLP(_Standardized):
    """Plain MLP on the concatenated input fields of a robot task (no symmetry)."""

    symmetry: frozenset[str] = frozenset()

    def __init__(
        self,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        hidden: int = 128,
        layers: int = 2,
        act: str = "elu",
    ):
        super().__init__()
        _check_width(hidden, layers)
        acts = {"elu": nn.ELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}
        if act not in acts:
            raise ValueError(f"mlp activation must be one of {sorted(acts)}")
        self._init_io({k: r.dim for k, r in inputs.items()}, {k: r.dim for k, r in outputs.items()})
        self.input_fields, self.output_fields = _fields(inputs), _fields(outputs)
        sizes = [sum(self.in_dims)] + [int(hidden)] * int(layers) + [sum(self.out_dims)]
        layers_: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers_.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers_.append(acts[act]())
        self.net = nn.Sequential(*layers_)

    def forward(self, batch) -> dict[str, Tensor]:
        """Input fields ``[B, d_k]`` -> ``{output: [B, d_out]}``."""
        return self._outputs(self.net(self._inputs(batch)))


@register_model("emlp", domain=DOMAIN)
def emlp(task: Any = None, hidden: int = 128, layers: int = 2, act: str = "elu") -> EMLP:
    """Equivariant MLP (escnn, MorphoSymm) over a robot task's morphological symmetry group."""
    group, inputs, outputs = robot_fields(task)
    return EMLP(group, inputs, outputs, hidden, layers, act)


def robot_mlp(task: Any = None, hidden: int = 128, layers: int = 2, act: str = "elu") -> RobotMLP:
    """The plain MLP of robot tasks (what ``mlp`` builds on a robot task's fields)."""
    _, inputs, outputs = robot_fields(task)
    return RobotMLP(inputs, outputs, hidden, layers, act)
