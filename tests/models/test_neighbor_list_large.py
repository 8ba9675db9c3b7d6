"""Non-periodic structures above DENSE_PAIRS_MAX_ATOMS atoms take vesin's cell list (linear cost),
with the same graph as the dense all-pairs path."""

from __future__ import annotations

import numpy as np
import torch
from symzoo.models import _atoms
from symzoo.models._atoms import DENSE_PAIRS_MAX_ATOMS, neighbor_list


def _pairs(ei, vec):
    return {(int(a), int(b), *np.round(v, 8).tolist()) for a, b, v in zip(*ei.tolist(), vec.numpy())}


def test_large_cluster_pairs_match_the_dense_path(monkeypatch):
    rng = np.random.default_rng(0)
    n_big = DENSE_PAIRS_MAX_ATOMS + 40
    big = torch.from_numpy(rng.uniform(0, 12, (n_big, 3)))
    small = torch.from_numpy(rng.uniform(0, 4, (9, 3)))
    pos = torch.cat([small, big, small + 1])
    batch = torch.cat([torch.zeros(9), torch.ones(n_big), torch.full((9,), 2)]).long()
    calls = []
    real = _atoms._molecule_pairs
    monkeypatch.setattr(_atoms, "_molecule_pairs", lambda p, *a: calls.append(p.shape[0]) or real(p, *a))
    ei, vec = neighbor_list(pos, batch, 3, 3.0)
    assert calls == [18]  # only the two small molecules were paired densely
    ref_ei = real(pos, batch, 3, 3.0)
    assert _pairs(ei, vec) == _pairs(ref_ei, pos[ref_ei[1]] - pos[ref_ei[0]])
    assert ei.shape[1] > 0
