"""hnn, lnn, node, node2, ehnn: contracts, equivariance, conservation, the Euler-Lagrange solve."""

import pytest
import torch
from symzoo.datasets.hamiltonian import single_thread
from torch import nn

import symzoo
from symzoo.errors import InputError
from symzoo.testing import ModelTests, assert_equivariant, equivariance_errors

MODELS = ["hnn", "lnn", "node", "node2", "ehnn"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with single_thread():
        yield


def test_all_models_registered_with_contracts():
    assert set(MODELS) <= set(symzoo.list_models())
    for name in MODELS:
        m = symzoo.create_model(name, hidden=16)
        assert isinstance(m.symmetry, frozenset) and m.irreps_out
        assert m.order in (1, 2)
    assert symzoo.create_model("ehnn").symmetry == {"rotation", "reflection", "translation", "permutation"}
    with pytest.raises(ValueError, match="smooth"):
        symzoo.create_model("hnn", act="relu")


@pytest.mark.parametrize("task_name", ["spring", "chain-pendulum-3", "gravity-3-3d"])
@pytest.mark.parametrize("name", ["hnn", "lnn", "node", "node2"])
def test_flat_models_shapes_and_derivative_keys(name, task_name):
    torch.manual_seed(0)
    task = symzoo.get_task(task_name)
    b = task.example_batch(3, dtype=torch.float32)
    out = symzoo.create_model(name, hidden=32)(b)
    assert out["dq"].shape == b.q.shape
    assert (out["dp"] if "dp" in out else out["dv"]).shape == b.q.shape
    assert all(torch.isfinite(v).all() for v in out.values())
    if name in ("lnn", "node2"):
        assert torch.equal(out["dq"], b.v)  # second order: dq/dt is the input velocity
    m = task.metrics(out, b)
    assert set(m) >= {"deriv_mse", "dq_mse", "dp_mse"} and float(task.loss(out, b)) > 0


def test_lazy_models_cast_save_and_load(tmp_path):
    from symzoo.modelio import load_model, save_model

    task = symzoo.get_task("gravity-2")
    b = task.example_batch(2, dtype=torch.float32)
    m = symzoo.create_model("hnn", hidden=8).double()
    out = m(b)  # float32 batch into a float64 model
    assert out["dq"].dtype == torch.float64
    save_model(m, tmp_path, {"task": "gravity-2"})
    m2 = load_model(tmp_path)
    assert torch.allclose(m2.double()(b)["dp"], out["dp"])
    eager = symzoo.create_model("node", hidden=8, state_dim=8)
    assert sum(p.numel() for p in eager.parameters()) == 16 * 8 + 8 + 8 * 8 + 8 + 8 * 16 + 16


def test_lnn_euler_lagrange_solve_is_exact_for_a_known_lagrangian():
    # L = 1/2 v^T M v - 1/2 k q^2 with M = diag(2, 1)  =>  a = -k M^-1 q
    class Known(nn.Module):
        def forward(self, z):
            q, v = z.chunk(2, -1)
            return (
                0.5 * (torch.tensor([2.0, 1.0], dtype=z.dtype) * v * v).sum(-1, keepdim=True)
                - 1.5 * (q * q).sum(-1, keepdim=True)
                + 0.3 * (q * v).sum(-1, keepdim=True)
            )

    torch.set_default_dtype(torch.float64)  # the replacement network has no parameters to set the dtype
    m = symzoo.create_model("lnn", damping=0.0)
    m.net = Known()
    task = symzoo.get_task("double-pendulum")
    b = task.example_batch(3)
    a = m(b)["dv"].reshape(3, 2)
    q = b.q.reshape(3, 2)
    # the gauge term 0.3 q.v (a total derivative) must not change the dynamics
    assert torch.allclose(a, -3.0 * q / torch.tensor([2.0, 1.0], dtype=q.dtype), atol=1e-12)


@pytest.mark.parametrize("name", ["hnn", "ehnn"])
def test_hamiltonian_models_conserve_their_own_energy(name):
    torch.manual_seed(0)
    task = symzoo.get_task("gravity-2")
    model = symzoo.create_model(name, hidden=32).double()
    b = task.initial_batch("tiny", n=3)
    with torch.no_grad():
        traj = task.rollout(model, b, 100, dt=0.01)
        assert traj["q"].shape == (101, 6, 2) and not traj["q"].requires_grad
        energies = []
        for t in (0, 50, 100):
            s = b.clone()
            s.q, s.p = traj["q"][t], traj["p"][t]
            energies.append(model(s)["energy"])
    spread = (torch.stack(energies) - energies[0]).abs().max()
    scale = energies[0].abs().max() + 1e-3
    moved = (traj["q"][-1] - traj["q"][0]).abs().max()
    assert moved > 1e-3 and spread / scale < 1e-7, (float(moved), float(spread / scale))


def test_ehnn_is_e3_equivariant_and_baselines_are_not():
    torch.manual_seed(0)
    for task_name in ("gravity-2", "gravity-3-3d"):
        task = symzoo.get_task(task_name)
        errs = assert_equivariant(symzoo.create_model("ehnn", hidden=32), task, dtypes=(torch.float64,))
        assert set(errs[torch.float64]) == {"rotation", "reflection", "translation", "permutation", "all"}
        assert max(errs[torch.float64].values()) < 1e-10
    task = symzoo.get_task("gravity-3-3d")
    for name in ("hnn", "node", "node2"):
        errs = equivariance_errors(
            symzoo.create_model(name, hidden=32), task, factors=["rotation", "permutation"]
        )
        assert min(errs.values()) > 1e-4, (name, errs)


def test_ehnn_rejects_generalized_coordinate_tasks():
    with pytest.raises(InputError, match="particle"):
        symzoo.create_model("ehnn")(symzoo.get_task("pendulum").example_batch(2))


class TestEHNNToolkit(ModelTests):
    model_name, task_name, model_kwargs = "ehnn", "gravity-3-3d", {"hidden": 16, "layers": 2}


class TestHNNToolkit(ModelTests):
    model_name, task_name, model_kwargs = "hnn", "spring", {"hidden": 16}


class TestLNNToolkit(ModelTests):
    model_name, task_name, model_kwargs = "lnn", "pendulum", {"hidden": 16}


def test_shape_inference_keeps_optimizer_valid_and_rejects_other_sizes():
    task = symzoo.get_task("spring")
    b = task.example_batch(8, dtype=torch.float32)
    m = symzoo.create_model("node", hidden=16)
    n0 = sum(p.numel() for p in m.parameters())  # countable before the first forward
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)  # built before sizing, as Lightning does
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = task.loss(m(b), b)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert sum(p.numel() for p in m.parameters()) > n0 and losses[-1] < 0.5 * losses[0]
    with pytest.raises(InputError, match="sized for states of 2"):
        m(symzoo.get_task("double-pendulum").example_batch(2, dtype=torch.float32))


