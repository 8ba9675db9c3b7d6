"""``example-radial``: radial message passing for N-body systems, E(3) x S_n equivariant.

A user's own architecture as symzoo sees it: a builder (keyword arguments only) returning an
``nn.Module`` that declares its symmetry contract (``symmetry``, ``input_fields``, ``output_fields``:
the same ``Field``/``Rep`` objects tasks declare theirs with) and maps a batch to a dict of outputs.
(Contracts written as e3nn-style ``irreps_in``/``irreps_out`` strings still work, deprecated.)  Every node carries invariant features ``h`` (its speed and
charge); every edge ``i <- j`` a message from ``h_i, h_j, |x_i - x_j|^2`` and the charges; positions
move along the relative vectors ``x_i - x_j`` weighted by the messages, plus a learned multiple of
the velocity.  Only distances, speeds and charges enter the networks, and positions only through
relative vectors, so rotations, reflections, translations and relabelling of particles commute
with the model exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symzoo.symmetry import POSITION, SCALAR, VECTOR
from symzoo.task import Field

__all__ = ["RadialNet", "radial_net"]


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out))


class RadialNet(nn.Module):
    """Radial message passing: ``pos, vel [N, 3]``, ``attr [N, 1]``, ``edge_index [2, E]`` ->
    ``{"pos": [N, 3]}`` (the positions one prediction step ahead)."""

    # the symmetry contract symzoo checks (symzoo check-model) and reports
    symmetry = frozenset({"rotation", "reflection", "translation", "permutation"})
    input_fields = {"pos": Field(POSITION), "vel": Field(VECTOR), "attr": Field(SCALAR)}
    output_fields = {"pos": Field(POSITION)}

    def __init__(self, hidden: int = 32, layers: int = 2):
        super().__init__()
        if hidden < 1 or layers < 1:
            raise ValueError(f"hidden and layers must be >= 1, got hidden={hidden}, layers={layers}")
        self.embed = nn.Linear(2, hidden)
        self.messages = nn.ModuleList(_mlp(2 * hidden + 2, hidden, hidden) for _ in range(layers))
        self.updates = nn.ModuleList(_mlp(2 * hidden, hidden, hidden) for _ in range(layers))
        self.weights = nn.ModuleList(_mlp(hidden, hidden, 1) for _ in range(layers))
        self.velocity = _mlp(hidden, hidden, 1)

    def forward(self, batch) -> dict[str, Tensor]:
        x, v, q = batch.pos, batch.vel, batch.attr.reshape(batch.pos.shape[0], -1)[:, :1]
        row, col = batch.edge_index
        n = x.shape[0]
        h = self.embed(torch.cat([v.norm(dim=-1, keepdim=True), q], -1))
        out = x
        for msg, upd, wgt in zip(self.messages, self.updates, self.weights):
            d = out[row] - out[col]
            m = msg(torch.cat([h[row], h[col], d.pow(2).sum(-1, keepdim=True), q[row] * q[col]], -1))
            agg = torch.zeros(n, m.shape[1], dtype=m.dtype, device=m.device).index_add_(0, row, m)
            shift = torch.zeros_like(out).index_add_(0, row, d * torch.tanh(wgt(m)))
            out = out + shift / 4.0
            h = h + upd(torch.cat([h, agg], -1))
        return {"pos": out + self.velocity(h) * v}


def radial_net(hidden: int = 32, layers: int = 2) -> RadialNet:
    """Radial message passing (example plugin): E(3) x S_n equivariant N-body model."""
    return RadialNet(hidden=hidden, layers=layers)


# its domain, for listings (`symzoo list models`, `list_models(domain="nbody")`); the tasks it can
# run on follow from its declared fields (`symzoo list --task nbody-charged` lists it)
radial_net.domain = "nbody"  # type: ignore[attr-defined]
