"""Where the rMD17 files of a molecule are found on the data search path, in any layout a user has.

rMD17 (Christensen & von Lilienfeld 2020, https://doi.org/10.6084/m9.figshare.12672038) is
published as one archive, ``rmd17/npz_data/rmd17_<molecule>.npz`` (100,000 frames each) with the
five published train/test splits as index files ``rmd17/splits/index_{train,test}_0<k>.csv``.  The
``andersx/rmd17-npz`` mirror (and the files bundled with symzoo) hold each split as two files,
``rmd17_<molecule>_{train,test}_0<k>.npz`` (1000 frames each).  Units: kcal/mol and kcal/mol/Å.

In every folder of the data search path (``data.task_args.root``, ``$SYMZOO_DATA``, the bundled
data, ``SYMZOO_HOME/datasets``), in this order, :func:`find_rmd17` accepts

1. ``rmd17/rmd17_<molecule>_{train,test}_<split>.npz`` (the documented layout, the mirror's files)
2. ``rmd17_<molecule>_{train,test}_<split>.npz``
3. ``rmd17/npz_data/rmd17_<molecule>.npz`` (the published archive unpacked in the folder)
4. ``npz_data/rmd17_<molecule>.npz`` (the archive's ``rmd17`` folder given as the data folder)
5. ``rmd17/rmd17_<molecule>.npz`` and 6. ``rmd17_<molecule>.npz`` (the whole file on its own)

A whole-molecule file (3-6) is split with the published index files when they are beside it
(``splits/index_{train,test}_<split>.csv`` in the file's folder or the folder above, as in the
archive): training pool = the train indices, test = the test indices, exactly the mirror's split
files.  Without index files a seeded split is used instead and a warning says so: a permutation of
the frames with seed ``int(split)``, the first ``min(1000, n // 2)`` frames are the test set and the
next ``min(1000, n - n_test)`` the training pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symzoo.errors import InputError, SymzooError

__all__ = ["RMD17Source", "find_rmd17", "rmd17_layouts", "RMD17_ARCHIVE_URL"]

log = logging.getLogger(__name__)

#: where the published rMD17 archive is (figshare)
RMD17_ARCHIVE_URL = "https://doi.org/10.6084/m9.figshare.12672038"


@dataclass(frozen=True)
class RMD17Source:
    """The frames ``frames`` (``None``: all) of the rMD17-style npz ``path`` (kcal/mol)."""

    path: Path
    frames: tuple[int, ...] | None = None

    def __len__(self) -> int:
        if self.frames is not None:
            return len(self.frames)
        return _n_frames(self.path)

    def read(self, frames=None) -> list:
        """Structures (eV, Å) of ``frames`` (indices into this source; default all of it)."""
        from .atoms.io import read_npz

        idx = None if frames is None else [int(i) for i in frames]
        if self.frames is not None:
            idx = list(self.frames) if idx is None else [self.frames[i] for i in idx]
        return read_npz(self.path, energy_unit="kcal/mol", forces_unit="kcal/mol/Å", frames=idx)


def _n_frames(path: Path) -> int:
    try:
        with np.load(path) as f:
            key = "coords" if "coords" in f.files else "R"
            return int(f[key].shape[0])
    except (OSError, ValueError, KeyError) as e:
        raise SymzooError(
            f"{path}: not a readable rMD17 .npz file ({str(e).splitlines()[0][:100]})"
        ) from None


def rmd17_layouts(molecule: str, split: str) -> list[str]:
    """The file names (relative to a data folder) :func:`find_rmd17` looks for, in order."""
    pair = f"rmd17_{molecule}_{{train,test}}_{split}.npz"
    whole = f"rmd17_{molecule}.npz"
    return [f"rmd17/{pair}", pair, f"rmd17/npz_data/{whole}", f"npz_data/{whole}", f"rmd17/{whole}", whole]


def _read_index(path: Path) -> np.ndarray:
    try:
        idx = np.loadtxt(path, dtype=np.int64, delimiter=",", ndmin=1).reshape(-1)
    except ValueError as e:
        raise InputError(f"{path}: not a list of frame indices ({str(e).splitlines()[0][:80]})") from None
    return idx


def _whole_file_split(path: Path, split: str) -> tuple[RMD17Source, RMD17Source]:
    n = _n_frames(path)
    for d in (path.parent / "splits", path.parent.parent / "splits"):
        tr, te = d / f"index_train_{split}.csv", d / f"index_test_{split}.csv"
        if tr.is_file() and te.is_file():
            train, test = _read_index(tr), _read_index(te)
            for p, idx in ((tr, train), (te, test)):
                if idx.size == 0 or idx.min() < 0 or idx.max() >= n:
                    raise InputError(f"{p}: frame indices must be in 0..{n - 1} for {path} ({n} frames)")
            if set(train.tolist()) & set(test.tolist()):
                raise InputError(f"{tr} and {te} share frames: a test frame must never be trained on")
            log.info("rMD17: %s with the published split %s (%s)", path, split, d)
            return RMD17Source(path, tuple(train.tolist())), RMD17Source(path, tuple(test.tolist()))
    if n < 2:
        raise InputError(f"{path}: {n} frame(s); an rMD17 file needs at least 2 (train and test)")
    try:
        seed = int(split)
    except ValueError:
        raise InputError(f"rMD17 split must be a number such as 01, got {split!r}") from None
    order = np.random.default_rng(seed).permutation(n)
    n_test = min(1000, n // 2)
    n_pool = min(1000, n - n_test)
    log.warning(
        "rMD17: %s has no published split files beside it (splits/index_{train,test}_%s.csv); using a "
        "seeded split (seed %d): %d test frames, a training pool of %d",
        path,
        split,
        seed,
        n_test,
        n_pool,
    )
    test_frames = tuple(int(i) for i in order[:n_test])
    pool = tuple(int(i) for i in order[n_test : n_test + n_pool])
    return RMD17Source(path, pool), RMD17Source(path, test_frames)


def find_rmd17(molecule: str, split: str, places: list[Path]) -> tuple[RMD17Source, RMD17Source] | None:
    """``(training pool, test)`` sources of ``molecule``'s ``split`` from the first folder of
    ``places`` holding it in any layout of :func:`rmd17_layouts` (module docstring); ``None`` when
    no folder does."""
    for folder in places:
        for sub in ("rmd17/", ""):
            tr = folder / f"{sub}rmd17_{molecule}_train_{split}.npz"
            te = folder / f"{sub}rmd17_{molecule}_test_{split}.npz"
            if tr.is_file() and te.is_file():
                return RMD17Source(tr), RMD17Source(te)
            if tr.is_file() != te.is_file():
                have, lack = (tr, te) if tr.is_file() else (te, tr)
                raise SymzooError(
                    f"rMD17 {molecule}: found {have} but not {lack} beside it (both are needed)"
                )
        for rel in (
            f"rmd17/npz_data/rmd17_{molecule}.npz",
            f"npz_data/rmd17_{molecule}.npz",
            f"rmd17/rmd17_{molecule}.npz",
            f"rmd17_{molecule}.npz",
        ):
            if (folder / rel).is_file():
                return _whole_file_split(folder / rel, split)
    return None
