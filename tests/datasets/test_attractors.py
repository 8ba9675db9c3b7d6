"""Attractor tasks: integrator accuracy, exact symmetry of the systems and of the standardized data,
splits, forecasting scores, breaking knob and bad input (one-line errors, nothing cached half)."""

import numpy as np
import pytest
import torch
from symzoo.datasets import attractors as A

import symzoo
from symzoo.errors import InputError, UnknownNameError

NAMES = ["lorenz", "chen", "rucklidge", "thomas", "halvorsen", "lorenz96-8"]


@pytest.fixture(autouse=True)
def _home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path_factory.getbasetemp() / "attractors-home"))


def test_rk4_matches_dop853():
    from scipy.integrate import solve_ivp

    s = A.SYSTEMS["lorenz"]
    x0 = np.array([[1.0, 2.0, 20.0]])
    ours = A.simulate(s, x0, 20)[-1, 0]
    ref = solve_ivp(lambda t, x: s.f(x), (0, 20 * s.delta), x0[0], method="DOP853", rtol=1e-12, atol=1e-12)
    assert np.abs(ours - ref.y[:, -1]).max() < 1e-8 * np.abs(ref.y[:, -1]).max()


@pytest.mark.parametrize("name", NAMES)
def test_vector_field_and_flow_commute_with_the_group(name):
    task = symzoo.get_task(name)
    mats = task.rep_matrices().numpy()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, task.system.dim)) * 3
    for r in mats:  # every group element, float64
        assert np.abs(task.system.f(x @ r.T) - task.system.f(x) @ r.T).max() < 1e-12
    traj = A.simulate(task.system, x, 3)
    traj_g = A.simulate(task.system, x @ mats[-1].T, 3)
    assert np.abs(traj_g - traj @ mats[-1].T).max() < 1e-9


@pytest.mark.parametrize("name", ["lorenz", "thomas", "lorenz96-8"])
def test_standardization_keeps_the_group_action(name):
    task = symzoo.get_task(name)
    st, mats = task.stats(), task.rep_matrices().numpy()
    for r in mats:
        assert np.allclose(r @ st["mean"], st["mean"])  # the mean is invariant
        assert np.allclose(r @ np.diag(st["scale"]), np.diag(st["scale"]) @ r)  # shared scales
    if name == "lorenz":
        assert st["mean"][0] == st["mean"][1] == 0 and st["scale"][0] == st["scale"][1]
    else:
        assert np.allclose(st["scale"], st["scale"][0])


def test_splits_windows_targets_and_cache(tmp_path):
    task = symzoo.get_task("lorenz")
    tr, va, te = task.splits("tiny")
    assert tr.fields["x"].shape[1:] == (task.window, 3) and tr.fields["x_next"].shape[1:] == (3,)
    traj = task.trajectories("tiny")
    # the target is the state one sampling step after the window
    z = task.standardize(traj["test"][0])
    x, y = task._windows(traj["test"][:1])
    assert np.allclose(x[0].numpy(), z[: task.window]) and np.allclose(y[0].numpy(), z[task.window])
    # separate initial conditions: no state is shared between splits
    starts = {s: traj[s][:, 0] for s in ("train", "val", "test")}
    assert np.abs(starts["train"][:, None] - starts["test"][None]).min() > 1e-3
    assert all(np.isfinite(v).all() for v in traj.values())
    cached = list((symzoo.paths.home() / "datasets" / "lorenz").rglob("*.npz"))
    assert cached and not list((symzoo.paths.home() / "datasets").rglob("*.partial"))
    assert 0.02 < task.dt < 0.03 and task.time_unit == "Lyapunov times"  # Δ λ_max


class TrueFlow(torch.nn.Module):
    """The exact flow map of a task (float64 integration): the perfect forecaster."""

    def __init__(self, task):
        super().__init__()
        self.task = task
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, batch):
        x0 = self.task.physical(batch.x[:, -1].double()).numpy()
        nxt = A.simulate(self.task.system, x0, 1)[-1]
        return {"x_next": self.task.standardize(torch.from_numpy(nxt)).to(batch.x.dtype)}


