"""Finite symmetry groups and their representations, built on escnn.

A :class:`FiniteGroup` wraps an escnn group (``cyclic_group``, ``dihedral_group``,
``klein4_group``, ``direct_product``): its elements are escnn ``GroupElement`` objects, numbered
``0 .. order-1`` with the identity first, and composition and inversion are precomputed as tables
(``cayley[i, j]`` is the index of ``e_i · e_j``) so a batch of elements is one ``LongTensor``.

Representations (:class:`~symzoo.symmetry.Rep` subclasses) act on tensors of a sample:

====================  ===================================================================
rep                   action of an element ``g`` on ``x``
====================  ===================================================================
:class:`MatrixRep`    ``x -> rho(g) x`` on one axis (signed permutations of robot joints,
                      the sign flips of Lorenz' mirror, any escnn ``Representation``)
:class:`GridRep`      ``x -> rho(g) x(A(g)^-1 p)`` on a square 2-D grid ``[..., H, W]``
                      (C4/D4 acting by 90° rotations and reflections; ``rho`` 1 for a
                      scalar, ``det A`` for a pseudo-scalar such as vorticity, ``A`` for a
                      vector field stored as channels ``(u_x, u_y)``)
:class:`ShiftRep`     ``x -> roll(x, k)`` on a periodic axis (cyclic shifts Z_N)
:class:`CharacterRep` ``x -> chi(g) x`` on every entry (one-dimensional reps: :func:`sign_rep`)
====================  ===================================================================

:func:`signed_permutation_group` turns a spec given as data (generators as signed permutations,
e.g. a robot's joint symmetries) into an escnn group plus representations, checking that the
generators have the declared orders and that they generate the declared group; a wrong spec
raises :class:`SymmetrySpecError` with one sentence naming the generator that fails and why.

escnn (about 3 s to import) is imported only when a group is built.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .errors import InputError
from .symmetry import Group, GroupElementBase, Rep

__all__ = [
    "CharacterRep",
    "FiniteElement",
    "FiniteGroup",
    "GridRep",
    "MatrixRep",
    "ShiftRep",
    "SymmetrySpecError",
    "cyclic",
    "dihedral",
    "direct_product",
    "klein4",
    "signed_permutation_group",
    "signed_permutation_matrix",
    "sign_rep",
]


class SymmetrySpecError(InputError):
    """A symmetry spec (generators given as data) that is malformed or does not define the group."""


@dataclass
class FiniteElement(GroupElementBase):
    """A batch of elements of a :class:`FiniteGroup`: ``index [B]`` (one element per sample)."""

    index: Tensor
    group: FiniteGroup

    @property
    def num_graphs(self) -> int:
        return int(self.index.shape[0])

    def to(self, dtype: torch.dtype | None = None, device=None) -> FiniteElement:
        return FiniteElement(self.index.to(device=device), self.group)

    def names(self) -> list[str]:
        return [self.group.element_names[int(i)] for i in self.index]


def escnn_exact_svd() -> None:
    """Make escnn take null spaces with the exact SVD, its own path when scikit-learn is absent.

    With scikit-learn installed (e.g. pulled in by ``dysts``) escnn 1.0 uses its randomized SVD,
    which is approximate and raises ``TypeError: np.matrix is not supported`` with scikit-learn
    >= 1.6, so equivariant layers of a new representation (an 18-joint robot, D4 tensor products)
    cannot be built.  Idempotent; called whenever symzoo builds an escnn group."""
    import escnn.group._numerical as escnn_numerical

    escnn_numerical.randomized_svd = None


class FiniteGroup(Group):
    """A finite group from escnn, with named generators (the *factors* equivariance is reported on).

    ``generator_names`` name escnn's generators of ``escnn_group`` in order (escnn's
    ``group.generators``); the factor ``name`` of a generator is the cyclic subgroup it generates.
    """

    finite = True

    def __init__(self, escnn_group: Any, generator_names: Sequence[str], name: str | None = None):
        escnn_exact_svd()
        gens = list(escnn_group.generators)
        if not gens and escnn_group.order() == 1 and len(generator_names) == 1:
            gens = [escnn_group.identity]  # the trivial group C1: one named generator, the identity
        if len(generator_names) != len(gens):
            raise ValueError(
                f"{escnn_group.name} has {len(gens)} generator(s), but {len(generator_names)} name(s) "
                f"were given: {list(generator_names)}"
            )
        self.escnn = escnn_group
        self.name = name or escnn_group.name
        identity = escnn_group.identity
        elems = [identity] + [e for e in escnn_group.elements if e != identity]
        self.elements_escnn = elems
        self.order = len(elems)
        self._index = {e: i for i, e in enumerate(elems)}
        n = self.order
        self.cayley = torch.tensor(
            [[self._index[a @ b] for b in elems] for a in elems], dtype=torch.long
        ).reshape(n, n)
        self.inverse_table = torch.tensor([self._index[~a] for a in elems], dtype=torch.long)
        self.generator_names = tuple(generator_names)
        self.generator_index = {nm: self._index[g] for nm, g in zip(generator_names, gens)}
        self.factors = self.generator_names
        self.element_names = [self._word(i) for i in range(n)]

    # ------------------------------------------------------------ structure
    def index_of(self, escnn_element: Any) -> int:
        return self._index[escnn_element]

    def _word(self, i: int) -> str:
        """The shortest word in the generators for element ``i`` (``"e"`` for the identity)."""
        if i == 0:
            return "e"
        frontier: dict[int, list[str]] = {0: []}
        seen = {0}
        while frontier:
            nxt: dict[int, list[str]] = {}
            for j, w in frontier.items():
                for nm, g in self.generator_index.items():
                    k = int(self.cayley[g, j])
                    if k not in seen:
                        seen.add(k)
                        nxt[k] = [nm, *w]
                        if k == i:
                            return "·".join(nxt[k])
            frontier = nxt
        raise RuntimeError(f"element {i} is not generated by {self.generator_names}")  # pragma: no cover

    def subgroup(self, factors: Iterable[str] | None) -> list[int]:
        """Indices of the subgroup generated by the named generators (all elements for ``None``)."""
        if factors is None:
            return list(range(self.order))
        factors = list(factors)
        unknown = [f for f in factors if f not in self.generator_index]
        if unknown:
            raise ValueError(f"group {self.name} has no factor(s) {unknown}; it has {self.factors}")
        members = {0}
        frontier = [0]
        while frontier:
            new = []
            for j in frontier:
                for f in factors:
                    k = int(self.cayley[self.generator_index[f], j])
                    if k not in members:
                        members.add(k)
                        new.append(k)
            frontier = new
        return sorted(members)

    # ------------------------------------------------------------ Group API
    def identity(self, num_graphs: int, dtype: torch.dtype = torch.float64) -> FiniteElement:
        return FiniteElement(torch.zeros(num_graphs, dtype=torch.long), self)

    def element(self, i: int, num_graphs: int = 1) -> FiniteElement:
        """Element ``i`` (in :attr:`element_names` order) repeated for ``num_graphs`` samples."""
        if not 0 <= i < self.order:
            raise ValueError(f"group {self.name} has {self.order} elements; index {i} is out of range")
        return FiniteElement(torch.full((num_graphs,), i, dtype=torch.long), self)

    def elements(self, num_graphs: int = 1) -> list[FiniteElement]:
        return [self.element(i, num_graphs) for i in range(self.order)]

    def sample(
        self,
        num_graphs: int,
        *,
        batch: Tensor | None = None,
        labels: Tensor | None = None,
        factors: Iterable[str] | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> FiniteElement:
        """Uniform elements of the subgroup generated by ``factors`` (default the whole group)."""
        members = torch.tensor(self.subgroup(factors), dtype=torch.long)
        pick = torch.randint(len(members), (num_graphs,), generator=generator)
        return FiniteElement(members[pick], self)

    def compose(self, g: GroupElementBase, h: GroupElementBase) -> FiniteElement:
        assert isinstance(g, FiniteElement) and isinstance(h, FiniteElement)
        return FiniteElement(self.cayley[g.index, h.index], self)

    def inverse(self, g: GroupElementBase) -> FiniteElement:
        assert isinstance(g, FiniteElement)
        return FiniteElement(self.inverse_table[g.index], self)

    def __repr__(self) -> str:
        return self.name


# ---------------------------------------------------------------- constructors
def cyclic(n: int, generator: str = "shift", name: str | None = None) -> FiniteGroup:
    """The cyclic group C_n (escnn ``cyclic_group``) with one generator (rotation by 2π/n, a shift)."""
    if int(n) < 1:
        raise ValueError(f"a cyclic group needs n >= 1, got {n}")
    from escnn.group import cyclic_group

    return FiniteGroup(cyclic_group(int(n)), [generator], name or f"C{n}")


def dihedral(n: int, generators: Sequence[str] = ("rot", "flip"), name: str | None = None) -> FiniteGroup:
    """The dihedral group D_n of order 2n (escnn ``dihedral_group``): a rotation and a reflection."""
    if int(n) < 1:
        raise ValueError(f"a dihedral group needs n >= 1, got {n}")
    from escnn.group import dihedral_group

    return FiniteGroup(dihedral_group(int(n)), list(generators), name or f"D{n}")


def klein4(generators: Sequence[str] = ("a", "b"), name: str = "K4") -> FiniteGroup:
    """The Klein four-group C2 × C2 (escnn ``klein4_group``)."""
    from escnn.group import klein4_group

    return FiniteGroup(klein4_group(), list(generators), name)


def direct_product(g1: FiniteGroup, g2: FiniteGroup, name: str | None = None) -> FiniteGroup:
    """G1 × G2 (escnn ``direct_product``); generator names are those of both factors.

    escnn 1.0.11 cannot take the generators of a product whose factor is itself a product
    (``klein4_group()`` is one): use ``dihedral(2)`` for K4 inside a product.
    """
    from escnn.group import direct_product as dp

    prod = dp(g1.escnn, g2.escnn)
    names = list(g1.generator_names) + list(g2.generator_names)
    if len(set(names)) != len(names):
        raise ValueError(f"generator names of a direct product must differ, got {names}")
    return FiniteGroup(prod, names, name or f"{g1.name}x{g2.name}")


_NAMED: dict[str, Callable[..., FiniteGroup]] = {"C": cyclic, "D": dihedral}


def group_from_name(name: str, generators: Sequence[str]) -> FiniteGroup:
    """``"C2"``, ``"C3"``, ``"K4"``, ``"D4"``... with the given generator names."""
    key = name.strip().upper()
    if key in ("K4", "KLEIN4"):
        if len(generators) != 2:
            raise SymmetrySpecError(
                f"K4 has 2 generators; the spec gives {len(generators)}: {list(generators)}"
            )
        return klein4(generators, "K4")
    if len(key) >= 2 and key[0] in _NAMED and key[1:].isdigit():
        n = int(key[1:])
        want = 1 if key[0] == "C" else 2
        if len(generators) != want:
            raise SymmetrySpecError(
                f"{name} has {want} generator(s) in escnn's presentation; the spec gives {len(generators)}: "
                f"{list(generators)}"
            )
        if key[0] == "C":
            return _NAMED["C"](n, generators[0], name=key)
        return _NAMED[key[0]](n, list(generators), name=key)
    raise SymmetrySpecError(f"unknown group {name!r}: use Cn, Dn or K4 (e.g. C2, K4, D4)")


# ---------------------------------------------------------------- representations
class MatrixRep(Rep):
    """A linear representation acting on one axis: ``x -> rho(g) x`` with ``rho [order, d, d]``.

    ``axis`` is the axis of ``x`` the matrices act on (default the last).  ``escnn_rep`` returns
    the same representation as an escnn ``Representation`` (irreps and change of basis found by
    escnn's numerical decomposition), for escnn's equivariant layers.
    """

    def __init__(self, group: FiniteGroup, matrices: Tensor, name: str = "matrix", axis: int = -1):
        m = torch.as_tensor(matrices, dtype=torch.float64)
        if m.dim() != 3 or m.shape[0] != group.order or m.shape[1] != m.shape[2]:
            raise ValueError(
                f"a representation of {group.name} needs matrices [{group.order}, d, d], got {list(m.shape)}"
            )
        self.group, self.matrices, self.name, self.axis = group, m, name, axis
        self.dim = int(m.shape[1])
        self._escnn = None

    @classmethod
    def from_escnn(cls, group: FiniteGroup, rep: Any, name: str | None = None, axis: int = -1) -> MatrixRep:
        mats = torch.stack([torch.as_tensor(rep(e), dtype=torch.float64) for e in group.elements_escnn])
        out = cls(group, mats, name or rep.name, axis)
        out._escnn = rep
        return out

    def act(self, g: GroupElementBase, x: Tensor, index: Tensor | None = None) -> Tensor:
        assert isinstance(g, FiniteElement), f"{self.name} is a representation of a finite group"
        idx = g.index if index is None else g.index[index]
        rho = self.matrices.to(device=x.device, dtype=x.dtype)[idx.to(x.device)]  # [M, d, d]
        xt = x.movedim(self.axis, -1)
        shape = (rho.shape[0],) + (1,) * (xt.dim() - 2) + rho.shape[1:]
        y = (rho.reshape(shape) @ xt.unsqueeze(-1)).squeeze(-1)
        return y.movedim(-1, self.axis)

    def check(self, x: Tensor, group: Group) -> str | None:
        if x.dim() < 1 or x.shape[self.axis] != self.dim:
            return f"must have {self.dim} entries on axis {self.axis} (representation {self.name}), got {list(x.shape)}"
        return None

    def escnn_rep(self) -> Any:
        """This representation as an escnn ``Representation`` of ``group.escnn``."""
        if self._escnn is None:
            import hashlib

            from escnn.group import Representation
            from escnn.group._numerical import decompose_representation_finitegroup

            # a name fixed by the matrices (escnn keeps one representation per name and group, and
            # escnn layers name their buffers after it: the same rep gets the same state-dict keys
            # in every process)
            digest = hashlib.sha1(self.matrices.contiguous().numpy().tobytes()).hexdigest()[:12]
            rep_name = f"{self.name}_{digest}"
            if rep_name in self.group.escnn.representations:
                self._escnn = self.group.escnn.representations[rep_name]
                return self._escnn
            rho = {e: self.matrices[i].numpy() for i, e in enumerate(self.group.elements_escnn)}
            cob, mult = decompose_representation_finitegroup(rho, self.group.escnn)
            irreps = [irr for irr, m in mult for _ in range(m)]
            self._escnn = Representation(
                self.group.escnn,
                rep_name,
                irreps,
                cob,
                supported_nonlinearities=["norm", "gated"],
                representation=rho,
            )
        return self._escnn

    def is_homomorphism(self, atol: float = 1e-9) -> bool:
        m, c = self.matrices, self.group.cayley
        return bool(torch.allclose(m[:, None] @ m[None, :], m[c], atol=atol))

    def __repr__(self) -> str:
        return f"MatrixRep({self.name}, {self.group.name}, dim={self.dim})"


def signed_permutation_matrix(perm: Sequence[int], signs: Sequence[float] | None = None) -> Tensor:
    """``M`` with ``(M x)[i] = signs[i] * x[perm[i]]``."""
    n = len(perm)
    s = [1.0] * n if signs is None else [float(v) for v in signs]
    m = torch.zeros(n, n, dtype=torch.float64)
    for i, (j, v) in enumerate(zip(perm, s)):
        m[i, int(j)] = v
    return m


def _as_signed_perm(gen_name: str, rep_name: str, value: Any, dim: int | None) -> Tensor:
    """Parse one generator's action: ``{perm: [...], signs: [...]}`` or a square matrix."""
    where = f"generator {gen_name!r} on {rep_name!r}"
    if isinstance(value, Mapping):
        perm = value.get("perm", value.get("permutation"))
        signs = value.get("signs", value.get("reflections"))
        if perm is None:
            raise SymmetrySpecError(
                f"{where}: give 'perm' (and optionally 'signs'), got keys {sorted(value)}"
            )
        perm = list(perm)
        n = len(perm)
        if sorted(int(p) for p in perm) != list(range(n)):
            raise SymmetrySpecError(f"{where}: perm {perm} is not a permutation of 0..{n - 1}")
        if signs is not None:
            signs = list(signs)
            if len(signs) != n or any(float(s) not in (1.0, -1.0) for s in signs):
                raise SymmetrySpecError(f"{where}: signs must be {n} values of +1 or -1, got {signs}")
        m = signed_permutation_matrix(perm, signs)
    else:
        try:
            m = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError):
            raise SymmetrySpecError(
                f"{where}: expected {{perm, signs}} or a square matrix, got {value!r}"
            ) from None
        if m.dim() != 2 or m.shape[0] != m.shape[1]:
            raise SymmetrySpecError(f"{where}: a matrix must be square, got shape {list(m.shape)}")
        if not torch.allclose(m @ m.T, torch.eye(m.shape[0], dtype=m.dtype), atol=1e-9):
            raise SymmetrySpecError(f"{where}: the matrix is not orthogonal")
    if dim is not None and m.shape[0] != dim:
        raise SymmetrySpecError(f"{where}: acts on {m.shape[0]} entries but {rep_name!r} has {dim}")
    return m


