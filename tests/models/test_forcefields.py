"""The NequIP-style battery for the atomistic force fields: equivariance (float32 and float64),
forces = -dE/dpos against finite differences, batch consistency, smoothness at the cutoff,
periodic cells, reference-energy fitting and one-line errors on bad input."""

import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

import symzoo
from symzoo.errors import InputError
from symzoo.testing import (
    assert_batch_consistent,
    assert_equivariant,
    assert_forces_match_finite_differences,
    equivariance_errors,
)

SMALL = {
    "nequip": dict(channels=4, layers=2, l_max=2, parity=True, radial_hidden=8),
    "painn": dict(channels=8, layers=2, num_basis=8),
    "schnet": dict(channels=8, layers=2, num_basis=8),
}


@pytest.fixture(scope="module")
def ethanol():
    return symzoo.get_task("rmd17-ethanol")


def _model(name, **kw):
    torch.manual_seed(0)
    return symzoo.create_model(name, **{**SMALL[name], **kw})


@pytest.mark.parametrize("name", sorted(SMALL))
def test_equivariance_batch_and_finite_differences(name, ethanol):
    model = _model(name)
    errs = assert_equivariant(model, ethanol)
    assert set(errs[torch.float64]) == {"rotation", "reflection", "translation", "permutation", "all"}
    assert max(errs[torch.float64].values()) <= 1e-9
    assert_batch_consistent(model, ethanol)
    assert_forces_match_finite_differences(model, ethanol.example_batch(2), n_checks=4)


def test_nequip_l_max_3_without_parity_is_equivariant(ethanol):
    model = _model("nequip", l_max=3, parity=False, layers=1)
    errs = assert_equivariant(model, ethanol, dtypes=(torch.float64,))
    assert errs[torch.float64]["all"] < 1e-9


def test_forces_are_not_trivially_zero(ethanol):
    out = _model("nequip")(ethanol.example_batch(2))
    assert out["forces"].abs().max() > 1e-4 and out["energy"].shape == (2,)


def _dimer(r, z=(1, 1)):
    return Batch.from_data_list(
        [
            symzoo.datasets.atoms.make_structure(
                [[0.0, 0.0, 0.0], [r, 0.0, 0.0]], list(z), 0.0, np.zeros((2, 3))
            )
        ]
    )


@pytest.mark.parametrize("name", sorted(SMALL))
def test_smooth_at_the_cutoff(name):
    model = _model(name, cutoff=3.0).double().eval()
    inside, outside, far = (model(_dimer(r)) for r in (3.0 - 1e-4, 3.0 + 1e-4, 10.0))
    # the energy reaches its isolated-atom value continuously and the force vanishes there
    assert abs(float(inside["energy"] - outside["energy"])) < 1e-8
    assert abs(float(outside["energy"] - far["energy"])) == 0.0
    assert float(inside["forces"].abs().max()) < 1e-6
    mid = model(_dimer(2.0))
    assert float(mid["forces"].abs().max()) > 1e-6  # but it does interact inside the cutoff


def test_reference_energies_are_least_squares():
    make = symzoo.datasets.atoms.make_structure
    e0 = {1: -13.6, 8: -2041.0}
    data = []
    rng = np.random.default_rng(0)
    for n_h, n_o in [(2, 1), (1, 1), (4, 2), (0, 2)]:
        z = [1] * n_h + [8] * n_o
        data.append(
            make(rng.normal(size=(len(z), 3)) * 3, z, sum(e0[k] for k in z), rng.normal(size=(len(z), 3)))
        )
    model = _model("schnet")
    info = model.fit_reference(data)
    assert info["species"] == [1, 8]
    assert np.allclose(info["reference_eV"], [-13.6, -2041.0])
    rms = math.sqrt(np.mean(np.concatenate([d.forces.numpy().ravel() for d in data]) ** 2))
    assert math.isclose(float(model.energy_scale), rms, rel_tol=1e-6)
    # an element outside the training data is refused in one line
    with pytest.raises(InputError, match="Z=\\[6\\]"):
        model(Batch.from_data_list([make([[0, 0, 0], [1.5, 0, 0]], [6, 1], 0.0, np.zeros((2, 3)))]))


def test_bad_input_is_one_line_error(ethanol):
    model = _model("painn")
    b = ethanol.example_batch(1)
    nan = b.clone()
    nan.pos = b.pos.clone()
    nan.pos[0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        model(nan)
    with pytest.raises(InputError, match="closer than the minimum distance"):
        model(_dimer(0.2))
    with pytest.raises(ValueError, match="cutoff"):
        symzoo.create_model("nequip", cutoff=-1.0)


def test_periodic_cell_neighbours_and_symmetry():
    from ase.build import bulk
    from symzoo.models._atoms import neighbor_list

    # fcc Cu: 12 nearest neighbours at a/sqrt(2); 18 within 4 Å; a 1-atom primitive cell needs
    # many cell shifts (the neighbour list is not minimum-image only)
    for atoms in (bulk("Cu", "fcc", a=3.61), bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 1, 1))):
        pos = torch.tensor(atoms.positions)
        batch = torch.zeros(len(atoms), dtype=torch.long)
        cell, pbc = torch.tensor(atoms.cell.array)[None], torch.tensor(atoms.pbc)[None]
        for cutoff, count in ((3.0, 12), (4.0, 18)):
            ei, vec = neighbor_list(pos, batch, 1, cutoff, cell, pbc)
            assert torch.bincount(ei[0], minlength=len(atoms)).tolist() == [count] * len(atoms)
            assert torch.allclose(
                vec.norm(dim=-1).min(), torch.tensor(3.61 / math.sqrt(2), dtype=torch.float64)
            )
    task = symzoo.get_task("emt-cu")
    model = _model("nequip", l_max=1, cutoff=4.0)
    errs = equivariance_errors(model, task, num_graphs=2, trials=1)
    assert max(errs.values()) < 1e-9, errs
    # wrapping an atom by a lattice vector changes nothing
    b = task.example_batch(1)
    moved = b.clone()
    moved.pos = b.pos.clone()
    moved.pos[0] += b.cell[0, 1]
    m = model.double().eval()
    assert torch.allclose(m(b)["energy"], m(moved)["energy"], atol=1e-10)
    assert torch.allclose(m(b)["forces"], m(moved)["forces"], atol=1e-10)


