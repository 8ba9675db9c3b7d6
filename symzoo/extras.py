"""Optional dependencies by domain (the ``pip install 'symzoo[EXTRA]'`` extras).

The core install (``pip install symzoo``) holds what every domain shares: torch, e3nn,
torch-geometric, Lightning, OmegaConf, safetensors, numpy, scipy, PyYAML, matplotlib (the
comparison plots) and tensorboardX (the default TensorBoard event files): enough for the N-body
tasks and the bundled rMD17 force fields.  Each domain's
third-party parts are an extra, imported only where a builder, task or command uses them:

| extra | packages (and what needs them) |
|---|---|
| ``atoms`` | ase, vesin (atomistic tasks, xyz files, periodic neighbour lists, MD) |
| ``robotics`` | mujoco, dm-control, escnn (robot tasks, MJCF/URDF, EMLP, finite groups) |
| ``robotics-pinocchio`` | pin, example-robot-data (the Solo-12 anchor ``solo-com``; 770 MB) |
| ``flows`` | escnn (steerable CNNs on grids, dihedral groups) |
| ``forecasting`` | escnn, dysts (attractor tasks' finite groups; any ``dysts`` system) |
| ``hamiltonian`` | escnn (the Z2 mirror of the spring and pendulum systems) |
| ``hub`` | huggingface_hub (``hf://`` pretrained sources) |
| ``cluster`` | dask, distributed (``--executor dask://HOST:PORT``) |
| ``wandb``, ``mlflow`` | the ``trainer.logger=wandb`` / ``mlflow`` loggers |
| ``docs`` | mkdocs, mkdocs-material, mkdocstrings (the documentation site) |
| ``all`` | every extra above except ``robotics-pinocchio``, ``wandb`` and ``mlflow`` |

:func:`require` imports a module of an extra or raises :class:`MissingExtra`, a
:class:`~symzoo.errors.SymzooError` whose one line names the extra to install (the CLI prints
``symzoo: error: ...`` and exits 2).  :func:`extra_for_module` maps a missing module (from a
``ModuleNotFoundError`` anywhere below a command) to its extra, so an import deep inside a
domain still ends in that one line.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from symzoo.errors import SymzooError

__all__ = [
    "EXTRAS",
    "MODULE_EXTRA",
    "MissingExtra",
    "extra_for_module",
    "installed",
    "missing_extra_message",
    "require",
]

#: extra -> the pip requirements it installs (kept in step with pyproject.toml by a test)
EXTRAS: dict[str, tuple[str, ...]] = {
    "atoms": ("ase", "vesin"),
    "robotics": ("mujoco", "dm-control", "escnn"),
    "robotics-pinocchio": ("pin", "example-robot-data"),
    "flows": ("escnn",),
    "hamiltonian": ("escnn",),
    "forecasting": ("escnn", "dysts"),
    "hub": ("huggingface_hub",),
    "cluster": ("dask", "distributed"),
    "wandb": ("wandb",),
    "mlflow": ("mlflow-skinny",),
    "docs": ("mkdocs", "mkdocs-material", "mkdocstrings"),
}

#: top-level import name -> (the extras that install it, what it is for); the first is named first
MODULE_EXTRA: dict[str, tuple[tuple[str, ...], str]] = {
    "ase": (("atoms",), "atomistic tasks and xyz files"),
    "vesin": (("atoms",), "neighbour lists of atomistic models"),
    "mujoco": (("robotics",), "robot simulators"),
    "dm_control": (("robotics",), "dm_control robot models"),
    # finite groups (escnn) serve four domains: robots' morphological symmetries, D4 on flow grids,
    # the attractors' C2/C3/Z_N, the pendulums' Z2 mirror
    "escnn": (("robotics", "flows", "forecasting", "hamiltonian"), "finite symmetry groups"),
    "pinocchio": (("robotics-pinocchio",), "the Solo-12 anchor"),
    "example_robot_data": (("robotics-pinocchio",), "the Solo-12 anchor"),
    "dysts": (("forecasting",), "dysts systems"),
    "huggingface_hub": (("hub",), "hf:// pretrained sources"),
    "dask": (("cluster",), "the dask executor"),
    "distributed": (("cluster",), "the dask executor"),
    "wandb": (("wandb",), "trainer.logger=wandb"),
    "mlflow": (("mlflow",), "trainer.logger=mlflow"),
}


class MissingExtra(SymzooError):
    """An optional dependency is not installed; the message names the extra that installs it."""

    def __init__(self, module: str, extras: tuple[str, ...], purpose: str = ""):
        self.module, self.extra, self.extras = module, extras[0], extras
        super().__init__(missing_extra_message(module, extras, purpose))


def missing_extra_message(module: str, extras: tuple[str, ...], purpose: str = "") -> str:
    """The one line a user reads when ``module`` (installed by any of ``extras``) is missing."""
    what = f" ({purpose})" if purpose else ""
    msg = f"{module}{what} is not installed: pip install 'symzoo[{extras[0]}]'"
    if len(extras) > 1:
        msg += f" (or {', '.join(f'[{e}]' for e in extras[1:])}: each installs it)"
    return msg


def extra_for_module(name: str | None) -> tuple[tuple[str, ...], str] | None:
    """``(extras, purpose)`` for a (possibly dotted) module name of an optional dependency, else None."""
    if not name:
        return None
    return MODULE_EXTRA.get(name.split(".")[0])


def installed(extra: str) -> bool:
    """Whether every distribution of ``extra`` is installed (by its distribution metadata, so a
    data-only package such as ``example-robot-data``, which has no importable module, counts too).

    >>> installed("robotics-pinocchio")  # doctest: +SKIP
    True
    """
    from importlib import metadata

    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; one of {', '.join(EXTRAS)}")
    for requirement in EXTRAS[extra]:
        try:
            metadata.distribution(requirement)
        except metadata.PackageNotFoundError:
            return False
    return True


def require(extra: str, module: str) -> ModuleType:
    """Import ``module`` (of the optional ``extra``) or raise :class:`MissingExtra` naming the extra.

    >>> require("atoms", "ase")  # doctest: +SKIP
    <module 'ase' ...>
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; one of {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        # only the module itself (or its top package) missing: a broken dependency *inside* an
        # installed package is a different error and keeps its own message
        if e.name is None or module.split(".")[0] != e.name.split(".")[0]:
            raise
        known = extra_for_module(module)
        extras: tuple[str, ...] = (extra,)
        purpose = ""
        if known and extra in known[0]:
            extras, purpose = (extra, *[x for x in known[0] if x != extra]), known[1]
        raise MissingExtra(module.split(".")[0], extras, purpose) from None
