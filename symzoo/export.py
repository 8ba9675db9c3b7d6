"""Standalone, compiled force fields: one ``.pt2`` file that MD codes load without symzoo.

:func:`export_forcefield` turns a trained energy model (``nequip``, ``painn``, ``schnet``: any
:class:`symzoo.models._atoms.AtomisticModel`) into a ``torch.export`` program whose graph holds
only ATen operators — no symzoo, e3nn or torch-geometric code — with the number of atoms and of
edges dynamic.  How: the energy **and its gradients** are traced together with
``make_fx(tracing_mode="symbolic")`` (the backward pass becomes explicit operators, as in
AOTAutograd), then exported; ``torch.autograd.grad`` cannot be exported directly.  opt_einsum is
switched off while tracing because its contraction-path search specializes tensor sizes.

The program's signature (float64 unless ``dtype`` says otherwise)::

    energy, forces, virial = program(pos, z, edge_index, cell_shifts, cell)

    pos          [n_atoms, 3]   Å
    z            [n_atoms]      int64 atomic numbers
    edge_index   [2, n_edges]   int64, both directions, pairs (i, j) with |r_ij| < cutoff
    cell_shifts  [n_edges, 3]   integer cell shifts S as floats: r_ij = pos[j] - pos[i] + S @ cell
                                (zeros for a molecule)
    cell         [3, 3]         Å, lattice vectors as rows (zeros for a molecule)
    ->
    energy       []             eV
    forces       [n_atoms, 3]   eV/Å (= -dE/dpos)
    virial       [3, 3]         eV (= dE/dε for a symmetric strain ε; stress = virial / volume)

The neighbour list is the caller's (as for nequip's and MACE's LAMMPS interfaces); the file's
``symzoo.json`` extra holds the cutoff, species, units and this signature.  The exported program
does not repeat the model's input checks (unknown elements, atoms closer than
``min_distance``): the caller's MD engine owns its inputs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .errors import InputError

__all__ = ["export_forcefield", "load_exported", "SIGNATURE"]

log = logging.getLogger(__name__)

SIGNATURE = (
    "energy [] eV, forces [n_atoms, 3] eV/Å, virial [3, 3] eV = "
    "program(pos [n_atoms, 3] Å, z [n_atoms] int64, edge_index [2, n_edges] int64, "
    "cell_shifts [n_edges, 3], cell [3, 3] Å); r_ij = pos[j] - pos[i] + cell_shifts @ cell"
)


class _EnergyForces(nn.Module):
    """Energy, forces and virial of one structure from an explicit neighbour list."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pos: Tensor, z: Tensor, edge_index: Tensor, cell_shifts: Tensor, cell: Tensor):
        m: Any = self.model  # an AtomisticModel (checked by export_forcefield)
        pos = pos.detach().requires_grad_(True)
        strain = torch.zeros(3, 3, dtype=pos.dtype, requires_grad=True)
        sym = 0.5 * (strain + strain.transpose(0, 1))
        p = pos + pos @ sym
        c = cell + cell @ sym
        vec = p[edge_index[1]] - p[edge_index[0]] + cell_shifts @ c
        e = m.atomic_energies(z, edge_index, vec, p.shape[0])
        e = e * m.energy_scale.to(e.dtype) + m.atomic_reference.to(e.dtype)[z]
        energy = e.sum()
        g_pos, g_strain = torch.autograd.grad(energy, [pos, strain])
        return energy.detach(), -g_pos, g_strain


def _example(model, dtype: torch.dtype) -> tuple[Tensor, ...]:
    """A small molecule of the model's known species (trace input; sizes stay dynamic)."""
    from symzoo.models._atoms import neighbor_list

    known = torch.nonzero(model.known_species).flatten()
    species = known if known.numel() else torch.tensor([1, 6, 8])
    n = max(4, int(species.numel()))
    z = species.repeat(n)[:n].long()
    gen = torch.Generator().manual_seed(0)
    # atoms on a jittered grid 1.2 Å apart: every pair farther than any model's min_distance
    grid = torch.stack(torch.meshgrid(*[torch.arange(2)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n]
    pos = (grid * 1.2 + 0.05 * torch.randn(n, 3, generator=gen, dtype=torch.float64)).to(dtype)
    ei, vec = neighbor_list(pos, torch.zeros(n, dtype=torch.long), 1, model.cutoff, None, None)
    return pos, z, ei, torch.zeros(ei.shape[1], 3, dtype=dtype), torch.zeros(3, 3, dtype=dtype)


def export_forcefield(
    model: nn.Module,
    out: str | Path,
    *,
    dtype: torch.dtype = torch.float64,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` as a standalone ``torch.export`` program to ``out`` (``.pt2``); see the module docstring.

    Raises :class:`InputError` (nothing written) for a model that is not an energy model.
    """
    from torch.export import Dim
    from torch.fx.experimental.proxy_tensor import make_fx

    from symzoo.models._atoms import AtomisticModel

    from .paths import atomic_path

    if not isinstance(model, AtomisticModel):
        name = getattr(model, "builder_name", type(model).__name__)
        raise InputError(
            f"only energy models (forces = -dE/dpos: nequip, painn, schnet) can be exported, not {name!r}"
        )
    out = Path(out)
    if out.suffix != ".pt2":
        raise InputError(f"the exported file must end in .pt2 (torch.export's format), got {out.name}")
    m = _EnergyForces(model.to(dtype).eval())
    args = _example(model, dtype)
    old = torch.backends.opt_einsum.enabled
    torch.backends.opt_einsum.enabled = False  # its path search specializes sizes
    try:
        graph = make_fx(m, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*args)
        n_atoms, n_edges = Dim("n_atoms", min=2), Dim("n_edges", min=1)
        program = torch.export.export(
            graph,
            args,
            dynamic_shapes=({0: n_atoms}, {0: n_atoms}, {1: n_edges}, {0: n_edges}, None),
            strict=False,
        )
    finally:
        torch.backends.opt_einsum.enabled = old
    info = {
        "format": "symzoo-forcefield-export/1",
        "signature": SIGNATURE,
        "cutoff_A": float(model.cutoff),
        "species": torch.nonzero(model.known_species).flatten().tolist(),
        "dtype": str(dtype).replace("torch.", ""),
        "units": {"energy": "eV", "forces": "eV/Å", "virial": "eV", "length": "Å"},
        "torch": torch.__version__,
        **(meta or {}),
    }
    import io

    buf = io.BytesIO()  # saved to memory first: torch warns about a file name not ending in .pt2
    torch.export.save(program, buf, extra_files={"symzoo.json": json.dumps(info, sort_keys=True)})
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(buf.getvalue())
    log.info("exported %s to %s", getattr(model, "builder_name", type(model).__name__), out)
    return out


def load_exported(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """``(module, info)`` of an exported file; needs only torch (this function is a convenience)."""
    extra = {"symzoo.json": ""}
    program = torch.export.load(str(path), extra_files=extra)
    return program.module(), json.loads(extra["symzoo.json"])
