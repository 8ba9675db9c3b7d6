"""Subgroups of E(3) left over when a task's symmetry is broken (see ``Task.breaking``).

:class:`AxialGroup` is what a uniform field along a fixed axis leaves of E(3) x S_n: rotations
about the axis (SO(2)), reflections through planes that contain the axis (together C∞v ≅ O(2)),
all translations, and permutations of identical particles.  It uses the factor names of
:class:`symzoo.symmetry.EuclideanGroup` ("rotation" = a rotation about the axis, "reflection" = a
mirror through a plane containing it) so models, augmentation and the equivariance toolkit treat it
exactly like the full group; its elements are ordinary :class:`~symzoo.symmetry.GroupElement`\\ s
(``rot [B, 3, 3]``, ``trans [B, 3]``, ``perm [N] | None``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from .symmetry import Group, GroupElement, random_permutation

__all__ = ["AxialGroup", "axis_rotations"]


def _frame(axis: Tensor) -> Tensor:
    """An orthonormal matrix ``[3, 3]`` whose last column is the unit ``axis``."""
    a = axis / axis.norm()
    helper = (
        torch.tensor([1.0, 0.0, 0.0], dtype=a.dtype)
        if abs(float(a[0])) < 0.9
        else torch.tensor([0.0, 1.0, 0.0], dtype=a.dtype)
    )
    u = torch.linalg.cross(helper, a)
    u = u / u.norm()
    v = torch.linalg.cross(a, u)
    return torch.stack([u, v, a], dim=1)


def axis_rotations(angles: Tensor, axis: Sequence[float] = (0.0, 0.0, 1.0)) -> Tensor:
    """Rotations ``[n, 3, 3]`` by ``angles [n]`` (radians, right-handed) about ``axis``."""
    f = _frame(torch.as_tensor(axis, dtype=torch.float64))
    a = angles.to(torch.float64)
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    rz = torch.stack(
        [torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1), torch.stack([z, z, o], -1)], -2
    )
    return f @ rz @ f.T


class AxialGroup(Group):
    """O(2) about ``axis`` (x translations, x S_n): the symmetry of data in a uniform field.

    ``reflections=False`` keeps only the rotations about the axis (SO(2)).  ``translation_scale``
    is the standard deviation of sampled translations, as in ``EuclideanGroup``.
    """

    dim = 3

    def __init__(
        self,
        axis: Sequence[float] = (0.0, 0.0, 1.0),
        *,
        reflections: bool = True,
        translations: bool = True,
        permutations: bool = True,
        translation_scale: float = 1.0,
    ):
        ax = torch.as_tensor(axis, dtype=torch.float64)
        if ax.shape != (3,) or not torch.isfinite(ax).all() or float(ax.norm()) == 0.0:
            raise ValueError(f"AxialGroup needs a finite non-zero 3-vector axis, got {list(axis)}")
        self.axis = ax / ax.norm()
        self.reflections, self.translations, self.permutations = reflections, translations, permutations
        self.translation_scale = translation_scale
        f = ["rotation"] + ["reflection"] * reflections + ["translation"] * translations
        self.factors = tuple(f + ["permutation"] * permutations)
        names: dict[tuple[float, ...], str] = {
            (0.0, 0.0, 1.0): "z",
            (0.0, 1.0, 0.0): "y",
            (1.0, 0.0, 0.0): "x",
        }
        ax_name = names.get(tuple(float(x) for x in self.axis), str([round(float(x), 3) for x in self.axis]))
        core = f"{'O' if reflections else 'SO'}(2) about {ax_name}"
        self.name = core + (" x T(3)" if translations else "") + (" x S_n" if permutations else "")

    def identity(self, num_graphs: int, dtype: torch.dtype = torch.float64) -> GroupElement:
        eye = torch.eye(3, dtype=dtype).expand(num_graphs, 3, 3).clone()
        return GroupElement(eye, torch.zeros(num_graphs, 3, dtype=dtype))

    def mirror(self, angles: Tensor) -> Tensor:
        """Reflections ``[n, 3, 3]`` through the planes containing the axis at ``angles [n]``."""
        f = _frame(self.axis)
        c, s = torch.cos(angles.to(torch.float64)), torch.sin(angles.to(torch.float64))
        normal = f[:, 0][None] * c[:, None] + f[:, 1][None] * s[:, None]  # ⟂ axis
        return torch.eye(3, dtype=torch.float64) - 2 * normal[:, :, None] * normal[:, None, :]

    def sample(
        self,
        num_graphs: int,
        *,
        batch: Tensor | None = None,
        labels: Tensor | None = None,
        factors: Iterable[str] | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> GroupElement:
        """Random elements, one per graph, from ``factors`` (default all; see ``EuclideanGroup``).

        ``rotation``: uniform angle about the axis; ``reflection``: a mirror through a random plane
        containing the axis (composed after the rotation when both are drawn).
        """
        factors = set(self.factors if factors is None else factors)
        unknown = factors - set(self.factors)
        if unknown:
            raise ValueError(f"group {self.name} has no factor(s) {sorted(unknown)}; it has {self.factors}")
        g = self.identity(num_graphs, torch.float64)
        if "rotation" in factors:
            ang = torch.rand(num_graphs, generator=generator, dtype=torch.float64) * 2 * math.pi
            g.rot = axis_rotations(ang, self.axis.tolist())
        if "reflection" in factors:
            ang = torch.rand(num_graphs, generator=generator, dtype=torch.float64) * math.pi
            g.rot = self.mirror(ang) @ g.rot
        if "translation" in factors:
            g.trans = torch.randn(num_graphs, 3, generator=generator, dtype=torch.float64)
            g.trans = g.trans * self.translation_scale
        if "permutation" in factors:
            if batch is None:
                raise ValueError("sampling a permutation needs the batch vector of the nodes")
            g.perm = random_permutation(
                batch.cpu(), None if labels is None else labels.cpu(), generator=generator
            ).to(batch.device)
        return g.to(dtype)