def _matrix_order(m: Tensor, limit: int = 64) -> int | None:
    p = m.clone()
    eye = torch.eye(m.shape[0], dtype=m.dtype)
    for k in range(1, limit + 1):
        if torch.allclose(p, eye, atol=1e-9):
            return k
        p = p @ m
    return None


def signed_permutation_group(
    group: str, generators: Mapping[str, Mapping[str, Any]], *, dims: Mapping[str, int] | None = None
) -> tuple[FiniteGroup, dict[str, MatrixRep]]:
    """A finite group and its representations from a spec given as data.

    ``group`` names the abstract group (``"C2"``, ``"K4"``, ``"D4"``...); ``generators`` maps each
    generator name (in escnn's generator order: one for Cn, rotation then reflection for Dn, two
    for K4) to its action on each named space, e.g. a robot's ``q`` and ``v``::

        {"sagittal": {"q": {"perm": [3, 4, 5, 0, 1, 2], "signs": [-1, 1, 1, -1, 1, 1]}, ...}, ...}

    Checks, each failing with a one-line :class:`SymmetrySpecError`: every action is a valid signed
    permutation (or orthogonal matrix) of the right size; each generator's matrix has an order
    dividing the abstract generator's order; the assignment extends to a homomorphism (the
    generators satisfy the group's relations — e.g. K4's generators commute — so they close to the
    declared group rather than a larger one).  Returns ``(group, {space: MatrixRep})``.
    """
    if not isinstance(generators, Mapping) or not generators:
        raise SymmetrySpecError("the spec needs a non-empty mapping 'generators: {name: {space: action}}'")
    names = list(generators)
    grp = group_from_name(group, names)
    spaces: list[str] = []
    for nm in names:
        acts = generators[nm]
        if not isinstance(acts, Mapping) or not acts:
            raise SymmetrySpecError(
                f"generator {nm!r}: give its action on each space, e.g. {{q: {{perm: ...}}}}"
            )
        for sp in acts:
            if sp not in spaces:
                spaces.append(sp)
    reps: dict[str, MatrixRep] = {}
    for sp in spaces:
        dim = None if dims is None else dims.get(sp)
        mats: dict[str, Tensor] = {}
        for nm in names:
            if sp not in generators[nm]:
                raise SymmetrySpecError(f"generator {nm!r} does not say how it acts on {sp!r}")
            m = _as_signed_perm(nm, sp, generators[nm][sp], dim)
            dim = m.shape[0] if dim is None else dim
            mats[nm] = m
        reps[sp] = _extend_to_group(grp, mats, sp)
    return grp, reps


