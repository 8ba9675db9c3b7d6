"""E(n)-equivariant graph neural network (Satorras, Hoogeboom & Welling, ICML 2021).

The N-body variant with velocity input (``EGNN_vel``): scalar node features ``h`` are updated from
invariant edge messages; coordinates move along relative position vectors weighted by learned
scalars, plus a learned scalar times the input velocity.  Rotations, reflections, translations
and permutations of particles act exactly equivariantly (no per-axis clamping; an optional
``tanh`` bounds coordinate updates isotropically).

**Dense path.**  When a batch is ``B`` fully connected graphs of ``n`` nodes each (the N-body
tasks' layout: nodes of graph ``g`` contiguous, ``edge_index`` the ordered pairs ``i != j`` of
each graph in row-major order, as :class:`symzoo.task.GraphTensorDataset` builds it), the same
layers run on batched ``[B, n, n, ...]`` edge tensors with broadcasting instead of gathers and
scatters over ``edge_index``.  It is the same function with the same parameters (the diagonal
``i = i`` is computed and masked out of the sums; ``x_i - x_i = 0`` exactly), selected
automatically; any other graph takes the edge-list path.  ``tests/models/test_egnn_dense.py``
checks that both paths agree to 1e-12 in float64, gradients included.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from symzoo.registry import register_model
from symzoo.symmetry import POSITION, SCALAR, VECTOR
from symzoo.task import Field

from .base import ACTIVATIONS, SymmetryContract, mlp, segment_mean, segment_sum

__all__ = ["EGNNLayer", "EGNN"]


class EGNNLayer(nn.Module):
    """One E_GCL layer with velocity: ``(h, x, v) -> (h', x')``."""

    def __init__(
        self,
        hidden: int,
        edge_dim: int,
        act: str = "silu",
        *,
        recurrent: bool = True,
        tanh: bool = False,
        coords_agg: str = "mean",
        coords_range: float = 1.0,
        update_h: bool = True,
    ):
        super().__init__()
        # phi_e([h_i, h_j, |x_i - x_j|^2, a_ij]): its first linear map is split into per-node
        # projections gathered onto edges (the same function, with far fewer per-edge FLOPs)
        self.edge_src = nn.Linear(hidden, hidden)
        self.edge_dst = nn.Linear(hidden, hidden, bias=False)
        self.edge_geo = nn.Linear(1 + edge_dim, hidden, bias=False)
        self.edge_act = ACTIVATIONS[act]()
        self.edge_out = mlp([hidden, hidden], act, last_act=True)
        # the last layer's feature update would never reach the output: it is not built
        self.node_mlp = mlp([2 * hidden, hidden, hidden], act) if update_h else None
        coord = [nn.Linear(hidden, hidden), ACTIVATIONS[act](), nn.Linear(hidden, 1, bias=False)]
        nn.init.xavier_uniform_(coord[-1].weight, gain=0.001)
        if tanh:
            coord.append(nn.Tanh())
        self.coord_mlp = nn.Sequential(*coord)
        self.vel_mlp = mlp([hidden, hidden, 1], act)
        self.recurrent, self.tanh, self.coords_agg, self.coords_range = (
            recurrent,
            tanh,
            coords_agg,
            coords_range,
        )

    def forward(self, h: Tensor, x: Tensor, v: Tensor, edge_index: Tensor, edge_attr: Tensor):
        """``h [N, hidden]``, ``x, v [N, d]``, ``edge_index [2, E]``, ``edge_attr [E, edge_dim]``."""
        row, col = edge_index
        diff = x[row] - x[col]
        radial = (diff**2).sum(-1, keepdim=True)
        pre = (
            self.edge_src(h)[row] + self.edge_dst(h)[col] + self.edge_geo(torch.cat([radial, edge_attr], -1))
        )
        m = self.edge_out(self.edge_act(pre))
        w = self.coord_mlp(m)
        if self.tanh:
            w = w * self.coords_range
        agg = segment_mean if self.coords_agg == "mean" else segment_sum
        x = x + agg(diff * w, row, x.shape[0]) + self.vel_mlp(h) * v
        if self.node_mlp is None:
            return h, x
        dh = self.node_mlp(torch.cat([h, segment_sum(m, row, h.shape[0])], dim=-1))
        h = h + dh if self.recurrent else dh
        return h, x

    def forward_dense(self, h: Tensor, x: Tensor, v: Tensor, edge_attr: Tensor, nbr: Tensor):
        """The same layer on ``B`` fully connected graphs of ``n`` nodes: ``h [B, n, hidden]``,
        ``x, v [B, n, d]``, ``edge_attr [B, n, n - 1, edge_dim]``, ``nbr [n, n - 1]`` (the
        neighbours ``j != i`` of node ``i`` in increasing order).  Entry ``[:, i, k]`` is the
        edge ``(i, nbr[i, k])``: the edge list's order, reshaped."""
        diff = x[:, :, None, :] - x[:, nbr]
        radial = (diff**2).sum(-1, keepdim=True)
        pre = (
            self.edge_src(h)[:, :, None, :]
            + self.edge_dst(h)[:, nbr]
            + self.edge_geo(torch.cat([radial, edge_attr], -1))
        )
        m = self.edge_out(self.edge_act(pre))
        w = self.coord_mlp(m)
        if self.tanh:
            w = w * self.coords_range
        agg = (diff * w).sum(2)
        if self.coords_agg == "mean":
            agg = agg / nbr.shape[1]
        x = x + agg + self.vel_mlp(h) * v
        if self.node_mlp is None:
            return h, x
        dh = self.node_mlp(torch.cat([h, m.sum(2)], dim=-1))
        h = h + dh if self.recurrent else dh
        return h, x


