"""Reading and writing atomistic structures: the data search path, rMD17-style ``.npz`` files
(units declared, never assumed), ASE-readable files (extxyz, ...), and the dataset cache.

A structure is a PyG ``Data`` with ``pos [n, 3]`` (Å), ``z [n]``, ``energy [1]`` (eV), ``forces
[n, 3]`` (eV/Å) and, for periodic systems, ``cell [1, 3, 3]`` and ``pbc [1, 3]`` (see
:mod:`symzoo.datasets.atoms`).  ``io < simulators < tasks``.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from symzoo.errors import InputError, SymzooError
from symzoo.paths import atomic_path

log = logging.getLogger(__name__)


#: 1 kcal/mol in eV (the rMD17 protocol's conversion)
KCAL_MOL_TO_EV = 0.0433641


#: the data files that ship with the package (rMD17 split 01, CC0; 3BPA training files, MIT)
BUNDLED_DATA = Path(__file__).resolve().parent.parent / "data"


def data_search_path(root: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for reference data, in order: ``root``, ``$SYMZOO_DATA``, the data bundled
    with the package (:data:`BUNDLED_DATA`), ``SYMZOO_HOME/datasets`` (downloads)."""
    from symzoo.paths import home

    paths = []
    if root:
        paths.append(Path(root).expanduser())
    if os.environ.get("SYMZOO_DATA"):
        paths.append(Path(os.environ["SYMZOO_DATA"]).expanduser())
    paths.append(BUNDLED_DATA)
    paths.append(home() / "datasets")  # files fetched by a loader's download option
    return paths


def find_data(relpath: str, root: str | os.PathLike | None = None) -> Path:
    """The first ``<folder>/relpath`` that exists on the data search path, else a ``SymzooError``."""
    places = data_search_path(root)
    for p in places:
        if (p / relpath).exists():
            return p / relpath
    raise SymzooError(
        f"data file {relpath!r} not found in {', '.join(str(p) for p in places)} "
        f"(set data.task_args.root=DIR or $SYMZOO_DATA)"
    )


def make_structure(pos, z, energy: float, forces, cell=None, pbc=None):
    """One structure as a PyG ``Data`` (float64 positions/energies/forces)."""
    from torch_geometric.data import Data

    for what, arr in (("positions", pos), ("atomic numbers", z), ("forces", forces), ("cell", cell)):
        if arr is not None and np.iscomplexobj(np.asarray(arr)):
            raise InputError(f"the {what} are complex numbers; give real values")
    zz = np.asarray(z)
    if zz.ndim != 1 or zz.dtype.kind not in "iuf" or not np.array_equal(zz, np.round(zz)) or (zz < 1).any():
        raise InputError(
            "atomic numbers (z) must be one whole number >= 1 per atom (a 1-D array), "
            f"got shape {list(zz.shape)}"
            + (f" with values like {zz.reshape(-1)[:3].tolist()}" if zz.size else "")
        )
    d = Data(
        pos=torch.as_tensor(np.asarray(pos), dtype=torch.float64),
        z=torch.as_tensor(zz, dtype=torch.long),
        energy=torch.tensor([float(energy)], dtype=torch.float64),
        forces=torch.as_tensor(np.asarray(forces), dtype=torch.float64),
    )
    if cell is not None:
        d.cell = torch.as_tensor(np.asarray(cell), dtype=torch.float64).reshape(1, 3, 3)
        d.pbc = torch.as_tensor(np.asarray(pbc, dtype=bool)).reshape(1, 3)
    return d


#: structures with two atoms closer than this (Å) are refused when read (the models' default
#: ``min_distance``); the message names the file and the structure index
MIN_ATOM_DISTANCE = 0.5