def _extend_to_group(grp: FiniteGroup, gen_mats: Mapping[str, Tensor], space: str) -> MatrixRep:
    """Extend generator matrices to every element (breadth-first over words) and check it is a rep."""
    d = next(iter(gen_mats.values())).shape[0]
    for nm, m in gen_mats.items():
        want = len(grp.subgroup([nm]))  # the order of the abstract generator
        got = _matrix_order(m, limit=max(2 * want, 8))
        if got is None or want % got != 0:
            raise SymmetrySpecError(
                f"generator {nm!r} on {space!r} has order {got or '>' + str(2 * want)}, but in {grp.name} it has "
                f"order {want}: check its permutation and signs"
            )
    rho: list[Tensor | None] = [None] * grp.order
    rho[0] = torch.eye(d, dtype=torch.float64)
    frontier = [0]
    while frontier:
        new = []
        for j in frontier:
            for nm, m in gen_mats.items():
                k = int(grp.cayley[grp.generator_index[nm], j])
                rho_j = rho[j]
                assert rho_j is not None  # j was reached, so its matrix is set
                cand = m @ rho_j
                if rho[k] is None:
                    rho[k] = cand
                    new.append(k)
        frontier = new
    mats = torch.stack([r for r in rho if r is not None])
    rep = MatrixRep(grp, mats, name=space)
    # relations: rho(a) rho(b) == rho(ab) for all pairs, reported on the first failing pair of generators
    prod = mats[:, None] @ mats[None, :]
    bad = ~torch.isclose(prod, mats[grp.cayley], atol=1e-9).flatten(2).all(-1)
    if bad.any():
        closure = _closure_size(list(gen_mats.values()), limit=4 * grp.order)
        pairs = [(a, b) for a, b in itertools.product(gen_mats, repeat=2) if a < b]
        noncommuting = [
            f"{a!r} and {b!r} do not commute"
            for a, b in pairs
            if int(grp.cayley[grp.generator_index[a], grp.generator_index[b]])
            == int(grp.cayley[grp.generator_index[b], grp.generator_index[a]])
            and not torch.allclose(gen_mats[a] @ gen_mats[b], gen_mats[b] @ gen_mats[a], atol=1e-9)
        ]
        why = noncommuting[0] if noncommuting else "they break a relation of the group"
        raise SymmetrySpecError(
            f"the generators' actions on {space!r} do not close to {grp.name} (order {grp.order}): {why}, "
            f"and they generate {closure if closure <= 4 * grp.order else 'more than ' + str(4 * grp.order)} "
            f"distinct matrices"
        )
    return rep


