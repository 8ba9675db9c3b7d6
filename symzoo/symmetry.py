"""Symmetry groups, their elements, and representations that act on the tensors of a sample.

One implementation serves data augmentation, equivariance tests and the orbit-generalization
study.  Every domain speaks one interface:

* a :class:`Group` samples elements (seeded), gives the identity, composes and inverts them, and —
  when finite — lists its ``elements()``; its ``factors`` name the pieces equivariance is reported
  on (``rotation``, ``reflection``, ``translation``, ``permutation`` here; generator names for the
  finite groups of :mod:`symzoo.groups`);
* a :class:`Rep` (representation) acts on one tensor of a sample, the way escnn's ``FieldType`` and
  e3nn's ``Irreps`` do; a task's ``Field(rep=...)`` declares it.

This module holds E(d)/O(d)/SE(d)/SO(d) × S_n (:class:`EuclideanGroup`).  A :class:`GroupElement`
holds **one element per graph** of a batch (so a batch can be augmented with independent random
elements) and, optionally, a permutation of the batch's nodes that only exchanges interchangeable
nodes of the same graph.  Its representations (the last axis holds the components):

====================  =============================================  ==================
rep                   action of (R, t, P)                             e3nn irreps (3-D)
====================  =============================================  ==================
:data:`SCALAR`        x -> x                                          ``0e``
:data:`POSITION`      x -> R x + t                                    ``1o`` (+ shift)
:data:`VECTOR`        x -> R x                                        ``1o``
:data:`PSEUDOVECTOR`  x -> det(R) R x                                 ``1e``
:class:`IrrepsRep`    x -> D(R) x (e3nn ``Irreps.D_from_matrix``)     any, e.g. ``2e``
====================  =============================================  ==================

Cartesian vectors are kept in (x, y, z) order; e3nn's ``1o`` basis is (y, z, x), so
:class:`IrrepsRep` is for tensors already stored in e3nn's basis.  Node-level fields are also
permuted by P; graph-level fields are not.  The names ``"scalar"``, ``"position"``, ``"vector"``
and ``"pseudovector"`` are accepted wherever a rep is expected, as shorthand for these objects.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

__all__ = [
    "FIELD_KINDS",
    "FACTORS",
    "GroupElementBase",
    "GroupElement",
    "EuclideanGroup",
    "Group",
    "Rep",
    "EuclideanRep",
    "IrrepsRep",
    "SCALAR",
    "POSITION",
    "VECTOR",
    "PSEUDOVECTOR",
    "as_rep",
    "act_field",
    "random_rotations",
    "random_permutation",
]

FIELD_KINDS = ("scalar", "position", "vector", "pseudovector")
#: the names of the factors a group element can be sampled from; equivariance is reported per factor
FACTORS = ("rotation", "reflection", "translation", "permutation")


class GroupElementBase:
    """A batch of group elements, one per sample (graph) of a batch."""

    #: node permutation (only groups with a permutation factor set it)
    perm: Tensor | None = None

    @property
    def num_graphs(self) -> int:
        raise NotImplementedError

    def inverse_perm(self) -> Tensor | None:
        if self.perm is None:
            return None
        inv = torch.empty_like(self.perm)
        inv[self.perm] = torch.arange(self.perm.numel(), device=self.perm.device)
        return inv


@dataclass
class GroupElement(GroupElementBase):
    """A batch of Euclidean group elements: ``rot [B, d, d]``, ``trans [B, d]``, ``perm [N] | None``.

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
    """The one interface of symmetry groups of data (continuous and finite).

    ``compose(g, h)`` is the element acting as ``g`` after ``h``: ``(g∘h)·x = g·(h·x)``.
    Finite groups (``finite = True``) also enumerate their ``elements()``; the toolkit then checks
    equivariance on every element instead of random samples.
    """

    name: str = "trivial"
    factors: tuple[str, ...] = ()
    finite: bool = False

    def sample(
        self,
        num_graphs: int,
        *,
        batch: Tensor | None = None,
        labels: Tensor | None = None,
        factors: Iterable[str] | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> GroupElementBase:
        """Random elements, one per graph, from the chosen ``factors`` (default all), seeded by ``generator``."""
        raise NotImplementedError

    def identity(self, num_graphs: int, dtype: torch.dtype = torch.float64) -> GroupElementBase:
        raise NotImplementedError

    def compose(self, g: GroupElementBase, h: GroupElementBase) -> GroupElementBase:
        raise NotImplementedError(f"{self.name} does not implement compose")

    def inverse(self, g: GroupElementBase) -> GroupElementBase:
        raise NotImplementedError(f"{self.name} does not implement inverse")

    def elements(self, num_graphs: int = 1) -> Sequence[GroupElementBase]:
        """Every element (finite groups), each repeated for ``num_graphs`` samples."""
        raise TypeError(f"{self.name} is not a finite group: sample its elements instead")

    def __repr__(self) -> str:
        return self.name


class Rep:
    """A representation: how one tensor of a sample transforms under a group element.

    Subclasses implement :meth:`act`; :meth:`check` returns a sentence when a tensor's shape cannot
    carry this representation (``None`` when it can).  ``index [M]`` maps each row of ``x`` to its
    sample (node fields: the batch vector; ``None``: row ``i`` is sample ``i``).
    """

    name: str = "rep"

    def act(self, g: GroupElementBase, x: Tensor, index: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def check(self, x: Tensor, group: Group) -> str | None:
        return None

    @property
    def trivial(self) -> bool:
        return False

    def __repr__(self) -> str:
        return self.name


class _Scalar(Rep):
    """The trivial representation (of any group): ``x -> x``."""

    name = "scalar"

    def act(self, g: GroupElementBase, x: Tensor, index: Tensor | None = None) -> Tensor:
        return x

    @property
    def trivial(self) -> bool:
        return True


class EuclideanRep(Rep):
    """Cartesian tensors of rank 1 under (R, t): vectors, positions (+ t), pseudovectors (× det R)."""

    def __init__(self, name: str, *, translate: bool = False, pseudo: bool = False):
        self.name, self.translate, self.pseudo = name, translate, pseudo

    def act(self, g: GroupElementBase, x: Tensor, index: Tensor | None = None) -> Tensor:
        if not isinstance(g, GroupElement):
            raise TypeError(f"a {self.name} field transforms under Euclidean groups, not {type(g).__name__}")
        rot = g.rot.to(x.dtype)
        r = rot if index is None else rot[index]
        if self.pseudo:
            r = r * torch.linalg.det(r)[:, None, None]
        y = torch.einsum("nij,n...j->n...i", r, x)
        if self.translate:
            t = g.trans.to(x.dtype)
            t = t if index is None else t[index]
            y = y + t.reshape(t.shape[0], *([1] * (x.dim() - 2)), t.shape[-1])
        return y

    def check(self, x: Tensor, group: Group) -> str | None:
        d = getattr(group, "dim", None)
        if d is not None and (x.dim() < 2 or x.shape[-1] != d):
            return f"must have shape [..., {d}] ({self.name}), got {list(x.shape)}"
        return None


class IrrepsRep(Rep):
    """Any O(3) representation given as e3nn ``Irreps`` (``"1x0e + 2x1o + 1x2e"``), in e3nn's basis.

    Acts with ``Irreps.D_from_matrix(R)`` (parity from ``det R``); translations act trivially.
    """

    def __init__(self, irreps: str):
        from e3nn import o3

        self.irreps = o3.Irreps(irreps)
        self.name = str(self.irreps)

    def act(self, g: GroupElementBase, x: Tensor, index: Tensor | None = None) -> Tensor:
        if not isinstance(g, GroupElement) or g.rot.shape[-1] != 3:
            raise TypeError("e3nn irreps transform under 3-D Euclidean groups")
        rot = g.rot.to(torch.float64)
        r = rot if index is None else rot[index]
        d = self.irreps.D_from_matrix(r).to(x.dtype)  # [M, dim, dim]
        return torch.einsum("nij,n...j->n...i", d, x)

    def check(self, x: Tensor, group: Group) -> str | None:
        if x.shape[-1] != self.irreps.dim:
            return f"must have shape [..., {self.irreps.dim}] (irreps {self.irreps}), got {list(x.shape)}"
        return None


SCALAR: Rep = _Scalar()
POSITION: Rep = EuclideanRep("position", translate=True)
VECTOR: Rep = EuclideanRep("vector")
PSEUDOVECTOR: Rep = EuclideanRep("pseudovector", pseudo=True)
_NAMED_REPS = {"scalar": SCALAR, "position": POSITION, "vector": VECTOR, "pseudovector": PSEUDOVECTOR}


def as_rep(rep: Rep | str) -> Rep:
    """A :class:`Rep`; the shorthand names of this module's table resolve to its objects."""
    if isinstance(rep, Rep):
        return rep
    if isinstance(rep, str) and rep in _NAMED_REPS:
        return _NAMED_REPS[rep]
    raise ValueError(f"unknown representation {rep!r}; give a symzoo.symmetry.Rep or one of {FIELD_KINDS}")


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

    def compose(self, g: GroupElementBase, h: GroupElementBase) -> GroupElement:
        """``g∘h``: rotation ``R_g R_h``, translation ``R_g t_h + t_g``, permutation ``h.perm[g.perm]``."""
        assert isinstance(g, GroupElement) and isinstance(h, GroupElement)
        rot = g.rot @ h.rot.to(g.rot.dtype)
        trans = torch.einsum("nij,nj->ni", g.rot, h.trans.to(g.rot.dtype)) + g.trans
        if g.perm is None or h.perm is None:
            perm = h.perm if g.perm is None else g.perm
        else:
            perm = h.perm[g.perm]
        return GroupElement(rot, trans, perm)

    def inverse(self, g: GroupElementBase) -> GroupElement:
        assert isinstance(g, GroupElement)
        rt = g.rot.transpose(-1, -2)
        return GroupElement(rt, -torch.einsum("nij,nj->ni", rt, g.trans), g.inverse_perm())

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


def act_field(rep: Rep | str, x: Tensor, g: GroupElementBase, index: Tensor | None = None) -> Tensor:
    """Apply ``g`` to a tensor carrying representation ``rep`` (a :class:`Rep` or its shorthand name).

    ``x`` has shape ``[M, ...]``; ``index [M]`` maps each row to its graph (node fields: the batch
    vector; graph fields: ``None`` = row i is graph i).  Node permutations are not applied here.
    """
    return as_rep(rep).act(g, x, index)


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
