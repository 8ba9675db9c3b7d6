"""Relaxed equivariance: an exactly equivariant model plus a penalized non-equivariant residual.

``egnn-rpp`` follows the residual pathway prior of Finzi, Benton & Wilson (NeurIPS 2021): the
prediction is the sum of an equivariant pathway (the N-body :class:`~symzoo.models.egnn.EGNN`) and
a non-equivariant pathway (a per-particle MLP on the raw Cartesian inputs) whose weights carry a
tighter Gaussian prior, i.e. an L2 penalty ``prior * sum(theta_res ** 2)`` added to the training
loss through the declared :meth:`~symzoo.models.base.SymmetryContract.regularization` hook.  On
exactly symmetric data the penalty keeps the residual near zero (the model behaves like EGNN); when
the data break the symmetry (``nbody-charged`` with an external field), the residual learns the
part the equivariant pathway cannot express (e.g. the drift ``q E t^2 / 2`` along the field).

The residual reads positions relative to each system's centroid, velocities and charges, so the
model stays exactly translation- and permutation-equivariant; it claims neither rotations nor
reflections (its residual breaks them, by design).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symzoo.registry import register_model
from symzoo.symmetry import POSITION, SCALAR, VECTOR
from symzoo.task import Field

from .base import SymmetryContract, mlp, segment_mean
from .egnn import EGNN

__all__ = ["RelaxedEGNN"]


class RelaxedEGNN(SymmetryContract, nn.Module):
    """EGNN + a penalized per-particle MLP residual: ``pos, vel, attr -> {"pos"}``.

    ``prior``: weight of the L2 penalty on the residual's parameters (larger: closer to EGNN).
    ``residual_gain``: Xavier gain of the residual's last layer at initialisation (small, not zero:
    a zero residual would make the untrained model exactly equivariant to what it does not claim).
    """

    symmetry = frozenset({"translation", "permutation"})
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
        residual_hidden: int = 64,
        residual_layers: int = 2,
        prior: float = 1e-3,
        residual_gain: float = 0.1,
        dim: int = 3,
    ):
        super().__init__()
        if residual_hidden < 1 or residual_layers < 1:
            raise ValueError(
                f"RelaxedEGNN needs residual_hidden >= 1 and residual_layers >= 1, got "
                f"{residual_hidden} and {residual_layers}"
            )
        if not prior >= 0:
            raise ValueError(f"prior (the residual's L2 penalty weight) must be >= 0, got {prior}")
        self.equivariant = EGNN(hidden, layers, act, attr_dim, recurrent, tanh, coords_agg)
        self.residual = mlp(
            [2 * dim + attr_dim] + [residual_hidden] * residual_layers + [dim], act, last_gain=residual_gain
        )
        self.prior = float(prior)

    def forward(self, batch) -> dict[str, Tensor]:
        """``batch.pos, batch.vel [N, d]``, ``batch.attr [N, attr_dim]``, ``batch.edge_index [2, E]``,
        ``batch.batch [N]`` -> ``{"pos": [N, d]}`` (equivariant prediction + residual)."""
        x, v, attr = batch.pos, batch.vel, batch.attr
        index = getattr(batch, "batch", None)
        if index is None:
            index = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        n_graphs = int(index.max()) + 1 if index.numel() else 0
        centred = x - segment_mean(x, index, n_graphs)[index]
        out = self.equivariant(batch)["pos"]
        return {"pos": out + self.residual(torch.cat([centred, v, attr], -1))}

    def regularization(self) -> Tensor:
        """``prior * sum(theta ** 2)`` over the residual pathway's parameters (a scalar)."""
        return self.prior * sum((p.pow(2).sum() for p in self.residual.parameters()), torch.zeros(()))

    def residual_norm(self) -> float:
        """``sqrt(sum(theta ** 2))`` of the residual pathway (how far the model moved off EGNN)."""
        return float(
            torch.sqrt(sum((p.detach().pow(2).sum() for p in self.residual.parameters()), torch.zeros(())))
        )


@register_model("egnn-rpp", domain="nbody")
def egnn_rpp(
    hidden: int = 64,
    layers: int = 4,
    act: str = "silu",
    attr_dim: int = 1,
    recurrent: bool = True,
    tanh: bool = False,
    coords_agg: str = "mean",
    residual_hidden: int = 64,
    residual_layers: int = 2,
    prior: float = 1e-3,
    residual_gain: float = 0.1,
) -> RelaxedEGNN:
    """EGNN + L2-penalized non-equivariant MLP residual (residual pathway prior, Finzi et al. 2021);
    translation and permutation equivariant, rotations/reflections relaxed."""
    return RelaxedEGNN(
        hidden,
        layers,
        act,
        attr_dim,
        recurrent,
        tanh,
        coords_agg,
        residual_hidden,
        residual_layers,
        prior,
        residual_gain,
    )
