"""The Z2 mirror group of the 1-D Hamiltonian systems (spring, pendulum, chain pendulums)."""

from __future__ import annotations

import torch

from symzoo.symmetry import Group, GroupElement

__all__ = ["MirrorGroup"]


class MirrorGroup(Group):
    """Z2 acting on generalized coordinates by a sign flip ``(q, p, v) -> (-q, -p, -v)``.

    The mirror image of a pendulum through the vertical plane (or of a spring through its rest
    point).  Elements are stored as 1-D "rotations" ``rot = [[+-1]]`` so that fields of kind
    ``vector`` with one component transform with :func:`symzoo.symmetry.act_field`.
    Sampling the ``reflection`` factor gives the mirror; sampling the whole group (``factors=None``)
    draws +-1 uniformly per graph (augmentation).
    """

    name = "Z2 (mirror)"
    factors = ("reflection",)
    dim = 1

    def identity(self, num_graphs: int, dtype: torch.dtype = torch.float64) -> GroupElement:
        return GroupElement(
            torch.ones(num_graphs, 1, 1, dtype=dtype), torch.zeros(num_graphs, 1, dtype=dtype)
        )

    def sample(
        self,
        num_graphs: int,
        *,
        batch=None,
        labels=None,
        factors=None,
        generator=None,
        dtype: torch.dtype = torch.float64,
    ) -> GroupElement:
        if factors is not None:
            factors = set(factors)
            unknown = factors - set(self.factors)
            if unknown:
                raise ValueError(
                    f"group {self.name} has no factor(s) {sorted(unknown)}; it has {self.factors}"
                )
        g = self.identity(num_graphs, dtype)
        if factors is None:
            sign = torch.where(torch.rand(num_graphs, generator=generator) < 0.5, -1.0, 1.0)
            g.rot = sign.to(dtype)[:, None, None]
        elif "reflection" in factors:
            g.rot = -g.rot
        return g