def _closure_size(mats: list[Tensor], limit: int) -> int:
    found = [torch.eye(mats[0].shape[0], dtype=torch.float64)]
    frontier = list(found)
    while frontier and len(found) <= limit:
        new = []
        for a in frontier:
            for m in mats:
                c = m @ a
                if not any(torch.allclose(c, f, atol=1e-9) for f in found):
                    found.append(c)
                    new.append(c)
        frontier = new
    return len(found)


class CharacterRep(Rep):
    """A one-dimensional representation ``x -> chi(g) x`` acting on every entry of ``x`` (any shape).

    ``values[i]`` is ``chi`` of element ``i``; :func:`sign_rep` gives escnn's sign representation
    (+1 on the elements of a subgroup, -1 elsewhere), e.g. the mirror of a pendulum acting on its
    generalized coordinates, or a pseudo-scalar under reflections.
    """

    def __init__(self, group: FiniteGroup, values: Sequence[float], name: str = "character"):
        v = torch.as_tensor(values, dtype=torch.float64)
        if v.shape != (group.order,):
            raise ValueError(f"a character of {group.name} needs {group.order} values, got {list(v.shape)}")
        if not torch.allclose(v[:, None] * v[None, :], v[group.cayley]):
            raise ValueError(f"{list(v.tolist())} is not a one-dimensional representation of {group.name}")
        self.group, self.values, self.name = group, v, name

    def act(self, g: GroupElementBase, x: Tensor, index: Tensor | None = None) -> Tensor:
        assert isinstance(g, FiniteElement), f"{self.name} is a representation of a finite group"
        idx = g.index if index is None else g.index[index]
        chi = self.values.to(device=x.device, dtype=x.dtype)[idx.to(x.device)]
        return x * chi.reshape(chi.shape[0], *([1] * (x.dim() - 1)))

    def __repr__(self) -> str:
        return f"CharacterRep({self.name}, {self.group.name})"


