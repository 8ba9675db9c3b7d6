"""The dynamics protocol across tasks: N-body rollouts, declared invariants, `symzoo eval` output."""

import json

import pytest
import torch
from symzoo.datasets.nbody import integrate_nbody
from symzoo.eval.rollout import rollout_metrics
from torch import nn

import symzoo
from symzoo.dynamics import Dynamics, Invariant
from symzoo.task import Task


class SimOracle(nn.Module):
    """The simulator's own frame_in -> frame_out map (positions, optionally velocities)."""

    def __init__(self, task, vel=True):
        super().__init__()
        self.task, self.vel = task, vel
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, b):
        g, n = int(b.num_graphs), self.task.n_particles
        x, v = integrate_nbody(
            b.pos.reshape(g, n, 3), b.vel.reshape(g, n, 3), b.attr.reshape(g, n), 1000, save_every=1000
        )
        out = {"pos": x[-1].reshape(-1, 3)}
        if self.vel:
            out["vel"] = v[-1].reshape(-1, 3)
        return out


def test_every_dynamics_task_declares_the_protocol():
    for name in ("spring", "gravity-2", "nbody-charged", "nbody-gravity"):
        task = symzoo.get_task(name)
        assert isinstance(task, Dynamics) and task.has_dynamics and task.dt > 0 and task.time_unit
        inv = task.invariants()
        assert "energy" in inv and all(isinstance(i, Invariant) and i.unit for i in inv.values())
    assert not symzoo.get_task("rmd17-ethanol").has_dynamics
    # hooks are declared on Task with defaults (nothing found by getattr)
    t = Task()
    assert t.needs_grad is False and t.has_dynamics is False and t.model_defaults("mlp", None) == {}
    assert t.prepare_model(None, None) is None


def test_nbody_reference_continues_the_simulator():
    task = symzoo.get_task("nbody-charged")
    b = task.initial_batch("tiny", n=4)
    _, _, test = task.splits("tiny")
    y = test.__getitems__(list(range(4))).y.double()
    ref = task.reference_trajectory(b, 2)
    assert ref["pos"].shape == (3, 20, 3) and torch.equal(ref["pos"][0], b.pos)
    assert (ref["pos"][1] - y).abs().max() < 1e-5  # frame 30 -> 40 of the stored data
    assert task.dt == 1.0 and task.rollout_steps == 10


def test_nbody_oracle_rollout_is_exact_and_invariants_conserved():
    task = symzoo.get_task("nbody-charged")
    r = rollout_metrics(SimOracle(task), task, steps=3, n_traj=4)
    assert r["rollout_error"] < 1e-12 and r["valid_time"] == 3 * task.dt and r["diverged"] == 0
    for k in ("energy", "momentum", "angular_momentum"):
        assert r[f"{k}_drift"] == pytest.approx(r[f"{k}_drift_reference"], rel=1e-6, abs=1e-12)
        assert r[f"{k}_drift_reference"] < 0.05
    assert r["invariants"]["momentum"]["conserved"] and r["method"] == "iterated model map"
    # positions only: the velocity fed back is estimated, so the trajectories separate
    r2 = rollout_metrics(SimOracle(task, vel=False), task, steps=3, n_traj=4)
    assert r2["valid_time"] <= 3 * task.dt and r2["energy_drift"] > r["energy_drift"]
    json.dumps(r)


def test_external_field_makes_momentum_a_non_conserved_quantity():
    task = symzoo.get_task("nbody-charged", external_field=0.5)
    inv = task.invariants()
    assert inv["energy"].conserved and not inv["momentum"].conserved
    r = rollout_metrics(SimOracle(task), task, steps=2, n_traj=2)  # oracle ignores the field
    assert "momentum_drift_reference" not in r and r["momentum_drift"] > 0


def _train(tmp_path, task, model, *extra):
    from symzoo.train.config import load_config
    from symzoo.train.run import train

    cfg = load_config(
        task,
        model,
        preset="tiny",
        overrides=[
            "trainer.max_epochs=1",
            "trainer.progress_bar=false",
            "trainer.tensorboard=false",
            "trainer.threads=1",
            *extra,
        ],
    )
    return train(cfg, str(tmp_path / f"{task}-{model}"), quiet=True)


@pytest.mark.parametrize(
    "task,model,extra",
    [("spring", "hnn", ["model.args.hidden=16"]), ("nbody-charged", "egnn", ["model.args.hidden=16"])],
)
def test_symzoo_eval_reports_rollouts_and_invariant_drift(tmp_path, capsys, task, model, extra):
    from symzoo.cli import main

    run = _train(tmp_path, task, model, *extra)
    assert main(["eval", str(run)]) == 0  # the task's default horizon (spring: 1000 steps)
    text = capsys.readouterr().out
    assert "rollout:" in text and "rollout_error" in text and "valid_time" in text
    assert "energy drift" in text
    ev = json.loads((run / "eval.json").read_text())
    ro = ev["rollout"]
    assert ro["task"] == task and 0 <= ro["rollout_error"] <= 1 and ro["valid_time"] >= 0
    assert "energy" in ro["invariants"] and ro["energy_drift"] >= 0
    assert len(ro["error_vs_time"]["time"]) == len(ro["error_vs_time"]["error"]) >= 1
    if task == "nbody-charged":
        assert {"momentum_drift", "angular_momentum_drift"} <= set(ro)
