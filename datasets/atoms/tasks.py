"""Atomistic force-field tasks (the tasks of :mod:`symzoo.datasets.atoms`; file reading in
:mod:`~symzoo.datasets.atoms.io`, simulation in :mod:`~symzoo.datasets.atoms.simulators`): energies (eV) and forces (eV/Å) of molecules and crystals.

Tasks
-----
``rmd17-<molecule>``  revised MD17 (Christensen & von Lilienfeld 2020) from ``rmd17/rmd17_<molecule>_{train,test}_01.npz``:
                      kcal/mol -> eV (× 0.0433641); train + validation from the train file (950 + 50 in
                      the ``small``/``paper`` presets), test on the 1000 frames of the test file.
``rmd17-multi``       several rMD17 molecules at once (``data.task_args.molecules=aspirin,ethanol,...``,
                      default the seven bundled ones; ``exclude=ethanol`` for leave-one-molecule-out):
                      per-molecule splits (small: 300 + 10 train/val, 100 test each), interleaved;
                      one level of theory, species H, C, N, O, per-species reference energies shared;
                      ``extra=3bpa`` adds 3BPA's training frames (another level of theory) with a
                      per-data-set energy offset (:class:`RMD17MultiTask`).
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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from symzoo.errors import InputError, SymzooError
from symzoo.paths import dataset_cache_dir
from symzoo.registry import register_task
from symzoo.symmetry import POSITION, SCALAR, VECTOR, EuclideanGroup, canonical_frames
from symzoo.task import Field, Task

from .io import (
    BUNDLED_DATA,
    KCAL_MOL_TO_EV,
    _load_structures,
    _save_structures,
    data_search_path,
    find_data,
    make_structure,
    read_structures,
)
from .simulators import simulate_emt_cu

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


# --------------------------------------------------------------------------- EMT copper


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

    def prepare_model(
        self, model, train_set, *, pretrained: bool = False, keep_pretrained: bool = False
    ) -> dict[str, Any] | None:
        """Fit the model's per-species reference energies and energy scale on ``train_set``
        (called by the harness before training, when the model has ``fit_reference``).  A pretrained
        model that knows every element of ``train_set`` gets its reference energies shifted by least
        squares, or kept as they are with ``keep_pretrained`` (``refit_reference=false``); one that
        does not is re-fitted in full (with a warning): an element it never saw has no pretrained
        reference energy to keep.  Returns what was done, ``{"reference_energies": "shifted" |
        "kept" | "fitted", ...}`` (``new_elements`` where a pretrained model lacked some), which the
        harness records in the run folder's ``prepare.json``."""
        fit = getattr(model, "fit_reference", None)
        if fit is None:
            return None
        new: list[int] = []
        items = [train_set[i] for i in range(len(train_set))]
        known = getattr(model, "known_species", None)
        if isinstance(known, Tensor) and bool(known.any()) and items:
            species = torch.unique(torch.cat([d.z.reshape(-1) for d in items]))
            if int(species.max()) < known.numel() and bool(known[species].all()):
                if keep_pretrained:
                    log.info("%s: pretrained reference energies kept (refit_reference=false)", self.name)
                    return {"reference_energies": "kept", "species": species.tolist()}
                info = self._shift_reference(model, items)
                log.info("%s: pretrained reference energies shifted by %s", self.name, info)
                return {"reference_energies": "shifted", **info}
            if pretrained:
                new = [int(s) for s in species if int(s) >= known.numel() or not bool(known[s])]
                old = torch.nonzero(known).flatten().tolist()
                log.warning(
                    "%s: element(s) Z=%s were never seen by the pretrained model (it knows Z=%s): "
                    "every per-species reference energy and the energy scale are re-fitted on this "
                    "training set (least squares) and the new elements' embeddings start untrained; "
                    "the fine-tuned model is valid for Z=%s only%s",
                    self.name,
                    new,
                    old,
                    species.tolist(),
                    " (refit_reference=false cannot keep reference energies an element does not have)"
                    if keep_pretrained
                    else "",
                )
        info = fit(items)
        log.info("%s: fitted reference energies %s", self.name, info)
        out = {"reference_energies": "fitted", **(info if isinstance(info, dict) else {})}
        if new:
            out["new_elements"] = new
        return out

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
        from ..rmd17_files import RMD17_ARCHIVE_URL, RMD17Source, find_rmd17, rmd17_layouts

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

    ``extra=3bpa`` adds the training frames of a data set at **another level of theory**
    (:data:`EXTRA_SETS`; 3BPA is wB97X/6-31G(d), rMD17 PBE/def2-SVP) to the training list only --
    validation and test stay the rMD17 molecules', so a pretraining with and without it is compared
    on the same frames.  Energies of different levels of theory differ by a large constant per
    composition, which shared per-species reference energies cannot absorb; so each extra set gets a
    **per-data-set energy offset** (:attr:`energy_offsets`, eV): its training energies are shifted
    so that their mean equals what a least-squares per-species fit to the rMD17 training frames
    predicts for its composition.  Forces are unchanged.  One offset per set, because a set of one
    molecule (one composition) cannot determine per-species references of its own.
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
        extra=None,
        split: str = "01",
        url: str | None = None,
        **kw,
    ):
        extras = [e.strip() for e in (extra.split(",") if isinstance(extra, str) else extra or []) if e]
        for e in extras:
            if e not in EXTRA_SETS:
                from symzoo.errors import UnknownNameError, suggest

                raise UnknownNameError(
                    f"rmd17-multi: unknown extra data set {e!r}{suggest(e, tuple(EXTRA_SETS))}; "
                    f"extra sets: {', '.join(EXTRA_SETS)}"
                )
        self.extra = tuple(dict.fromkeys(str(e) for e in extras))
        self.energy_offsets: dict[str, float] = {}
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
            + (
                f"; training frames also from {', '.join(self.extra)} (another level of theory, "
                "energies shifted by a per-data-set offset)"
                if self.extra
                else ""
            )
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

        n_rmd17 = len(per_train)
        for k, name in enumerate(self.extra, start=len(self.molecules)):
            frames = EXTRA_SETS[name](self.root)
            n_train, _ = self._split_sizes(sizes, len(frames))
            order = np.random.default_rng(self.split_seed).permutation(len(frames))[: max(0, n_train)]
            chosen = [frames[i] for i in order]
            if not chosen:
                raise SymzooError(f"{self.name}: extra={name} gives no training frame")
            offset = _energy_offset([d for g in per_train[:n_rmd17] for d in g], chosen)
            for d in chosen:
                d.energy = d.energy - offset
                d.molecule = torch.tensor([k])
            self.energy_offsets[name] = offset
            log.info(
                "%s: %d %s training frames, energies shifted by %.6g eV",
                self.name,
                len(chosen),
                name,
                -offset,
            )
            per_train.append(chosen)

        def interleave(groups: list[list]) -> list:
            return [g[i] for i in range(max(len(g) for g in groups)) for g in groups if i < len(g)]

        self._cache[preset] = (interleave(per_train), interleave(per_val), interleave(per_test))
        return self._cache[preset]

    def load(self, preset: str):  # splits() reads the files itself (only the frames it needs)
        raise NotImplementedError

    def prepare_model(
        self, model, train_set, *, pretrained: bool = False, keep_pretrained: bool = False
    ) -> dict[str, Any] | None:
        """As for every atoms task; the per-data-set energy offsets of ``extra`` sets are recorded
        beside the fitted reference energies (the run's ``prepare.json``)."""
        info = super().prepare_model(model, train_set, pretrained=pretrained, keep_pretrained=keep_pretrained)
        if self.energy_offsets and isinstance(info, dict):
            info = {**info, "energy_offsets_eV": dict(self.energy_offsets)}
        return info