def test_forecast_scores_perfect_and_poor_models():
    from symzoo.eval.rollout import rollout_metrics

    task = symzoo.get_task("lorenz96-8")
    good = rollout_metrics(TrueFlow(task), task, steps=40, n_traj=2, preset="tiny")
    assert good["vpt"] == pytest.approx(40 * task.dt) and good["valid_time"] == pytest.approx(40 * task.dt)
    assert good["smape_1lt"] < 1e-6 and good["attractor_w1"] < 1e-9
    frozen = rollout_metrics(torch.nn.Identity(), _FrozenTask(task), steps=40, n_traj=2, preset="tiny")
    assert frozen["vpt"] < good["vpt"] and frozen["attractor_w1"] > 0.1
    assert "Lyapunov" in good["units"]["vpt"]


class _FrozenTask(A.AttractorTask):
    """The persistence forecast x_next = x_last, through the task's own rollout."""

    def __init__(self, task):
        self.__dict__.update(task.__dict__)

    def rollout(self, model, batch, steps, **options):
        return {"x": batch.x[:, -1][None].repeat(steps + 1, 1, 1)}


def test_lorenz96_lyapunov_exponent():
    lam = A.lyapunov_exponent(A.lorenz96_system(8), t_total=20.0)
    assert abs(lam - A._L96_LYAPUNOV[8]) < 0.35


def test_breaking_knob_breaks_the_shift_symmetry():
    task = symzoo.get_task("lorenz96-8")
    assert task.breaking is not None and task.breaking.arg == "forcing_amplitude"
    broken = task.with_breaking(0.5)
    assert broken.group.order == 1 and broken.breaking_strength == 0.5
    f = np.array(broken.system.params["forcing"])
    assert f.max() > 8.0 > f.min()
    x = np.random.default_rng(1).standard_normal((3, 8))
    assert np.abs(broken.system.f(np.roll(x, 1, -1)) - np.roll(broken.system.f(x), 1, -1)).max() > 0.1
    assert task.with_breaking(0.0).group.order == 8
    with pytest.raises(InputError, match="finite and >= 0"):
        task.with_breaking(-1)
    with pytest.raises(InputError, match="no symmetry-breaking knob"):
        symzoo.get_task("lorenz").with_breaking(0.1)


def test_bad_input_one_line_errors():
    with pytest.raises(UnknownNameError, match="lorenz"):
        A.make_task("lorenx")
    with pytest.raises(UnknownNameError, match="4 <= N <= 64"):
        symzoo.get_task("lorenz96-2")
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(InputError, match="horizon"):
            symzoo.get_task("lorenz", horizon_lyapunov=bad)
    with pytest.raises(InputError, match="window"):
        symzoo.get_task("lorenz", window=0)
    with pytest.raises(InputError, match="lorenz96-N only"):
        A.make_task("lorenz", forcing_amplitude=0.1)
    task = symzoo.get_task("lorenz")
    batch = task.example_batch(3)
    batch.x[0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        task.validate_batch(batch)
    with pytest.raises(InputError, match="steps must be >= 1"):
        task.rollout(torch.nn.Identity(), batch, 0)


def test_cli_bad_input_exits_2_and_leaves_nothing(tmp_path, capsys):
    from symzoo.cli import main

    out = tmp_path / "run"
    code = main(
        [
            "train",
            "lorenz",
            "mlp",
            "--preset",
            "tiny",
            "--quiet",
            "--out",
            str(out),
            "data.task_args.horizon_lyapunov=0",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "horizon" in err[0] and not out.exists()


def test_nothing_cached_half_when_generation_fails(monkeypatch):
    task = A.make_task("thomas")
    calls = {"n": 0}
    real = A.simulate

    def failing(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("interrupted")
        return real(*args, **kw)

    monkeypatch.setattr(A, "simulate", failing)
    task.presets = {**task.presets, "tiny": {**task.presets["tiny"], "data_seed": 99}}
    with pytest.raises(RuntimeError):
        task.trajectories("tiny")
    path = symzoo.paths.dataset_cache_dir("thomas", "tiny", task._sim_params("tiny"))
    assert not (path / "trajectories.npz").exists() and not list(path.parent.rglob("*.partial"))


def test_reports_list_the_tasks_own_rollout_metrics():
    from symzoo.eval.report import rollout_keys, scores_of

    ro = {
        "rollout_error": 0.1,
        "valid_time": 1.0,
        "diverged": 0.0,
        "vpt": 0.5,
        "invariants": {},
        "units": {"rollout_error": "", "valid_time": "", "diverged": "", "vpt": "Lyapunov times"},
    }
    doc = {"cells": [{"study": "curve", "model": "mlp", "train_size": 10, "rollout": ro}]}
    assert scores_of(doc) == ["vpt"] and "vpt" in rollout_keys(doc)
