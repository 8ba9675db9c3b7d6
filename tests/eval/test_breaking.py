"""The symmetry-breaking knob of nbody-charged, the axial subgroup and the `compare --breaking` sweep."""

import json
import math

import numpy as np
import pytest
import torch

import symzoo
from symzoo.errors import InputError
from symzoo.subgroups import AxialGroup, axis_rotations


def _rotation_about_x(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[1.0, 0, 0], [0, c, -s], [0, s, c]], dtype=torch.float64)


# ----------------------------------------------------------------------------- the data
def test_field_breaks_rotations_of_the_simulator_except_about_its_axis():
    from symzoo.datasets.nbody import _accelerations

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 3, generator=gen, dtype=torch.float64)
    q = torch.where(torch.rand(3, 5, generator=gen) < 0.5, -1.0, 1.0).double()
    field = torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)

    def acc(pos):
        return _accelerations(pos, q, "charged", 0.0, 100.0, field)

    g = AxialGroup()
    gen = torch.Generator().manual_seed(2)
    for factors in (["rotation"], ["reflection"], ["rotation", "reflection"]):
        r = g.sample(1, factors=factors, generator=gen).rot[0]
        assert torch.allclose(acc(x @ r.T), acc(x) @ r.T, atol=1e-12)  # commutes with O(2) about z
    r = _rotation_about_x(0.7)  # a rotation that moves the field axis
    assert not torch.allclose(acc(x @ r.T), acc(x) @ r.T, atol=1e-3)
    # without the field the same rotation is an exact symmetry
    a0 = _accelerations(x @ r.T, q, "charged", 0.0, 100.0)
    assert torch.allclose(a0, _accelerations(x, q, "charged", 0.0, 100.0) @ r.T, atol=1e-12)


def test_field_breaks_rotation_symmetry_of_whole_trajectories():
    """Rotated initial states give rotated trajectories about z only (simulate with a fixed start)."""
    from symzoo.datasets.nbody import _accelerations

    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    v0 = 0.5 * torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    q = torch.where(torch.rand(2, 5, generator=gen) < 0.5, -1.0, 1.0).double()
    field = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)

    def run(x, v, steps=200, dt=1e-3):
        x, v = x.clone(), v.clone()
        for _ in range(steps):
            v = v + dt * _accelerations(x, q, "charged", 0.0, 100.0, field)
            x = x + dt * v
        return x

    rz = axis_rotations(torch.tensor([1.1]))[0]
    rx = _rotation_about_x(1.1)
    end = run(x0, v0)
    assert torch.allclose(run(x0 @ rz.T, v0 @ rz.T), end @ rz.T, atol=1e-9)
    err = (run(x0 @ rx.T, v0 @ rx.T) - end @ rx.T).abs().max()
    assert err > 1e-3


def test_zero_strength_reproduces_todays_data_bit_for_bit():
    from symzoo.datasets.nbody import simulate_nbody

    from symzoo.paths import dataset_cache_dir

    a = simulate_nbody(3, n_steps=400, save_every=100, seed=5)
    b = simulate_nbody(3, n_steps=400, save_every=100, seed=5, external_field=0.0)
    for k in a:
        assert np.array_equal(a[k], b[k])
    # values of the simulator before the knob existed (commit b02d0f1)
    assert np.allclose(
        a["pos"][1, -1, 2], [0.6189819040663767, -0.03406583717964647, 0.8703886224580287], rtol=1e-12
    )
    assert np.allclose(
        a["vel"][2, -1, 0], [-0.4228623455582366, 0.4655796669007601, 0.07750009802986663], rtol=1e-12
    )
    c = simulate_nbody(3, n_steps=400, save_every=100, seed=5, external_field=0.1)
    assert not np.array_equal(a["pos"][:, -1], c["pos"][:, -1])
    # the cache key at strength 0 is the one of today's data; other strengths get their own
    base = symzoo.get_task("nbody-charged")

    def key(task, preset="tiny"):
        cfg = task.presets[preset]
        params = {
            s: task._sim_params(cfg[s], cfg["data_seed"] * 1000 + i)
            for i, s in enumerate(("train", "val", "test"))
        }
        return dataset_cache_dir(task.name, preset, {"params": params, "version": 1}).name

    assert key(base) == key(base.with_breaking(0.0)) == "tiny-8a270b4a0d5f"
    assert key(base, "small") == "small-5c66a2303b46"
    assert len({key(base), key(base.with_breaking(0.01)), key(base.with_breaking(0.1))}) == 3


def test_task_knob_declares_residual_group_and_refuses_bad_strengths():
    task = symzoo.get_task("nbody-charged", preset="tiny")
    knob = task.breaking
    assert knob is not None and knob.name == "external_field" and knob.unit
    assert task.breaking_strength == 0.0 and repr(task.group) == "E(3) x S_n"
    broken = task.with_breaking(0.1)
    assert broken is not task and broken.breaking_strength == 0.1 and task.breaking_strength == 0.0
    assert broken.group is broken.breaking.residual_group and broken.group.factors == task.group.factors
    assert "about z" in repr(broken.group) and broken.default_preset == "tiny"
    assert symzoo.get_task("nbody-charged", external_field=0.1).breaking_strength == 0.1
    for bad in (-0.1, float("nan"), float("inf"), "x"):
        with pytest.raises(InputError):
            task.with_breaking(bad)
    with pytest.raises(InputError, match="no symmetry-breaking knob"):
        symzoo.get_task("nbody-gravity").with_breaking(0.1)


