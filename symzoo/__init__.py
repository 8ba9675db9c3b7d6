"""symzoo: a physics-informed equivariant model zoo.

Public API::

    symzoo.list_models(); symzoo.list_tasks()
    model = symzoo.create_model("egnn", hidden=64)
    task = symzoo.get_task("nbody-charged", preset="tiny")

Heavy third-party parts (Lightning, escnn, ASE) are imported only where they are used.
"""

from __future__ import annotations

from . import plugins as _plugins  # noqa: F401  (installs the registry's plugin hooks)
from ._version import __version__
from .errors import InputError, SymzooError, UnknownNameError
from .registry import create_model, get_task, list_models, list_tasks, register_model, register_task

__all__ = [
    "__version__",
    "create_model",
    "get_task",
    "list_models",
    "list_tasks",
    "register_model",
    "register_task",
    "SymzooError",
    "InputError",
    "UnknownNameError",
    "list_pretrained",
    "load_pretrained",
    "pretrained_path",
]


def list_pretrained(filter: str = "") -> list[str]:
    """Names of the pretrained entries, ``arch.task`` (see ``symzoo.hub``)."""
    from .hub import list_pretrained as _list

    return _list(filter)


def load_pretrained(name: str, **kwargs):
    """A pretrained model from the zoo, verified by sha256 (bundled, cached or downloaded)."""
    from .hub import load_pretrained as _load

    return _load(name, **kwargs)


def pretrained_path(name: str, **kwargs):
    """The verified cache folder (``model.safetensors`` + ``model.json``) of a pretrained entry."""
    from .hub import pretrained_path as _path

    return _path(name, **kwargs)