def sign_rep(group: FiniteGroup, kernel: Iterable[str] = (), name: str = "sign") -> CharacterRep:
    """``chi(g) = (-1)^(number of generators outside ``kernel`` in a word for g)``.

    With every generator outside the kernel (the default) this is the sign representation of C2
    or of a reflection group; a generator in ``kernel`` acts trivially.
    """
    kernel = set(kernel)
    gens = {nm: (1.0 if nm in kernel else -1.0) for nm in group.generator_names}
    values = [1.0] * group.order
    frontier, seen = [0], {0}
    while frontier:
        new = []
        for j in frontier:
            for nm, gi in group.generator_index.items():
                k = int(group.cayley[gi, j])
                if k not in seen:
                    seen.add(k)
                    values[k] = gens[nm] * values[j]
                    new.append(k)
        frontier = new
    return CharacterRep(group, values, name)


# ---------------------------------------------------------------- grids and shifts
_GRID_KINDS = ("scalar", "pseudoscalar", "vector")


def _per_element(name: str, g: GroupElementBase, x: Tensor, index: Tensor | None, one) -> Tensor:
    """Apply ``one(rows, i)`` to the rows of ``x`` that element ``i`` acts on, for each element
    present in the batch (actions that are not a matrix product: grid index maps, rolls)."""
    assert isinstance(g, FiniteElement), f"{name} is a representation of a finite group"
    idx = g.index if index is None else g.index[index]
    out = torch.empty_like(x)
    for i in torch.unique(idx).tolist():
        rows = (idx == i).nonzero().squeeze(1).to(x.device)
        out[rows] = one(x[rows], int(i))
    return out


