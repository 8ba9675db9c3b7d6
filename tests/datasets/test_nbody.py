import numpy as np
import pytest
import torch
from datasets_helpers import write_npz  # noqa: F401  (see conftest in this folder)

import symzoo
from symzoo.errors import InputError, SymzooError


def test_simulator_reproducible_and_symmetric():
    from symzoo.datasets.nbody import simulate_nbody

    a = simulate_nbody(4, n_steps=400, save_every=100, seed=3)
    b = simulate_nbody(4, n_steps=400, save_every=100, seed=3)
    assert a["pos"].shape == (4, 4, 5, 3) and np.array_equal(a["pos"], b["pos"])
    assert set(np.unique(a["attr"])) <= {-1.0, 1.0}
    # pairwise forces are antisymmetric: total momentum (unit masses) is conserved
    p0, p1 = a["vel"][:, 1].sum(1), a["vel"][:, -1].sum(1)
    assert np.allclose(p0, p1, atol=1e-9)
    # the simulator commutes with rotations (exact symmetry of the data)
    from symzoo.datasets.nbody import _accelerations

    x = torch.randn(3, 5, 3, dtype=torch.float64)
    q = torch.randint(0, 2, (3, 5)).double() * 2 - 1
    r = symzoo.symmetry.random_rotations(1)[0]
    f1 = _accelerations(x @ r.T, q, "charged", 0.0, 100.0)
    f2 = _accelerations(x, q, "charged", 0.0, 100.0) @ r.T
    assert torch.allclose(f1, f2, atol=1e-10)


def test_gravity_attracts():
    from symzoo.datasets.nbody import _accelerations

    x = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0]]], dtype=torch.float64)
    a = _accelerations(x, torch.ones(1, 2, dtype=torch.float64), "gravity", 0.0, None)
    assert a[0, 0, 0] > 0 and a[0, 1, 0] < 0
    c = _accelerations(x, torch.ones(1, 2, dtype=torch.float64), "charged", 0.0, None)
    assert c[0, 0, 0] < 0  # like charges repel


def test_task_splits_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path))
    task = symzoo.get_task("nbody-charged", preset="tiny")
    train, val, test = task.splits()
    assert (len(train), len(val), len(test)) == (200, 100, 100)
    files = list((tmp_path / "datasets" / "nbody-charged").glob("tiny-*/data.npz"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.partial"))
    b = train.__getitems__([0, 1, 2])
    assert b.pos.shape == (15, 3) and b.edge_index.shape == (2, 60) and b.num_graphs == 3
    assert int(b.edge_index.max()) == 14 and torch.equal(b.batch, torch.arange(3).repeat_interleave(5))
    again = symzoo.get_task("nbody-charged").splits("tiny")[0]
    assert torch.equal(again.node["pos"], train.node["pos"])


def test_restrict_canonicalizes(tmp_path):
    task = symzoo.get_task("nbody-charged", preset="tiny")
    train = task.splits()[0].subset(range(10))
    r = task.restrict(train)
    b = r.__getitems__(list(range(10)))
    assert torch.allclose(b.pos.reshape(10, 5, 3).mean(1), torch.zeros(10, 3), atol=1e-5)
    # still a valid sample: relative geometry preserved
    d0 = torch.cdist(train.node["pos"], train.node["pos"])
    d1 = torch.cdist(r.node["pos"], r.node["pos"])
    assert torch.allclose(d0, d1, atol=1e-4)


def test_unknown_task_and_preset():
    with pytest.raises(SymzooError, match="did you mean 'nbody-charged'"):
        symzoo.get_task("nbody-charge")
    with pytest.raises(SymzooError, match="no preset 'huge'"):
        symzoo.get_task("nbody-charged", preset="huge")


def test_user_file_validation(tmp_path):
    good = write_npz(tmp_path / "good.npz")
    train, val, test = symzoo.get_task("nbody-charged", path=str(good)).splits("tiny")
    assert (len(train), len(val), len(test)) == (12, 4, 4)
    bad = write_npz(tmp_path / "nan.npz", nan=True)
    with pytest.raises(InputError, match="NaN"):
        symzoo.get_task("nbody-charged", path=str(bad)).splits("tiny")
    shape = write_npz(tmp_path / "shape.npz", n=4)
    with pytest.raises(InputError, match="shape"):
        symzoo.get_task("nbody-charged", path=str(shape)).splits("tiny")
    with pytest.raises(SymzooError, match="does not exist"):
        symzoo.get_task("nbody-charged", path=str(tmp_path / "missing.npz")).splits("tiny")
