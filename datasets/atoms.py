"""Atomistic force-field tasks: energies (eV) and forces (eV/Å) of molecules and crystals.

Tasks
-----
``rmd17-<molecule>``  revised MD17 (Christensen & von Lilienfeld 2020) from ``rmd17/rmd17_<molecule>_{train,test}_01.npz``:
                      kcal/mol -> eV (× 0.0433641); train + validation from the train file (950 + 50 in
                      the ``small``/``paper`` presets), test on the 1000 frames of the test file.
``rmd17-multi``       several rMD17 molecules at once (``data.task_args.molecules=aspirin,ethanol,...``,
                      default the seven bundled ones; ``exclude=ethanol`` for leave-one-molecule-out):
                      per-molecule splits (small: 300 + 10 train/val, 100 test each), interleaved;
                      one level of theory, species H, C, N, O, per-species reference energies shared.
``3bpa``              3-(benzyloxy)pyridin-2-amine (Kovács et al. 2021): train/validation from
                      ``train_300K.xyz``, test on ``train_mixedT.xyz`` (300/600/1200 K: temperature transfer).
``emt-cu``            simulated offline with ASE's EMT: a periodic fcc copper cell sampled by Langevin MD;
                      train/validation at 300 and 600 K, test at 1200 K (temperature transfer).  Cached
                      under ``SYMZOO_HOME/datasets/emt-cu``.  Used by the ``tiny`` presets in CI.
``xyz``               any ASE-readable file with energies and forces (extxyz, ...) or an rMD17-style
                      ``.npz``: ``symzoo train xyz nequip data.task_args.path=my.xyz`` (keys and
                      units: :class:`XYZTask`, ``docs/byo_molecule.md``).

Where data lives (:func:`data_search_path`): the ``root`` task argument (``data.task_args.root=...``),
then ``$SYMZOO_DATA``, then the files bundled with the package (``symzoo/datasets/data``: split 01 of
seven rMD17 molecules, CC0, and the 3BPA training files, MIT; their licenses beside them), then
``SYMZOO_HOME/datasets`` where downloads go.  An rMD17 molecule is found in any folder of that path
in the mirror's layout (``rmd17/rmd17_<mol>_{train,test}_01.npz``) or as the published archive's
whole-molecule file (``rmd17/npz_data/rmd17_<mol>.npz``, ``rmd17_<mol>.npz``, ...; see
:mod:`symzoo.datasets.rmd17_files`).  Only a download needs a pinned checksum: the split files
of :data:`RMD17_SHA256` (or ``data.task_args.sha256.train/test``) are fetched from the
``andersx/rmd17-npz`` mirror; otherwise a missing molecule is a not-found error listing the
folders searched and the layouts expected.

Units are explicit (:mod:`symzoo.datasets.atom_units`): rMD17 files are kcal/mol and kcal/mol/Å
(converted with the protocol's 0.0433641); a user's ``.npz`` must declare ``energy_unit`` and
``forces_unit`` (refused otherwise, never assumed); extxyz and other ASE-readable files are in
ASE's units (eV, eV/Å, Å) unless declared otherwise.

Elements a pretrained model never saw: zero-shot evaluation (``symzoo eval NAME --task T``) is
refused by the model (one line naming the elements); fine-tuning onto them (``symzoo finetune``)
is accepted with a warning: the per-species reference energies and the energy scale are re-fitted
on the fine-tuning set and the new elements' embeddings start untrained.

A structure is a PyG ``Data`` with ``pos [n, 3]`` (Å), ``z [n]`` (atomic numbers), ``energy [1]``
(eV), ``forces [n, 3]`` (eV/Å) and, for periodic systems, ``cell [1, 3, 3]`` (rows are lattice
vectors, Å) and ``pbc [1, 3]``.  The radius graph is **not** stored: models build it from the
positions (``symzoo.models._atoms.neighbor_list``), so it is recomputed after any group action.

Symmetry: E(3) × permutations of same-species atoms (``perm_labels = "z"``); the cell rotates
with the atoms.  Loss: ``energy_weight · mean((ΔE / n_atoms)²) + forces_weight · mean(ΔF²)`` in
eV units.  Metrics (exact over the whole split, whatever the batch size: sums of absolute and squared errors
and their counts are accumulated, see :meth:`Task.metric_terms`): ``energy_mae_meV``, ``energy_rmse_meV``, ``energy_per_atom_mae_meV``,
``force_mae_meV_per_A``, ``force_rmse_meV_per_A`` (force errors over Cartesian components).
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from symzoo.errors import InputError, SymzooError
from symzoo.paths import atomic_path, dataset_cache_dir
from symzoo.registry import register_task
from symzoo.symmetry import POSITION, SCALAR, VECTOR, EuclideanGroup, canonical_frames
from symzoo.task import Field, Task

__all__ = [
    "KCAL_MOL_TO_EV",
    "AtomsTask",
    "find_data",
    "read_structures",
    "make_structure",
    "simulate_emt_cu",
    "RMD17_MOLECULES",
    "RMD17_BUNDLED",
    "RMD17MultiTask",
    "RMD17_MIRROR",
    "RMD17_SHA256",
    "BUNDLED_DATA",
]

log = logging.getLogger(__name__)

#: 1 kcal/mol in eV (the rMD17 protocol's conversion)
KCAL_MOL_TO_EV = 0.0433641
RMD17_MOLECULES = (
    "aspirin",
    "azobenzene",
    "benzene",
    "ethanol",
    "malonaldehyde",
    "naphthalene",
    "paracetamol",
    "salicylic",
    "toluene",
    "uracil",
)
#: the data files that ship with the package (rMD17 split 01, CC0; 3BPA training files, MIT)
BUNDLED_DATA = Path(__file__).resolve().parent / "data"
#: where rMD17 split files that are not on the data search path are downloaded from
RMD17_MIRROR = "https://raw.githubusercontent.com/andersx/rmd17-npz/master/rmd17-npz/"
#: sha256 of the published rMD17 split files (those bundled in ``BUNDLED_DATA/rmd17``); a download
#: is accepted only when it matches
RMD17_SHA256 = {
    "rmd17_aspirin_test_01.npz": "a3c3b61e782d01e6dd649a126004903f7873e8e7ee5034135abfdb8873be711d",
    "rmd17_aspirin_train_01.npz": "d460f0e43a1a9411b55cdcd9cdbeb9466ae62851ac91392516ab88e4ebc68143",
    "rmd17_ethanol_test_01.npz": "c3594a0f93d5992e02f9eb671392fb2e5021b3fa4f902417886966d1e4f64e1e",
    "rmd17_ethanol_train_01.npz": "096946747b8d9dcfa042b44f8debbd3da387dfe1586b659e3be789cc4927316a",
    "rmd17_malonaldehyde_test_01.npz": "147404574d4fe3204dea7eb3799426d264e36b7900012f27fd2d26a26832fdaf",
    "rmd17_malonaldehyde_train_01.npz": "95723385cdfd7f8446a84cdff607f14901e4c2b3949db7a965147dc5098d8ee1",
    "rmd17_naphthalene_test_01.npz": "80a19bca6aaa5cdf241007d6a7332e7b96a8e6ef362c1badcdb86a574ac3fe06",
    "rmd17_naphthalene_train_01.npz": "940f41110785fb0d3fa5feac68800cf4c68bd05fd55d563d3adacf5247d7688a",
    "rmd17_salicylic_test_01.npz": "4a03f66c719d7684f39620b2bae6842613482a86cdd4e6f95115ae4d37f03cc0",
    "rmd17_salicylic_train_01.npz": "9f96d79ec7a66dec666dbba60307c083ede80ecc919e0c9513ad9accfe43b5c0",
    "rmd17_toluene_test_01.npz": "8a658b9bf1b7a5c1abaa03846ee6302725e02bdcd2ab720ef94da0be55625faa",
    "rmd17_toluene_train_01.npz": "24d0642f897a1da1fdc4dbdd0a9c2a7f6082dd88e02954b12896a45a7a5fbac7",
    "rmd17_uracil_test_01.npz": "ceda757f7670d97080ec3c28dfb559aeb8ca54f49e7f0da0682fa1eb5ac00907",
    "rmd17_uracil_train_01.npz": "e1d450430362e3bebdeea96b24501f5e56a5a8af1eb02d50cb763f48b51523cf",
}


# ----------------------------------------------------------------------------- data files
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
    from .atom_units import UNITS_HELP

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
    from .atom_units import energy_factor, forces_factor, length_factor

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
    from .atom_units import energy_factor, forces_factor, length_factor

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


# --------------------------------------------------------------------------- EMT copper
def simulate_emt_cu(
    n_frames: int,
    temperature: float,
    *,
    seed: int = 0,
    size: Sequence[int] = (2, 2, 2),
    a: float = 3.61,
    timestep_fs: float = 2.0,
    sample_every: int = 10,
    equilibrate: int = 100,
    friction: float = 0.02,
    strain: float = 0.02,
) -> list:
    """``n_frames`` snapshots of a periodic fcc Cu cell under Langevin MD with ASE's EMT at
    ``temperature`` (K); the cell is isotropically strained by up to ``± strain`` so that
    volumes (and stresses) vary.  Returns structures in eV and Å."""
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", a=a * (1.0 + rng.uniform(-strain, strain)), cubic=True).repeat(tuple(size))
    atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dyn = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature,
        friction=friction,
        rng=np.random.default_rng(int(rng.integers(1 << 30))),
        fixcm=False,
    )
    dyn.run(equilibrate)
    out = []
    for _ in range(n_frames):
        dyn.run(sample_every)
        out.append(
            make_structure(
                atoms.positions.copy(),
                atoms.numbers,
                atoms.get_potential_energy(),
                atoms.get_forces(),
                atoms.cell.array.copy(),
                atoms.pbc,
            )
        )
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


# ----------------------------------------------------------------------------------- task
class AtomsTask(Task):
    """Base class of the atomistic tasks: energies and forces of structures (see module docstring).

    Subclasses implement :meth:`load` returning ``(train_pool, test)`` lists of structures; the
    first ``n_val`` frames of a seeded shuffle of the pool are the validation set and the next
    ``train_size`` (default: the rest of the pool) the training set.
    """

    domain = "atoms"
    domain_label = "Force fields"
    needs_grad = True
    perm_labels = "z"
    primary_metric = "force_mae_meV_per_A"
    units = {
        "energy_mae_meV": "meV",
        "energy_rmse_meV": "meV",
        "energy_per_atom_mae_meV": "meV/atom",
        "force_mae_meV_per_A": "meV/Å",
        "force_rmse_meV_per_A": "meV/Å",
    }
    input_fields = {"pos": Field(POSITION, "node", "Å"), "z": Field(SCALAR, "node")}
    target_fields = {"energy": Field(SCALAR, "graph", "eV"), "forces": Field(VECTOR, "node", "eV/Å")}
    output_fields = {"energy": Field(SCALAR, "graph", "eV"), "forces": Field(VECTOR, "node", "eV/Å")}
    periodic = False

    def __init__(
        self,
        name: str,
        *,
        root: str | None = None,
        energy_weight: float = 1.0,
        forces_weight: float = 1.0,
        train_size: int | None = None,
        n_val: int | None = None,
        n_test: int | None = None,
        split_seed: int = 0,
    ):
        self.name = name
        self.root = root
        self.energy_weight, self.forces_weight = float(energy_weight), float(forces_weight)
        if self.energy_weight < 0 or self.forces_weight < 0 or self.energy_weight + self.forces_weight == 0:
            raise SymzooError("energy_weight and forces_weight must be >= 0 and not both 0")
        self.overrides = {
            k: v for k, v in (("train", train_size), ("val", n_val), ("test", n_test)) if v is not None
        }
        self.split_seed = split_seed
        self.group = EuclideanGroup(3, reflections=True, translations=True, permutations=True)
        if self.periodic:
            self.input_fields = {**type(self).input_fields, "cell": Field(VECTOR, "graph", "Å")}
        self._cache: dict = {}

    # ----------------------------------------------------------------- data
    def load(self, preset: str) -> tuple[list, list]:
        raise NotImplementedError

    def _split_sizes(self, sizes: dict, n_pool: int) -> tuple[int, int]:
        """(training, validation) counts drawn from a pool of ``n_pool`` training-file structures."""
        n_val, n_train = int(sizes["val"]), sizes.get("train")
        return (n_pool - n_val if n_train is None else int(n_train)), n_val

    def splits(self, preset: str | None = None, seed: int = 0):
        preset = preset or self.default_preset
        self.check_preset(preset)
        if preset in self._cache:
            return self._cache[preset]
        sizes = {**self.presets[preset], **self.overrides}
        pool, test = self.load(preset)
        n_train, n_val = self._split_sizes(sizes, len(pool))
        if n_val < 1 or n_train < 1 or n_train + n_val > len(pool):
            raise SymzooError(
                f"{self.name}: {n_train} training + {n_val} validation structures requested but "
                f"the training file has {len(pool)}"
            )
        order = np.random.default_rng(self.split_seed).permutation(len(pool))
        val = [pool[i] for i in order[:n_val]]
        train = [pool[i] for i in order[n_val : n_val + n_train]]
        if sizes.get("test") is not None:
            test = test[: int(sizes["test"])]
        if not test:
            raise SymzooError(f"{self.name}: the test set is empty")
        self._cache[preset] = (train, val, test)
        return self._cache[preset]

    def model_defaults(self, name: str, train_set) -> dict:
        """Builder arguments this task implies: the ``mlp`` baseline becomes an energy model on the
        flattened coordinates of a fixed-size structure (every structure must have the same atoms)."""
        if name != "mlp":
            return {}
        sizes = {int(train_set[i].num_nodes) for i in range(len(train_set))}
        if len(sizes) != 1:
            raise SymzooError(
                f"{self.name}: the mlp baseline needs structures with one fixed atom count, "
                f"found {sorted(sizes)[:5]}"
            )
        from symzoo.contract import describe_task_fields

        return {"n_particles": sizes.pop(), "task": describe_task_fields(self)}

    def prepare_model(self, model, train_set, *, pretrained: bool = False) -> None:
        """Fit the model's per-species reference energies and energy scale on ``train_set``
        (called by the harness before training, when the model has ``fit_reference``)."""
        fit = getattr(model, "fit_reference", None)
        if fit is None:
            return
        items = [train_set[i] for i in range(len(train_set))]
        known = getattr(model, "known_species", None)
        if isinstance(known, Tensor) and bool(known.any()) and items:
            species = torch.unique(torch.cat([d.z.reshape(-1) for d in items]))
            if int(species.max()) < known.numel() and bool(known[species].all()):
                info = self._shift_reference(model, items)
                log.info("%s: pretrained reference energies shifted by %s", self.name, info)
                return
            if pretrained:
                new = [int(s) for s in species if int(s) >= known.numel() or not bool(known[s])]
                old = torch.nonzero(known).flatten().tolist()
                log.warning(
                    "%s: element(s) Z=%s were never seen by the pretrained model (it knows Z=%s): "
                    "every per-species reference energy and the energy scale are re-fitted on this "
                    "training set (least squares) and the new elements' embeddings start untrained; "
                    "the fine-tuned model is valid for Z=%s only",
                    self.name,
                    new,
                    old,
                    species.tolist(),
                )
        info = fit(items)
        log.info("%s: fitted reference energies %s", self.name, info)

    def finalize_model(self, model, train_set) -> dict | None:
        """Re-fit the constant part of the trained model's energy on ``train_set``, after training.

        A force-dominated loss leaves the energy free to drift by a constant per species during
        training (the reference energies of :meth:`prepare_model` are fitted before training only).
        Here the per-species reference energies ``E0[z]`` of the exported weights are corrected by
        the least-squares solution ``δ`` of ``counts @ δ ≈ E_ref - E_model`` over the training
        frames (``counts[i, s]``: atoms of species ``s`` in frame ``i``), minimum-norm when the
        compositions do not determine every species (``numpy.linalg.lstsq``): for one composition
        (one molecule) this is a single energy shift spread over the species in proportion to their
        counts; for a mixture of molecules a per-species least squares.  Forces (``-dE/dx``) are
        unchanged by construction, and the training-set mean energy error becomes zero whenever the
        all-ones column lies in the span of the compositions (always for one molecule).

        The same procedure runs on every atoms run, trained from scratch or fine-tuned, for models
        with per-species reference energies (``atomic_reference`` / ``known_species`` buffers, saved
        with the weights); other models (e.g. the flattened-coordinate ``mlp``) are left unchanged
        (``None``).  Returns ``{"species", "shift_eV", "mean_error_eV"}`` (the mean training energy
        error before the shift), which the harness records in ``eval.json`` under ``finalize``."""
        known = getattr(model, "known_species", None)
        if (
            not isinstance(known, Tensor)
            or getattr(model, "atomic_reference", None) is None
            or len(train_set) == 0
        ):
            return None
        items = [train_set[i] for i in range(len(train_set))]
        species = torch.unique(torch.cat([d.z.reshape(-1) for d in items]))
        if int(species.max()) >= known.numel() or not bool(known[species].all()):
            return None  # never fitted to these species: nothing to re-fit
        return self._shift_reference(model, items)

    def _shift_reference(self, model, items: list) -> dict:
        """Fine-tuning (the model already knows every species of ``items``): keep its energy scale
        and correct its per-species reference energies by the least-squares shift of its own
        energy errors on ``items``, so that training starts from a zero mean energy error (also
        the post-training re-fit of :meth:`finalize_model`)."""
        from torch_geometric.data import Batch

        errs, rows = [], []
        species = torch.unique(torch.cat([d.z.reshape(-1) for d in items]))
        col = {int(s): k for k, s in enumerate(species)}
        was_training = model.training
        model.eval()
        for i in range(0, len(items), 50):
            chunk = items[i : i + 50]
            e = model(Batch.from_data_list(chunk))["energy"].detach().reshape(-1).double()
            for d, ei in zip(chunk, e):
                errs.append(float(d.energy.reshape(-1)[0]) - float(ei))
                r = np.zeros(len(col))
                for zz, c in zip(*np.unique(d.z.numpy(), return_counts=True)):
                    r[col[int(zz)]] = c
                rows.append(r)
        model.train(was_training)
        shift, *_ = np.linalg.lstsq(np.asarray(rows), np.asarray(errs), rcond=None)
        ref = model.atomic_reference
        with torch.no_grad():
            ref[species] += torch.from_numpy(shift).to(ref.dtype)
        return {
            "species": species.tolist(),
            "shift_eV": shift.tolist(),
            "mean_error_eV": float(np.mean(errs)),
        }

    def validate_batch(self, batch) -> None:
        super().validate_batch(batch)
        if batch.z.dtype.is_floating_point or int(batch.z.min()) < 1:
            raise InputError(f"{self.name}: atomic numbers z must be positive integers")

    # ------------------------------------------------------------- training
    def _errors(self, out, batch) -> tuple[Tensor, Tensor, Tensor]:
        n = torch.bincount(batch.batch, minlength=int(batch.num_graphs)).to(out["energy"].dtype)
        de = out["energy"].reshape(-1) - batch.energy.reshape(-1).to(out["energy"].dtype)
        df = out["forces"] - batch.forces.to(out["forces"].dtype)
        return de, de / n, df

    def loss(self, out, batch) -> Tensor:
        _, de_atom, df = self._errors(out, batch)
        return self.energy_weight * de_atom.pow(2).mean() + self.forces_weight * df.pow(2).mean()

    def metric_terms(self, out, batch) -> dict[str, tuple[str, Tensor, int]]:
        """Sums of absolute and squared errors (meV) with their counts: structures for energies,
        Cartesian force components for forces, so that MAEs and RMSEs are exact over a split."""
        de, de_atom, df = (1000 * t.detach() for t in self._errors(out, batch))
        ne, nf = de.numel(), df.numel()
        return {
            "energy_mae_meV": ("mean", de.abs().sum(), ne),
            "energy_rmse_meV": ("rms", de.pow(2).sum(), ne),
            "energy_per_atom_mae_meV": ("mean", de_atom.abs().sum(), ne),
            "force_mae_meV_per_A": ("mean", df.abs().sum(), nf),
            "force_rmse_meV_per_A": ("rms", df.pow(2).sum(), nf),
        }

    def metrics(self, out, batch) -> dict[str, Tensor]:
        de, de_atom, df = self._errors(out, batch)
        return {
            "energy_mae_meV": 1000 * de.abs().mean(),
            "energy_rmse_meV": 1000 * de.pow(2).mean().sqrt(),
            "energy_per_atom_mae_meV": 1000 * de_atom.abs().mean(),
            "force_mae_meV_per_A": 1000 * df.abs().mean(),
            "force_rmse_meV_per_A": 1000 * df.pow(2).mean().sqrt(),
        }

    # ------------------------------------------------------------- symmetry
    def restrict(self, dataset) -> list:
        """Every structure rotated (and reflected) into its principal-axes frame, centroid at 0;
        forces (and cells) rotate with it."""
        from torch_geometric.data import Batch

        items = [dataset[i] for i in range(len(dataset))]
        batch = Batch.from_data_list(items)
        g = canonical_frames(batch.pos, batch.batch, batch.num_graphs)
        g.perm = None
        return self.act(g, batch).to_data_list()

    def example_batch(self, num_graphs: int = 4, seed: int = 0, dtype: torch.dtype = torch.float64):
        from torch_geometric.data import Batch

        from symzoo.task import cast_batch

        _, _, test = self.splits("tiny", seed=0)
        return cast_batch(Batch.from_data_list(test[: min(num_graphs, len(test))]), dtype)


class RMD17Task(AtomsTask):
    """rMD17 molecule (see module docstring)."""

    presets = {
        "tiny": {"train": 20, "val": 10, "test": 20},
        "small": {"train": 950, "val": 50, "test": None},
        "paper": {"train": 950, "val": 50, "test": None},
    }

    def __init__(
        self, molecule: str, *, split: str = "01", url: str | None = None, sha256: dict | None = None, **kw
    ):
        """Files not found on the data search path are downloaded from ``url`` (default
        :data:`RMD17_MIRROR`, the ``andersx/rmd17-npz`` repository) into ``SYMZOO_HOME/datasets/rmd17``
        and accepted only if they match the pinned checksum: :data:`RMD17_SHA256`, or
        ``sha256 = {"train": ..., "test": ...}`` for files it does not list."""
        self.url, self.sha256 = url or RMD17_MIRROR, dict(sha256 or {})
        if molecule not in RMD17_MOLECULES:
            from symzoo.errors import UnknownNameError, suggest

            raise UnknownNameError(
                f"unknown rMD17 molecule {molecule!r}{suggest(molecule, RMD17_MOLECULES)}; "
                f"molecules: {', '.join(RMD17_MOLECULES)}"
            )
        super().__init__(f"rmd17-{molecule}", **kw)
        self.molecule, self.split = molecule, split
        self.description = (
            f"rMD17 {molecule}: energies (eV) and forces (eV/Å), PBE/def2-SVP; "
            f"train/val from the train file, test on the test file (split {split})"
        )

    def sources(self):
        """``(training pool, test)`` :class:`~symzoo.datasets.rmd17_files.RMD17Source` of this
        molecule: found on the data search path in any layout of
        :mod:`symzoo.datasets.rmd17_files` (the published archive's ``npz_data/rmd17_<mol>.npz``
        too), else the split files downloaded from :attr:`url` when their checksums are pinned, else
        a one-line not-found error listing the folders searched and the layouts expected."""
        from .rmd17_files import RMD17_ARCHIVE_URL, RMD17Source, find_rmd17, rmd17_layouts

        places = data_search_path(self.root)
        found = find_rmd17(self.molecule, self.split, places)
        if found is not None:
            return found
        names = {part: f"rmd17_{self.molecule}_{part}_{self.split}.npz" for part in ("train", "test")}
        shas = {part: self.sha256.get(part) or RMD17_SHA256.get(name) for part, name in names.items()}
        if self.url and all(shas.values()):
            from symzoo.hub import download_file
            from symzoo.paths import home

            got = {
                part: download_file(
                    self.url.rstrip("/") + "/" + name, home() / "datasets" / "rmd17" / name, str(shas[part])
                )
                for part, name in names.items()
            }
            return RMD17Source(got["train"]), RMD17Source(got["test"])
        raise SymzooError(
            f"{self.name}: rMD17 data of {self.molecule} not found; looked in "
            f"{', '.join(str(p) for p in places)} for "
            f"{' | '.join(rmd17_layouts(self.molecule, self.split))}; put the published file there "
            f"(e.g. $SYMZOO_DATA/rmd17/npz_data/rmd17_{self.molecule}.npz from {RMD17_ARCHIVE_URL}, "
            "with its splits/ folder for the published split), or pin the mirror's split files' "
            "checksums to download them (data.task_args.sha256.train=... sha256.test=...)"
        )

    def _locate(self, part: str) -> Path:
        """The npz file holding ``part`` (``train``/``test``; kept for callers of older versions)."""
        return self.sources()[0 if part == "train" else 1].path

    def load(self, preset: str):
        pool, test = self.sources()
        return pool.read(), test.read()


#: the rMD17 molecules whose split-01 files ship with the package (the default of ``rmd17-multi``)
RMD17_BUNDLED = ("aspirin", "ethanol", "malonaldehyde", "naphthalene", "salicylic", "toluene", "uracil")


def _molecule_list(value, what: str) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` as a list of known rMD17 molecule names (a one-line error otherwise)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    names = [m.strip() for m in items if m and m.strip()]
    for m in names:
        if m not in RMD17_MOLECULES:
            from symzoo.errors import UnknownNameError, suggest

            raise UnknownNameError(
                f"rmd17-multi: unknown rMD17 molecule {m!r} in {what}{suggest(m, RMD17_MOLECULES)}; "
                f"molecules: {', '.join(RMD17_MOLECULES)}"
            )
    return list(dict.fromkeys(names))


class RMD17MultiTask(AtomsTask):
    """Several rMD17 molecules at once (one level of theory, PBE/def2-SVP; species H, C, N, O).

    ``molecules`` (default: the seven bundled ones, :data:`RMD17_BUNDLED`) minus ``exclude`` (the
    held-out molecule of a leave-one-molecule-out study).  The preset sizes are **per molecule**:
    each molecule's training file gives ``val`` + ``train`` frames (a seeded shuffle, as for one
    molecule) and its test file the first ``test`` frames.  The training list interleaves the
    molecules, so that ``data.train_size=N`` keeps a mix.  Structures carry ``molecule`` (an index
    into :attr:`molecules`).  Per-species reference energies are fitted once on the whole mixture
    (the model's ``fit_reference``), hence shared by every molecule.
    """

    presets = {
        "tiny": {"train": 4, "val": 2, "test": 3},
        "small": {"train": 300, "val": 10, "test": 100},
        "paper": {"train": 950, "val": 50, "test": None},
    }

    def __init__(
        self,
        *,
        molecules=None,
        exclude=None,
        split: str = "01",
        url: str | None = None,
        **kw,
    ):
        chosen = _molecule_list(molecules, "molecules") if molecules is not None else list(RMD17_BUNDLED)
        if not chosen:
            raise InputError("rmd17-multi: molecules= names no molecule (e.g. molecules=aspirin,ethanol)")
        dropped = _molecule_list(exclude, "exclude")
        self.molecules = tuple(m for m in chosen if m not in dropped)
        if not self.molecules:
            raise InputError(
                f"rmd17-multi: exclude={','.join(dropped)} leaves no molecule of {','.join(chosen)}"
            )
        super().__init__("rmd17-multi", **kw)
        self.excluded = tuple(m for m in dropped if m in chosen)
        self.split, self.url = split, url
        self.description = (
            f"rMD17 molecules {', '.join(self.molecules)} together"
            + (f" (held out: {', '.join(self.excluded)})" if self.excluded else "")
            + f": energies (eV) and forces (eV/Å), PBE/def2-SVP, per-molecule train/val from the "
            f"train files and test from the test files (split {split})"
        )

    def splits(self, preset: str | None = None, seed: int = 0):
        preset = preset or self.default_preset
        self.check_preset(preset)
        if preset in self._cache:
            return self._cache[preset]
        sizes = {**self.presets[preset], **self.overrides}
        per_train, per_val, per_test = [], [], []
        for k, m in enumerate(self.molecules):
            one = RMD17Task(m, root=self.root, split=self.split, url=self.url)
            train_src, test_src = one.sources()
            n_pool, n_testfile = len(train_src), len(test_src)
            n_train, n_val = self._split_sizes(sizes, n_pool)
            if n_val < 1 or n_train < 1 or n_train + n_val > n_pool:
                raise SymzooError(
                    f"{self.name}: {n_train} training + {n_val} validation structures of {m} requested "
                    f"but its training file has {n_pool}"
                )
            order = np.random.default_rng(self.split_seed).permutation(n_pool)[: n_val + n_train]
            pool = train_src.read(order)
            n_test = n_testfile if sizes.get("test") is None else min(int(sizes["test"]), n_testfile)
            test = test_src.read(range(n_test))
            for d in (*pool, *test):
                d.molecule = torch.tensor([k])
            per_val.append(pool[:n_val])
            per_train.append(pool[n_val:])
            per_test.append(test)

        def interleave(groups: list[list]) -> list:
            return [g[i] for i in range(max(len(g) for g in groups)) for g in groups if i < len(g)]

        self._cache[preset] = (interleave(per_train), interleave(per_val), interleave(per_test))
        return self._cache[preset]

    def load(self, preset: str):  # splits() reads the files itself (only the frames it needs)
        raise NotImplementedError


class ThreeBPATask(AtomsTask):
    """3BPA temperature transfer: train on 300 K MD, test on the 300/600/1200 K mixture."""

    description = (
        "3BPA (27 atoms): train on 300 K MD (train_300K.xyz), test on train_mixedT.xyz (300/600/1200 K)"
    )
    presets = {
        "tiny": {"train": 20, "val": 10, "test": 20},
        "small": {"train": 450, "val": 50, "test": None},
        "paper": {"train": 450, "val": 50, "test": None},
    }

    def load(self, preset: str):
        return (
            read_structures(find_data("3bpa/train_300K.xyz", self.root)),
            read_structures(find_data("3bpa/train_mixedT.xyz", self.root)),
        )


class EMTCopperTask(AtomsTask):
    """Periodic fcc Cu (32 atoms) under Langevin MD with ASE's EMT; temperature transfer."""

    periodic = True
    presets = {
        "tiny": {
            "train": 24,
            "val": 8,
            "test": 16,
            "temps_train": [300, 600],
            "temp_test": 1200,
            "size": [2, 2, 2],
        },
        "small": {
            "train": 450,
            "val": 50,
            "test": 200,
            "temps_train": [300, 600],
            "temp_test": 1200,
            "size": [2, 2, 2],
        },
        "paper": {
            "train": 1800,
            "val": 200,
            "test": 500,
            "temps_train": [300, 600],
            "temp_test": 1200,
            "size": [3, 3, 3],
        },
    }

    def __init__(self, **kw):
        super().__init__("emt-cu", **kw)
        self.description = (
            "periodic fcc Cu cell, ASE EMT energies/forces from Langevin MD; train/val at 300 and "
            "600 K, test at 1200 K (generated offline, cached)"
        )

    def load(self, preset: str):
        p = {**self.presets[preset], **self.overrides}
        n_pool = int(p["train"]) + int(p["val"])
        temps = list(p["temps_train"])
        per_t = -(-n_pool // len(temps))
        params: dict[str, Any] = {
            "pool": [
                dict(n_frames=per_t, temperature=float(t), seed=100 + k, size=list(p["size"]))
                for k, t in enumerate(temps)
            ],
            "test": dict(
                n_frames=int(p["test"]), temperature=float(p["temp_test"]), seed=999, size=list(p["size"])
            ),
            "version": 2,
        }
        d = dataset_cache_dir(self.name, preset, params)
        if (d / "pool.npz").is_file() and (d / "test.npz").is_file():
            try:
                return _load_structures(d / "pool.npz"), _load_structures(d / "test.npz")
            except Exception as e:  # corrupt cache: regenerate
                log.warning("regenerating corrupt dataset cache %s (%s)", d, e)
        log.info("simulating %s/%s with ASE EMT into %s", self.name, preset, d)
        pool = [s for kw in params["pool"] for s in simulate_emt_cu(**kw)]
        test = simulate_emt_cu(**params["test"])
        _save_structures(d / "pool.npz", pool)
        _save_structures(d / "test.npz", test)
        return pool, test


class XYZTask(AtomsTask):
    """Any ASE-readable file (or rMD17-style npz): the user's own molecule or material.

    Task arguments (``data.task_args.<key>=...``; ``docs/byo_molecule.md``):

    ``path``          the training file (extxyz or anything ``ase.io.read`` reads, or an ``.npz``
                      with ``nuclear_charges``/``coords``/``energies``/``forces`` or MD17's ``z``/``R``/``E``/``F``)
    ``test_path``     a separate test file (default: ``test_fraction`` of ``path``, seeded)
    ``test_fraction`` share of ``path`` held out for testing when there is no ``test_path`` (0.1)
    ``energy_key``    per-structure energy key of an ASE file (``atoms.info``; default ``energy``)
    ``forces_key``    per-atom forces key of an ASE file (``atoms.arrays``; default ``forces``)
    ``energy_unit``   eV, meV, kcal/mol, kJ/mol, Hartree, Ry -- **required for an npz** (or an
                      ``energy_unit`` string in the file); ASE files default to eV (ASE's units)
    ``forces_unit``   <energy>/<length>, e.g. eV/Å, kcal/mol/Å, Hartree/Bohr -- required for an
                      npz; ASE files default to eV/Å
    ``length_unit``   unit of the coordinates (Å, Bohr, nm; default Å)
    ``root``, ``train_size``, ``n_val``, ``n_test``, ``split_seed``, ``energy_weight``,
    ``forces_weight`` as for every atoms task.
    """

    presets = {
        "tiny": {"train": 20, "val": 5, "test": 10},
        "small": {"val": 0.05, "test": None},
        "paper": {"val": 0.05, "test": None},
    }

    def __init__(
        self,
        path: str | None = None,
        *,
        test_path: str | None = None,
        test_fraction: float = 0.1,
        energy_key: str = "energy",
        forces_key: str = "forces",
        energy_unit: str | None = None,
        forces_unit: str | None = None,
        length_unit: str | None = None,
        **kw,
    ):
        from .atom_units import energy_factor, forces_factor, length_factor

        for check, value in (
            (energy_factor, energy_unit),
            (forces_factor, forces_unit),
            (length_factor, length_unit),
        ):
            if value is not None:
                check(value)  # a one-line error before any file is read
        try:
            frac = float(test_fraction)
        except (TypeError, ValueError):
            frac = -1.0
        if not 0.0 < frac < 1.0:
            raise InputError(f"xyz: test_fraction must be a number in (0, 1), got {test_fraction!r}")
        self.path, self.test_path, self.test_fraction = path, test_path, frac
        self.energy_key, self.forces_key = energy_key, forces_key
        self.read_args: dict[str, Any] = dict(
            energy_key=energy_key,
            forces_key=forces_key,
            energy_unit=energy_unit,
            forces_unit=forces_unit,
            length_unit=length_unit,
        )
        first = read_structures(path, **self.read_args) if path else None
        self.periodic = first is not None and hasattr(first[0], "cell")
        super().__init__("xyz", **kw)
        self._first = first
        self.description = (
            f"energies and forces from {path}" + (f", test on {test_path}" if test_path else "")
            if path
            else "energies and forces from any extxyz/ASE-readable file or rMD17-style npz "
            "(data.task_args.path=FILE)"
        )

    def load(self, preset: str):
        if self._first is None:
            raise SymzooError(
                "the xyz task needs a file: data.task_args.path=FILE (extxyz or rMD17-style .npz)"
            )
        pool = self._first
        if self.test_path:
            test = read_structures(self.test_path, **self.read_args)
        else:
            order = np.random.default_rng(self.split_seed + 1).permutation(len(pool))
            n_test = max(1, int(round(self.test_fraction * len(pool))))
            test = [pool[i] for i in order[:n_test]]
            pool = [pool[i] for i in order[n_test:]]
        return pool, test

    def _split_sizes(self, sizes: dict, n_pool: int) -> tuple[int, int]:
        """A float ``val`` is a fraction of the file; ``train`` defaults to the rest."""
        v = sizes["val"]
        n_val = max(1, int(round(v * n_pool))) if isinstance(v, float) else int(v)
        return min(int(sizes.get("train") or n_pool), n_pool - n_val), n_val


@register_task(
    "rmd17-ethanol",
    pattern=r"rmd17-([a-z]+)",
    example="rmd17-ethanol",
    members=tuple(f"rmd17-{m}" for m in RMD17_MOLECULES),
)
def rmd17(molecule: str, **kw) -> RMD17Task:
    """revised MD17 molecule: energies and forces (eV, eV/Å), 950 + 50 train/val, 1000 test."""
    return RMD17Task(molecule, **kw)


@register_task("rmd17-multi")
def rmd17_multi(**kw) -> RMD17MultiTask:
    """Several rMD17 molecules in one task (molecules=a,b,... exclude=m); shared per-species energies."""
    return RMD17MultiTask(**kw)


@register_task("3bpa")
def threebpa(**kw) -> ThreeBPATask:
    """3BPA: train on 300 K MD, test on 300/600/1200 K (temperature transfer)."""
    return ThreeBPATask("3bpa", **kw)


@register_task("emt-cu")
def emt_cu(**kw) -> EMTCopperTask:
    """Periodic fcc copper under ASE EMT Langevin MD (offline); train 300/600 K, test 1200 K."""
    return EMTCopperTask(**kw)


@register_task("xyz")
def xyz(**kw) -> XYZTask:
    """Your energies+forces file: path=FILE (extxyz/npz) test_path test_fraction energy_key forces_key energy_unit forces_unit (npz: required).

    Every key is a ``data.task_args.<key>=...`` override; see :class:`XYZTask` and
    ``docs/byo_molecule.md``."""
    return XYZTask(**kw)
