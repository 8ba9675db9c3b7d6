"""The pseudo-spectral vorticity solver and the 2-D flow tasks (float64, 32², fast)."""

import math

import numpy as np
import pytest
import torch
from symzoo.datasets.flows import (
    VorticitySolver,
    correlation_time,
    downsample,
    energy,
    energy_spectrum,
    enstrophy,
    kolmogorov_forcing,
    random_vorticity,
    taylor_green,
)

import symzoo
from symzoo.errors import InputError

N = 32


def test_velocity_is_divergence_free_and_curl_is_vorticity():
    s = VorticitySolver(N)
    w = s.to_grid(s.to_hat(random_vorticity(2, N, seed=1)))
    uh = torch.fft.fft2(s.velocity(w))
    div = torch.fft.ifft2(1j * s.kx * uh[:, 0] + 1j * s.ky * uh[:, 1]).real
    curl = torch.fft.ifft2(1j * s.kx * uh[:, 1] - 1j * s.ky * uh[:, 0]).real
    assert float(div.abs().max()) < 1e-12
    assert float((curl - w).abs().max()) < 1e-12


def test_taylor_green_decays_as_the_exact_solution():
    nu = 0.05
    s = VorticitySolver(N, nu=nu)
    w = s.step(taylor_green(N, 0.0, nu), 0.02, 50)
    assert float((w - taylor_green(N, 1.0, nu)).abs().max()) < 1e-12
    # energy decays as exp(-2 nu k^2 t) with k^2 = 2
    assert math.isclose(float(energy(w)), float(energy(taylor_green(N))) * math.exp(-4 * nu), rel_tol=1e-12)


def test_inviscid_unforced_flow_conserves_energy_and_enstrophy():
    s = VorticitySolver(N)
    w0 = s.to_grid(s.to_hat(random_vorticity(2, N, rms=3.0, seed=2)))
    w = s.step(w0, 0.01, 100)
    assert float((w - w0).abs().max()) > 0.1  # it did evolve
    for q in (energy, enstrophy):
        assert float(((q(w) - q(w0)) / q(w0)).abs().max()) < 1e-7


@pytest.mark.parametrize("kind", ["kolmogorov", "decaying"])
def test_solver_commutes_with_d4_when_the_forcing_is_transformed(kind):
    task = symzoo.get_task("kolmogorov2d")
    rep = task.input_fields["w"].rep
    group = task.group
    f = kolmogorov_forcing(N) if kind == "kolmogorov" else torch.zeros(N, N, dtype=torch.float64)
    w0 = random_vorticity(1, N, rms=3.0, seed=3)
    base = VorticitySolver(N, nu=1e-2, drag=0.1, forcing=f).step(w0, 0.02, 10)
    for i in range(1, group.order):
        g = group.element(i, 1)
        fg = rep.act(g, f[None])[0]
        out = VorticitySolver(N, nu=1e-2, drag=0.1, forcing=fg).step(rep.act(g, w0), 0.02, 10)
        assert float((out - rep.act(g, base)).abs().max()) < 1e-11, group.element_names[i]


def test_anisotropic_drag_breaks_rotation_but_keeps_d2():
    task = symzoo.get_task("kolmogorov2d")
    rep, group = task.input_fields["w"].rep, task.group
    w0 = random_vorticity(1, N, rms=3.0, seed=4)
    f = torch.zeros(N, N, dtype=torch.float64)

    def run(g):
        s = VorticitySolver(N, nu=1e-2, drag=0.1, anisotropy=1.0, forcing=f)
        return s.step(rep.act(g, w0), 0.02, 10)

    base = run(group.element(0, 1))
    errs = {}
    for i in range(1, group.order):
        g = group.element(i, 1)
        errs[group.element_names[i]] = float((run(g) - rep.act(g, base)).abs().max())
    assert errs["rotation"] > 1e-3
    assert errs["rotation·rotation"] < 1e-11 and errs["reflection"] < 1e-11


def test_diagnostics():
    w = taylor_green(N)
    spec = energy_spectrum(w)
    assert math.isclose(float(spec.sum()), float(energy(w)), rel_tol=1e-12)
    assert float(spec[1]) == pytest.approx(float(energy(w)))  # all energy in the |k| = sqrt(2) -> 1 shell
    assert torch.allclose(downsample(taylor_green(64), N), w, atol=1e-12)
    t = correlation_time(torch.stack([w, w, -w])[:, None], torch.stack([w, w, w])[:, None])
    assert int(t[0.95][0]) == 1 and int(t[0.8][0]) == 1


