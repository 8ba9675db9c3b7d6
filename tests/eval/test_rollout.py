"""symzoo.eval.rollout and Task.rollout: shapes, metric definitions on known models, harness run."""

import json

import pytest
import torch
from symzoo.datasets.hamiltonian import single_thread
from symzoo.eval.rollout import plot_rollouts, rollout_metrics
from torch import nn

import symzoo
from symzoo.errors import SymzooError


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with single_thread():
        yield


class Oracle(nn.Module):
    """The true vector field of a task (first order), or its true acceleration (second order)."""

    def __init__(self, task, order=1):
        super().__init__()
        self.task, self.order = task, order
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, batch):
        b, sysm = int(batch.num_graphs), self.task.system
        q = batch.q.reshape(b, -1)
        if self.order == 1:
            dq, dp = sysm.vector_field(q, batch.p.reshape(b, -1))
            return {"dq": dq.reshape(batch.q.shape), "dp": dp.reshape(batch.q.shape)}
        v = batch.v.reshape(b, -1)
        a = sysm.acceleration(q, sysm.momentum(q, v))
        return {"dq": batch.v, "dv": a.reshape(batch.q.shape)}


class Dissipative(Oracle):
    """The true field plus friction -0.05 p: loses energy steadily."""

    def forward(self, batch):
        out = super().forward(batch)
        return {"dq": out["dq"], "dp": out["dp"] - 0.05 * batch.p}


@pytest.mark.parametrize(
    "name,model",
    [("gravity-2", "hnn"), ("double-pendulum", "node2"), ("spring", "lnn"), ("gravity-3-3d", "ehnn")],
)
def test_rollout_shapes(name, model):
    task = symzoo.get_task(name)
    m = symzoo.create_model(model, hidden=16)
    b = task.initial_batch("tiny", n=2, dtype=torch.float32)
    with torch.no_grad():
        traj = task.rollout(m, b, 7)
    n, k = b.q.shape
    assert traj["q"].shape == (8, n, k) and traj["p"].shape == (8, n, k)
    assert torch.allclose(traj["q"][0], b.q) and torch.allclose(traj["p"][0], b.p, atol=1e-6)


@pytest.mark.parametrize("order", [1, 2])
def test_oracle_rollouts_match_the_reference(order):
    task = symzoo.get_task("pendulum")
    r = rollout_metrics(Oracle(task, order), task, steps=60, n_traj=3)
    # only the RK4 error of single steps of dt remains (the reference takes 10 substeps)
    assert r["rollout_error"] < 1e-4 and r["energy_drift"] < 1e-4
    assert r["valid_time"] == pytest.approx(60 * task.dt)
    assert r["diverged"] == 0.0 and r["steps"] == 60 and r["n_traj"] == 3


def test_metrics_see_dissipation_and_momentum(tmp_path):
    task = symzoo.get_task("gravity-2")
    good = rollout_metrics(Oracle(task), task, steps=40, n_traj=3)
    bad = rollout_metrics(
        Dissipative(task), task, steps=40, n_traj=3, plot=tmp_path / "r.png", return_series=True
    )
    assert (
        good["momentum_drift"] < 1e-12 and good["angular_momentum_drift"] < 1e-6
    )  # RK4 keeps linear invariants
    assert bad["energy_drift"] > 100 * good["energy_drift"] and bad["energy_drift"] > 1e-3
    assert bad["momentum_drift"] < 1e-9  # friction on every body keeps total momentum at zero
    assert bad["angular_momentum_drift"] > 1e-3
    assert bad["energy_drift_final"] > bad["energy_drift"]  # drift grows with time
    assert len(bad["series"]["error"]) == 40 and (tmp_path / "r.png").stat().st_size > 1000
    json.dumps(bad)  # JSON-serializable


def test_diverging_model_and_bad_arguments():
    class Exploding(nn.Module):
        order = 1

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, batch):
            return {"dq": 50 * batch.q**3 * self.w, "dp": 50 * batch.p**3}

    task = symzoo.get_task("spring")
    r = rollout_metrics(Exploding(), task, steps=30, n_traj=2)
    assert r["diverged"] > 0 and r["energy_drift"] > 1e3 and r["rollout_error"] > 0.3
    with pytest.raises(SymzooError):
        rollout_metrics(Exploding(), task, steps=0)
    with pytest.raises(SymzooError):  # a task without dynamics (rMD17 force field)
        rollout_metrics(Exploding(), symzoo.get_task("rmd17-ethanol"), steps=3)
    plot_rollouts(
        {"a": {"time": [1, 2], "error": [0.1, 0.2], "energy_drift": [0, 1e-3]}},
        task_path := __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "p.png",
    )
    assert task_path.is_file()


def test_train_spring_hnn_end_to_end(tmp_path):
    from symzoo.train.config import load_config
    from symzoo.train.run import train

    cfg = load_config(
        "spring",
        "hnn",
        preset="tiny",
        overrides=[
            "trainer.max_epochs=3",
            "trainer.check_val_every_n_epoch=1",
            "trainer.progress_bar=false",
            "trainer.tensorboard=false",
            "trainer.threads=1",
        ],
    )
    run = train(cfg, str(tmp_path / "run"), quiet=True)
    ev = json.loads((run / "eval.json").read_text())
    assert ev["primary_metric"] == "deriv_mse" and ev["metrics"]["deriv_mse"] > 0
    assert ev["equivariance"]["claimed"] == [] and "reflection" in ev["equivariance"]["errors"]
    from symzoo.modelio import load_model

    r = rollout_metrics(load_model(run), symzoo.get_task("spring", preset="tiny"), steps=20, n_traj=2)
    assert 0 <= r["rollout_error"] <= 1 and r["energy_drift"] >= 0
    # multi-step (trajectory-chunk) training through the same harness
    cfg = load_config(
        "spring",
        "node2",
        preset="tiny",
        overrides=[
            "trainer.max_epochs=2",
            "data.task_args.horizon=3",
            "trainer.progress_bar=false",
            "trainer.tensorboard=false",
            "trainer.threads=1",
        ],
    )
    ev = json.loads((train(cfg, str(tmp_path / "ms"), quiet=True) / "eval.json").read_text())
    assert ev["primary_metric"] == "traj_mse" and ev["metrics"]["traj_mse"] > 0
