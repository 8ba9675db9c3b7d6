"""torch.hub entry points: ``torch.hub.load(REPO_OR_CLONE, NAME, source=...)``.

Two kinds of entries:

- every pretrained zoo entry, ``"egnn.nbody-charged"`` (verified weights; ``pretrained=False``
  builds the same architecture untrained, ``pretrained=False, **kwargs`` changes it);
- every registered architecture, ``"egnn"``, ``"nequip"``, ...: ``torch.hub.load(repo, "egnn",
  hidden=32)`` is ``symzoo.create_model("egnn", hidden=32)`` (untrained).

Works from a plain clone, without ``pip install``: the package is spread over the repository's
rooms (``symzoo.models`` is ``models/``, ``symzoo.datasets`` is ``datasets/``, ...; the
``package-dir`` mapping of ``pyproject.toml``), so this file installs an import finder for that
mapping before importing symzoo, unless symzoo is already imported in this process.  The
dependencies (torch, e3nn, torch_geometric, ...) must be installed.
"""

import importlib.abc
import importlib.util
import sys
from pathlib import Path as _Path

dependencies = ["torch", "safetensors", "e3nn", "torch_geometric", "omegaconf", "yaml"]

_ROOT = _Path(__file__).resolve().parent
#: fallback when pyproject.toml cannot be parsed (kept equal to it by tests/symzoo/test_hub_clone.py)
_PACKAGE_DIRS = {
    "symzoo": "symzoo",
    "symzoo.models": "models",
    "symzoo.datasets": "datasets",
    "symzoo.train": "train",
    "symzoo.eval": "eval",
    "symzoo.zoo": "zoo",
    "symzoo.configs": "configs",
}


def _package_dirs() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return dict(_PACKAGE_DIRS)
    try:
        with open(_ROOT / "pyproject.toml", "rb") as f:
            return dict(tomllib.load(f)["tool"]["setuptools"]["package-dir"])
    except (OSError, KeyError, ValueError):
        return dict(_PACKAGE_DIRS)


class _CloneFinder(importlib.abc.MetaPathFinder):
    """Finds the packages of the ``package-dir`` mapping in this clone (submodules are then found
    through each package's ``__path__``)."""

    def __init__(self, root: _Path, mapping: dict):
        self.root, self.mapping = root, mapping

    def find_spec(self, name, path=None, target=None):
        rel = self.mapping.get(name)
        if rel is None:
            return None
        folder = self.root / rel
        init = folder / "__init__.py"
        if not init.is_file():
            return None
        return importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])


if "symzoo" not in sys.modules and not any(
    isinstance(f, _CloneFinder) and f.root == _ROOT for f in sys.meta_path
):
    sys.meta_path.insert(0, _CloneFinder(_ROOT, _package_dirs()))

from symzoo.hub import hub_entrypoints as _hub_entrypoints  # noqa: E402
from symzoo.registry import create_model as _create_model  # noqa: E402
from symzoo.registry import list_models as _list_models  # noqa: E402


def _architecture(name: str):
    def entry(pretrained: bool = False, **kwargs):
        if pretrained:
            raise ValueError(
                f"{name!r} is an architecture; pretrained weights are entries such as "
                f"{name}.<task> (torch.hub.list shows them)"
            )
        return _create_model(name, **kwargs)

    entry.__name__ = name
    entry.__doc__ = f"untrained symzoo architecture {name!r}: symzoo.create_model({name!r}, **kwargs)"
    return entry


globals().update({n: _architecture(n) for n in _list_models()})
globals().update(_hub_entrypoints())
