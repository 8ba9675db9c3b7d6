"""Atomistic force-field data and tasks (molecules and crystals, energies in eV, forces in eV/Å).

One package, three layers: :mod:`~symzoo.datasets.atoms.io` (files and the data search path),
:mod:`~symzoo.datasets.atoms.simulators` (ASE EMT), :mod:`~symzoo.datasets.atoms.tasks` (the task
base class :class:`AtomsTask` and the registered tasks ``rmd17-*``, ``rmd17-multi``, ``3bpa``,
``emt-cu``, ``xyz``; their documentation).  Every public name is importable from here, as it was
from the single module ``symzoo.datasets.atoms``.
"""

from .io import (
    BUNDLED_DATA,
    KCAL_MOL_TO_EV,
    MIN_ATOM_DISTANCE,
    data_search_path,
    find_data,
    make_structure,
    read_npz,
    read_structures,
)
from .simulators import simulate_emt_cu
from .tasks import (
    RMD17_BUNDLED,
    RMD17_MIRROR,
    RMD17_MOLECULES,
    RMD17_SHA256,
    AtomsTask,
    EMTCopperTask,
    RMD17MultiTask,
    RMD17Task,
    ThreeBPATask,
    XYZTask,
    emt_cu,
    rmd17,
    rmd17_multi,
    threebpa,
    xyz,
)

__all__ = [
    "AtomsTask",
    "BUNDLED_DATA",
    "EMTCopperTask",
    "KCAL_MOL_TO_EV",
    "MIN_ATOM_DISTANCE",
    "RMD17MultiTask",
    "RMD17Task",
    "RMD17_BUNDLED",
    "RMD17_MIRROR",
    "RMD17_MOLECULES",
    "RMD17_SHA256",
    "ThreeBPATask",
    "XYZTask",
    "data_search_path",
    "emt_cu",
    "find_data",
    "make_structure",
    "read_npz",
    "read_structures",
    "rmd17",
    "rmd17_multi",
    "simulate_emt_cu",
    "threebpa",
    "xyz",
]