def _check_structure(d, where: str) -> None:
    n = d.pos.shape[0]
    if n == 0:
        raise InputError(f"{where}: a structure has no atoms")
    if d.pos.shape != (n, 3) or d.forces.shape != (n, 3):
        raise InputError(
            f"{where}: positions and forces must be [n_atoms, 3], got {list(d.pos.shape)} and "
            f"{list(d.forces.shape)}"
        )
    for key in ("pos", "energy", "forces"):
        if not torch.isfinite(getattr(d, key)).all():
            raise InputError(f"{where}: {key} contains NaN or inf values")
    if d.z.shape != (n,):
        raise InputError(f"{where}: {n} positions but {list(d.z.shape)} atomic numbers")
    cell, pbc = getattr(d, "cell", None), getattr(d, "pbc", None)
    if cell is not None and pbc is not None and bool(pbc.any()):
        periodic = cell.reshape(3, 3)[pbc.reshape(3)]
        if not torch.isfinite(periodic).all() or int(torch.linalg.matrix_rank(periodic)) < int(pbc.sum()):
            raise InputError(
                f"{where}: the periodic cell is degenerate (zero or parallel lattice vectors on a periodic "
                "axis); give the lattice vectors in Å, or pbc=F for a molecule"
            )
    if n > 1:
        dist = torch.cdist(d.pos, d.pos) + torch.eye(n, dtype=d.pos.dtype) * 1e9
        k = int(dist.argmin())
        i, j, dmin = k // n, k % n, float(dist.reshape(-1)[k])
        if dmin < MIN_ATOM_DISTANCE:
            raise InputError(
                f"{where}: atoms {i} and {j} are {dmin:.3g} Å apart, closer than {MIN_ATOM_DISTANCE} Å "
                "(duplicated atoms, or coordinates not in Å?)"
            )


def _declared(f, key: str, path: Path) -> str | None:
    """A unit string stored in the npz itself (``np.savez(..., energy_unit="eV")``), or ``None``."""
    if key not in f.files:
        return None
    v = f[key]
    if v.dtype.kind not in "US" or v.size != 1:
        raise InputError(f"{path}: {key!r} must be a string such as 'eV', got an array of {v.dtype}")
    return str(v.reshape(-1)[0].decode() if v.dtype.kind == "S" else v.reshape(-1)[0])


def _npz_unit(declared_arg: str | None, declared_file: str | None, key: str, path: Path) -> str:
    from ..atom_units import UNITS_HELP

    if declared_arg and declared_file and declared_arg.strip() != declared_file.strip():
        raise InputError(
            f"{path}: the file declares {key}={declared_file!r} but the task argument says "
            f"{declared_arg!r}; remove one"
        )
    unit = declared_arg or declared_file
    if not unit:
        raise InputError(
            f"{path}: the npz declares no {key.replace('_', ' ')}; units are never assumed: declare "
            "them with data.task_args.energy_unit=... data.task_args.forces_unit=... (e.g. eV and "
            f"eV/Å, or kcal/mol and kcal/mol/Å) or store energy_unit/forces_unit strings in the npz "
            f"({UNITS_HELP})"
        )
    return unit


