"""``circnet``: a circular-convolution flow map, exactly equivariant to cyclic shifts Z_N of a ring.

For ring systems (``lorenz96-N``): the window ``x [B, W, N]`` is read as ``W`` channels on ``N``
sites; ``layers`` circular ``Conv1d`` layers (periodic padding, kernel ``kernel``) give the update
``x_next = x_last + CNN(x)``.  Convolution with periodic padding commutes with every shift of the
sites, so the map is Z_N-equivariant for every N (claimed factor: ``shift``); it is also local
(receptive field ``layers * (kernel - 1) + 1`` sites), as Lorenz-96's coupling is.
"""

from __future__ import annotations

from torch import Tensor, nn

from symzoo.contract import RepKind
from symzoo.groups import ShiftRep
from symzoo.registry import register_model
from symzoo.task import Field

from .base import ACTIVATIONS, SymmetryContract

__all__ = ["CircNet"]

#: the sites of a ring under cyclic shifts (lorenz96-N)
_RING = RepKind("shift", types=(ShiftRep,))


class CircNet(SymmetryContract, nn.Module):
    """Circular CNN on the sites of a ring; Z_N-equivariant."""

    symmetry = frozenset({"shift"})
    input_fields = {"x": Field(_RING, "graph", "window of ring states [W, N]")}
    output_fields = {"x_next": Field(_RING, "graph", "ring state [N]")}

    def __init__(
        self, window: int = 4, hidden: int = 32, layers: int = 3, kernel: int = 5, act: str = "silu"
    ):
        super().__init__()
        if window < 1 or layers < 1 or kernel < 1 or kernel % 2 == 0:
            raise ValueError(
                f"circnet needs window >= 1, layers >= 1 and an odd kernel, got window={window}, "
                f"layers={layers}, kernel={kernel}"
            )
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
        self.window = int(window)
        mods: list[nn.Module] = []
        c = self.window
        for i in range(layers):
            last = i == layers - 1
            mods.append(
                nn.Conv1d(c, 1 if last else hidden, kernel, padding=kernel // 2, padding_mode="circular")
            )
            if not last:
                mods.append(ACTIVATIONS[act]())
            c = hidden
        self.net = nn.Sequential(*mods)

    def forward(self, batch) -> dict[str, Tensor]:
        """``x [B, W, N]`` (W channels on N ring sites) -> ``{"x_next": [B, N]}``."""
        from symzoo.errors import InputError

        x = batch.x
        if x.dim() != 3 or x.shape[1] != self.window:
            raise InputError(f"circnet was built for windows [B, {self.window}, N]; got {list(x.shape)}")
        return {"x_next": x[:, -1] + self.net(x).squeeze(1)}


@register_model("circnet", domain="forecasting")
def circnet(
    window: int = 4, hidden: int = 32, layers: int = 3, kernel: int = 5, act: str = "silu"
) -> CircNet:
    """Circular-convolution flow map for ring systems (Lorenz-96); exactly Z_N shift-equivariant."""
    return CircNet(window, hidden, layers, kernel, act)
