"""Hamiltonian systems and tasks: conservation by the reference integration, targets, symmetry."""

import pytest
import torch
from symzoo.datasets.hamiltonian import MechanicalSystem, MirrorGroup, single_thread

import symzoo
from symzoo.errors import InputError, SymzooError, UnknownNameError

TASKS = ["spring", "pendulum", "double-pendulum", "chain-pendulum-3", "gravity-2", "gravity-3-3d"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with single_thread():
        yield


@pytest.mark.parametrize("name", TASKS)
def test_reference_integration_conserves_the_analytic_energy(name):
    task = symzoo.get_task(name, preset="tiny")
    arrays = task.trajectories("tiny")
    q, p = torch.from_numpy(arrays["test_q"]), torch.from_numpy(arrays["test_p"])
    assert q.dtype == torch.float64 and q.shape[1] == task.presets["tiny"]["frames"]
    cons = task.conserved(q, p)
    e = cons["energy"]
    drift = ((e - e[:, :1]).abs() / e[:, :1].abs()).max()
    assert drift < 1e-7, f"{name}: energy drift {float(drift):.2g} along the reference trajectories"
    # the trajectories actually move
    assert float((q[:, -1] - q[:, 0]).abs().max()) > 0.05
    if task.particles:  # gravity: momentum and angular momentum too
        for key in ("momentum", "angular_momentum"):
            c = cons[key]
            assert float((c - c[:, :1]).abs().max()) < 1e-8, key
        assert float(cons["momentum"][:, 0].abs().max()) < 1e-12  # centre of mass at rest


@pytest.mark.parametrize("name", ["spring", "pendulum", "gravity-3"])
def test_closed_form_vector_fields_match_autograd(name):
    sysm = symzoo.get_task(name).system
    q, p = sysm.sample(5, torch.Generator().manual_seed(1))
    a = sysm.vector_field(q, p)
    b = MechanicalSystem.vector_field(sysm, q, p)
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=1e-12)


@pytest.mark.parametrize("name", ["double-pendulum", "gravity-2"])
def test_targets_are_consistent(name):
    task = symzoo.get_task(name)
    b = task.example_batch(6)
    q, p = task.state(b)
    v, a = task._flat(b.v, 6), task._flat(b.dv, 6)
    # dq/dt = M^-1 p = v, and d/dt (M v) with the stored acceleration gives dp/dt
    assert torch.allclose(task._flat(b.dq, 6), v, atol=1e-5)
    pdot = task.system.pdot_from_acceleration(q, v, a)
    assert torch.allclose(pdot, task._flat(b.dp, 6), atol=1e-4)
    # and the acceleration is the time derivative of v along the exact flow (finite difference, float64)
    sysm = task.system
    q, p = sysm.sample(4, torch.Generator().manual_seed(3))
    qs, ps = sysm.simulate(q, p, 1, dt=1e-5, substeps=1)
    vs = sysm.velocity(qs, ps)
    assert torch.allclose((vs[1] - vs[0]) / 1e-5, sysm.acceleration(q, p), atol=1e-3, rtol=1e-3)


def test_batches_have_the_documented_fields_and_shapes():
    spring, grav = symzoo.get_task("spring"), symzoo.get_task("gravity-3-3d")
    b = spring.example_batch(4)
    for key in ("q", "p", "v", "dq", "dp", "dv"):
        assert getattr(b, key).shape == (4, 1)
    g = grav.example_batch(4)
    for key in ("q", "p", "v", "dq", "dp", "dv"):
        assert getattr(g, key).shape == (12, 3)
    assert g.mass.shape == (12, 1) and g.edge_index.shape == (2, 4 * 6)
    train, val, test = grav.splits("tiny")
    n = grav.presets["tiny"]
    assert (len(train), len(val), len(test)) == (
        n["train"] * n["frames"],
        n["val"] * n["frames"],
        n["test"] * n["frames"],
    )
    assert spring.needs_grad and grav.needs_grad and spring.has_dynamics
    assert repr(grav.group) == "E(3) x S_n" and repr(spring.group) == "Z2 (mirror)" and spring.group.finite


def test_hamiltonians_are_invariant_under_the_task_groups():
    for name in ("chain-pendulum-3", "gravity-2", "gravity-3-3d"):
        task = symzoo.get_task(name)
        b = task.example_batch(4)
        g = task.sample_group(b, generator=torch.Generator().manual_seed(0))
        if name.startswith("chain"):
            g = task.group.element(task.group.element_names.index("reflection"), 4)
        moved = task.act(g, b)
        e0, e1 = task.energy(*task.state(b)), task.energy(*task.state(moved))
        assert torch.allclose(e0, e1, rtol=1e-10, atol=1e-12), name
        assert not torch.allclose(moved.q, b.q)
        # targets transform like the inputs: the data are symmetric
        dq, dp = task.system.vector_field(*task.state(moved))
        assert torch.allclose(task._nodes(dq), moved.dq, atol=1e-10)
        assert torch.allclose(task._nodes(dp), moved.dp, atol=1e-10)


def test_mirror_group_sampling():
    grp = MirrorGroup()
    assert grp.order == 2 and grp.factors == ("reflection",) and grp.element_names == ["e", "reflection"]
    g = grp.sample(200, generator=torch.Generator().manual_seed(0))
    frac = float((g.index == 1).double().mean())
    assert 0.35 < frac < 0.65
    with pytest.raises(ValueError):
        grp.sample(2, factors=["rotation"])
    from symzoo.datasets.hamiltonian import mirror_sign

    x = torch.randn(3, 2, dtype=torch.float64)
    assert torch.equal(mirror_sign(grp).act(grp.element(1, 3), x), -x)


def test_restrict_and_names_and_validation():
    task = symzoo.get_task("pendulum")
    train, _, _ = task.splits("tiny")
    r = task.restrict(train.subset(range(50)))
    assert float(r.node["q"][:, 0, 0].min()) >= 0
    assert torch.allclose(r.node["q"].abs(), train.subset(range(50)).node["q"].abs())
    with pytest.raises(UnknownNameError):
        symzoo.get_task("chain-pendulum-0")
    with pytest.raises(UnknownNameError):
        symzoo.get_task("gravity-1")
    with pytest.raises(UnknownNameError):
        symzoo.get_task("spring", preset="huge")
    assert symzoo.get_task("gravity-4-3d").system.k == 3
    b = task.example_batch(2)
    b.q[0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        task.validate_batch(b)
    with pytest.raises(SymzooError):
        symzoo.get_task("spring", train_size=10**6).splits("tiny")
    assert len(symzoo.get_task("spring", train_size=7).splits("tiny")[0]) == 7
    noisy = symzoo.get_task("spring", noise=0.1).splits("tiny")
    clean = task.splits("tiny")  # noise only on the training split of the noisy task
    assert noisy[1].node["q"].shape == clean[1].node["q"].shape


def test_cli_lists_the_task_families():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "symzoo", "list", "tasks"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    for name in ("spring", "pendulum", "double-pendulum", "chain-pendulum-3", "gravity-2", "gravity-3-3d"):
        assert name in out.stdout
