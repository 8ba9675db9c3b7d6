"""Plugins: a user's own models and tasks in every command and every worker process.

Three ways in, all equivalent once loaded:

* **Entry points** of an installed package (``pip install -e my_pkg``)::

      [project.entry-points."symzoo.models"]
      my-egnn = "my_pkg.models:build_my_egnn"     # a builder: registered under "my-egnn"
      [project.entry-points."symzoo.tasks"]
      my-task = "my_pkg.tasks"                    # a module: imported, its decorators register

  An entry point's value is either a module (imported; its ``@register_model`` /
  ``@register_task`` decorators do the registering) or a callable, registered under the entry
  point's name (a model builder for ``symzoo.models``, a task factory for ``symzoo.tasks``).
* **Modules named at run time**: ``symzoo --import my_models ...`` (repeatable, or
  comma-separated) or the environment variable ``SYMZOO_PLUGINS=my_models,other_pkg.models``.
  The current directory is searched too, as ``python -m`` does.
* **``module:builder``** wherever a model name is accepted (``symzoo train nbody-charged
  my_models:build_net``, ``compare --models egnn,my_models:build_net``, recipes, leaderboard
  recipes): the builder is imported and registered under that full name, which is also what
  ``model.json`` records, so a saved run rebuilds it the same way.

Built-in models and tasks are always registered first; a plugin that registers one of their names
is refused (:class:`PluginError`) instead of silently replacing it.  A plugin that fails to import
is a one-line :class:`PluginError` that names it (exit status 2 on the command line).

Worker processes (``compare --jobs N``'s process pool, Dask workers) call
:func:`activate` with :func:`worker_spec` of the submitting process: they import the same plugin
modules (entry points are found by every process of the same environment).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from . import registry
from .errors import PluginError, SymzooError
from .registry import is_builtin_module

__all__ = [
    "PluginError",
    "ENV_VAR",
    "GROUPS",
    "add_plugin_modules",
    "load_plugins",
    "import_plugin",
    "resolve_builder",
    "plugin_modules",
    "worker_spec",
    "activate",
    "split_modules",
    "is_builtin_module",
]

log = logging.getLogger(__name__)

#: the environment variable naming plugin modules (comma-, space- or os.pathsep-separated)
ENV_VAR = "SYMZOO_PLUGINS"
#: entry point groups: name -> what a callable value is registered as
GROUPS = {"symzoo.models": "model", "symzoo.tasks": "task"}

_imported: list[str] = []  # modules imported as plugins in this process, in order
_paths: list[str] = []  # folders put on sys.path to import them (sent to workers)
_entry_points_loaded = False
#: callables registered from entry points: (kind, name, "module:attr", source), sent to workers
_entries: list[tuple[str, str, str, str]] = []


def split_modules(text: str | Iterable[str] | None) -> list[str]:
    """``"a,b c"`` (or a list of such strings) -> ``["a", "b", "c"]``, order kept, no duplicates."""
    if text is None:
        return []
    items = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in items:
        for part in str(item).replace(os.pathsep, ",").replace(" ", ",").split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def import_plugin(module: str) -> ModuleType:
    """Import ``module`` as a plugin (its registrations happen on import).  A failure is one
    :class:`PluginError` line naming the module; the current directory is searched as well."""
    module = module.strip()
    if not module or not all(p.isidentifier() for p in module.split(".")):
        raise PluginError(f"plugin {module!r} is not a Python module name (e.g. my_models or pkg.models)")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        cwd = os.getcwd()
        top = module.split(".")[0]
        if (
            e.name == top
            and cwd not in sys.path
            and (Path(cwd, f"{top}.py").is_file() or Path(cwd, top, "__init__.py").is_file())
        ):
            sys.path.insert(0, cwd)
            if cwd not in _paths:
                _paths.append(cwd)
            return import_plugin(module)
        raise PluginError(
            f"plugin {module!r} failed to import: {_first_line(e)} "
            "(is it installed, or on PYTHONPATH / in the current directory?)"
        ) from None
    except SymzooError as e:  # e.g. it registers a built-in's name
        if isinstance(e, PluginError):
            raise
        raise PluginError(f"plugin {module!r} failed to import: {e}") from None
    except Exception as e:  # noqa: BLE001 -- whatever the user's module raised, one line
        raise PluginError(f"plugin {module!r} failed to import: {_first_line(e)}") from None
    if module not in _imported:
        _imported.append(module)
    return mod


def resolve_builder(spec: str) -> Any:
    """The object ``module:attr`` names (``attr`` may be dotted), imported as a plugin."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise PluginError(f"{spec!r}: write a plugin builder as module:function (e.g. my_models:build_net)")
    obj: Any = import_plugin(module)
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PluginError(f"plugin {module!r} has no {attr!r} (from {spec!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise PluginError(f"{spec!r} is not callable (a model builder returns an nn.Module)")
    return obj


def _entry_points(group: str):
    from importlib.metadata import entry_points

    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def _load_entry_points() -> None:
    """Load every ``symzoo.models`` / ``symzoo.tasks`` entry point of the environment once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True

    for group, kind in GROUPS.items():
        for ep in _entry_points(group):
            dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
            where = f"entry point {ep.name!r} ({group}, package {dist})"
            module = ep.value.split(":")[0].strip()
            try:
                obj = ep.load()
            except SymzooError as e:
                raise PluginError(f"plugin {where} failed to load: {e}") from None
            except Exception as e:  # noqa: BLE001
                raise PluginError(f"plugin {where} failed to load: {_first_line(e)}") from None
            if module not in _imported:
                _imported.append(module)
            if isinstance(obj, ModuleType):
                continue
            if not callable(obj):
                raise PluginError(f"plugin {where}: {ep.value!r} is neither a module nor a callable")
            _register(kind, ep.name, obj, f"{dist}:{ep.value}")
            entry = (kind, ep.name, ep.value.replace(" ", ""), f"{dist}:{ep.value}")
            if entry not in _entries:
                _entries.append(entry)


def _register(kind: str, name: str, obj: Any, source: str) -> None:
    if kind == "model":
        registry.register_plugin_model(name, obj, source=source)
    else:
        registry.register_plugin_task(name, obj, source=source)


def add_plugin_modules(modules: Iterable[str]) -> list[str]:
    """Name plugin modules for this process **and its children** (appended to ``SYMZOO_PLUGINS``,
    which spawned workers inherit); they are imported with the registries (:func:`load_plugins`)."""
    mods = split_modules(modules)
    have = split_modules(os.environ.get(ENV_VAR, ""))
    os.environ[ENV_VAR] = ",".join(have + [m for m in mods if m not in have])
    return mods


def load_plugins(*, refresh: bool = False) -> None:
    """Import every plugin: entry points, then ``SYMZOO_PLUGINS``.  Called by the registry right
    after the built-ins are registered (so a clash with a built-in name is always seen).
    ``refresh``: look for entry points again (a package installed since they were read)."""
    global _entry_points_loaded
    if refresh:
        _entry_points_loaded = False
    _load_entry_points()
    for module in split_modules(os.environ.get(ENV_VAR, "")):
        import_plugin(module)


def plugin_modules() -> list[str]:
    """The modules imported as plugins in this process (entry points', ``--import``'s and those of
    ``module:builder`` names), in import order."""
    return list(_imported)


def _module_root(module: str) -> str | None:
    """The ``sys.path`` folder ``module`` was imported from (``/x`` for ``a.b`` in ``/x/a/b.py``)."""
    mod = sys.modules.get(module)
    f = getattr(mod, "__file__", None)
    if not f:
        return None
    p = Path(f).resolve().parent
    depth = module.count(".") + (1 if Path(f).name == "__init__.py" else 0)
    for _ in range(depth):
        p = p.parent
    return str(p)


def worker_spec() -> dict:
    """What a worker process needs to see this process's plugins: the modules, and the folders
    they were imported from (a Dask worker on a shared disk finds them there even without this
    process's ``PYTHONPATH``)."""
    roots = [r for r in (_module_root(m) for m in _imported) if r]
    return {
        "modules": plugin_modules(),
        "paths": list(dict.fromkeys(list(_paths) + roots)),
        "entries": [list(e) for e in _entries],
    }


def activate(spec: dict | None) -> None:
    """In a worker: import the plugins of the submitting process (:func:`worker_spec`); folders
    it names are appended to ``sys.path`` when they exist here and are not on it yet."""
    if not spec:
        return
    for p in spec.get("paths") or ():
        if p not in sys.path and Path(p).is_dir():
            sys.path.append(p)
            if p not in _paths:
                _paths.append(p)
    mods = list(spec.get("modules") or ())
    entries = [tuple(e) for e in spec.get("entries") or ()]
    if mods or entries:
        from .registry import _MODELS, _TASKS, _load_all

        _load_all()  # built-ins first, so that clashes are reported as in the parent
        for m in mods:
            import_plugin(m)
        for kind, name, value, source in entries:  # entry points this process may not see
            if name not in (_MODELS if kind == "model" else _TASKS):
                _register(kind, name, resolve_builder(value), source)


# the registry calls the plugin loader through these hooks instead of importing this module (plugins
# register into the registry: they sit above it, and the registry does not import them);
# ``import symzoo`` imports this module, so the hooks are in place before any registry lookup
registry.set_plugin_hooks(load=load_plugins, resolve=resolve_builder)
