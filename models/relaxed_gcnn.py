"""``relaxed-gcnn``: a relaxed D4 group convolution network (Wang, Walters & Yu, ICML 2022).

A group convolution's kernel for output element ``g`` is the ``g``-transformed shared kernel; a
**relaxed** group convolution uses ``K_g = Σ_l w[l, g] · g·K_l``: ``L`` filter banks combined with
coefficients that may differ per group element, so the layer is exactly D4-equivariant when the
coefficients are equal over ``g`` and approximately equivariant otherwise.  Layers (all with
circular padding on the periodic grid):

* lifting: ``(w, f)`` (pseudo-scalars) -> ``hidden`` regular fields, ``out[o, g] = det(g) K_g ⋆ x``;
* ``layers - 2`` relaxed group convolutions between regular fields, ReLU (pointwise, equivariant);
* a relaxed group convolution to one regular field, then ``y = mean_g det(g) z[g]`` (a pseudo-scalar).

Coefficients start at ``1/L`` plus ``init_noise`` (default 0.01) Gaussian noise, so a fresh model
is *approximately* equivariant (errors ~1e-2; it claims no symmetry).  ``regularization()`` adds
``relax_penalty · Σ (w[l, g] − mean_g w[l, g])²`` to the loss (the harness hook), Wang et al.'s
pull towards equivariance.  Group elements, their planar action and the Cayley table are those of
the task's :class:`symzoo.groups.GridRep` (escnn's D4), so "exactly equivariant" means the same
thing for this model and for the data.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from symzoo.contract import RepKind
from symzoo.groups import GridRep
from symzoo.registry import register_model
from symzoo.task import Field

from .base import SymmetryContract

__all__ = ["RelaxedGroupConv", "RelaxedGCNN"]

#: a pseudo-scalar field on a square grid (vorticity, the curl of a forcing) under C_n/D_n
_PSEUDO = RepKind("grid-pseudoscalar", types=(GridRep,), names=("grid-pseudoscalar",))


def _d4_tables(kernel: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Pixel permutations ``[G, k*k]`` of a k x k kernel, Cayley table, inverses, determinants."""
    from symzoo.groups import GridRep, dihedral

    # the flow tasks' D4 on the grid (only its tables are used here: the model claims no symmetry)
    group = dihedral(4, ("rotation", "reflection"), name="D4")
    rep = GridRep(group, "scalar")
    ids = torch.arange(kernel * kernel, dtype=torch.float64).reshape(kernel, kernel)
    perms = torch.stack([rep._transform_grid(ids, i).reshape(-1).round().long() for i in range(group.order)])
    return perms, group.cayley.clone(), group.inverse_table.clone(), rep.det.clone()