def read_npz(
    path: str | os.PathLike,
    *,
    energy_unit: str | None = None,
    forces_unit: str | None = None,
    length_unit: str = "Å",
    frames: Sequence[int] | None = None,
) -> list:
    """An rMD17-style ``.npz`` (``nuclear_charges``, ``coords``, ``energies``, ``forces``; or MD17's
    ``z``, ``R``, ``E``, ``F``) as a list of structures in eV and Å (only the frames with the
    indices ``frames``, in that order, when given).

    Units are never assumed (:mod:`symzoo.datasets.atom_units`): ``energy_unit`` and ``forces_unit``
    (e.g. ``"kcal/mol"``, ``"kcal/mol/Å"``) or string entries of the same names in the file; a
    file without them is refused with an :class:`InputError` that says how to declare them.
    Coordinates are in ``length_unit`` (default Å)."""
    from ..atom_units import energy_factor, forces_factor, length_factor

    path = Path(path)
    try:
        with np.load(path) as f:
            keys = set(f.files)
            z = f["nuclear_charges"] if "nuclear_charges" in keys else f.get("z")
            coords = f["coords"] if "coords" in keys else f.get("R")
            energies = f["energies"] if "energies" in keys else f.get("E")
            forces = f["forces"] if "forces" in keys else f.get("F")
            file_units = (_declared(f, "energy_unit", path), _declared(f, "forces_unit", path))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        first = str(e).splitlines()[0][:100] if str(e).strip() else type(e).__name__
        raise SymzooError(f"{path}: not a readable .npz file ({first})") from None
    if z is None or coords is None:
        raise InputError(f"{path}: needs 'nuclear_charges' and 'coords' (rMD17) or 'z' and 'R' (MD17) arrays")
    if energies is None or forces is None:
        raise InputError(
            f"{path}: has no {'energies' if energies is None else 'forces'} "
            f"(rMD17 keys 'energies'/'forces', or MD17 'E'/'F')"
        )
    for what, arr in (("coords", coords), ("forces", forces), ("energies", energies), ("z", z)):
        if np.iscomplexobj(arr):
            raise InputError(f"{path}: {what} are complex numbers; give real values")
    ue = energy_factor(_npz_unit(energy_unit, file_units[0], "energy_unit", path))
    uf = forces_factor(_npz_unit(forces_unit, file_units[1], "forces_unit", path))
    energies = np.asarray(energies, dtype=np.float64).reshape(-1) * ue
    forces = np.asarray(forces, dtype=np.float64) * uf
    coords = np.asarray(coords, dtype=np.float64) * length_factor(length_unit)
    if (
        coords.ndim != 3
        or coords.shape[-1] != 3
        or forces.shape != coords.shape
        or len(energies) != len(coords)
    ):
        raise InputError(
            f"{path}: inconsistent shapes coords {coords.shape}, forces {forces.shape}, "
            f"energies {energies.shape}"
        )
    if len(coords) == 0:
        raise InputError(f"{path}: has no frames (coords {list(coords.shape)})")
    idx = range(len(coords)) if frames is None else [int(i) for i in frames]
    out = [make_structure(coords[i], z, energies[i], forces[i]) for i in idx]
    for i, d in zip(idx, out):
        _check_structure(d, f"{path} frame {i}")
    return out


def _calc_results(at) -> dict:
    calc = getattr(at, "calc", None)
    return dict(getattr(calc, "results", None) or {})


def _labelled(at, key: str, where: str):
    """The label ``key`` of ``at``: ``atoms.info[key]`` (``where="info"``) or ``atoms.arrays[key]``
    (``"arrays"``), else the result of that name ASE's reader moved onto a ``SinglePointCalculator``
    (extxyz puts ``energy``, ``free_energy``, ``forces``, ... there).  Never another key."""
    table = at.info if where == "info" else at.arrays
    if key in table:
        return table[key]
    res = _calc_results(at)
    if key in res:
        return res[key]
    if where == "info" and key == "energy" and "free_energy" in res:  # the default key only
        return res["free_energy"]
    return None


def _keys(at, where: str) -> str:
    table = at.info if where == "info" else at.arrays
    res = _calc_results(at)
    names = [k for k in table if k not in ("numbers", "positions")]
    names += [k for k, v in res.items() if (np.ndim(v) == (0 if where == "info" else 2)) and k not in names]
    return ", ".join(repr(k) for k in names) or "none"


