"""Finite groups (escnn), signed-permutation specs, grid and shift actions: all homomorphisms."""

import itertools

import pytest
import torch

from symzoo.groups import (
    GridRep,
    MatrixRep,
    ShiftRep,
    SymmetrySpecError,
    cyclic,
    dihedral,
    direct_product,
    klein4,
    signed_permutation_group,
)
from symzoo.symmetry import EuclideanGroup

# A made-up 3-joint robot: left hip, right hip, waist.  The sagittal mirror swaps the hips and
# flips the waist's sign; the second K4 generator flips both hips.
SAGITTAL = {"q": {"perm": [1, 0, 2], "signs": [1, 1, -1]}, "v": {"perm": [1, 0, 2], "signs": [1, 1, -1]}}
HIPS = {"q": {"perm": [0, 1, 2], "signs": [-1, -1, 1]}, "v": [[-1, 0, 0], [0, -1, 0], [0, 0, 1]]}


def _assert_homomorphism(group, act, x):
    """act(g, act(h, x)) == act(g∘h, x) for every pair, and act(identity) == x."""
    n = x.shape[0]
    assert torch.equal(act(group.identity(n), x), x)
    for g, h in itertools.product(group.elements(n), repeat=2):
        lhs = act(g, act(h, x))
        rhs = act(group.compose(g, h), x)
        assert torch.allclose(lhs, rhs, atol=1e-12), (g.names()[0], h.names()[0])
        assert torch.allclose(act(group.inverse(g), act(g, x)), x, atol=1e-12)


def test_c2_and_k4_from_a_signed_permutation_spec():
    c2, reps = signed_permutation_group("C2", {"sagittal": SAGITTAL})
    assert c2.order == 2 and set(reps) == {"q", "v"}
    assert torch.equal(reps["q"].matrices[1], torch.tensor([[0.0, 1, 0], [1, 0, 0], [0, 0, -1]]).double())
    k4, reps = signed_permutation_group("K4", {"sagittal": SAGITTAL, "hips": HIPS})
    assert k4.order == 4 and k4.factors == ("sagittal", "hips")
    assert all(r.is_homomorphism() for r in reps.values())
    x = torch.randn(4, 3, dtype=torch.float64)
    _assert_homomorphism(k4, reps["q"].act, x)
    # the same representation as escnn's: irreps decomposition reproduces every matrix
    rep = reps["q"].escnn_rep()
    for i, e in enumerate(k4.elements_escnn):
        assert torch.allclose(torch.as_tensor(rep(e)), reps["q"].matrices[i], atol=1e-9)


def test_a_spec_that_does_not_close_is_refused_in_one_line():
    swap01 = {"q": {"perm": [1, 0, 2]}}
    swap12 = {"q": {"perm": [0, 2, 1]}}
    with pytest.raises(SymmetrySpecError) as err:
        signed_permutation_group("K4", {"a": swap01, "b": swap12})
    msg = str(err.value)
    assert "\n" not in msg and "do not close to K4" in msg and "'a' and 'b' do not commute" in msg
    assert "6 distinct matrices" in msg  # they generate S3
    with pytest.raises(
        SymmetrySpecError, match=r"generator 'm' on 'q' has order 3, but in C2 it has order 2"
    ):
        signed_permutation_group("C2", {"m": {"q": {"perm": [1, 2, 0]}}})
    with pytest.raises(SymmetrySpecError, match="not a permutation"):
        signed_permutation_group("C2", {"m": {"q": {"perm": [0, 0, 1]}}})
    with pytest.raises(SymmetrySpecError, match="signs must be 3 values"):
        signed_permutation_group("C2", {"m": {"q": {"perm": [1, 0, 2], "signs": [1, 2, 1]}}})
    with pytest.raises(SymmetrySpecError, match="does not say how it acts on 'v'"):
        signed_permutation_group("K4", {"a": SAGITTAL, "b": {"q": HIPS["q"]}})
    with pytest.raises(SymmetrySpecError, match="unknown group"):
        signed_permutation_group("Q8", {"a": SAGITTAL})