class RelaxedGroupConv(nn.Module):
    """Relaxed D4 group convolution ``[B, C_in(*8), n, n] -> [B, C_out * 8, n, n]`` (regular output).

    ``lifting=True``: the input is ``C_in`` pseudo-scalar channels; else ``C_in`` regular fields
    (``C_in * 8`` channels, element-minor)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, bases: int = 2, lifting: bool = False,
                 init_noise: float = 0.01):  # fmt: skip
        super().__init__()
        perms, cayley, inv, det = _d4_tables(kernel)
        self.G = int(cayley.shape[0])
        self.c_in, self.c_out, self.k, self.lifting = c_in, c_out, kernel, lifting
        gin = 1 if lifting else self.G
        fan_in = c_in * gin * kernel * kernel
        self.kernels = nn.Parameter(torch.randn(bases, c_out, c_in, gin, kernel * kernel) / math.sqrt(fan_in))
        self.coef = nn.Parameter(
            torch.full((bases, self.G), 1.0 / bases) + init_noise * torch.randn(bases, self.G)
        )
        self.bias = nn.Parameter(torch.zeros(c_out))
        # idx[g, h] = g^-1 h : the input element seen by output element g through kernel slot
        self.idx: Tensor  # buffer
        self.register_buffer("idx", cayley[inv][:, :], persistent=False)
        self.perms: Tensor  # buffer
        self.register_buffer("perms", perms, persistent=False)
        self.det: Tensor  # buffer
        self.register_buffer("det", det, persistent=False)

    def weight(self) -> Tensor:
        """The expanded convolution weight ``[C_out * G, C_in * G_in, k, k]``."""
        G, k = self.G, self.k
        K = self.kernels  # [L, O, I, Gin, kk]
        if self.lifting:
            Kg = K.unsqueeze(0).expand(G, *K.shape)  # [G, L, O, I, 1, kk]
        else:
            # slot h of output g reads kernel entry g^-1 h
            Kg = K[:, :, :, self.idx].permute(3, 0, 1, 2, 4, 5)  # [G, L, O, I, Gin, kk]
        perm = self.perms[:, None, None, None, None, :].expand_as(Kg)
        Kg = torch.gather(Kg, -1, perm)  # spatial transform by g: new[p] = old[perm_g[p]]
        W = torch.einsum("lg,gloihp->goihp", self.coef.to(Kg.dtype), Kg)  # [G, O, I, Gin, kk]
        if self.lifting:
            W = W * self.det.to(W.dtype)[:, None, None, None, None]
        W = W.permute(1, 0, 2, 3, 4)  # [O, G, I, Gin, kk]
        return W.reshape(self.c_out * G, -1, k, k)

    def forward(self, x: Tensor) -> Tensor:
        """``x: [B, C_in * G_in, n, n]`` -> ``[B, C_out * G, n, n]``."""
        p = self.k // 2
        x = F.pad(x, (p, p, p, p), mode="circular")
        bias = self.bias.repeat_interleave(self.G)
        return F.conv2d(x, self.weight(), bias)

    def relaxation(self) -> Tensor:
        return (self.coef - self.coef.mean(1, keepdim=True)).pow(2).sum()


class RelaxedGCNN(SymmetryContract, nn.Module):
    """Relaxed D4 group-convolution network for next-frame vorticity (see the module docstring)."""

    symmetry: frozenset[str] = frozenset()  # approximately equivariant only
    input_fields = {"w": Field(_PSEUDO, "graph"), "f": Field(_PSEUDO, "graph")}
    output_fields = {"w": Field(_PSEUDO, "graph")}

    def __init__(self, hidden: int = 4, layers: int = 4, kernel: int = 3, bases: int = 2,
                 relax_penalty: float = 1e-3, init_noise: float = 0.01,
                 w_scale: float = 1.0, f_scale: float = 1.0):  # fmt: skip
        super().__init__()
        if hidden < 1 or layers < 2 or bases < 1 or kernel % 2 == 0:
            raise ValueError(
                f"relaxed-gcnn needs hidden >= 1, layers >= 2, bases >= 1 and an odd kernel, "
                f"got {hidden}, {layers}, {bases}, {kernel}"
            )
        if not (w_scale > 0 and f_scale > 0):
            raise ValueError(f"w_scale and f_scale must be > 0, got {w_scale}, {f_scale}")
        self.w_scale, self.f_scale, self.relax_penalty = float(w_scale), float(f_scale), float(relax_penalty)
        convs = [RelaxedGroupConv(2, hidden, kernel, bases, lifting=True, init_noise=init_noise)]
        convs += [
            RelaxedGroupConv(hidden, hidden, kernel, bases, init_noise=init_noise) for _ in range(layers - 2)
        ]
        convs.append(RelaxedGroupConv(hidden, 1, kernel, bases, init_noise=init_noise))
        self.convs = nn.ModuleList(convs)

    def forward(self, batch) -> dict[str, Tensor]:
        """``batch.w, batch.f: [B, n, n]`` -> ``{"w": [B, n, n]}`` (vorticity one frame ahead)."""
        w = batch.w
        h = torch.stack([w / self.w_scale, batch.f.to(w.dtype) / self.f_scale], 1)
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.convs) - 1:
                h = F.relu(h)
        det = cast(RelaxedGroupConv, self.convs[-1]).det.to(h.dtype)
        y = (h * det[None, :, None, None]).mean(1)  # one regular field -> pseudo-scalar
        return {"w": w + self.w_scale * y}

    def regularization(self) -> Tensor | None:
        if self.relax_penalty <= 0:
            return None
        return self.relax_penalty * sum(
            (cast(RelaxedGroupConv, c).relaxation() for c in self.convs), torch.zeros(())
        )


@register_model(
    "relaxed-gcnn", domain="flows", description="relaxed D4 group convolutions (Wang et al. 2022)"
)
def relaxed_gcnn(hidden: int = 4, layers: int = 4, kernel: int = 3, bases: int = 2, relax_penalty: float = 1e-3,
                 init_noise: float = 0.01, w_scale: float = 1.0, f_scale: float = 1.0) -> RelaxedGCNN:  # fmt: skip
    """Approximately D4-equivariant next-frame vorticity model (see the module docstring)."""
    return RelaxedGCNN(hidden, layers, kernel, bases, relax_penalty, init_noise, w_scale, f_scale)
