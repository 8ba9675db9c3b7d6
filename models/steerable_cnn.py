"""``steerable-cnn``: a D4-steerable CNN (escnn ``R2Conv`` on ``flipRot2dOnR2(4)``) for 2-D flows.

The model maps ``(w, f)`` (vorticity and forcing curl, both ``[B, n, n]`` on a periodic square grid)
to the next vorticity ``w + w_scale * net(w / w_scale, f / f_scale)``.  Both inputs and the output
are the **sign representation** of D4 (escnn's ``irrep(1, 0)``: +1 on rotations, −1 on
reflections) -- pseudo-scalars, as :class:`symzoo.groups.GridRep` ``"pseudoscalar"`` declares
them; hidden fields are ``hidden`` copies of the regular representation (8 channels each) with
ReLU.  Convolutions use **circular** padding, so the equivariance is exact on the periodic grid
(float64 errors ~1e-15 for every element of D4, tested through :mod:`symzoo.testing`).

Conventions checked (tests/models/test_flow_models.py): escnn's planar action of D4 is the one
:class:`~symzoo.groups.GridRep` uses (both from escnn's ``irrep(1, 1)``; the flip mirrors
y -> −y with y on tensor axis −2), and escnn's ``irrep(1, 0)`` is ``det`` of that action.

escnn is imported when a model is built, never at import of this module.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import torch
from torch import Tensor, nn

from symzoo.contract import RepKind
from symzoo.groups import GridRep
from symzoo.registry import register_model
from symzoo.task import Field

from .base import SymmetryContract

__all__ = ["SteerableCNN", "steerable_cnn"]

#: a pseudo-scalar field on a square grid (vorticity, the curl of a forcing) under C_n/D_n
_PSEUDO = RepKind("grid-pseudoscalar", types=(GridRep,), names=("grid-pseudoscalar",))


class SteerableCNN(SymmetryContract, nn.Module):
    """D4-equivariant CNN on periodic grids: ``layers`` ``R2Conv`` layers of ``kernel`` size with
    ``hidden`` regular fields between them, a residual skip of the input vorticity."""

    symmetry = frozenset({"rotation", "reflection"})
    input_fields = {"w": Field(_PSEUDO, "graph"), "f": Field(_PSEUDO, "graph")}
    output_fields = {"w": Field(_PSEUDO, "graph")}

    def __init__(
        self, hidden: int = 8, layers: int = 4, kernel: int = 3, w_scale: float = 1.0, f_scale: float = 1.0
    ):
        super().__init__()
        if hidden < 1 or layers < 2 or kernel < 1 or kernel % 2 == 0:
            raise ValueError(
                f"steerable-cnn needs hidden >= 1, layers >= 2 and an odd kernel, got {hidden}, {layers}, {kernel}"
            )
        if not (w_scale > 0 and f_scale > 0):
            raise ValueError(f"w_scale and f_scale must be > 0, got {w_scale}, {f_scale}")
        from escnn import gspaces
        from escnn import nn as enn

        self.w_scale, self.f_scale = float(w_scale), float(f_scale)
        gs = gspaces.flipRot2dOnR2(4)
        sign = gs.fibergroup.irrep(1, 0)
        self.in_type = enn.FieldType(gs, [sign, sign])
        self.out_type = enn.FieldType(gs, [sign])
        hid = enn.FieldType(gs, hidden * [gs.regular_repr])
        pad = kernel // 2
        mods: list = []
        t = self.in_type
        for _ in range(layers - 1):
            mods += [enn.R2Conv(t, hid, kernel, padding=pad, padding_mode="circular"), enn.ReLU(hid)]
            t = hid
        mods.append(enn.R2Conv(t, self.out_type, kernel, padding=pad, padding_mode="circular"))
        self.net = enn.SequentialModule(*mods)
        for m in mods:
            if isinstance(m, enn.R2Conv):
                _resample_basis_float64(m, kernel)

    def train(self, mode: bool = True) -> SteerableCNN:
        # escnn caches the expanded filters when switching to eval mode; without no_grad they are
        # non-leaf tensors that cannot be deep-copied (EMA, float64 copies of the eval suite)
        with torch.no_grad():
            return super().train(mode)

    def forward(self, batch) -> dict[str, Tensor]:
        """``batch.w, batch.f: [B, n, n]`` -> ``{"w": [B, n, n]}`` (vorticity one frame ahead)."""
        from escnn import nn as enn

        w, f = batch.w, batch.f
        x = enn.GeometricTensor(
            torch.stack([w / self.w_scale, f.to(w.dtype) / self.f_scale], 1), self.in_type
        )
        return {"w": w + self.w_scale * self.net(x).tensor[:, 0]}


def _resample_basis_float64(conv, kernel: int) -> None:
    """Re-sample the filter basis of an escnn ``R2Conv`` in float64 (escnn samples it in float32,
    which leaves ~1e-7 relative equivariance errors even after ``.double()``) and store it
    rounded to float32: values that are equal by symmetry then round to the same float32 number,
    so a ``.double()`` model is equivariant to ~1e-15."""
    from escnn.nn.modules.basismanager.basisexpansion_singleblock import (
        SingleBlockBasisExpansion,
        normalize_basis,
    )
    from escnn.nn.modules.conv.rd_convolution import get_grid_coords

    points = torch.tensor(get_grid_coords(2, kernel, 1), dtype=torch.float64)
    for sb in conv.modules():
        if isinstance(sb, SingleBlockBasisExpansion):
            basis64: Any = _as_float64(copy.deepcopy(cast(Any, sb).basis))  # escnn's untyped basis
            basis = basis64.sample(points).permute(1, 2, 3, 0)
            sizes = torch.tensor([attr["shape"][0] for attr in sb.basis], dtype=basis.dtype)
            basis = normalize_basis(basis, sizes)[sb._mask]
            if basis.shape != sb.sampled_basis.shape:  # pragma: no cover - escnn internals changed
                raise RuntimeError("escnn's basis layout changed; cannot re-sample it in float64")
            sb.sampled_basis = basis.to(sb.sampled_basis.dtype)


def _as_float64(module: nn.Module) -> nn.Module:
    """``module.double()`` without ``Module.children()``'s de-duplication: escnn's kernel bases
    define ``__eq__`` by comparing their tensors, so ``.double()`` (whose traversal puts children
    in a set) compared an already converted float64 child with a float32 sibling of equal hash and
    failed with "Double did not match Float" -- depending on which bases earlier models had put
    in escnn's cache.  Here submodules are walked by identity and converted in place."""
    seen: set[int] = set()
    stack = [module]
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        for k, v in m._buffers.items():
            if v is not None and v.is_floating_point():
                m._buffers[k] = v.double()
        for prm in m._parameters.values():
            if prm is not None and prm.is_floating_point():
                prm.data = prm.data.double()
        stack.extend(c for c in m._modules.values() if c is not None)
    return module


@register_model(
    "steerable-cnn", domain="flows", description="D4-steerable CNN (escnn R2Conv, regular fields)"
)
def steerable_cnn(
    hidden: int = 8, layers: int = 4, kernel: int = 3, w_scale: float = 1.0, f_scale: float = 1.0
) -> SteerableCNN:
    """D4-equivariant next-frame vorticity model (see the module docstring)."""
    return SteerableCNN(hidden, layers, kernel, w_scale, f_scale)
