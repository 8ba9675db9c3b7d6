"""Energy, force and length units of atomistic data files, converted to symzoo's eV and Å.

Units are never assumed for a file format that has no convention: an ``.npz`` must declare its
energy and force units, either as task arguments (``data.task_args.energy_unit=kcal/mol
data.task_args.forces_unit=kcal/mol/Å``) or as string arrays stored in the file itself
(``np.savez(..., energy_unit="eV", forces_unit="eV/Å")``).  ASE-readable files (extxyz, ...) follow
ASE's unit system, in which energies are eV and forces eV/Å by definition (ASE's readers convert
on reading): they are read in eV and eV/Å unless ``energy_unit`` / ``forces_unit`` say otherwise.

Accepted names (case-insensitive; ``A``, ``Ang``, ``Angstrom`` and ``Å`` are the same length):

* energies: ``eV``, ``meV``, ``kcal/mol``, ``kJ/mol``, ``Hartree`` (``Ha``, ``Eh``), ``Ry``
  (``Rydberg``)
* lengths: ``Å``, ``Bohr`` (``a0``), ``nm``, ``pm``
* forces: ``<energy>/<length>``, e.g. ``eV/Å``, ``kcal/mol/Å``, ``Hartree/Bohr``, ``meV/Å``

``kcal/mol`` is 0.0433641 eV, the factor of the rMD17 protocol (CODATA: 0.04336410).
"""

from __future__ import annotations

from symzoo.errors import InputError

__all__ = ["ENERGY_UNITS", "LENGTH_UNITS", "energy_factor", "length_factor", "forces_factor", "UNITS_HELP"]

#: eV per unit
ENERGY_UNITS = {
    "ev": 1.0,
    "mev": 1e-3,
    "kcal/mol": 0.0433641,
    "kj/mol": 0.010364269656262175,
    "hartree": 27.211386245988,
    "ha": 27.211386245988,
    "eh": 27.211386245988,
    "ry": 13.605693122994,
    "rydberg": 13.605693122994,
}
#: Å per unit
LENGTH_UNITS = {
    "å": 1.0,
    "a": 1.0,
    "ang": 1.0,
    "angstrom": 1.0,
    "bohr": 0.529177210903,
    "a0": 0.529177210903,
    "nm": 10.0,
    "pm": 0.01,
}
UNITS_HELP = (
    "energy units: eV, meV, kcal/mol, kJ/mol, Hartree, Ry; forces: <energy>/<length> with length "
    "Å, Bohr, nm (e.g. eV/Å, kcal/mol/Å, Hartree/Bohr)"
)


def _norm(unit: str) -> str:
    return str(unit).strip().replace(" ", "").replace("Å", "å").lower()


def energy_factor(unit: str) -> float:
    """eV per ``unit`` (an :class:`InputError` naming the accepted units otherwise)."""
    u = _norm(unit)
    if u not in ENERGY_UNITS:
        raise InputError(f"unknown energy unit {unit!r}; {UNITS_HELP}")
    return ENERGY_UNITS[u]


def length_factor(unit: str) -> float:
    """Å per ``unit``."""
    u = _norm(unit)
    if u not in LENGTH_UNITS:
        raise InputError(f"unknown length unit {unit!r}; {UNITS_HELP}")
    return LENGTH_UNITS[u]


def forces_factor(unit: str) -> float:
    """eV/Å per ``unit`` (``<energy>/<length>``, e.g. ``kcal/mol/Å`` or ``Hartree/Bohr``)."""
    u = _norm(unit)
    if "/" in u:
        energy, length = u.rsplit("/", 1)
        if energy in ENERGY_UNITS and length in LENGTH_UNITS:
            return ENERGY_UNITS[energy] / LENGTH_UNITS[length]
    raise InputError(f"unknown forces unit {unit!r} (expected <energy>/<length>); {UNITS_HELP}")
