"""Symmetry groups and their actions on samples.

One implementation serves data augmentation, equivariance tests and the orbit-generalization
study.  A :class:`GroupElement` holds **one element per graph** of a batch (so a batch can be
augmented with independent random elements) and, optionally, a permutation of the batch's nodes
that only exchanges interchangeable nodes of the same graph.

Field kinds say how a tensor transforms (the last axis holds the Cartesian components):

==============  =============================================  ==================
kind            action of (R, t, P)                             e3nn irreps (3-D)
==============  =============================================  ==================
``scalar``      x -> x                                          ``0e``
``position``    x -> R x + t                                    ``1o`` (+ shift)
``vector``      x -> R x                                        ``1o``
``pseudovector`` x -> det(R) R x                                ``1e``
==============  =============================================  ==================

Node-level fields are also permuted by P; graph-level fields are not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

__all__ = [
    "FIELD_KINDS",
    "FACTORS",
    "GroupElement",
    "EuclideanGroup",
    "Group",
    "act_field",
    "random_rotations",
    "random_permutation",
]

FIELD_KINDS = ("scalar", "position", "vector", "pseudovector")
#: the names of the factors a group element can be sampled from; equivariance is reported per factor
FACTORS = ("rotation", "reflection", "translation", "permutation")


@dataclass
class GroupElement:
    """A batch of group elements: ``rot [B, d, d]``, ``trans [B, d]``, ``perm [N] | None``.

    ``perm[i] = j`` means node ``i`` of the transformed batch is node ``j`` of the original one.
    """

    rot: Tensor
    trans: Tensor
    perm: Tensor | None = None

    @property
    def num_graphs(self) -> int:
        return self.rot.shape[0]

    def to(self, dtype: torch.dtype | None = None, device=None) -> GroupElement:
        return replace(
            self,
            rot=self.rot.to(dtype=dtype, device=device),
            trans=self.trans.to(dtype=dtype, device=device),
            perm=None if self.perm is None else self.perm.to(device=device),
        )

    @property
    def det(self) -> Tensor:
        return torch.linalg.det(self.rot)

    def inverse_perm(self) -> Tensor | None:
        if self.perm is None:
            return None
        inv = torch.empty_like(self.perm)
        inv[self.perm] = torch.arange(self.perm.numel(), device=self.perm.device)
        return inv


def random_rotations(
    n: int, dim: int = 3, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64
) -> Tensor:
    """``n`` Haar-random proper rotations ``[n, dim, dim]`` (3-D through e3nn's quaternions)."""
    if dim == 3:
        from e3nn import o3

        q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
        q = q / q.norm(dim=1, keepdim=True)
        return o3.quaternion_to_matrix(q).to(dtype)
    if dim == 2:
        a = torch.rand(n, generator=generator, dtype=torch.float64) * 2 * math.pi
        c, s = torch.cos(a), torch.sin(a)
        return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2).to(dtype)
    raise ValueError(f"rotations are implemented for dim 2 and 3, not {dim}")


def random_permutation(
    batch: Tensor, labels: Tensor | None = None, *, generator: torch.Generator | None = None
) -> Tensor:
    """A random node permutation that keeps every node in its graph and among its own label.

    ``batch [N]`` is the graph index of each node, ``labels [N]`` (optional) marks interchangeable
    nodes (e.g. atomic numbers).  Returns ``perm [N]`` with ``new[i] = old[perm[i]]``.
    """
    n = batch.numel()
    key = batch.to(torch.long).cpu()
    if labels is not None:
        lab = labels.reshape(n, -1)[:, 0].cpu()
        _, code = torch.unique(lab, return_inverse=True)
        key = key * (int(code.max()) + 1) + code
    order = torch.argsort(key, stable=True)
    noise = torch.rand(n, generator=generator, dtype=torch.float64)
    # sort by (key, random): a random arrangement inside each block of equal keys
    shuffled = torch.argsort(key.to(torch.float64) + 0.5 * noise, stable=True)
    perm = torch.empty(n, dtype=torch.long)
    perm[order] = shuffled
    return perm.to(batch.device)