def test_d4_on_pseudoscalar_and_vector_grids_is_a_homomorphism():
    d4 = dihedral(4)
    assert d4.order == 8 and d4.factors == ("rot", "flip")
    omega = torch.randn(8, 6, 6, dtype=torch.float64)
    u = torch.randn(8, 2, 6, 6, dtype=torch.float64)
    pseudo, vec = GridRep(d4, "pseudoscalar"), GridRep(d4, "vector", channel_axis=-3)
    _assert_homomorphism(d4, pseudo.act, omega)
    _assert_homomorphism(d4, vec.act, u)
    # rotation by 90° is torch.rot90 on (y, x) arrays; the flip negates a pseudo-scalar
    rot = d4.element(d4.element_names.index("rot"), 8)
    assert torch.allclose(GridRep(d4, "scalar").act(rot, omega), torch.rot90(omega, 1, dims=(-1, -2)))
    flip = d4.element(d4.element_names.index("flip"), 8)
    assert torch.allclose(pseudo.act(flip, omega), -torch.flip(omega, dims=(-2,)))

    # curl of a rotated vector field is the rotated pseudo-scalar curl (finite differences, periodic)
    def curl(v):
        dvy_dx = (torch.roll(v[:, 1], -1, -1) - torch.roll(v[:, 1], 1, -1)) / 2
        dvx_dy = (torch.roll(v[:, 0], -1, -2) - torch.roll(v[:, 0], 1, -2)) / 2
        return dvy_dx - dvx_dy

    for g in d4.elements(8):
        assert torch.allclose(curl(vec.act(g, u)), pseudo.act(g, curl(u)), atol=1e-12)


def test_c4_grid_and_odd_sizes():
    c4 = cyclic(4, "rot")
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    _assert_homomorphism(c4, GridRep(c4, "vector").act, x[:, :2])
    _assert_homomorphism(c4, GridRep(c4, "scalar").act, x)
    with pytest.raises(ValueError, match="rotates by 360°/3"):
        GridRep(cyclic(3), "scalar")


def test_cyclic_shifts_on_a_periodic_axis():
    z8 = cyclic(8)
    x = torch.randn(5, 8, dtype=torch.float64)
    shift = ShiftRep(z8, axis=-1)
    _assert_homomorphism(z8, shift.act, x)
    one = z8.element(z8.element_names.index("shift"), 5)
    assert torch.equal(shift.act(one, x), torch.roll(x, 1, dims=-1))
    # the same action as a matrix representation
    mats = MatrixRep(z8, shift.matrices(8))
    assert mats.is_homomorphism()
    for g in z8.elements(5):
        assert torch.allclose(mats.act(g, x), shift.act(g, x))
    assert shift.check(torch.zeros(2, 7), z8) is not None


def test_direct_product_and_sampling_are_seeded():
    g = direct_product(cyclic(3, "c"), dihedral(2, ("a", "b")))
    assert g.order == 12 and g.factors == ("c", "a", "b")
    assert len(g.subgroup(["c"])) == 3 and len(g.subgroup(["a", "b"])) == 4
    assert klein4().order == 4
    s1 = g.sample(16, generator=torch.Generator().manual_seed(3)).index
    s2 = g.sample(16, generator=torch.Generator().manual_seed(3)).index
    assert torch.equal(s1, s2)
    only_c = g.sample(64, factors=["c"], generator=torch.Generator().manual_seed(0)).index
    assert set(only_c.tolist()) <= set(g.subgroup(["c"]))


def test_euclidean_compose_and_inverse():
    grp = EuclideanGroup(3, permutations=False)
    gen = torch.Generator().manual_seed(0)
    g, h = grp.sample(3, generator=gen), grp.sample(3, generator=gen)
    x = torch.randn(3, 3, dtype=torch.float64)
    from symzoo.symmetry import POSITION

    assert torch.allclose(POSITION.act(g, POSITION.act(h, x)), POSITION.act(grp.compose(g, h), x))
    assert torch.allclose(POSITION.act(grp.inverse(g), POSITION.act(g, x)), x)
