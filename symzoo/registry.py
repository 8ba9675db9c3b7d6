"""Registries of model builders and tasks (timm's ``register_model`` pattern).

Builders live in ``symzoo.models`` and tasks in ``symzoo.datasets``; both packages import their
submodules on first use of a registry, so registering is the only thing a new file has to do.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import SymzooError, UnknownNameError, suggest

__all__ = [
    "register_model",
    "register_task",
    "list_models",
    "list_tasks",
    "create_model",
    "get_task",
    "model_entry",
    "ModelEntry",
    "TaskEntry",
]


@dataclass
class ModelEntry:
    name: str
    builder: Callable[..., Any]
    description: str = ""
    domain: str = ""
    tags: tuple[str, ...] = ()


@dataclass
class TaskEntry:
    name: str
    factory: Callable[..., Any]
    pattern: re.Pattern | None = None
    description: str = ""
    example: str = ""
    meta: dict = field(default_factory=dict)
    members: tuple[str, ...] = ()  # a family's known members, listed by `symzoo list tasks`


_MODELS: dict[str, ModelEntry] = {}
_TASKS: dict[str, TaskEntry] = {}
_TASK_FAMILIES: list[TaskEntry] = []
_LOADED = False


def _load_all() -> None:
    """Import every module of ``symzoo.models`` and ``symzoo.datasets`` once."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for pkg_name in ("symzoo.models", "symzoo.datasets"):
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{pkg_name}.{info.name}")


def register_model(name: str, *, description: str = "", domain: str = "", tags: tuple[str, ...] = ()):
    """Decorator registering a model builder under ``name``.

    The builder takes keyword arguments only and returns an ``nn.Module`` that declares its
    symmetry contract (``symmetry``, ``irreps_in``, ``irreps_out``; see ``symzoo.models.base``).
    """

    def deco(fn):
        if name in _MODELS and _MODELS[name].builder is not fn:
            raise ValueError(f"model {name!r} is registered twice")
        doc = description or (inspect.getdoc(fn) or "").split("\n")[0]
        _MODELS[name] = ModelEntry(name, fn, doc, domain, tuple(tags))
        fn.model_name = name
        return fn

    return deco


def register_task(
    name: str,
    *,
    pattern: str | None = None,
    description: str = "",
    example: str = "",
    members: tuple[str, ...] = (),
):
    """Decorator registering a task factory.

    ``name`` is the concrete task name.  With ``pattern`` (a regex with groups, e.g.
    ``r"chain-pendulum-(\\d+)"``) the factory serves a family of names and receives the groups as
    positional arguments; ``example`` names one member for listings and ``members`` the known
    members (full task names, e.g. every rMD17 molecule), which ``list_tasks`` includes.
    """

    def deco(fn):
        doc = description or (inspect.getdoc(fn) or "").split("\n")[0]
        if pattern is None:
            if name in _TASKS and _TASKS[name].factory is not fn:
                raise ValueError(f"task {name!r} is registered twice")
            _TASKS[name] = TaskEntry(name, fn, None, doc)
        else:
            _TASK_FAMILIES.append(
                TaskEntry(name, fn, re.compile(f"^{pattern}$"), doc, example or name, members=tuple(members))
            )
        return fn

    return deco


def list_models(filter: str = "", *, domain: str | None = None) -> list[str]:
    """Names of the registered model builders (sorted), optionally containing ``filter``; with
    ``domain`` (a task's ``domain``, e.g. ``"nbody"``) only the models that take that task's batches."""
    _load_all()
    return sorted(n for n in _MODELS if filter in n and (domain is None or _MODELS[n].domain == domain))


def list_tasks(filter: str = "") -> list[str]:
    """Names of the registered tasks, with the known members (or one example) of each task family
    (sorted), optionally containing ``filter``."""
    _load_all()
    names = set(_TASKS) | {m for f in _TASK_FAMILIES for m in (f.members or (f.example,))}
    return sorted(n for n in names if filter in n)


def model_entry(name: str) -> ModelEntry:
    _load_all()
    base = name.split("+")[0]
    if base not in _MODELS:
        raise UnknownNameError(f"unknown model {name!r}{suggest(base, _MODELS)}; see `symzoo list models`")
    return _MODELS[base]


def create_model(name: str, **overrides: Any):
    """Build a registered model: ``create_model("egnn", hidden=32)``.

    Unknown keyword arguments raise a ``SymzooError`` naming the accepted ones.
    """
    entry = model_entry(name)
    sig = inspect.signature(entry.builder)
    accepts_var = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    if not accepts_var:
        bad = [k for k in overrides if k not in sig.parameters]
        if bad:
            raise SymzooError(
                f"model {entry.name!r} has no argument {bad[0]!r}{suggest(bad[0], sig.parameters)}; "
                f"accepted: {', '.join(sig.parameters)}"
            )
    model = entry.builder(**overrides)
    model.builder_name = entry.name
    model.builder_kwargs = dict(overrides)
    return model


def get_task(name: str, preset: str | None = None, **kwargs: Any):
    """Return the task ``name`` (a :class:`symzoo.task.Task`), optionally set to ``preset``."""
    _load_all()
    if name in _TASKS:
        task = _TASKS[name].factory(**kwargs)
    else:
        for fam in _TASK_FAMILIES:
            m = fam.pattern.match(name) if fam.pattern is not None else None
            if m:
                task = fam.factory(*m.groups(), **kwargs)
                break
        else:
            raise UnknownNameError(
                f"unknown task {name!r}{suggest(name, list_tasks())}; see `symzoo list tasks`"
            )
    if preset is not None:
        task.check_preset(preset)
        task.default_preset = preset
    return task