class GridRep(Rep):
    """A field on a square 2-D grid ``[..., (C,) H, W]`` under C_n/D_n with n in {1, 2, 4}.

    The group acts on grid coordinates by the standard 2-D representation of escnn's group
    (``irrep(1, 1)`` of D_n, ``irrep(1)`` of C_n): rotations by multiples of 90° about the centre of
    the array and reflections (D_n's ``flip`` mirrors y -> -y).  The last axis is x, the one
    before it y.  ``kind`` says how values transform: ``scalar`` (unchanged), ``pseudoscalar``
    (times det A: vorticity, the curl of a forcing), ``vector`` (channels ``(u_x, u_y)`` on axis
    ``channel_axis`` rotated by A).  On a periodic grid the centre of rotation is immaterial: the
    two choices differ by a whole-pixel translation.
    """

    def __init__(self, group: FiniteGroup, kind: str = "scalar", channel_axis: int = -3):
        if kind not in _GRID_KINDS:
            raise ValueError(f"unknown grid field kind {kind!r}; expected one of {_GRID_KINDS}")
        self.group, self.kind, self.channel_axis = group, kind, channel_axis
        self.name = f"grid-{kind}"
        self.coords = _planar_matrices(group)  # [order, 2, 2] integer-valued
        self.det = torch.linalg.det(self.coords).round()

    def _transform_grid(self, x: Tensor, i: int) -> Tensor:
        """``y(p) = x(A^-1 p)`` on the last two axes (y, x) for element ``i``."""
        a = self.coords[i]
        h, w = x.shape[-2], x.shape[-1]
        if h != w and not torch.allclose(a.abs(), torch.eye(2, dtype=a.dtype)):
            raise InputError(f"a 90° rotation needs a square grid, got {h}x{w}")
        ainv = a.T  # orthogonal
        n = w
        c = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
        yy, xx = torch.meshgrid(c, c, indexing="ij")
        src_x = ainv[0, 0] * xx + ainv[0, 1] * yy
        src_y = ainv[1, 0] * xx + ainv[1, 1] * yy
        ix = (src_x + (n - 1) / 2).round().long()
        iy = (src_y + (n - 1) / 2).round().long()
        flat = (iy * n + ix).reshape(-1).to(x.device)
        return x.flatten(-2)[..., flat].reshape(x.shape)

    def act(self, g: GroupElementBase, x: Tensor, index: Tensor | None = None) -> Tensor:
        return _per_element(self.name, g, x, index, self._act_one)

    def _act_one(self, x: Tensor, i: int) -> Tensor:
        """Element ``i`` on a stack of fields ``x`` (every row transformed alike)."""
        xi = self._transform_grid(x, i)
        if self.kind == "pseudoscalar":
            xi = xi * float(self.det[i])
        elif self.kind == "vector":
            a = self.coords[i].to(dtype=x.dtype, device=x.device)
            xi = torch.einsum("ij,...j->...i", a, xi.movedim(self.channel_axis, -1)).movedim(
                -1, self.channel_axis
            )
        return xi

    def check(self, x: Tensor, group: Group) -> str | None:
        if x.dim() < 3:
            return f"must be a batch of grids [B, ..., H, W], got {list(x.shape)}"
        if x.shape[-1] != x.shape[-2]:
            return f"must be on a square grid (H == W), got {x.shape[-2]}x{x.shape[-1]}"
        if self.kind == "vector" and x.shape[self.channel_axis] != 2:
            return f"a vector field needs 2 channels on axis {self.channel_axis}, got {list(x.shape)}"
        return None

    def __repr__(self) -> str:
        return f"GridRep({self.kind}, {self.group.name})"