# ------------------------------------------------------------------ bad input
def test_bad_input_is_one_line():
    with pytest.raises(InputError, match="square"):
        VorticitySolver(N).step(torch.zeros(N, N + 2, dtype=torch.float64), 0.01)
    with pytest.raises(InputError, match="even size"):
        VorticitySolver(31)
    w = random_vorticity(1, N)
    w[0, 3, 3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        VorticitySolver(N).step(w, 0.01)
    with pytest.raises(InputError, match="unstable time step: CFL"):
        VorticitySolver(N).step(random_vorticity(1, N, rms=5.0), 1.0)
    with pytest.raises(InputError, match="forcing_axis"):
        symzoo.get_task("kolmogorov2d", forcing_axis="z")
    with pytest.raises(InputError):
        symzoo.get_task("kolmogorov2d").with_breaking(-1)


def test_unstable_generation_caches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path))
    task = symzoo.get_task("decaying2d")
    task.presets = {**task.presets, "tiny": {**task.presets["tiny"], "nu": float("nan")}}
    with pytest.raises(InputError):
        task.splits("tiny")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# ------------------------------------------------------------------ tasks
def test_kolmogorov_task_samples_and_cache(tmp_path):
    task = symzoo.get_task("kolmogorov2d")
    train, val, test = task.splits("tiny")
    b = train.__getitems__([0, 1, 2])
    assert b.w.shape == (3, N, N) and b.f.shape == (3, N, N) and b.y.shape == (3, 2, N, N)
    assert torch.allclose(b.f[0].double(), kolmogorov_forcing(N), atol=1e-5)
    task.validate_batch(b)
    assert b.num_graphs == 3
    again = symzoo.get_task("kolmogorov2d").splits("tiny")[0]
    assert torch.equal(again.fields["w"], train.fields["w"])  # seeded and cached
    bad = b.clone()
    bad.w = bad.w.clone()
    bad.w[0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        task.validate_batch(bad)


def test_task_act_transforms_forcing_and_targets():
    task = symzoo.get_task("kolmogorov2d")
    b = task.example_batch(2)
    g = task.group.element(task.group.generator_index["reflection"], 2)
    moved = task.act(g, b)
    assert torch.allclose(moved.f, -torch.flip(b.f, [-2]))  # pseudo-scalar, y -> -y
    assert torch.allclose(moved.y, -torch.flip(b.y, [-2]))


def test_rotated_forcing_and_breaking_variants():
    task = symzoo.get_task("kolmogorov2d")
    rot = task.rotated()
    assert rot.forcing_axis == "y"
    f = rot.splits("tiny")[2].fields["f"][0].double()
    assert torch.allclose(f, kolmogorov_forcing(N, axis="y"), atol=1e-5)
    broken = task.with_breaking(0.5)
    assert broken.breaking_strength == 0.5 and broken.group.order == 4
    assert task.group.order == 8 and task.breaking.residual_group.order == 4


def test_dynamics_rollout_metrics_of_the_true_map():
    from symzoo.eval.rollout import rollout_metrics

    class Persistence(torch.nn.Module):  # w_next = w
        def forward(self, batch):
            return {"w": batch.w}

    task = symzoo.get_task("kolmogorov2d")
    res = rollout_metrics(Persistence(), task, steps=8, n_traj=2, preset="tiny")
    for k in (
        "corr_time_0.95",
        "corr_time_0.8",
        "w_rmse_t1",
        "w_rmse_t4",
        "spectrum_log_error",
        "energy_drift",
    ):
        assert k in res and np.isfinite(res[k]), k
    assert res["corr_time_0.95"] <= res["corr_time_0.8"] <= 8
    assert res["units"]["corr_time_0.8"].startswith("steps of")


def test_ood_variants_are_the_rotated_forcing():
    from symzoo.eval.evaluate import evaluate_ood

    class Persistence(torch.nn.Module):  # w_next = w
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(()))

        def forward(self, batch):
            return {"w": batch.w + 0 * self.p}

    task = symzoo.get_task("kolmogorov2d")
    ((name, rot),) = task.ood_variants().items()
    assert name == "rotated_forcing" and rot.forcing_axis == "y"
    assert symzoo.get_task("decaying2d").ood_variants() == {}
    res = evaluate_ood(Persistence(), task, "tiny")
    assert set(res) == {"rotated_forcing"} and np.isfinite(res["rotated_forcing"]["w_rmse"])