class Group:
    """Base class of symmetry groups of data.  Subclasses implement :meth:`sample`."""

    name: str = "trivial"
    factors: tuple[str, ...] = ()

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
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class EuclideanGroup(Group):
    """E(d) or SE(d) (with or without translations) times permutations of identical particles.

    ``EuclideanGroup(3)`` is E(3) × S_n; ``reflections=False`` gives SE(3) (or SO(3) without
    translations); ``permutations=False`` drops S_n.  ``translation_scale`` is the standard
    deviation of sampled translations (in the data's length unit).
    """

    def __init__(
        self,
        dim: int = 3,
        *,
        reflections: bool = True,
        translations: bool = True,
        permutations: bool = True,
        translation_scale: float = 1.0,
    ):
        if dim not in (2, 3):
            raise ValueError(f"EuclideanGroup supports dim 2 or 3, got {dim}")
        self.dim = dim
        self.reflections = reflections
        self.translations = translations
        self.permutations = permutations
        self.translation_scale = translation_scale
        f = ["rotation"]
        if reflections:
            f.append("reflection")
        if translations:
            f.append("translation")
        if permutations:
            f.append("permutation")
        self.factors = tuple(f)
        core = ("E" if translations else "O") if reflections else ("SE" if translations else "SO")
        self.name = f"{core}({dim})" + (" x S_n" if permutations else "")

    def identity(self, num_graphs: int, dtype: torch.dtype = torch.float64) -> GroupElement:
        eye = torch.eye(self.dim, dtype=dtype).expand(num_graphs, self.dim, self.dim).clone()
        return GroupElement(eye, torch.zeros(num_graphs, self.dim, dtype=dtype))

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
        """Random elements, one per graph, from the chosen ``factors`` (default: all of them).

        ``rotation`` draws Haar-random proper rotations; ``reflection`` composes them with a
        reflection (det = -1); ``translation`` draws Gaussian shifts; ``permutation`` (needs
        ``batch``) shuffles interchangeable nodes.  Factors the group lacks raise ``ValueError``.
        """
        factors = set(self.factors if factors is None else factors)
        unknown = factors - set(self.factors)
        if unknown:
            raise ValueError(f"group {self.name} has no factor(s) {sorted(unknown)}; it has {self.factors}")
        g = self.identity(num_graphs, torch.float64)
        if "rotation" in factors:
            g.rot = random_rotations(num_graphs, self.dim, generator=generator)
        if "reflection" in factors:
            mirror = torch.eye(self.dim, dtype=torch.float64)
            mirror[-1, -1] = -1.0
            base = (
                g.rot
                if "rotation" in factors
                else random_rotations(num_graphs, self.dim, generator=generator)
            )
            # a random improper element: reflection through a random plane
            g.rot = base @ mirror @ base.transpose(-1, -2) if "rotation" not in factors else base @ mirror
        if "translation" in factors:
            g.trans = torch.randn(num_graphs, self.dim, generator=generator, dtype=torch.float64)
            g.trans = g.trans * self.translation_scale
        if "permutation" in factors:
            if batch is None:
                raise ValueError("sampling a permutation needs the batch vector of the nodes")
            g.perm = random_permutation(
                batch.cpu(), None if labels is None else labels.cpu(), generator=generator
            ).to(batch.device)
        return g.to(dtype)


def act_field(kind: str, x: Tensor, g: GroupElement, index: Tensor | None = None) -> Tensor:
    """Apply ``g`` to a tensor of one field kind (see module docstring); no permutation here.

    ``x`` has shape ``[M, ..., d]`` (or ``[M, ...]`` for scalars); ``index [M]`` maps each row to
    its graph (node fields: the batch vector; graph fields: ``None`` = row i is graph i).
    """
    if kind == "scalar":
        return x
    if kind not in FIELD_KINDS:
        raise ValueError(f"unknown field kind {kind!r}; expected one of {FIELD_KINDS}")
    rot = g.rot.to(x.dtype)
    r = rot if index is None else rot[index]
    if kind == "pseudovector":
        r = r * torch.linalg.det(r)[:, None, None]
    y = torch.einsum("nij,n...j->n...i", r, x)
    if kind == "position":
        t = g.trans.to(x.dtype)
        t = t if index is None else t[index]
        y = y + t.reshape(t.shape[0], *([1] * (x.dim() - 2)), t.shape[-1])
    return y


def canonical_frames(pos: Tensor, batch: Tensor, num_graphs: int) -> GroupElement:
    """Group elements that move every graph into a canonical pose (orbit-study restriction).

    The centroid goes to the origin and the principal axes of the positions onto the coordinate
    axes (largest variance first), each axis signed so the third moment along it is positive.
    The result can be improper (det -1): it canonicalizes reflections too.  Returns ``g`` such that
    ``act_field("position", pos, g, batch)`` is canonical.
    """
    dim = pos.shape[-1]
    p = pos.to(torch.float64)
    counts = torch.bincount(batch, minlength=num_graphs).clamp(min=1).to(p.dtype)
    centroid = torch.zeros(num_graphs, dim, dtype=p.dtype).index_add_(0, batch, p) / counts[:, None]
    c = p - centroid[batch]
    cov = torch.zeros(num_graphs, dim, dim, dtype=p.dtype).index_add_(0, batch, c[:, :, None] * c[:, None, :])
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    axes = vecs.flip(-1).transpose(-1, -2)  # rows: principal axes, largest first
    proj = torch.einsum("nij,nj->ni", axes[batch], c)
    third = torch.zeros(num_graphs, dim, dtype=p.dtype).index_add_(0, batch, proj**3)
    sign = torch.where(third >= 0, 1.0, -1.0).to(p.dtype)
    rot = axes * sign[:, :, None]
    trans = -torch.einsum("nij,nj->ni", rot, centroid)
    return GroupElement(rot.to(pos.dtype), trans.to(pos.dtype))