def _planar_matrices(group: FiniteGroup) -> Tensor:
    """The 2x2 matrices of the standard planar action of C_n / D_n (n in 1, 2, 4)."""
    from escnn.group import CyclicGroup, DihedralGroup

    g = group.escnn
    if isinstance(g, DihedralGroup):
        n = g.order() // 2
        irr = g.irrep(1, 1) if n > 2 else None
    elif isinstance(g, CyclicGroup):
        n = g.order()
        irr = g.irrep(1) if n > 2 else None
    else:
        raise ValueError(f"grid actions need a cyclic or dihedral group, got {group.name}")
    if n not in (1, 2, 4):
        raise ValueError(
            f"a square grid is symmetric under rotations by 90°; {group.name} rotates by 360°/{n}"
        )
    mats = []
    for e in group.elements_escnn:
        if irr is None and n == 1:  # C1 or D1 (a single flip)
            flip = isinstance(g, DihedralGroup) and e != g.identity
            mats.append(torch.tensor([[1.0, 0.0], [0.0, -1.0 if flip else 1.0]], dtype=torch.float64))
        elif n == 2:  # irrep(1) of C2/D2 is not 2-D: build rotation by pi (and flip) by hand
            f, k = e.to("int") if isinstance(g, DihedralGroup) else (0, e.to("int"))
            r = torch.eye(2, dtype=torch.float64) * (-1.0) ** k
            s = torch.tensor([[1.0, 0.0], [0.0, -1.0 if f else 1.0]], dtype=torch.float64)
            mats.append(r @ s)
        else:
            assert irr is not None  # n == 4
            mats.append(torch.as_tensor(irr(e), dtype=torch.float64).round())
    return torch.stack(mats)


