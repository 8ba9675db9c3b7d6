"""The symmetry contract of a model, in the vocabulary tasks use (:class:`~symzoo.task.Field`).

A model declares the batch fields it reads and the outputs it returns the way a task declares
its fields, with :class:`~symzoo.task.Field` objects whose ``rep`` is a
:class:`~symzoo.symmetry.Rep` (as escnn's ``in_type``/``out_type`` are ``FieldType``\\ s)::

    class EGNN(SymmetryContract, nn.Module):
        symmetry = frozenset({"rotation", "reflection", "translation", "permutation"})
        input_fields = {"pos": Field(POSITION), "vel": Field(VECTOR), "attr": Field(SCALAR)}
        output_fields = {"pos": Field(POSITION)}

``rep`` says how the field transforms under the task's group (a position is a ``POSITION`` for
``egnn`` and for the plain ``mlp`` alike); ``symmetry`` says which factors of the group the model
commutes with.  A model that reads a field of whatever representation the task gives, or of a
family of them, declares a :class:`RepKind` (``ANY``, ``RepKind("grid", types=(GridRep,))``,
``RepKind("grid-pseudoscalar", types=(GridRep,), names=("grid-pseudoscalar",))``); a model built
from a task's fields (``emlp``, ``delan``, the robot ``mlp``) declares the task's own ``Rep``
objects on the instance, and says which tasks it can be built on by overriding
:meth:`symzoo.models.base.SymmetryContract.fit_problem`.

**Deprecated, still accepted**: e3nn-style ``irreps_in`` / ``irreps_out`` dictionaries of strings
(``{"pos": "1o"}``), as plugin models written for earlier versions declare them.
:func:`model_contract` normalises them to ``Field`` objects (``"0e"`` -> ``SCALAR``, ``"1o"`` ->
``VECTOR``, ``"1e"`` -> ``PSEUDOVECTOR``, other e3nn irreps -> :class:`~symzoo.symmetry.IrrepsRep`,
anything else -> a :class:`RepKind` of that name) and marks the contract ``legacy``: its fields
are then matched by name only, as before.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .symmetry import PSEUDOVECTOR, SCALAR, VECTOR, EuclideanRep, IrrepsRep, Rep, as_rep
from .task import Field

__all__ = [
    "ANY",
    "Contract",
    "TaskView",
    "describe_task_fields",
    "RepKind",
    "as_field",
    "contract_problem",
    "irreps_string",
    "model_contract",
    "rep_fits",
    "rep_from_irreps",
]


class RepKind(Rep):
    """A family of representations a model accepts at one field (it does not act by itself).

    ``types``: the :class:`~symzoo.symmetry.Rep` classes accepted (default: any); ``names``: the
    accepted ``rep.name`` values (default: any).  ``ANY`` accepts every representation.
    """

    def __init__(self, name: str, *, types: tuple[type, ...] = (Rep,), names: Iterable[str] | None = None):
        self.name, self.types = name, tuple(types)
        self.names = None if names is None else frozenset(names)

    def matches(self, rep: Rep) -> bool:
        if isinstance(rep, RepKind):  # two declarations: compatible when one could be the other
            return rep.names is None or self.names is None or bool(rep.names & self.names)
        return isinstance(rep, self.types) and (self.names is None or rep.name in self.names)

    def act(self, g, x, index=None):  # noqa: ANN001 - the Rep signature
        raise TypeError(
            f"{self.name!r} is a kind of representation a model accepts, not one that acts: "
            "apply the task's field representation instead"
        )


#: any representation (a model that treats the field as plain numbers)
ANY = RepKind("any")


def rep_fits(declared: Rep, provided: Rep) -> bool:
    """Whether a field the task declares with ``provided`` is what the model ``declared``."""
    if declared is provided:
        return True
    if isinstance(declared, RepKind):
        return declared.matches(provided)
    if isinstance(provided, RepKind):
        return provided.matches(declared)
    if isinstance(declared, IrrepsRep) and isinstance(provided, IrrepsRep):
        return declared.irreps == provided.irreps
    if isinstance(declared, EuclideanRep) and isinstance(provided, EuclideanRep):
        return (declared.translate, declared.pseudo) == (provided.translate, provided.pseudo)
    return _same_action(declared, provided)


def _same_action(a: Rep, b: Rep) -> bool:
    """Two representation objects that act alike: same class and name, the same group order, and
    equal matrices / characters / shifts where they have them (a model rebuilt from a saved task
    description holds copies of the task's representations, not the same objects)."""
    import torch

    if type(a) is not type(b) or a.name != b.name:
        return False
    ga, gb = getattr(a, "group", None), getattr(b, "group", None)
    if getattr(ga, "order", None) != getattr(gb, "order", None):
        return _restricts(a, b)
    for attr in ("matrices", "values", "coords"):
        x, y = getattr(a, attr, None), getattr(b, attr, None)
        if torch.is_tensor(x) and torch.is_tensor(y):
            if x.shape != y.shape or not torch.allclose(x.double(), y.double()):
                return False
    for attr in ("kind", "shifts", "axis"):
        if getattr(a, attr, None) != getattr(b, attr, None):
            return False
    return True


def _restricts(model_rep: Rep, task_rep: Rep) -> bool:
    """Whether ``task_rep`` is ``model_rep`` restricted to a subgroup: every matrix of the task's
    (smaller) group is one of the model's.  A model that keeps the unbroken group on data with a
    symmetry-breaking knob (a robot with a payload: the task's fields carry the residual C1, the
    model the robot's K4) acts on the task's tensors as the task's own representation does."""
    import torch

    x, y = getattr(model_rep, "matrices", None), getattr(task_rep, "matrices", None)
    if not (torch.is_tensor(x) and torch.is_tensor(y)) or x.shape[1:] != y.shape[1:] or len(y) > len(x):
        return False
    xd, yd = x.double().flatten(1), y.double().flatten(1)
    return bool((torch.cdist(yd, xd).min(dim=1).values < 1e-6).all())


def rep_from_irreps(text: str) -> Rep:
    """A :class:`Rep` for a (deprecated) ``irreps_in``/``irreps_out`` string."""
    s = str(text).strip()
    named = {
        "0e": SCALAR,
        "1x0e": SCALAR,
        "1o": VECTOR,
        "1x1o": VECTOR,
        "1e": PSEUDOVECTOR,
        "1x1e": PSEUDOVECTOR,
    }
    if s in named:
        return named[s]
    try:
        return IrrepsRep(s)
    except Exception:  # noqa: BLE001 - not an e3nn irreps string: a described kind
        return RepKind(s)


def irreps_string(rep: Rep) -> str:
    """The e3nn-style string of ``rep`` recorded in ``model.json`` (``"0e"``, ``"1o"``, ``"18xq"``, ...)."""
    if rep is SCALAR:
        return "0e"
    if isinstance(rep, EuclideanRep):
        return "1e" if rep.pseudo else "1o"
    dim = getattr(rep, "dim", None)
    if isinstance(dim, int) and not isinstance(rep, IrrepsRep):
        return f"{dim}x{rep.name}"
    return str(rep.name)


def as_field(x: Any, level: str = "node") -> Field:
    """A :class:`Field`: a Field as is, a :class:`Rep` or a shorthand name at ``level``."""
    if isinstance(x, Field):
        return x
    if isinstance(x, Rep):
        return Field(x, level)
    if isinstance(x, str):
        try:
            return Field(as_rep(x), level)
        except ValueError:
            return Field(rep_from_irreps(x), level)
    raise TypeError(f"a model field is declared with a symzoo Field or Rep, got {type(x).__name__}")


@dataclass(frozen=True)
class Contract:
    """A model's declared inputs and outputs (``name -> Field``), the inputs it can do without,
    and the factors it is built to respect.  ``legacy``: normalised from ``irreps_in``/``irreps_out``
    strings (fields then match by name only)."""

    inputs: Mapping[str, Field] = field(default_factory=dict)
    outputs: Mapping[str, Field] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    symmetry: frozenset[str] = frozenset()
    legacy: bool = False

    @property
    def required(self) -> set[str]:
        return set(self.inputs) - set(self.optional)


_WARNED: set[Any] = set()


def _fields(decl: Any) -> dict[str, Field] | None:
    if isinstance(decl, Mapping) and decl:
        return {str(k): as_field(v) for k, v in decl.items()}
    return None


def _declared(model: Any, name: str) -> Any:
    """``model.<name>`` as declared (a class attribute or set on the instance), never computed by
    :class:`~symzoo.models.base.SymmetryContract`'s read-only properties."""
    if not isinstance(model, type):
        legacy = getattr(model, "__dict__", {}).get(f"_legacy_{name}")
        if legacy is not None:
            return legacy
    if isinstance(inspect.getattr_static(model, name, None), property):
        return None
    return getattr(model, name, None)


def model_contract(model: Any) -> Contract:
    """The contract a model (instance or class) declares: ``input_fields``/``output_fields`` of
    :class:`Field`, or (deprecated) ``irreps_in``/``irreps_out`` strings, normalised."""
    ins = _fields(getattr(model, "input_fields", None))
    outs = _fields(getattr(model, "output_fields", None))
    legacy = False
    if ins is None and outs is None:
        raw_in, raw_out = _declared(model, "irreps_in"), _declared(model, "irreps_out")
        if (isinstance(raw_in, Mapping) and raw_in) or (isinstance(raw_out, Mapping) and raw_out):
            legacy = True
            cls = model if isinstance(model, type) else type(model)
            if cls not in _WARNED:
                _WARNED.add(cls)
                warnings.warn(
                    f"{cls.__name__} declares irreps_in/irreps_out strings; declare input_fields/"
                    "output_fields with symzoo Field objects instead (the strings are deprecated)",
                    DeprecationWarning,
                    stacklevel=2,
                )
            ins = {str(k): Field(rep_from_irreps(v)) for k, v in (raw_in or {}).items()}
            outs = {str(k): Field(rep_from_irreps(v)) for k, v in (raw_out or {}).items()}
    sym: Any = getattr(model, "symmetry", frozenset())
    return Contract(
        inputs=ins or {},
        outputs=outs or {},
        optional=frozenset(getattr(model, "optional_inputs", ()) or ()),
        symmetry=frozenset(sym) if isinstance(sym, (set, frozenset, tuple, list)) else frozenset(),
        legacy=legacy,
    )


def contract_problem(contract: Contract, task: Any) -> str | None:
    """Why a model with ``contract`` cannot run on ``task`` (a sentence), or ``None`` when it can:
    every required input is a field the task provides, at the same level and with a representation
    the model accepts, and the model returns an output the task trains on (with the declared
    representation).  The group enters through the representations: each belongs to a kind of
    group (a ``POSITION`` to Euclidean groups, a ``GridRep``/``ShiftRep``/``MatrixRep`` to its
    finite group), and models built from a task's group check it in their ``fit_problem``.
    Legacy contracts are checked by field name only."""
    provided: Mapping[str, Any] = getattr(task, "input_fields", {}) or {}
    wanted: Mapping[str, Any] = getattr(task, "output_fields", {}) or {}
    missing = sorted(contract.required - set(provided))
    if missing:
        return (
            f"it needs input field(s) {', '.join(missing)} but the task provides "
            f"{', '.join(sorted(provided)) or 'none'}"
        )
    if contract.outputs and wanted and not (set(contract.outputs) & set(wanted)):
        return f"it returns {', '.join(sorted(contract.outputs))} but the task trains on {', '.join(sorted(wanted))}"
    if contract.legacy:
        return None
    for what, mine, theirs in (("input", contract.inputs, provided), ("output", contract.outputs, wanted)):
        for name, f in mine.items():
            t = theirs.get(name)
            if not isinstance(t, Field):
                continue
            if f.level != t.level:
                return f"its {what} {name!r} is {f.level}-level but the task declares it {t.level}-level"
            if not rep_fits(f.rep, t.rep):
                return f"its {what} {name!r} is declared {f.rep.name} but the task declares {t.rep.name}"
    return None


def describe_task_fields(task: Any) -> dict[str, Any]:
    """A JSON description of a task instance's fields (``name``, ``domain``, ``group``,
    ``inputs``/``outputs``: ``{field: {"rep", "level", "shape"}}``), what a builder that builds from
    a task's fields records in ``model.json`` (:class:`TaskView` reads it back)."""

    def one(f: Field) -> dict[str, Any]:
        return {"rep": f.rep.name, "level": f.level, "shape": None if f.shape is None else list(f.shape)}

    return {
        "name": str(getattr(task, "name", "")),
        "domain": str(getattr(task, "domain", "")),
        "group": repr(getattr(task, "group", "")),
        "inputs": {k: one(f) for k, f in (getattr(task, "input_fields", {}) or {}).items()},
        "outputs": {k: one(f) for k, f in (getattr(task, "output_fields", {}) or {}).items()},
    }


class TaskView:
    """The fields of a task read back from :func:`describe_task_fields` (representations by name:
    a :class:`RepKind` per field), enough for :func:`contract_problem` and for building a model."""

    def __init__(self, description: Mapping[str, Any]):
        d = dict(description)
        if not isinstance(d.get("inputs"), Mapping) or not isinstance(d.get("outputs"), Mapping):
            raise ValueError(
                "a task description needs 'inputs' and 'outputs' mappings "
                "(symzoo.contract.describe_task_fields(task))"
            )
        self.name, self.domain = str(d.get("name", "")), str(d.get("domain", ""))
        self.group = str(d.get("group", ""))

        def field_of(v: Any) -> Field:
            v = dict(v) if isinstance(v, Mapping) else {"rep": str(v)}
            name = str(v.get("rep", "any"))
            shape = v.get("shape")
            return Field(
                RepKind(name, names=(name,)),
                str(v.get("level", "node")),
                shape=None if shape is None else tuple(int(s) for s in shape),
            )

        self.input_fields = {str(k): field_of(v) for k, v in d["inputs"].items()}
        self.output_fields = {str(k): field_of(v) for k, v in d["outputs"].items()}

    def __repr__(self) -> str:
        return f"TaskView({self.name!r})"