def test_stress_matches_finite_strain():
    task = symzoo.get_task("emt-cu")
    model = _model("schnet", cutoff=4.0).double().eval()
    b = task.example_batch(1)
    stress = model(b, compute_stress=True)["stress"][0]
    vol = float(torch.linalg.det(b.cell[0]))
    eps = 1e-5
    for i, j in ((0, 0), (0, 1)):
        e = []
        for s in (1, -1):
            d = torch.zeros(3, 3, dtype=torch.float64)
            d[i, j] = d[j, i] = s * eps / (2 if i != j else 1)
            strained = b.clone()
            strained.pos = b.pos @ (torch.eye(3, dtype=torch.float64) + d)
            strained.cell = b.cell @ (torch.eye(3, dtype=torch.float64) + d)
            e.append(float(model(strained)["energy"]))
        fd = (e[0] - e[1]) / (2 * eps) / vol
        assert abs(fd - float(stress[i, j] if i == j else stress[i, j] + stress[j, i])) < 1e-6 * max(
            1.0, abs(fd)
        )


def test_nequip_edge_blocks_are_the_same_function(ethanol, monkeypatch):
    """Large systems run NequIP's convolution in blocks of edges (flat per-atom cost,
    benchmarks/forcefield_peratom_profile.py): the same energies and forces, float64, to 1e-12."""
    import symzoo.models.nequip as nequip_module

    model = _model("nequip").double()
    batch = ethanol.example_batch(3, dtype=torch.float64)  # 3 x 72 directed edges
    whole = model(batch)
    monkeypatch.setattr(nequip_module, "EDGE_BLOCK", 10)  # 22 blocks, the last one partial
    blocked = model(batch)
    torch.testing.assert_close(blocked["energy"], whole["energy"], rtol=0, atol=1e-12)
    torch.testing.assert_close(blocked["forces"], whole["forces"], rtol=0, atol=1e-12)
    assert whole["forces"].abs().max() > 1e-6  # not trivially zero
    # evaluation on many blocks recomputes them in the backward pass (activation checkpointing)
    monkeypatch.setattr(nequip_module, "CHECKPOINT_MIN_BLOCKS", 2)
    model.eval()
    recomputed = model(batch)
    torch.testing.assert_close(recomputed["energy"], whole["energy"], rtol=0, atol=1e-12)
    torch.testing.assert_close(recomputed["forces"], whole["forces"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["painn", "schnet"])
def test_edge_blocks_are_the_same_function(name, ethanol, monkeypatch):
    import importlib

    module = importlib.import_module(f"symzoo.models.{name}")
    model = _model(name).double()
    batch = ethanol.example_batch(3, dtype=torch.float64)
    whole = model(batch)
    monkeypatch.setattr(module, "EDGE_BLOCK", 10)  # 216 edges > 2 x 10: 22 blocks
    blocked = model(batch)
    torch.testing.assert_close(blocked["energy"], whole["energy"], rtol=0, atol=1e-12)
    torch.testing.assert_close(blocked["forces"], whole["forces"], rtol=0, atol=1e-12)
    assert whole["forces"].abs().max() > 1e-6


def test_split_edges_is_the_slices_with_one_backward_node():
    from symzoo.models._atoms import edge_blocks, split_edges

    t = torch.randn(23, 4, dtype=torch.float64, requires_grad=True)
    blocks = edge_blocks(23, 5, 5)  # 5 blocks, the last one partial
    pieces = split_edges(t, blocks)
    assert len(pieces) == len(blocks) == 5
    for piece, e in zip(pieces, blocks):
        torch.testing.assert_close(piece, t[e], rtol=0, atol=0)
    # one autograd node for all blocks (slices would each write a full-size zero gradient)
    assert len({p.grad_fn for p in pieces}) == 1
    w = torch.arange(1.0, 6.0, dtype=torch.float64)
    (g,) = torch.autograd.grad(sum(wi * p.square().sum() for wi, p in zip(w, pieces)), t)
    (ref,) = torch.autograd.grad(sum(wi * t[e].square().sum() for wi, e in zip(w, blocks)), t)
    torch.testing.assert_close(g, ref, rtol=0, atol=1e-15)
    # one pass: the tensor itself, no split
    (only,) = split_edges(t, edge_blocks(23, 5, 100))
    assert only.shape == t.shape