def read_structures(
    path: str | os.PathLike,
    *,
    index: str = ":",
    energy_key: str = "energy",
    forces_key: str = "forces",
    energy_unit: str | None = None,
    forces_unit: str | None = None,
    length_unit: str | None = None,
) -> list:
    """Every structure of an ASE-readable file (extxyz, ...) or an rMD17-style ``.npz``.

    Units: an ``.npz`` must declare ``energy_unit`` and ``forces_unit`` (:func:`read_npz`); an
    ASE-readable file is in ASE's units, eV, eV/Å and Å, unless ``energy_unit`` / ``forces_unit``
    / ``length_unit`` declare others (e.g. an extxyz written by a code in Hartree and Bohr).

    The energy is ``atoms.info[energy_key]`` and the forces ``atoms.arrays[forces_key]``; a key
    that ASE's reader moved onto the attached calculator (extxyz does so for ``energy`` and
    ``forces``) is read from its results under the same name.  Only the requested keys are read:
    ``energy_key="REF_energy"`` never falls back to the calculator's ``energy``.  A structure without
    them is a one-line ``InputError`` naming the keys it has.  Periodic structures keep their cell;
    others drop it.
    """
    path = Path(path)
    if not path.is_file():
        raise SymzooError(f"{path} does not exist")
    if path.suffix == ".npz":
        return read_npz(
            path, energy_unit=energy_unit, forces_unit=forces_unit, length_unit=length_unit or "Å"
        )
    from ..atom_units import energy_factor, forces_factor, length_factor

    ue = energy_factor(energy_unit or "eV")
    uf = forces_factor(forces_unit or "eV/Å")
    ul = length_factor(length_unit or "Å")
    import ase.io

    try:
        frames = ase.io.read(str(path), index=index)
    except Exception as e:
        raise SymzooError(
            f"{path}: cannot read structures ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
        ) from None
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise InputError(f"{path}: contains no structures")
    out = []
    for i, at in enumerate(frames):
        e_raw = _labelled(at, energy_key, "info")
        f = _labelled(at, forces_key, "arrays")
        if e_raw is None:
            raise InputError(
                f"{path}: structure {i} has no energy {energy_key!r} "
                f"(its per-structure keys: {_keys(at, 'info')}; set data.task_args.energy_key)"
            )
        if f is None:
            raise InputError(
                f"{path}: structure {i} has no forces {forces_key!r} "
                f"(its per-atom keys: {_keys(at, 'arrays')}; set data.task_args.forces_key)"
            )
        periodic = bool(np.any(at.pbc))
        try:
            energy, f = float(e_raw), np.asarray(f, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"{path}: structure {i}: energy {energy_key!r} and forces {forces_key!r} must be numbers, "
                f"got energy {str(e_raw)[:20]!r}"
            ) from None
        d = make_structure(
            at.positions * ul,
            at.numbers,
            energy * ue,
            f * uf,
            at.cell.array * ul if periodic else None,
            at.pbc if periodic else None,
        )
        _check_structure(d, f"{path} structure {i}")
        out.append(d)
    cells = [hasattr(d, "cell") for d in out]
    if any(cells) and not all(cells):
        raise InputError(f"{path}: mixes periodic and non-periodic structures; split it into two files")
    return out


def _save_structures(path: Path, structures: list) -> None:
    arrays = {
        "n_atoms": np.array([d.pos.shape[0] for d in structures]),
        "pos": np.concatenate([d.pos.numpy() for d in structures]),
        "z": np.concatenate([d.z.numpy() for d in structures]),
        "energy": np.array([float(d.energy) for d in structures]),
        "forces": np.concatenate([d.forces.numpy() for d in structures]),
    }
    if hasattr(structures[0], "cell"):
        arrays["cell"] = np.stack([d.cell.numpy()[0] for d in structures])
        arrays["pbc"] = np.stack([d.pbc.numpy()[0] for d in structures])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def _load_structures(path: Path) -> list:
    with np.load(path) as f:
        a = {k: f[k] for k in f.files}
    offs = np.concatenate([[0], np.cumsum(a["n_atoms"])])
    out = []
    for i in range(len(a["n_atoms"])):
        s = slice(offs[i], offs[i + 1])
        out.append(
            make_structure(
                a["pos"][s],
                a["z"][s],
                a["energy"][i],
                a["forces"][s],
                a["cell"][i] if "cell" in a else None,
                a["pbc"][i] if "pbc" in a else None,
            )
        )
    return out
