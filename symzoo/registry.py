"""Registries of model builders and tasks (timm's ``register_model`` pattern).

Builders live in ``symzoo.models`` and tasks in ``symzoo.datasets``; both packages import their
submodules on first use of a registry, so registering is the only thing a new file has to do.
Plugins (entry points ``symzoo.models`` / ``symzoo.tasks``, ``--import``, ``SYMZOO_PLUGINS``,
``module:builder`` names; see :mod:`symzoo.plugins`) are loaded right after the built-ins, and an
entry's ``plugin`` field names where a non-built-in one came from.  A plugin cannot replace a
built-in name: registering one is a :class:`~symzoo.errors.PluginError`.  The plugin loader
(:mod:`symzoo.plugins`) sits above the registry: it registers into it, and the registry reaches it
only through the hooks it installs (:func:`set_plugin_hooks`).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import PluginError, SymzooError, UnknownNameError, suggest

__all__ = [
    "register_model",
    "register_task",
    "list_models",
    "list_tasks",
    "create_model",
    "get_task",
    "model_entry",
    "model_fit_problem",
    "task_entry",
    "register_model_defaults",
    "load_builtins",
    "model_defaults_for",
    "is_plugin_model",
    "register_plugin_model",
    "register_plugin_task",
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
    plugin: str | None = None  # where a model that is not built in comes from (module or package)


@dataclass
class TaskEntry:
    name: str
    factory: Callable[..., Any]
    pattern: re.Pattern | None = None
    description: str = ""
    example: str = ""
    meta: dict = field(default_factory=dict)
    members: tuple[str, ...] = ()  # a family's known members, listed by `symzoo list tasks`
    plugin: str | None = None  # where a task that is not built in comes from (module or package)
    args: Any = None  # declared task arguments (symzoo.taskargs.ArgSchema); None: from the signature


_MODELS: dict[str, ModelEntry] = {}
_TASKS: dict[str, TaskEntry] = {}
_TASK_FAMILIES: list[TaskEntry] = []
_LOADED = False


def _load_all() -> None:
    """Import every module of ``symzoo.models`` and ``symzoo.datasets`` once, then the plugins
    (:func:`symzoo.plugins.load_plugins`)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for pkg_name in ("symzoo.models", "symzoo.datasets"):
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{pkg_name}.{info.name}")
    _plugin_hook("load")()


def load_builtins() -> None:
    """Import every built-in model and dataset module (and the plugins) once: what a lookup does
    first.  Modules that register extensions (a robot simulator backend, a model family's task
    defaults) are found this way, by the registry, instead of being imported by their users."""
    _load_all()


def _source(fn) -> str | None:
    """``None`` for a builder/factory defined inside symzoo, else its module (a plugin)."""
    module = getattr(fn, "__module__", None)
    return None if is_builtin_module(module) else str(module)


def is_builtin_module(module: str | None) -> bool:
    """Whether ``module`` belongs to the symzoo package itself (its models, datasets, ...)."""
    return bool(module) and (module == "symzoo" or str(module).startswith("symzoo."))


#: ``load``: import every plugin (:func:`symzoo.plugins.load_plugins`); ``resolve``: the builder a
#: ``module:builder`` name names (:func:`symzoo.plugins.resolve_builder`)
_PLUGIN_HOOKS: dict[str, Callable[..., Any]] = {}


def set_plugin_hooks(*, load: Callable[[], None], resolve: Callable[[str], Any]) -> None:
    """Called by :mod:`symzoo.plugins` when it is imported (``import symzoo`` imports it)."""
    _PLUGIN_HOOKS.update(load=load, resolve=resolve)


def _plugin_hook(name: str) -> Callable[..., Any]:
    if name not in _PLUGIN_HOOKS:  # symzoo/__init__.py imports the loader; this is a safety net
        importlib.import_module("symzoo.plugins")
    return _PLUGIN_HOOKS[name]


