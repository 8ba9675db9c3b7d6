"""The periodic neighbour list (vesin) gives the same graph as the former per-structure ASE list."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from symzoo.models._atoms import neighbor_list


def _ase_reference(structures, cutoff):
    """The former implementation: ASE's primitive_neighbor_list, one structure at a time."""
    from ase.neighborlist import primitive_neighbor_list

    out, off = set(), 0
    for pos, cell, pbc in structures:
        if any(pbc):
            i, j, S = primitive_neighbor_list("ijS", pbc, cell, pos, cutoff, self_interaction=False)
        else:
            d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
            i, j = np.nonzero((d < cutoff) & ~np.eye(len(pos), dtype=bool))
            S = np.zeros((len(i), 3), dtype=int)
        for a, b, s in zip(i, j, S):
            vec = pos[b] - pos[a] + s @ cell
            out.add((int(a) + off, int(b) + off, *np.round(vec, 8).tolist()))
        off += len(pos)
    return out


def _structures():
    from ase.build import bulk, molecule

    rng = np.random.default_rng(0)
    small = bulk("Cu", "fcc", a=3.61)  # a primitive cell far smaller than the cutoff
    cubic = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    slab = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 1))
    tri = bulk("Cu", "fcc", a=3.61).repeat((2, 2, 2))  # triclinic cell vectors
    mol = molecule("CH3CH2OH")
    out = []
    for at, pbc in (
        (small, [1, 1, 1]),
        (cubic, [1, 1, 1]),
        (mol, [0, 0, 0]),
        (slab, [1, 1, 0]),
        (tri, [1, 1, 1]),
    ):
        at = at.copy()
        at.positions += rng.normal(scale=0.05, size=at.positions.shape)
        cell = at.cell.array if any(pbc) else np.eye(3) * 10.0
        out.append((at.positions.copy(), np.asarray(cell, dtype=float), [bool(p) for p in pbc]))
    return out


@pytest.mark.parametrize("cutoff", [3.0, 5.0])
def test_periodic_neighbor_list_matches_the_ase_loop(cutoff):
    structures = _structures()
    pos = torch.tensor(np.concatenate([s[0] for s in structures]), dtype=torch.float64, requires_grad=True)
    batch = torch.cat([torch.full((len(s[0]),), g, dtype=torch.long) for g, s in enumerate(structures)])
    cell = torch.tensor(np.stack([s[1] for s in structures]), dtype=torch.float64)
    pbc = torch.tensor([s[2] for s in structures])
    ei, vec = neighbor_list(pos, batch, len(structures), cutoff, cell, pbc)
    got = {
        (int(a), int(b), *np.round(v, 8).tolist()) for (a, b), v in zip(ei.T.tolist(), vec.detach().numpy())
    }
    want = _ase_reference(structures, cutoff)
    assert len(got) == ei.shape[1] and got == want
    assert (vec.norm(dim=-1) < cutoff).all()
    vec.sum().backward()  # gradients flow to the positions
    assert pos.grad is not None