def _composition(items: list, species: list[int]) -> np.ndarray:
    """Atom counts per species of each structure, ``[len(items), len(species)]``."""
    return np.array([[int((d.z == z).sum()) for z in species] for d in items], dtype=np.float64)


def _energy_offset(reference_items: list, items: list) -> float:
    """The constant (eV) to subtract from ``items``' energies so that their mean equals what a
    least-squares per-species fit to ``reference_items`` predicts for their compositions (a
    species the reference never saw counts zero: the offset absorbs it)."""
    species = sorted({int(z) for d in (*reference_items, *items) for z in d.z.tolist()})
    a = _composition(reference_items, species)
    e = np.array([float(d.energy.reshape(-1)[0]) for d in reference_items])
    e0 = np.linalg.lstsq(a, e, rcond=None)[0]
    mine = np.array([float(d.energy.reshape(-1)[0]) for d in items])
    return float(np.mean(mine - _composition(items, species) @ e0))


def _threebpa_train(root: str | None) -> list:
    return read_structures(find_data("3bpa/train_300K.xyz", root))


#: training sets at another level of theory that ``rmd17-multi`` can add (``extra=NAME``)
EXTRA_SETS = {"3bpa": _threebpa_train}


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
        from ..atom_units import energy_factor, forces_factor, length_factor

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