def _same_definition(a, b) -> bool:
    """The same function re-created by re-importing its module (a plugin imported twice)."""
    return getattr(a, "__module__", 1) == getattr(b, "__module__", 2) and getattr(
        a, "__qualname__", 1
    ) == getattr(b, "__qualname__", 2)


def _clash(kind: str, name: str, old_plugin: str | None, new_plugin: str | None) -> Exception:
    if old_plugin is None or new_plugin is None:
        plugin = new_plugin or old_plugin
        return PluginError(
            f"plugin {plugin} registers {kind} {name!r}, which is a built-in symzoo {kind}; "
            "register it under another name (plugins cannot replace built-ins)"
        )
    return PluginError(f"{kind} {name!r} is registered by two plugins: {old_plugin} and {new_plugin}")


def _add_model(entry: ModelEntry) -> None:
    old = _MODELS.get(entry.name)
    if old is not None and old.builder is not entry.builder:
        if old.plugin is None and entry.plugin is None:
            raise ValueError(f"model {entry.name!r} is registered twice")
        if not (old.plugin == entry.plugin and _same_definition(old.builder, entry.builder)):
            raise _clash("model", entry.name, old.plugin, entry.plugin)
    _MODELS[entry.name] = entry


def _add_task(entry: TaskEntry) -> None:
    old = _TASKS.get(entry.name)
    if old is not None and old.factory is not entry.factory:
        if old.plugin is None and entry.plugin is None:
            raise ValueError(f"task {entry.name!r} is registered twice")
        if not (old.plugin == entry.plugin and _same_definition(old.factory, entry.factory)):
            raise _clash("task", entry.name, old.plugin, entry.plugin)
    if entry.plugin is not None:  # nor may a plugin task take a member name of a built-in family
        for fam in _TASK_FAMILIES:
            if fam.plugin is None and fam.pattern is not None and fam.pattern.match(entry.name):
                raise _clash("task", entry.name, None, entry.plugin)
    _TASKS[entry.name] = entry


def register_plugin_model(name: str, builder: Callable[..., Any], *, source: str) -> None:
    """Register ``builder`` under ``name`` for a plugin (an entry point or ``module:builder``).
    A ``domain`` attribute of the builder (e.g. ``build.domain = "nbody"``) is its domain."""
    doc = (inspect.getdoc(builder) or "").split("\n")[0]
    from .task import canonical_domain

    domain = getattr(builder, "domain", "")
    domain = canonical_domain(domain) if isinstance(domain, str) else ""
    _add_model(ModelEntry(name, builder, doc, domain, (), plugin=source))


def register_plugin_task(name: str, factory: Callable[..., Any], *, source: str) -> None:
    """Register a task ``factory`` under ``name`` for a plugin (an entry point)."""
    doc = (inspect.getdoc(factory) or "").split("\n")[0]
    _add_task(TaskEntry(name, factory, None, doc, plugin=source))


def register_model(name: str, *, description: str = "", domain: str = "", tags: tuple[str, ...] = ()):
    """Decorator registering a model builder under ``name``.

    The builder takes keyword arguments only and returns an ``nn.Module`` that declares its
    symmetry contract (``symmetry``, ``input_fields``, ``output_fields``: :class:`symzoo.task.Field`
    objects, as tasks declare theirs; see ``symzoo.models.base`` and :mod:`symzoo.contract`).  Its
    return annotation names that class, so ``list_models(task=...)`` can judge it without building.
    ``domain``: one word (:func:`symzoo.task.canonical_domain`), used for listings.
    """

    def deco(fn):
        from .task import canonical_domain

        doc = description or (inspect.getdoc(fn) or "").split("\n")[0]
        _add_model(ModelEntry(name, fn, doc, canonical_domain(domain), tuple(tags), plugin=_source(fn)))
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
    args: Any = None,
):
    """Decorator registering a task factory.

    ``name`` is the concrete task name.  With ``pattern`` (a regex with groups, e.g.
    ``r"chain-pendulum-(\\d+)"``) the factory serves a family of names and receives the groups as
    positional arguments; ``example`` names one member for listings and ``members`` the known
    members (full task names, e.g. every rMD17 molecule), which ``list_tasks`` includes.
    ``args``: the task's declared arguments (a :class:`symzoo.taskargs.ArgSchema`: types, ranges),
    checked by :func:`get_task` before the factory runs; without it, what the factory's signature
    says is checked.
    """

    def deco(fn):
        doc = description or (inspect.getdoc(fn) or "").split("\n")[0]
        if pattern is None:
            _add_task(TaskEntry(name, fn, None, doc, plugin=_source(fn), args=args))
        else:
            _TASK_FAMILIES.append(
                TaskEntry(
                    name,
                    fn,
                    re.compile(f"^{pattern}$"),
                    doc,
                    example or name,
                    members=tuple(members),
                    plugin=_source(fn),
                    args=args,
                )
            )
        return fn

    return deco


