import pytest
import torch

from symzoo.symmetry import EuclideanGroup, act_field, canonical_frames, random_permutation


def test_sampled_factors_have_the_right_determinant():
    g3 = EuclideanGroup(3)
    gen = torch.Generator().manual_seed(0)
    rot = g3.sample(8, factors=["rotation"], generator=gen)
    ref = g3.sample(8, factors=["reflection"], generator=gen)
    both = g3.sample(8, factors=["rotation", "reflection"], generator=gen)
    eye = torch.eye(3, dtype=torch.float64)
    for g, det in ((rot, 1.0), (ref, -1.0), (both, -1.0)):
        assert torch.allclose(g.rot @ g.rot.transpose(-1, -2), eye.expand(8, 3, 3), atol=1e-12)
        assert torch.allclose(g.det, torch.full((8,), det, dtype=torch.float64), atol=1e-12)
        assert torch.all(g.trans == 0)
    tr = g3.sample(8, factors=["translation"], generator=gen)
    assert torch.allclose(tr.rot, eye.expand(8, 3, 3)) and tr.trans.abs().sum() > 0


def test_two_dimensional_group():
    g2 = EuclideanGroup(2, translations=False, permutations=False)
    assert g2.name == "O(2)" and g2.factors == ("rotation", "reflection")
    g = g2.sample(5, generator=torch.Generator().manual_seed(1))
    assert g.rot.shape == (5, 2, 2) and torch.allclose(g.det, -torch.ones(5, dtype=torch.float64))


def test_group_rejects_missing_factor():
    with pytest.raises(ValueError, match="no factor"):
        EuclideanGroup(3, reflections=False).sample(2, factors=["reflection"])


def test_permutation_stays_within_graph_and_label():
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    labels = torch.tensor([1, 6, 1, 6, 8, 1, 8])
    seen = set()
    for s in range(20):
        perm = random_permutation(batch, labels, generator=torch.Generator().manual_seed(s))
        assert sorted(perm.tolist()) == list(range(7))
        assert torch.equal(batch[perm], batch) and torch.equal(labels[perm], labels)
        seen.add(tuple(perm.tolist()))
    assert len(seen) > 1  # it does shuffle


def test_field_actions():
    g = EuclideanGroup(3).sample(
        2, factors=["rotation", "reflection", "translation"], generator=torch.Generator().manual_seed(2)
    )
    x = torch.randn(2, 3, dtype=torch.float64)
    assert torch.equal(act_field("scalar", x, g), x)
    v = act_field("vector", x, g)
    assert torch.allclose(v.norm(dim=-1), x.norm(dim=-1))
    p = act_field("position", x, g)
    assert torch.allclose(p, v + g.trans)
    pv = act_field("pseudovector", x, g)
    assert torch.allclose(pv, -v)  # improper elements flip pseudovectors relative to vectors
    with pytest.raises(ValueError, match="unknown representation"):
        act_field("tensor", x, g)


def test_canonical_frame_is_invariant():
    gen = torch.Generator().manual_seed(3)
    pos = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    batch = torch.tensor([0] * 5 + [1] * 5)
    grp = EuclideanGroup(3)
    g = grp.sample(2, factors=["rotation", "reflection", "translation"], generator=gen)
    moved = act_field("position", pos, g, batch)
    c1 = act_field("position", pos, canonical_frames(pos, batch, 2), batch)
    c2 = act_field("position", moved, canonical_frames(moved, batch, 2), batch)
    assert torch.allclose(c1, c2, atol=1e-9)
