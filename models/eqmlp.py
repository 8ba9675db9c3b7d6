"""``eqmlp``: a group-averaged (symmetrized) MLP flow map, exactly equivariant to an attractor's group.

For an attractor task (``symzoo.datasets.attractors``) with state representation ``ρ`` of its
finite group G (signed permutations: Lorenz's mirror, Thomas' C3 x C2, Lorenz-96's shifts), the
update is the Reynolds average of an MLP ``f`` on the flattened window::

    x_next = x_last + (1 / |G|) Σ_g ρ(g)^T f(ρ(g) x)

which satisfies ``x_next(ρ(h) x) = ρ(h) x_next(x)`` for every ``h`` exactly (``ρ(g)^T = ρ(g)^-1``
for signed permutations).  Cost: |G| MLP evaluations per step (2 for C2, 6 for C3 x C2, N for
Z_N).  We chose group averaging over escnn's ``Linear`` layers: it is exact for any finite group
and any signed-permutation rep without a basis solve, and the MLP inside is the ``mlp`` baseline's.
``system`` names the attractor task whose group is used (rebuilt from the name, so the
constructor arguments stay JSON-serializable); a task that no name rebuilds (a user's ODE,
``symzoo.datasets.user_ode``) passes its group's matrices ``rho [|G|, D, D]`` (nested lists) and
its factor names ``factors`` instead, from the task instance.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from symzoo.contract import RepKind
from symzoo.groups import MatrixRep, ShiftRep
from symzoo.registry import register_model
from symzoo.task import Field

from .base import SymmetryContract, mlp

__all__ = ["SymmetrizedMLP"]

#: the state of an attractor task: any linear representation of its finite group
_LINEAR = RepKind("linear rep of a finite group", types=(MatrixRep, ShiftRep))


class SymmetrizedMLP(SymmetryContract, nn.Module):
    """Group-averaged MLP flow map; equivariant to every factor of the system's group."""

    input_fields = {"x": Field(_LINEAR, "graph", "window of states [W, D]")}
    output_fields = {"x_next": Field(_LINEAR, "graph", "state [D]")}

    def __init__(
        self,
        system: str = "lorenz",
        window: int = 4,
        hidden: int = 128,
        layers: int = 3,
        act: str = "silu",
        rho: list | None = None,
        factors: list[str] | None = None,
    ):
        super().__init__()
        if rho is not None:
            mats = torch.as_tensor(rho, dtype=torch.float64)
            if mats.dim() != 3 or mats.shape[1] != mats.shape[2]:
                raise ValueError(f"eqmlp: rho must be matrices [|G|, D, D], got shape {list(mats.shape)}")
            symmetry = frozenset(factors or ())
        else:
            from symzoo.registry import get_task  # the attractor task by name (not its module)

            task = get_task(system)
            mats = task.rep_matrices().to(torch.float64)
            symmetry = frozenset(task.group.factors)
        self.system, self.window = system, int(window)
        self.dim = int(mats.shape[-1])
        self.symmetry = symmetry
        self.rho: Tensor  # buffer
        self.register_buffer("rho", mats.to(torch.get_default_dtype()))
        self.net = mlp([self.window * self.dim] + [hidden] * layers + [self.dim], act)

    def forward(self, batch) -> dict[str, Tensor]:
        """``x [B, W, D]`` -> ``{"x_next": [B, D]}``."""
        from symzoo.errors import InputError

        x = batch.x
        if x.dim() != 3 or x.shape[1:] != (self.window, self.dim):
            raise InputError(
                f"eqmlp ({self.system}) was built for windows [B, {self.window}, {self.dim}]; got {list(x.shape)}"
            )
        rho = self.rho.to(x.dtype)
        g, b = rho.shape[0], x.shape[0]
        xg = torch.einsum("gij,bwj->gbwi", rho, x)  # every transformed window
        yg = self.net(xg.reshape(g * b, -1)).reshape(g, b, self.dim)
        y = torch.einsum("gji,gbj->bi", rho, yg) / g  # rho(g)^T applied, averaged
        return {"x_next": x[:, -1] + y}


@register_model("eqmlp", domain="forecasting")
def eqmlp(
    system: str = "lorenz",
    window: int = 4,
    hidden: int = 128,
    layers: int = 3,
    act: str = "silu",
    rho: list | None = None,
    factors: list[str] | None = None,
) -> SymmetrizedMLP:
    """Group-averaged MLP flow map for an attractor task's group (C2, C3 x C2, Z_N); exactly equivariant."""
    return SymmetrizedMLP(system, window, hidden, layers, act, rho, factors)