def _declared_class(builder: Callable[..., Any]) -> Any:
    """The class a builder's return annotation names (``None`` when it names none we can resolve)."""
    import typing

    try:
        cls = typing.get_type_hints(builder).get("return")
    except Exception:  # noqa: BLE001 - an unresolvable annotation declares nothing
        return None
    return cls if isinstance(cls, type) else None


def model_fit_problem(name: str, task: Any) -> str | None:
    """Why model ``name`` cannot be built on ``task`` (a task instance or name), or ``None`` when
    it can, decided from declarations only (nothing is built): the builder's own ``fit_problem``
    attribute, else that of the class its return annotation names
    (:meth:`symzoo.models.base.SymmetryContract.fit_problem`: the declared ``input_fields`` /
    ``output_fields`` against the task's fields and group), else the declared fields of that class
    (``irreps_in``/``irreps_out`` strings included, by name), else the builder's ``domain``."""
    from .contract import contract_problem, model_contract
    from .task import canonical_domain

    entry = model_entry(name)
    obj = get_task(task) if isinstance(task, str) else task
    check = getattr(entry.builder, "fit_problem", None)
    cls = _declared_class(entry.builder)
    if not callable(check) and cls is not None and hasattr(obj, "group"):
        check = getattr(cls, "fit_problem", None)
        if not callable(check):
            contract = model_contract(cls)
            if contract.inputs or contract.outputs:
                return contract_problem(contract, obj)
    if callable(check) and hasattr(obj, "group"):  # an unconfigured task (no data yet) has no fields
        return check(obj)
    mine, theirs = canonical_domain(entry.domain), canonical_domain(getattr(obj, "domain", ""))
    if mine and mine == theirs:
        return None
    return f"it declares no input/output fields, and its domain is {mine or 'not stated'}, not {theirs}"


def list_models(filter: str = "", *, domain: str | None = None, task: Any = None) -> list[str]:
    """Names of the registered model builders (sorted), optionally containing ``filter``.

    ``task`` (a task instance or name): only the models that can be built on it, judged from what
    they declare (:func:`model_fit_problem`: fields, representations and group against the task's);
    ``domain`` (e.g. ``"nbody"``; older spellings such as ``"forcefield"`` accepted): only the
    models registered for that domain.
    """
    _load_all()
    from .task import canonical_domain

    names = [n for n in _MODELS if filter in n]
    if domain is not None:
        want = canonical_domain(domain)
        names = [n for n in names if canonical_domain(_MODELS[n].domain) == want]
    if task is not None:
        obj = get_task(task) if isinstance(task, str) else task
        names = [n for n in names if model_fit_problem(n, obj) is None]
    return sorted(names)


