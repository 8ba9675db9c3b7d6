"""PaiNN (Schütt, Unke & Gastegger, ICML 2021): equivariant scalar/vector message passing.

Each atom carries scalars ``s [N, F]`` and vectors ``v [N, 3, F]``.  Messages use the radial
basis (sine/Bessel with a cosine cutoff) and the unit edge direction; the update mixes vector
channels linearly and couples them to scalars through norms and dot products only, so scalars are
E(3)-invariant (including reflections: no cross products) and vectors E(3)-equivariant.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symzoo.registry import register_model

from ._atoms import MAX_Z, AtomisticModel, BesselBasis, CosineCutoff, edge_blocks, scatter_sum, split_edges

__all__ = ["PaiNN", "painn"]


#: edges per block of the message passing on large systems (cache-sized float64 messages)
EDGE_BLOCK = 4096


class PaiNNMessage(nn.Module):
    def __init__(self, f: int, num_basis: int):
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(f, f), nn.SiLU(), nn.Linear(f, 3 * f))
        self.w = nn.Linear(num_basis, 3 * f)
        self.f = f

    def forward(self, s, v, edge_index, rbf, fcut, unit):
        i, j = edge_index
        n, phi = s.shape[0], self.phi(s)
        blocks = edge_blocks(i.shape[0], EDGE_BLOCK, 2 * EDGE_BLOCK)
        if len(blocks) == 1:  # one pass (and torch.export)
            ds, dv = self._messages(phi, v, j, rbf, fcut, unit)
            return s + scatter_sum(ds, i, n), v + scatter_sum(dv, i, n)
        # large systems: blocks of edges whose [block, 3, F] messages stay in cache, summed into
        # one node-sized accumulator (same function; see symzoo.models.nequip.EDGE_BLOCK)
        acc_s, acc_v = s.new_zeros(s.shape), v.new_zeros(v.shape)
        per_block = zip(blocks, *(split_edges(t, blocks) for t in (rbf, fcut, unit)))
        for e, rb, fc, un in per_block:
            ds, dv = self._messages(phi, v, j[e], rb, fc, un)
            acc_s.index_add_(0, i[e], ds)
            acc_v.index_add_(0, i[e], dv)
        return s + acc_s, v + acc_v

    def _messages(self, phi, v, j, rbf, fcut, unit):
        x = phi[j] * self.w(rbf) * fcut[:, None]
        ds, dvv, dvs = torch.split(x, self.f, dim=-1)
        return ds, v[j] * dvv[:, None, :] + dvs[:, None, :] * unit[:, :, None]


class PaiNNUpdate(nn.Module):
    def __init__(self, f: int):
        super().__init__()
        self.U = nn.Linear(f, f, bias=False)
        self.V = nn.Linear(f, f, bias=False)
        self.mlp = nn.Sequential(nn.Linear(2 * f, f), nn.SiLU(), nn.Linear(f, 3 * f))
        self.f = f

    def forward(self, s, v):
        uv, vv = self.U(v), self.V(v)
        vnorm = torch.sqrt(vv.pow(2).sum(1) + 1e-8)
        a = self.mlp(torch.cat([s, vnorm], -1))
        avv, asv, ass = torch.split(a, self.f, dim=-1)
        return s + ass + asv * (uv * vv).sum(1), v + avv[:, None, :] * uv


class PaiNN(AtomisticModel):
    """PaiNN energy model: ``{pos [N, 3], z [N], batch [N]} -> {"energy": [B], "forces": [N, 3]}``."""

    def __init__(
        self,
        channels: int = 64,
        layers: int = 3,
        num_basis: int = 20,
        cutoff: float = 5.0,
        min_distance: float = 0.5,
    ):
        super().__init__(cutoff, min_distance)
        if channels < 1 or layers < 1 or num_basis < 1:
            raise ValueError(
                f"PaiNN needs channels, layers, num_basis >= 1; got {channels}, {layers}, {num_basis}"
            )
        self.channels = channels
        self.embed = nn.Embedding(MAX_Z + 1, channels)
        self.rbf = BesselBasis(cutoff, num_basis, trainable=False)
        self.fcut = CosineCutoff(cutoff)
        self.messages = nn.ModuleList(PaiNNMessage(channels, num_basis) for _ in range(layers))
        self.updates = nn.ModuleList(PaiNNUpdate(channels) for _ in range(layers))
        self.readout = nn.Sequential(
            nn.Linear(channels, channels // 2), nn.SiLU(), nn.Linear(channels // 2, 1)
        )

    def atomic_energies(self, z: Tensor, edge_index: Tensor, vec: Tensor, num_nodes: int) -> Tensor:
        r = vec.norm(dim=-1)
        unit = vec / r[:, None]
        rbf, fcut = self.rbf(r), self.fcut(r)
        s = self.embed(z)
        v = s.new_zeros(num_nodes, 3, self.channels)
        for msg, upd in zip(self.messages, self.updates):
            s, v = msg(s, v, edge_index, rbf, fcut, unit)
            s, v = upd(s, v)
        return self.readout(s).squeeze(-1)


@register_model("painn", domain="atoms")
def painn(
    channels: int = 64, layers: int = 3, num_basis: int = 20, cutoff: float = 5.0, min_distance: float = 0.5
) -> PaiNN:
    """PaiNN: equivariant scalar/vector message passing (Schütt et al. 2021)."""
    return PaiNN(channels, layers, num_basis, cutoff, min_distance)
