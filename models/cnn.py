"""Plain CNN baselines for 2-D flows: ``cnn`` (a small ResNet) and ``unet`` (a two-level U-Net).

Both map ``(w, f)`` (vorticity and forcing curl ``[B, n, n]`` on a periodic grid) to the next
vorticity ``w + w_scale * net(w / w_scale, f / f_scale)`` with circular padding (so they are exactly
translation-equivariant on the periodic grid, but not D4-equivariant: they claim no symmetry of the
task's group).  Default widths match ``steerable-cnn``'s parameter count (6,312 at its defaults):
``cnn`` 6,373 (width 18, one residual block), ``unet`` 6,887 (width 11); ``relaxed-gcnn`` has
5,405 (4 regular fields, 2 filter banks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from symzoo.contract import RepKind
from symzoo.groups import GridRep
from symzoo.registry import register_model
from symzoo.task import Field

from .base import SymmetryContract

__all__ = ["FlowCNN", "FlowUNet", "PeriodicConv"]

#: a one-channel field on a square grid (a plain CNN does not care how it transforms)
_GRID = RepKind("grid field", types=(GridRep,), names=("grid-scalar", "grid-pseudoscalar"))


class PeriodicConv(nn.Conv2d):
    """``Conv2d`` with circular padding of ``kernel // 2`` (odd kernels): a periodic-grid convolution."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3):
        if kernel % 2 == 0:
            raise ValueError(f"PeriodicConv needs an odd kernel, got {kernel}")
        super().__init__(c_in, c_out, kernel, padding=kernel // 2, padding_mode="circular")


class _FlowModel(SymmetryContract, nn.Module):
    symmetry: frozenset[str] = frozenset()
    input_fields = {"w": Field(_GRID, "graph"), "f": Field(_GRID, "graph")}
    output_fields = {"w": Field(_GRID, "graph")}

    def __init__(self, w_scale: float, f_scale: float):
        super().__init__()
        if not (w_scale > 0 and f_scale > 0):
            raise ValueError(f"w_scale and f_scale must be > 0, got {w_scale}, {f_scale}")
        self.w_scale, self.f_scale = float(w_scale), float(f_scale)

    def net(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, batch) -> dict[str, Tensor]:
        """``batch.w, batch.f: [B, n, n]`` -> ``{"w": [B, n, n]}`` (vorticity one frame ahead)."""
        w = batch.w
        x = torch.stack([w / self.w_scale, batch.f.to(w.dtype) / self.f_scale], 1)
        return {"w": w + self.w_scale * self.net(x)[:, 0]}


class FlowCNN(_FlowModel):
    """ResNet: a lifting conv, ``blocks`` residual blocks (conv-GELU-conv + skip), an output conv."""

    def __init__(
        self, width: int = 18, blocks: int = 1, kernel: int = 3, w_scale: float = 1.0, f_scale: float = 1.0
    ):
        super().__init__(w_scale, f_scale)
        if width < 1 or blocks < 0:
            raise ValueError(f"cnn needs width >= 1 and blocks >= 0, got {width}, {blocks}")
        self.inp = PeriodicConv(2, width, kernel)
        self.blocks = nn.ModuleList(
            nn.Sequential(PeriodicConv(width, width, kernel), nn.GELU(), PeriodicConv(width, width, kernel))
            for _ in range(blocks)
        )
        self.out = PeriodicConv(width, 1, kernel)

    def net(self, x: Tensor) -> Tensor:
        h = F.gelu(self.inp(x))
        for b in self.blocks:
            h = F.gelu(h + b(h))
        return self.out(h)


class FlowUNet(_FlowModel):
    """Two-level U-Net: conv-conv at n, average-pool to n/2, conv, nearest upsample, concat, conv."""

    def __init__(self, width: int = 11, kernel: int = 3, w_scale: float = 1.0, f_scale: float = 1.0):
        super().__init__(w_scale, f_scale)
        if width < 1:
            raise ValueError(f"unet needs width >= 1, got {width}")
        self.e1 = PeriodicConv(2, width, kernel)
        self.e2 = PeriodicConv(width, width, kernel)
        self.mid = PeriodicConv(width, 2 * width, kernel)
        self.dec = PeriodicConv(3 * width, width, kernel)
        self.out = PeriodicConv(width, 1, kernel)

    def net(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 2:
            raise ValueError(f"unet needs an even grid size, got {x.shape[-1]}")
        h1 = F.gelu(self.e2(F.gelu(self.e1(x))))
        h2 = F.gelu(self.mid(F.avg_pool2d(h1, 2)))
        up = F.interpolate(h2, scale_factor=2, mode="nearest")
        return self.out(F.gelu(self.dec(torch.cat([h1, up], 1))))


@register_model("cnn", domain="flows", description="plain ResNet CNN on the periodic grid (no D4)")
def cnn(
    width: int = 18, blocks: int = 1, kernel: int = 3, w_scale: float = 1.0, f_scale: float = 1.0
) -> FlowCNN:
    """Plain next-frame vorticity ResNet (see the module docstring)."""
    return FlowCNN(width, blocks, kernel, w_scale, f_scale)


@register_model("unet", domain="flows", description="plain two-level U-Net on the periodic grid (no D4)")
def unet(width: int = 11, kernel: int = 3, w_scale: float = 1.0, f_scale: float = 1.0) -> FlowUNet:
    """Plain next-frame vorticity U-Net (see the module docstring)."""
    return FlowUNet(width, kernel, w_scale, f_scale)
