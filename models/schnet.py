"""SchNet (Schütt et al., NeurIPS 2017 / JCP 2018): the invariant baseline force field.

Written on symzoo's own primitives (not ``torch_geometric.nn.SchNet``) so it shares the radius
graph (periodic cells included), reference energies and autograd forces of
:class:`~symzoo.models._atoms.AtomisticModel`.  Interactions are continuous-filter convolutions
with Gaussian radial features and a cosine cutoff; node features are scalars only, so the energy
is invariant and the forces equivariant under E(3) and permutations of same-species atoms.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from symzoo.registry import register_model

from ._atoms import MAX_Z, AtomisticModel, CosineCutoff, GaussianBasis, edge_blocks, scatter_sum, split_edges

#: edges per block of the interaction on large systems (cache-sized float64 filters and messages)
EDGE_BLOCK = 4096

__all__ = ["SchNet", "schnet"]


class ShiftedSoftplus(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.softplus(x) - math.log(2.0)


class CFConv(nn.Module):
    """Continuous-filter convolution: ``h_i' = sum_j h_j * W(r_ij) * cutoff(r_ij)``."""

    def __init__(self, channels: int, num_basis: int, filters: int):
        super().__init__()
        self.filter = nn.Sequential(
            nn.Linear(num_basis, filters), ShiftedSoftplus(), nn.Linear(filters, filters)
        )
        self.lin_in = nn.Linear(channels, filters, bias=False)
        self.lin_out = nn.Sequential(
            nn.Linear(filters, channels), ShiftedSoftplus(), nn.Linear(channels, channels)
        )

    def forward(self, h: Tensor, edge_index: Tensor, rbf: Tensor, fcut: Tensor) -> Tensor:
        i, j = edge_index
        x = self.lin_in(h)
        blocks = edge_blocks(i.shape[0], EDGE_BLOCK, 2 * EDGE_BLOCK)
        if len(blocks) == 1:  # one pass (and torch.export)
            m = x[j] * (self.filter(rbf) * fcut[:, None])
            return self.lin_out(scatter_sum(m, i, h.shape[0]))
        # large systems: blocks of edges (filter network, messages and sum stay in cache), summed
        # into one node-sized accumulator (same function; see symzoo.models.nequip.EDGE_BLOCK)
        acc = x.new_zeros((h.shape[0], x.shape[1]))
        for e, rb, fc in zip(blocks, split_edges(rbf, blocks), split_edges(fcut, blocks)):
            acc.index_add_(0, i[e], x[j[e]] * (self.filter(rb) * fc[:, None]))
        return self.lin_out(acc)


class SchNet(AtomisticModel):
    """SchNet energy model: ``{pos [N, 3], z [N], batch [N]} -> {"energy": [B], "forces": [N, 3]}``."""

    def __init__(
        self,
        channels: int = 64,
        layers: int = 3,
        num_basis: int = 32,
        filters: int | None = None,
        cutoff: float = 5.0,
        min_distance: float = 0.5,
    ):
        super().__init__(cutoff, min_distance)
        if channels < 1 or layers < 1 or num_basis < 2:
            raise ValueError(
                f"SchNet needs channels >= 1, layers >= 1, num_basis >= 2; got {channels}, {layers}, "
                f"{num_basis}"
            )
        self.embed = nn.Embedding(MAX_Z + 1, channels)
        self.rbf = GaussianBasis(cutoff, num_basis)
        self.fcut = CosineCutoff(cutoff)
        self.interactions = nn.ModuleList(
            CFConv(channels, num_basis, filters or channels) for _ in range(layers)
        )
        self.readout = nn.Sequential(
            nn.Linear(channels, channels // 2), ShiftedSoftplus(), nn.Linear(channels // 2, 1)
        )

    def atomic_energies(self, z: Tensor, edge_index: Tensor, vec: Tensor, num_nodes: int) -> Tensor:
        r = vec.norm(dim=-1)
        rbf, fcut = self.rbf(r), self.fcut(r)
        h = self.embed(z)
        for conv in self.interactions:
            h = h + conv(h, edge_index, rbf, fcut)
        return self.readout(h).squeeze(-1)


@register_model("schnet", domain="atoms")
def schnet(
    channels: int = 64,
    layers: int = 3,
    num_basis: int = 32,
    filters: int | None = None,
    cutoff: float = 5.0,
    min_distance: float = 0.5,
) -> SchNet:
    """SchNet: invariant continuous-filter convolutions (baseline force field)."""
    return SchNet(channels, layers, num_basis, filters, cutoff, min_distance)
