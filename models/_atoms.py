"""Shared pieces of the atomistic force fields (``nequip``, ``painn``, ``schnet``).

* :func:`neighbor_list` builds the radius graph **inside the model** from the current positions
  (so it is rebuilt whenever a group element moves the atoms): dense per-structure pairs in torch
  for molecules (up to ``DENSE_PAIRS_MAX_ATOMS`` atoms; larger clusters go to vesin too),
  vesin's cell list (``vesin.NeighborList``: cell shifts, any cell size) for periodic cells, so
  the cost stays linear in the number of atoms.
* Radial bases (:class:`BesselBasis`, :class:`GaussianBasis`) and smooth cutoffs
  (:class:`PolynomialCutoff`, NequIP's p = 6 envelope, and :class:`CosineCutoff`).
* :class:`AtomisticModel`: the base class every energy model derives from.  A subclass
  implements :meth:`AtomisticModel.atomic_energies`; the base class validates the input,
  builds the graph, adds the per-species reference energies (fitted by least squares on the
  training set, :meth:`AtomisticModel.fit_reference`), sums over atoms, and differentiates
  ``forces = -dE/dpos`` (and the stress for periodic cells) by autograd.

Conventions: an edge ``(i, j)`` of ``edge_index [2, E]`` carries ``vec = pos[j] - pos[i] + S @ cell``
(``S`` the integer cell shift) and messages flow from ``j`` into ``i``.  Units: Å and eV.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from symzoo.errors import InputError
from symzoo.symmetry import POSITION, SCALAR, VECTOR
from symzoo.task import Field

from .base import SymmetryContract

__all__ = [
    "MAX_Z",
    "neighbor_list",
    "BesselBasis",
    "GaussianBasis",
    "PolynomialCutoff",
    "CosineCutoff",
    "AtomisticModel",
    "scatter_sum",
]

#: atomic numbers 0..MAX_Z have a row in every per-species table
MAX_Z = 100


def scatter_sum(src: Tensor, index: Tensor, n: int) -> Tensor:
    """Sum rows of ``src [E, ...]`` into ``n`` segments (``index [E]``); differentiable twice."""
    out = src.new_zeros((n, *src.shape[1:]))
    return out.index_add(0, index, src)


def edge_blocks(n_edges, block: int, one_pass_up_to: int) -> list[slice]:
    """Slices of ``block`` edges covering ``n_edges`` (the message passing of large systems runs
    block by block so that its per-edge tensors stay in the CPU's caches), or ``[slice(None)]``
    (one pass) when there are at most ``one_pass_up_to`` edges or the count is symbolic (tracing
    for ``torch.export``, which needs one pass)."""
    if not isinstance(n_edges, int) or n_edges <= one_pass_up_to:
        return [slice(None)]
    return [slice(s, s + block) for s in range(0, n_edges, block)]


def split_edges(t: Tensor, blocks: list[slice]) -> list[Tensor]:
    """``[t[e] for e in blocks]`` (``blocks`` from :func:`edge_blocks`) as one ``torch.split``.

    Why not the slices: the backward pass of each slice writes a zero-filled gradient of the whole
    ``[n_edges, ...]`` tensor, i.e. O(blocks x edges) work: on 10 976 Cu atoms (209 blocks) that was
    ``aten::fill_`` at 635 µs/atom of schnet's 1354 (``benchmarks/forcefield_peratom_profile.py``).
    ``torch.split`` has one backward node that concatenates the blocks' gradients."""
    if len(blocks) == 1:
        return [t[blocks[0]]]
    return list(torch.split(t, blocks[0].stop - blocks[0].start))


# --------------------------------------------------------------------------------- graph
@torch.no_grad()
def _molecule_pairs(pos: Tensor, batch: Tensor, num_graphs: int, cutoff: float) -> Tensor:
    """All ordered pairs ``i != j`` of the same graph closer than ``cutoff``: ``[2, E]``."""
    n = pos.shape[0]
    counts = torch.bincount(batch, minlength=num_graphs)
    ptr = torch.zeros(num_graphs + 1, dtype=torch.long, device=pos.device)
    ptr[1:] = torch.cumsum(counts, 0)
    rep = counts[batch]  # partners of each node (its graph's size)
    src = torch.arange(n, device=pos.device).repeat_interleave(rep)
    start = torch.cumsum(rep, 0) - rep
    local = torch.arange(src.numel(), device=pos.device) - start[src]
    dst = ptr[batch[src]] + local
    keep = src != dst
    src, dst = src[keep], dst[keep]
    d2 = (pos[dst] - pos[src]).pow(2).sum(-1)
    keep = d2 < cutoff * cutoff
    return torch.stack([src[keep], dst[keep]])


#: molecules up to this many atoms get their pairs densely in torch (all n^2 pairs, one call for
#: the whole batch); larger non-periodic structures go to vesin's cell list (linear in n)
DENSE_PAIRS_MAX_ATOMS = 256


def _nonperiodic_pairs(pos: Tensor, batch: Tensor, num_graphs: int, cutoff: float) -> Tensor:
    """:func:`_molecule_pairs` for small molecules; vesin's cell list (no periodicity) for any
    structure above :data:`DENSE_PAIRS_MAX_ATOMS` atoms, so that large clusters cost O(n)."""
    counts = torch.bincount(batch, minlength=num_graphs)
    if pos.shape[0] == 0 or int(counts.max()) <= DENSE_PAIRS_MAX_ATOMS:
        return _molecule_pairs(pos, batch, num_graphs, cutoff)
    from vesin import NeighborList

    large = counts > DENSE_PAIRS_MAX_ATOMS
    edges = []
    small_nodes = (~large[batch]).nonzero().flatten()
    if small_nodes.numel():
        edges.append(small_nodes[_molecule_pairs(pos[small_nodes], batch[small_nodes], num_graphs, cutoff)])
    offs = torch.cumsum(counts, 0) - counts
    for g in large.nonzero().flatten().tolist():
        o, n = int(offs[g]), int(counts[g])
        i, j = NeighborList(cutoff=float(cutoff), full_list=True).compute(
            points=pos[o : o + n].detach().cpu().double().numpy(),
            box=np.zeros((3, 3)),
            periodic=False,
            quantities="ij",
            copy=True,
        )
        edges.append(torch.from_numpy(np.stack([i, j]).astype(np.int64)).to(pos.device) + o)
    return torch.cat(edges, 1)


@torch.no_grad()
def _periodic_pairs(pos: Tensor, cell: Tensor, pbc: Tensor, cutoff: float) -> tuple[Tensor, Tensor]:
    """vesin's cell-list neighbour list of one periodic structure (a full list: both ``(i, j)`` and
    ``(j, i)``; any cell size, triclinic cells, periodic in some directions only):
    ``edge_index [2, E]`` and integer cell shifts ``[E, 3]`` (float64)."""
    from vesin import NeighborList

    i, j, s = NeighborList(cutoff=float(cutoff), full_list=True).compute(
        points=pos.detach().cpu().double().numpy(),
        box=cell.detach().cpu().double().numpy(),
        periodic=[bool(x) for x in pbc.detach().cpu().tolist()],
        quantities="ijS",
        copy=True,
    )
    ei = torch.from_numpy(np.stack([i, j]).astype(np.int64)).to(pos.device)
    return ei, torch.from_numpy(np.asarray(s, dtype=np.float64)).to(pos.device)


def neighbor_list(
    pos: Tensor,
    batch: Tensor,
    num_graphs: int,
    cutoff: float,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Radius graph of a batch: ``edge_index [2, E]`` and edge vectors ``vec [E, 3]``.

    ``pos [N, 3]`` (gradients flow through ``vec``), ``batch [N]`` graph of each atom (sorted, as
    PyG batches are), ``cell [B, 3, 3]`` (rows are lattice vectors) and ``pbc [B, 3]`` for periodic
    structures (optional).  Non-periodic structures of the batch get their pairs in one dense torch
    call; each periodic structure goes to vesin's cell list (``vesin.NeighborList``, C++), whose
    shifts ``S`` give ``vec = pos[j] - pos[i] + S @ cell`` (ASE's convention).
    """
    if cell is None or pbc is None or not bool(pbc.any()):
        ei = _nonperiodic_pairs(pos.detach(), batch, num_graphs, cutoff)
        return ei, pos[ei[1]] - pos[ei[0]]
    pbc = pbc.reshape(num_graphs, 3).bool()
    cell = cell.reshape(num_graphs, 3, 3)
    periodic = pbc.any(1)
    counts = torch.bincount(batch, minlength=num_graphs).tolist()
    offs = np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist()
    edges, shifts = [], []
    molecular_nodes = (~periodic[batch]).nonzero().flatten()
    if molecular_nodes.numel():
        ei = molecular_nodes[
            _nonperiodic_pairs(pos.detach()[molecular_nodes], batch[molecular_nodes], num_graphs, cutoff)
        ]
        edges.append(ei)
        shifts.append(torch.zeros(ei.shape[1], 3, dtype=torch.float64, device=pos.device))
    for g in periodic.nonzero().flatten().tolist():
        sl = slice(offs[g], offs[g + 1])
        ei, s = _periodic_pairs(pos[sl], cell[g], pbc[g], cutoff)
        edges.append(ei + offs[g])
        shifts.append(s)
    ei = torch.cat(edges, 1)
    s = torch.cat(shifts, 0).to(pos.dtype)
    vec = pos[ei[1]] - pos[ei[0]] + torch.einsum("ek,ekd->ed", s, cell[batch[ei[0]]])
    return ei, vec


# ---------------------------------------------------------------------- radial functions
class BesselBasis(nn.Module):
    """``sqrt(2/c) sin(n pi r / c) / r`` for n = 1..num_basis (NequIP/DimeNet), trainable frequencies."""

    def __init__(self, cutoff: float, num_basis: int = 8, trainable: bool = True):
        super().__init__()
        self.cutoff = float(cutoff)
        w = torch.linspace(1.0, num_basis, num_basis) * math.pi
        self.freq = nn.Parameter(w) if trainable else nn.Buffer(w)
        self.prefactor = math.sqrt(2.0 / self.cutoff)

    def forward(self, r: Tensor) -> Tensor:
        """``r [E]`` -> ``[E, num_basis]``."""
        x = r[:, None] / self.cutoff
        return self.prefactor * torch.sin(self.freq * x) / r[:, None]


class GaussianBasis(nn.Module):
    """Gaussians on an even grid ``0..cutoff`` (SchNet's radial basis)."""

    def __init__(self, cutoff: float, num_basis: int = 50):
        super().__init__()
        self.centers: Tensor  # buffer
        self.register_buffer("centers", torch.linspace(0.0, cutoff, num_basis))
        self.coeff = -0.5 / (cutoff / (num_basis - 1)) ** 2

    def forward(self, r: Tensor) -> Tensor:
        return torch.exp(self.coeff * (r[:, None] - self.centers.to(r.dtype)) ** 2)


class PolynomialCutoff(nn.Module):
    """NequIP's smooth envelope ``u(r/c)`` (Klicpera et al.): ``u(1) = u'(1) = u''(1) = 0`` for p = 6."""

    def __init__(self, cutoff: float, p: int = 6):
        super().__init__()
        self.cutoff, self.p = float(cutoff), float(p)

    def forward(self, r: Tensor) -> Tensor:
        p, x = self.p, r / self.cutoff
        out = (
            1.0
            - (p + 1.0) * (p + 2.0) / 2.0 * x.pow(p)
            + p * (p + 2.0) * x.pow(p + 1.0)
            - p * (p + 1.0) / 2.0 * x.pow(p + 2.0)
        )
        return out * (x < 1.0)


class CosineCutoff(nn.Module):
    """``0.5 (cos(pi r / c) + 1)`` inside the cutoff (SchNet, PaiNN)."""

    def __init__(self, cutoff: float):
        super().__init__()
        self.cutoff = float(cutoff)

    def forward(self, r: Tensor) -> Tensor:
        return 0.5 * (torch.cos(r * math.pi / self.cutoff) + 1.0) * (r < self.cutoff)


# ---------------------------------------------------------------------------- base model
class AtomisticModel(SymmetryContract, nn.Module):
    """Base class of energy models: ``{pos, z[, cell, pbc]} -> {"energy", "forces"[, "stress"]}``.

    ``E = sum_i (scale * e_i + E0[z_i])`` where ``e_i`` comes from :meth:`atomic_energies`, ``E0``
    are per-species reference energies and ``scale`` the force RMS of the training set (both
    buffers, fitted by :meth:`fit_reference`; saved with the weights).  ``forces = -dE/dpos``
    (``create_graph`` while training, so force losses can be trained).
    """

    symmetry = frozenset({"rotation", "reflection", "translation", "permutation"})
    input_fields = {"pos": Field(POSITION), "z": Field(SCALAR), "cell": Field(VECTOR, "graph")}
    optional_inputs = frozenset({"cell"})  # periodic structures only
    output_fields = {"energy": Field(SCALAR, "graph"), "forces": Field(VECTOR)}

    def __init__(self, cutoff: float, min_distance: float = 0.5):
        super().__init__()
        if not cutoff > 0:
            raise ValueError(f"cutoff must be positive (in Å), got {cutoff}")
        if not 0 <= min_distance < cutoff:
            raise ValueError(f"min_distance must be in [0, cutoff), got {min_distance}")
        self.cutoff = float(cutoff)
        self.min_distance = float(min_distance)
        self.atomic_reference: Tensor  # buffer
        self.register_buffer("atomic_reference", torch.zeros(MAX_Z + 1))
        self.known_species: Tensor  # buffer
        self.register_buffer("known_species", torch.zeros(MAX_Z + 1, dtype=torch.bool))
        self.energy_scale: Tensor  # buffer
        self.register_buffer("energy_scale", torch.ones(()))

    # -------------------------------------------------------------- subclass hook
    def atomic_energies(self, z: Tensor, edge_index: Tensor, vec: Tensor, num_nodes: int) -> Tensor:
        """Per-atom energies ``[N]`` (before scale and shift) from species ``z [N]``, the radius
        graph ``edge_index [2, E]`` and edge vectors ``vec [E, 3]``."""
        raise NotImplementedError

    # ------------------------------------------------------------------- fitting
    @torch.no_grad()
    def fit_reference(self, structures, *, fit_scale: bool = True) -> dict:
        """Fit per-species reference energies by least squares (``E ≈ Σ_i E0[z_i]``) and the
        energy scale (force RMS) on ``structures`` (an iterable of ``Data`` with ``z``, ``energy``,
        ``forces``).  Records the species seen, so unknown elements are refused later."""
        zs, es, f2, nf = [], [], 0.0, 0
        for d in structures:
            zs.append(d.z.reshape(-1).cpu())
            es.append(float(d.energy.reshape(-1)[0]))
            if getattr(d, "forces", None) is not None:
                f2 += float(d.forces.double().pow(2).sum())
                nf += d.forces.numel()
        if not zs:
            raise InputError("cannot fit reference energies on an empty training set")
        species = torch.unique(torch.cat(zs))
        if int(species.max()) > MAX_Z or int(species.min()) < 1:
            raise InputError(f"atomic numbers must be in 1..{MAX_Z}, got {species.tolist()}")
        col = {int(s): k for k, s in enumerate(species)}
        counts = np.zeros((len(zs), len(col)))
        for r, z in enumerate(zs):
            for s, c in zip(*np.unique(z.numpy(), return_counts=True)):
                counts[r, col[int(s)]] = c
        e0, *_ = np.linalg.lstsq(counts, np.asarray(es), rcond=None)  # minimum-norm when rank-deficient
        ref = torch.zeros(MAX_Z + 1, dtype=torch.float64)
        ref[species] = torch.from_numpy(e0)
        self.atomic_reference.copy_(ref.to(self.atomic_reference.dtype))
        self.known_species.zero_()
        self.known_species[species] = True
        if fit_scale and nf:
            self.energy_scale.fill_(math.sqrt(f2 / nf))
        return {"species": species.tolist(), "reference_eV": e0.tolist(), "scale": float(self.energy_scale)}

    # ----------------------------------------------------------------- forward
    def _check(self, z: Tensor, pos: Tensor) -> None:
        if pos.ndim != 2 or pos.shape[-1] != 3:
            raise InputError(f"positions must have shape [n_atoms, 3], got {list(pos.shape)}")
        if pos.shape[0] == 0:
            raise InputError("empty structure (no atoms)")
        if not torch.isfinite(pos).all():
            raise InputError("atomic positions contain NaN or inf values")
        if z.shape[0] != pos.shape[0]:
            raise InputError(f"{z.shape[0]} atomic numbers for {pos.shape[0]} positions")
        if int(z.min()) < 1 or int(z.max()) > MAX_Z:
            raise InputError(f"atomic numbers must be in 1..{MAX_Z}, got {sorted(set(z.tolist()))}")
        if bool(self.known_species.any()):
            unknown = ~self.known_species[z]
            if bool(unknown.any()):
                bad = sorted(set(z[unknown].tolist()))
                known = torch.nonzero(self.known_species).flatten().tolist()
                raise InputError(
                    f"element(s) with Z={bad} were not in this model's training data (it knows Z={known})"
                )

    def forward(self, batch, *, compute_stress: bool = False) -> dict[str, Tensor]:
        """``batch.pos [N, 3]`` (Å), ``batch.z [N]``, ``batch.batch [N]``; optional ``batch.cell
        [B, 3, 3]``, ``batch.pbc [B, 3]`` -> ``{"energy": [B] (eV), "forces": [N, 3] (eV/Å)}``
        (+ ``"stress": [B, 3, 3]`` (eV/Å³) with ``compute_stress`` on periodic cells)."""
        z = batch.z.reshape(-1).long()
        dtype = self.atomic_reference.dtype  # inputs follow the model's dtype
        pos = batch.pos if batch.pos.dtype == dtype else batch.pos.to(dtype)
        self._check(z, pos)
        b = getattr(batch, "batch", None)
        if b is None:
            b = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
        num_graphs = int(getattr(batch, "num_graphs", int(b.max()) + 1))
        cell, pbc = getattr(batch, "cell", None), getattr(batch, "pbc", None)
        cell = cell.to(dtype) if cell is not None else None
        periodic = cell is not None and pbc is not None and bool(torch.as_tensor(pbc).any())
        with torch.enable_grad():
            if not pos.requires_grad:
                pos = pos.detach().requires_grad_(True)
            strain = None
            if compute_stress and periodic and cell is not None:
                strain = torch.zeros(num_graphs, 3, 3, dtype=pos.dtype, device=pos.device, requires_grad=True)
                sym = 0.5 * (strain + strain.transpose(-1, -2))
                pos = pos + torch.einsum("ni,nij->nj", pos, sym[b])
                cell = cell.reshape(num_graphs, 3, 3) + torch.einsum(
                    "nki,nij->nkj", cell.reshape(num_graphs, 3, 3), sym
                )
            ei, vec = neighbor_list(
                pos,
                b,
                num_graphs,
                self.cutoff,
                cell if periodic else None,
                torch.as_tensor(pbc) if periodic else None,
            )
            if ei.shape[1] and self.min_distance > 0:
                dmin = vec.detach().norm(dim=-1).min()
                if float(dmin) < self.min_distance:
                    raise InputError(
                        f"two atoms are {float(dmin):.3g} Å apart, closer than the minimum distance "
                        f"{self.min_distance} Å this model accepts"
                    )
            e = self.atomic_energies(z, ei, vec, pos.shape[0])
            e = e * self.energy_scale.to(e.dtype) + self.atomic_reference.to(e.dtype)[z]
            energy = scatter_sum(e, b, num_graphs)
            inputs = [pos] if strain is None else [pos, strain]
            grads = torch.autograd.grad(energy.sum(), inputs, create_graph=self.training, allow_unused=True)
        forces = -grads[0] if grads[0] is not None else torch.zeros_like(pos)
        out = {"energy": energy, "forces": forces}
        if strain is not None and cell is not None:
            vol = torch.linalg.det(cell.detach()).abs()
            g = grads[1] if grads[1] is not None else torch.zeros_like(strain)
            out["stress"] = g / vol[:, None, None]
        return out