@pytest.mark.parametrize(
    "name,task_name", [("hnn", "spring"), ("node2", "double-pendulum"), ("ehnn", "gravity-2")]
)
def test_multistep_targets_train_through_differentiable_rollouts(name, task_name):
    torch.manual_seed(0)
    task = symzoo.get_task(task_name, horizon=3)
    assert task.primary_metric == "traj_mse"
    b = task.example_batch(8, dtype=torch.float32)
    assert b.q_next.shape == (b.q.shape[0], 3, b.q.shape[1]) and b.dt.shape == (8,)
    # the stored future frames are the reference flow of the stored state
    qs, ps = task.system.simulate(*task.state(task.example_batch(8)), 3)
    assert torch.allclose(task._nodes(qs[1]).float(), b.q_next[:, 0], atol=1e-5)
    m = symzoo.create_model(name, hidden=32)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        out = task.apply_model(m, b)  # the task builds the multi-step rollout; forward gives derivatives
        loss = task.loss(out, b)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert out["q_next"].shape == b.q_next.shape and "traj_mse" in task.metrics(out, b)
    assert losses[-1] < 0.85 * losses[0]  # gradients flow through the rollout and training works
    if name == "ehnn":  # the rollout outputs are equivariant too
        errs = assert_equivariant(symzoo.create_model(name, hidden=16), task, dtypes=(torch.float64,))
        assert max(errs[torch.float64].values()) < 1e-10