#: largest graph (nodes) for which the dense path is used; beyond it the edge list is cheaper
DENSE_MAX_NODES = 64


class EGNN(SymmetryContract, nn.Module):
    """EGNN for particle dynamics: ``pos, vel, attr -> {"pos"}`` (positions after the horizon)."""

    symmetry = frozenset({"rotation", "reflection", "translation", "permutation"})
    input_fields = {"pos": Field(POSITION), "vel": Field(VECTOR), "attr": Field(SCALAR)}
    output_fields = {"pos": Field(POSITION)}

    def __init__(
        self,
        hidden: int = 64,
        layers: int = 4,
        act: str = "silu",
        attr_dim: int = 1,
        recurrent: bool = True,
        tanh: bool = False,
        coords_agg: str = "mean",
    ):
        super().__init__()
        if hidden < 1 or layers < 1:
            raise ValueError(f"EGNN needs hidden >= 1 and layers >= 1, got hidden={hidden}, layers={layers}")
        if coords_agg not in ("mean", "sum"):
            raise ValueError(f"coords_agg must be 'mean' or 'sum', got {coords_agg!r}")
        self.embed = nn.Linear(1, hidden)
        edge_dim = attr_dim + 1
        self.layers = nn.ModuleList(
            EGNNLayer(
                hidden,
                edge_dim,
                act,
                recurrent=recurrent,
                tanh=tanh,
                coords_agg=coords_agg,
                update_h=i < layers - 1,
            )
            for i in range(layers)
        )
        # fully connected edge templates by (n_total, n, device); never part of the state dict
        self._dense_templates: dict[tuple[int, int, str], Tensor] = {}

    def dense_nodes(self, edge_index: Tensor, n_total: int) -> int | None:
        """``n`` when ``edge_index`` is exactly ``n_total / n`` fully connected graphs of ``n``
        contiguous nodes in row-major pair order (the dense path applies), else ``None``."""
        n_edges = int(edge_index.shape[1])
        if n_total < 2 or n_edges == 0 or n_edges % n_total:
            return None
        n = n_edges // n_total + 1
        if n > DENSE_MAX_NODES or n_total % n:
            return None
        key = (n_total, n, str(edge_index.device))
        tmpl = self._dense_templates.get(key)
        if tmpl is None:
            i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            one = torch.stack([i[i != j], j[i != j]])
            off = (torch.arange(n_total // n) * n).repeat_interleave(one.shape[1])
            tmpl = (one.repeat(1, n_total // n) + off).to(edge_index.device)
            if len(self._dense_templates) > 16:
                self._dense_templates.clear()
            self._dense_templates[key] = tmpl
        return n if torch.equal(edge_index, tmpl) else None

    def forward(self, batch) -> dict[str, Tensor]:
        """``batch.pos, batch.vel [N, d]``, ``batch.attr [N, attr_dim]``, ``batch.edge_index [2, E]``
        -> ``{"pos": [N, d]}``.  Fully connected graphs of equal size take the dense path (same
        outputs, see the module docstring)."""
        x, v, attr, ei = batch.pos, batch.vel, batch.attr, batch.edge_index
        n = self.dense_nodes(ei, x.shape[0])
        if n is not None:
            return {"pos": self._forward_dense(x, v, attr, n)}
        row, col = ei
        edge_attr = torch.cat([attr[row] * attr[col], ((x[row] - x[col]) ** 2).sum(-1, keepdim=True)], -1)
        h = self.embed(v.norm(dim=-1, keepdim=True))
        for layer in self.layers:
            h, x = layer(h, x, v, ei, edge_attr)
        return {"pos": x}

    def _forward_dense(self, x: Tensor, v: Tensor, attr: Tensor, n: int) -> Tensor:
        n_total, d = x.shape
        b = n_total // n
        xb, vb, ab = x.reshape(b, n, d), v.reshape(b, n, d), attr.reshape(b, n, -1)
        i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        nbr = j[i != j].reshape(n, n - 1).to(x.device)
        d0 = xb[:, :, None, :] - xb[:, nbr]
        edge_attr = torch.cat([ab[:, :, None, :] * ab[:, nbr], (d0**2).sum(-1, keepdim=True)], -1)
        h = self.embed(vb.norm(dim=-1, keepdim=True))
        for layer in self.layers:
            h, xb = cast(EGNNLayer, layer).forward_dense(h, xb, vb, edge_attr, nbr)
        return xb.reshape(n_total, d)


@register_model("egnn", domain="nbody")
def egnn(
    hidden: int = 64,
    layers: int = 4,
    act: str = "silu",
    attr_dim: int = 1,
    recurrent: bool = True,
    tanh: bool = False,
    coords_agg: str = "mean",
) -> EGNN:
    """E(n)-equivariant GNN with velocity input (Satorras et al. 2021); E(3) x S_n equivariant."""
    return EGNN(hidden, layers, act, attr_dim, recurrent, tanh, coords_agg)