def test_broken_data_keep_the_residual_group():
    """The broken task's act() maps samples to samples of the same law only for the residual group:
    a sample moved by an axial element has the same field-axis statistics."""
    task = symzoo.get_task("nbody-charged").with_breaking(1.0)
    train = task.splits("tiny")[0]
    b = train.__getitems__(list(range(200)))
    # charges separate along the field: q * z-displacement is positive on average, not so in x, y
    disp = (b.y - b.pos) * b.attr
    mean = disp.mean(0)
    assert mean[2] > 0.1 and abs(mean[0]) < 0.05 and abs(mean[1]) < 0.05
    g = task.sample_group(b, generator=torch.Generator().manual_seed(0))
    moved = task.act(g, b)
    assert torch.allclose(((moved.y - moved.pos) * moved.attr).mean(0)[2], mean[2], rtol=0.05, atol=0.02)


def test_axial_group_elements():
    g = AxialGroup()
    gen = torch.Generator().manual_seed(0)
    e = g.sample(16, factors=["rotation", "reflection"], generator=gen)
    z = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    assert torch.allclose(e.rot @ z, z.expand(16, 3), atol=1e-12)  # the axis is fixed
    assert torch.allclose(e.rot @ e.rot.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(16, 3, 3))
    assert torch.allclose(e.det, -torch.ones(16, dtype=torch.float64))
    assert torch.allclose(
        g.sample(4, factors=["rotation"], generator=gen).det, torch.ones(4, dtype=torch.float64)
    )
    tilted = AxialGroup((1.0, 1.0, 0.0), reflections=False, permutations=False)
    a = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64) / math.sqrt(2)
    r = tilted.sample(5, generator=gen).rot
    assert torch.allclose(r @ a, a.expand(5, 3), atol=1e-12) and tilted.factors == ("rotation", "translation")
    with pytest.raises(ValueError):
        AxialGroup((0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="no factor"):
        tilted.sample(1, factors=["reflection"])


# ----------------------------------------------------------------------------- the sweep
FAST = ["trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1"]
SWEEP = dict(
    models="linear,mlp+aug", train_sizes="20", seeds=1, preset="tiny", jobs=1, threads=1, overrides=FAST
)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    from symzoo.eval.compare import compare

    out = tmp_path_factory.mktemp("sweep") / "grid"
    compare("nbody-charged", out=out, breaking="0.5,0", **SWEEP)
    return out


def test_sweep_records_the_breaking_axis_and_plots_the_gain(sweep_dir):
    doc = json.loads((sweep_dir / "results.json").read_text())
    assert doc["breaking"]["knob"] == "external_field" and doc["breaking"]["strengths"] == [0.0, 0.5]
    assert "about z" in doc["breaking"]["residual_group"] and doc["settings"]["breaking"] == "external_field"
    assert sorted((c["model"], c["breaking"]) for c in doc["cells"]) == [
        ("linear", 0.0),
        ("linear", 0.5),
        ("mlp+aug", 0.0),
        ("mlp+aug", 0.5),
    ]
    assert {c["key"] for c in doc["cells"]} >= {"linear/n20-s0-b0", "mlp+aug/n20-s0-b0.5"}
    assert not doc["orbit"]["enabled"] and all(c["study"] == "curve" for c in doc["cells"])
    # each cell trained on the data of its strength: the config says so, the errors differ
    cfg = (sweep_dir / "cells" / "linear" / "n20-s0-b0.5" / "config.yaml").read_text()
    assert "external_field: 0.5" in cfg
    br = doc["summary"]["breaking"]
    assert set(br["gain"]) == {"mlp+aug"} and set(br["gain"]["mlp+aug"]["20"]) == {"0", "0.5"}
    e = br["error"]["linear"]["20"]
    assert e["0.5"]["mean"] != e["0"]["mean"]
    assert (sweep_dir / "gain_vs_breaking.png").stat().st_size > 10_000
    report = (sweep_dir / "report.md").read_text()
    assert "## Symmetry breaking: external_field" in report and "gain_vs_breaking.png" in report
    assert "--breaking 0,0.5" in report and "strength 0.5" in report


def test_sweep_resumes_and_grows(sweep_dir, capsys):
    from symzoo.eval.compare import compare

    doc = compare("nbody-charged", out=sweep_dir, breaking="0,0.5", **SWEEP)
    assert doc["invocations"][-1]["cells_trained"] == 0
    from symzoo.cli import main

    assert main(["report", str(sweep_dir)]) == 0
    assert (sweep_dir / "gain_vs_breaking.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nbody-gravity", "--breaking", "0,0.1"], "declares no symmetry-breaking knob"),
        (["nbody-charged", "--breaking", "0,-0.1"], "must be finite and >= 0"),
        (["nbody-charged", "--breaking", "0,abc"], "is not a valid value"),
        (["nbody-charged", "data.task_args.external_field=1", "--breaking", "0"], "--breaking sets it"),
    ],
)
def test_bad_breaking_is_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    from symzoo.cli import main

    out = tmp_path / "cmp"
    rc = main(
        ["compare", *argv, "--models", "linear", "--train-sizes", "20", "--seeds", "1", "--out", str(out)]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1
    assert not out.exists()
