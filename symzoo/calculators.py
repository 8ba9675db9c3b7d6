"""ASE calculator for symzoo's energy models: ``atoms.calc = SymzooCalculator(run_dir)``.

Any model returning ``{"energy", "forces"}`` from a batch with ``pos``, ``z`` (and ``cell``/``pbc``)
works: a model object, a run folder / ``model.json`` written by ``symzoo train``, or a pretrained
name.  Energies in eV, forces in eV/Å, stress (periodic cells, models derived from
``AtomisticModel``) in eV/Å³ in ASE's Voigt order (xx, yy, zz, yz, xz, xy).  The model runs in
float64 by default, which keeps NVE energy drift from rounding negligible.

This module imports ASE at its top (the calculator subclasses ASE's ``Calculator``); ``import symzoo``
does not import it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from .errors import SymzooError

__all__ = ["SymzooCalculator", "atoms_to_batch"]

log = logging.getLogger(__name__)


def atoms_to_batch(atoms, dtype: torch.dtype = torch.float64):
    """An ``ase.Atoms`` as a one-structure PyG batch (``pos``, ``z``, ``batch``; ``cell``, ``pbc`` if periodic)."""
    from torch_geometric.data import Batch, Data

    pos = np.asarray(atoms.positions, dtype=np.float64)
    if len(atoms) == 0:
        raise SymzooError("the structure has no atoms")
    if not np.isfinite(pos).all():
        raise SymzooError("atomic positions contain NaN or inf values")
    d = Data(pos=torch.tensor(pos, dtype=dtype), z=torch.tensor(atoms.numbers, dtype=torch.long))
    if np.any(atoms.pbc):
        if atoms.cell.rank < 3:
            raise SymzooError("a periodic structure needs a full 3-D cell")
        d.cell = torch.tensor(np.asarray(atoms.cell.array), dtype=dtype).reshape(1, 3, 3)
        d.pbc = torch.tensor(np.asarray(atoms.pbc, dtype=bool)).reshape(1, 3)
    return Batch.from_data_list([d])


def _check_device(device) -> str:
    """``device`` as a string torch understands and this machine has (one line otherwise)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise SymzooError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}") from None
    if dev.type == "cuda" and (
        not torch.cuda.is_available() or (dev.index is not None and dev.index >= torch.cuda.device_count())
    ):
        raise SymzooError(f"device {device!r} is not available on this machine (no such CUDA device)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SymzooError(f"device {device!r} is not available on this machine")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise SymzooError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}")
    return str(dev)


def _load(model_or_path):
    if isinstance(model_or_path, torch.nn.Module):
        return model_or_path
    p = Path(str(model_or_path))
    if p.exists():
        from .modelio import load_model

        return load_model(p)
    try:
        import symzoo

        return symzoo.load_pretrained(str(model_or_path))
    except AttributeError:
        raise SymzooError(
            f"{model_or_path!r} is neither a model, a run folder nor a pretrained name"
        ) from None


class SymzooCalculator(Calculator):
    """ASE calculator wrapping a symzoo energy model (see module docstring).

    ``model_or_run_dir``: an ``nn.Module``, a run folder, a ``model.json`` path or a pretrained name.
    ``dtype``: the precision the model runs in (default float64).  A real
    ``ase.calculators.calculator.Calculator`` subclass: it pickles (for multiprocessing and ASE's
    checkpointing), and ``get_stress`` on a non-periodic structure raises ASE's
    ``PropertyNotImplementedError`` as ASE's own calculators do.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(
        self, model_or_run_dir, *, dtype: torch.dtype = torch.float64, device: str = "cpu", **kwargs
    ):
        super().__init__(**kwargs)
        if dtype not in (torch.float32, torch.float64):
            raise SymzooError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        device = _check_device(device)
        model = _load(model_or_run_dir)
        if not isinstance(model, torch.nn.Module) or not getattr(model, "irreps_in", None):
            raise SymzooError(
                f"SymzooCalculator needs a symzoo energy model (symzoo.create_model, a run folder or a "
                f"pretrained name), not {type(model).__name__}: it declares no inputs (irreps_in)"
            )
        from .compat import check_fields

        # an ASE structure provides positions, atomic numbers and (periodic) a cell
        check_fields(model, ("pos", "z", "cell"), ("energy",), "an ASE calculator (energy and forces)")
        self.model = model.to(device=device, dtype=dtype).eval()
        self.dtype, self.device = dtype, device
        self.n_calls = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        batch = atoms_to_batch(self.atoms, self.dtype).to(self.device)
        periodic = hasattr(batch, "cell")
        if periodic and "cell" not in (getattr(self.model, "irreps_in", None) or {}):
            name = getattr(self.model, "builder_name", None) or type(self.model).__name__
            raise SymzooError(
                f"model {name!r} does not read a periodic cell: it would give the energy of the isolated "
                "structure; use a model with cell input (nequip, painn, schnet) or set atoms.pbc = False"
            )
        want_stress = "stress" in properties
        if want_stress and not periodic:
            raise PropertyNotImplementedError(
                "stress needs a periodic cell (atoms.pbc); this structure is a molecule"
            )
        kwargs = {"compute_stress": True} if want_stress else {}
        with torch.enable_grad():
            out = self.model(batch, **kwargs)
        self.n_calls += 1
        e = float(out["energy"].detach().reshape(-1)[0])
        self.results["energy"] = e
        self.results["free_energy"] = e
        self.results["forces"] = out["forces"].detach().cpu().double().numpy().reshape(-1, 3)
        if want_stress:
            if "stress" not in out:
                raise PropertyNotImplementedError(f"{type(self.model).__name__} does not compute stress")
            st = out["stress"].detach().cpu().double().numpy().reshape(3, 3)
            self.results["stress"] = np.array([st[0, 0], st[1, 1], st[2, 2], st[1, 2], st[0, 2], st[0, 1]])