class ShiftRep(Rep):
    """Cyclic shifts Z_N on a periodic axis: element ``k`` of C_N rolls ``x`` by ``k`` along ``axis``.

    ``stride`` shifts by ``stride * k`` (e.g. a Lorenz-96 ring of N sites embedded in a longer axis).
    """

    def __init__(self, group: FiniteGroup, axis: int = -1, stride: int = 1):
        from escnn.group import CyclicGroup

        if not isinstance(group.escnn, CyclicGroup):
            raise ValueError(f"shifts are a representation of a cyclic group, not {group.name}")
        self.group, self.axis, self.stride = group, axis, int(stride)
        self.name = f"shift[{group.order}]"
        self.shifts = [int(e.to("int")) * self.stride for e in group.elements_escnn]

    def act(self, g: GroupElementBase, x: Tensor, index: Tensor | None = None) -> Tensor:
        return _per_element(
            self.name, g, x, index, lambda xi, i: torch.roll(xi, self.shifts[i], dims=self.axis)
        )

    def check(self, x: Tensor, group: Group) -> str | None:
        n = x.shape[self.axis] if x.dim() > 1 else 0
        if n == 0 or n % (self.group.order * self.stride) != 0:
            return (
                f"axis {self.axis} must hold a multiple of {self.group.order * self.stride} entries for "
                f"{self.name}, got {list(x.shape)}"
            )
        return None

    def matrices(self, n: int) -> Tensor:
        """The permutation matrices of the shifts on an axis of length ``n`` ``[order, n, n]``."""
        eye = torch.eye(n, dtype=torch.float64)
        return torch.stack([torch.roll(eye, s, dims=0) for s in self.shifts])

    def __repr__(self) -> str:
        return f"ShiftRep({self.group.name}, axis={self.axis})"