def list_tasks(filter: str = "") -> list[str]:
    """Names of the registered tasks, with the known members (or one example) of each task family
    (sorted), optionally containing ``filter``."""
    _load_all()
    names = set(_TASKS) | {m for f in _TASK_FAMILIES for m in (f.members or (f.example,))}
    return sorted(n for n in names if filter in n)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of model ``name`` (``+aug`` ignored).  ``module:builder`` imports
    ``module`` as a plugin and registers ``builder`` under that full name."""
    if not isinstance(name, str):
        raise SymzooError(f"a model name is a string, got {type(name).__name__}")
    _load_all()
    base = name.split("+")[0]
    if base not in _MODELS and ":" in base:
        register_plugin_model(base, _plugin_hook("resolve")(base), source=base.split(":")[0])
    if base not in _MODELS:
        raise UnknownNameError(f"unknown model {name!r}{suggest(base, _MODELS)}; see `symzoo list models`")
    return _MODELS[base]


#: domain word -> ``fn(task, model_name) -> dict``: the builder arguments the models of a family take
#: from a task of that domain (``robotics``: ``task=<description of the task instance>``)
_MODEL_DEFAULTS: dict[str, Callable[[Any, str], dict[str, Any]]] = {}


def register_model_defaults(domain: str):
    """Decorator: ``fn(task, model_name) -> dict`` gives the builder arguments that models (of the
    module that registers it) take from a task of ``domain``.  Tasks ask for them by domain
    (:func:`model_defaults_for`), so a task never imports a model module (DESIGN.md section 7)."""

    def deco(fn):
        _MODEL_DEFAULTS[domain] = fn
        return fn

    return deco


def model_defaults_for(domain: str, task: Any, model_name: str) -> dict[str, Any]:
    """The builder arguments registered for ``domain`` (:func:`register_model_defaults`) for
    ``model_name`` on ``task``; ``{}`` when none are registered."""
    _load_all()
    fn = _MODEL_DEFAULTS.get(domain)
    return dict(fn(task, model_name)) if fn is not None else {}


def task_entry(name: str) -> TaskEntry | None:
    """The registry entry serving task ``name`` (its own or its family's), or ``None``."""
    _load_all()
    if name in _TASKS:
        return _TASKS[name]
    return next((f for f in _TASK_FAMILIES if f.pattern is not None and f.pattern.match(name)), None)


def is_plugin_model(name: str) -> bool:
    """Whether model ``name`` (``+aug`` ignored) comes from a plugin rather than symzoo itself."""
    try:
        return model_entry(name).plugin is not None
    except SymzooError:
        return False


def create_model(name: str, **overrides: Any):
    """Build a registered model: ``create_model("egnn", hidden=32)``.

    Unknown keyword arguments raise a ``SymzooError`` naming the accepted ones; an argument of
    another type than its default's (``hidden=1.5``) an ``InputError``.
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
    from .taskargs import check_arg_types

    check_arg_types(f"model {entry.name!r}", entry.builder, overrides)  # hidden=1.5 | True | 'abc'
    model = entry.builder(**overrides)
    model.builder_name = entry.name
    model.builder_kwargs = dict(overrides)
    return model


def get_task(name: str, preset: str | None = None, **kwargs: Any):
    """Return the task ``name`` (a :class:`symzoo.task.Task`), optionally set to ``preset``."""
    _load_all()
    groups: tuple[Any, ...] = ()
    if name in _TASKS:
        entry = _TASKS[name]
    else:
        for fam in _TASK_FAMILIES:
            m = fam.pattern.match(name) if fam.pattern is not None else None
            if m:
                entry, groups = fam, m.groups()
                break
        else:
            raise UnknownNameError(
                f"unknown task {name!r}{suggest(name, list_tasks())}; see `symzoo list tasks`"
            )
    from .taskargs import check_task_args, schema_from_signature

    # declared types and ranges before the factory runs (one line, exit 2; see symzoo.taskargs)
    schema = entry.args if entry.args is not None else schema_from_signature(entry.factory)
    kwargs = check_task_args(name, schema, kwargs)
    try:
        task = entry.factory(*groups, **kwargs)
    except TypeError as e:
        bad = re.search(r"unexpected keyword argument '(\w+)'", str(e))
        if bad is None:
            raise
        raise SymzooError(f"task {name!r} has no argument {bad.group(1)!r}") from None
    if preset is not None:
        task.check_preset(preset)
        task.default_preset = preset
    return task
