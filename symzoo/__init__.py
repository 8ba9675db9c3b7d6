"""symzoo: a physics-informed equivariant model zoo.

Public API::

    symzoo.list_models(); symzoo.list_tasks()
    model = symzoo.create_model("egnn", hidden=64)
    task = symzoo.get_task("nbody-charged", preset="tiny")

Heavy third-party parts (Lightning, escnn, ASE) are imported only where they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
]
