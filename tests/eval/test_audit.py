"""`symzoo audit`: the model-free symmetry audit (symzoo.eval.audit) on shipped, user and plugin tasks."""

import json
import math

import pytest
import torch
from symzoo.eval.audit import EXACT_BELOW, NONE_ABOVE, audit_breaking, audit_task, format_audits, recommend

import symzoo
from symzoo.errors import InputError
from symzoo.task import ArrayDataset, Field, Task


def _factor(audit, name):
    return next(f for f in audit.factors if f.factor == name)


def _strictly_increasing(xs):
    return all(a < b for a, b in zip(xs, xs[1:]))


# ------------------------------------------------------------------ the thresholds
def test_recommendation_thresholds():
    assert recommend(0.0) == "exact"
    assert recommend(EXACT_BELOW) == "exact"
    assert recommend(2 * EXACT_BELOW) == "relaxed"
    assert recommend(NONE_ABOVE) == "relaxed"
    assert recommend(1.01 * NONE_ABOVE) == "none"
    assert recommend(math.inf) == "none"
    assert recommend(0.05, exact_below=0.1, none_above=0.5) == "exact"
    with pytest.raises(InputError):
        recommend(0.1, exact_below=0.3, none_above=0.2)


# ------------------------------------------------------------------ breaking sweeps
def test_nbody_charged_audit_ranks_the_field_strengths(monkeypatch):
    import functools

    from symzoo.datasets import nbody

    # speed: a preset of 12 test systems simulated for 1300 steps (tiny: 400 systems, 5000 steps per
    # strength); the audited map is the task's own 1000-step one (frame 2 -> 12 instead of 30 -> 40)
    monkeypatch.setitem(
        nbody.NBodyTask.presets, "audit-micro", {"train": 2, "val": 2, "test": 12, "data_seed": 7}
    )
    monkeypatch.setattr(nbody, "simulate_nbody", functools.partial(nbody.simulate_nbody, n_steps=1300))
    task = symzoo.get_task("nbody-charged", preset="audit-micro", frame_in=2, frame_out=12)
    audits = audit_breaking(task, [0, 0.1, 1], n=12)
    assert [a.strength for a in audits] == [0, 0.1, 1]
    assert all(a.group == "E(3) x S_n" for a in audits)  # every strength against the unbroken group
    figures = [a.residual for a in audits]
    assert _strictly_increasing(figures), figures
    assert audits[0].recommendation == "exact" and figures[0] < 1e-10
    assert audits[1].recommendation == "relaxed" and audits[2].recommendation in ("relaxed", "none"), figures
    for a in audits:  # a uniform field keeps translations and permutations exactly
        for f in ("translation", "permutation"):
            assert _factor(a, f).residual < 1e-10 and _factor(a, f).recommendation == "exact"
    rot = [_factor(a, "rotation").residual for a in audits]
    assert _strictly_increasing(rot)
    assert 0.9 < _factor(audits[2], "rotation").null < 2.0  # random pairs: about sqrt(2)
    # the broken data are exactly symmetric under their own (residual) group
    own = audit_task(task.with_breaking(1.0), preset="audit-micro", n=12)
    assert own.group.startswith("O(2) about z") and own.recommendation == "exact"


def test_kolmogorov2d_audit_ranks_the_anisotropy():
    task = symzoo.get_task("kolmogorov2d", preset="tiny")
    audits = audit_breaking(task, [0, 0.3, 1], n=4)
    figures = [a.residual for a in audits]
    assert _strictly_increasing(figures), figures
    assert audits[0].recommendation == "exact" and figures[0] < 1e-10
    for a in audits[1:]:
        # anisotropic drag breaks the 90° rotations (worst element named) but keeps the y-mirror
        assert _factor(a, "rotation").recommendation == "relaxed"
        assert _factor(a, "rotation").worst in ("rotation", "rotation^3")
        assert _factor(a, "reflection").residual < 1e-10
        assert a.exact_factors() == ["reflection"]


# ------------------------------------------------------------------ robots and attractors
def test_shipped_quadruped_audit():
    exact = audit_task(symzoo.get_task("quadruped-id"), n=8)
    assert [f.factor for f in exact.factors] == ["sagittal", "transversal"]
    assert exact.recommendation == "exact" and exact.residual < 1e-10
    assert all("check_spec" in f.note for f in exact.factors)
    com = symzoo.get_task("quadruped-com")
    audits = audit_breaking(com, [0, 0.5, 10], n=8)
    figures = [a.residual for a in audits]
    assert _strictly_increasing(figures), figures
    assert [a.recommendation for a in audits] == ["exact", "relaxed", "none"]


def test_lorenz_vector_field_audit():
    a = audit_task(symzoo.get_task("lorenz", preset="tiny"), n=64)
    assert [f.factor for f in a.factors] == ["mirror"]
    assert a.recommendation == "exact" and a.residual < 1e-12
    assert "vector field" in a.measure
    ring = audit_breaking(symzoo.get_task("lorenz96-8", preset="tiny"), [0, 0.3, 1], n=64)
    assert _strictly_increasing([x.residual for x in ring])
    assert [x.recommendation for x in ring] == ["exact", "relaxed", "none"]


def test_hamiltonian_vector_field_audit():
    a = audit_task(symzoo.get_task("spring", preset="tiny"), n=16)
    assert "vector field" in a.measure and a.recommendation == "exact" and a.residual < 1e-12
    assert [f.factor for f in a.factors] == ["reflection"]


# ------------------------------------------------------------------ a user's task, stored pairs only
class MirrorTask(Task):
    """y = x³ + s·(x₁² + x₂², ·) on a point cloud: C2 (x -> -x) exact at s = 0, broken by s."""

    name = "user-mirror"
    presets = {"tiny": {}}

    def __init__(self, s: float = 0.0, oracle: bool = False):
        from symzoo.groups import MatrixRep, cyclic

        self.s = s
        self.group = cyclic(2, "mirror", name="C2")
        rep = MatrixRep(self.group, torch.stack([torch.eye(2), -torch.eye(2)]).double())
        self.input_fields = {"x": Field(rep, "graph")}
        self.target_fields = {"y": Field(rep, "graph")}
        self._oracle = oracle

    def f(self, x):
        return x**3 + self.s * (x**2).sum(-1, keepdim=True)

    def splits(self, preset=None, seed=0):
        x = torch.rand(400, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2 - 1
        ds = ArrayDataset({"x": x, "y": self.f(x)})
        return ds, ds.subset(range(10)), ds


class MirrorOracleTask(MirrorTask):
    def audit_oracle(self, batch):
        return {"y": self.f(batch.x)}


def test_user_task_nearest_neighbour_audit():
    figures = []
    for s in (0.0, 0.1, 0.5):
        a = audit_task(MirrorTask(s), n=400)
        assert "nearest neighbour" in a.measure
        (f,) = a.factors
        figures.append(f.residual)
        # the estimate brackets the exact figure (the same data with an oracle) within its resolution
        truth = audit_task(MirrorOracleTask(s), n=400).residual
        assert f.bounds[0] <= truth <= f.bounds[1], (s, f.bounds, truth)
        if s == 0:  # no departure resolved, but the resolution (~0.15) cannot certify "exact"
            assert f.residual == 0.0 and f.recommendation == "undetermined" and "between 0 and" in f.note
        else:
            assert f.recommendation == "none"
    assert _strictly_increasing(figures), figures


def test_nearest_neighbour_refuses_to_guess_in_high_dimension(tmp_path):
    import numpy as np

    # N-body data given as a user's file: 35 numbers per input, 60 samples -- far too few to resolve
    gen = np.random.default_rng(0)
    pos, vel = gen.normal(size=(60, 5, 3)), gen.normal(size=(60, 5, 3))
    attr = gen.choice([-1.0, 1.0], size=(60, 5))
    np.savez(tmp_path / "mine.npz", pos=pos, vel=vel, attr=attr, y=pos + vel)
    a = audit_task(symzoo.get_task("nbody-charged", path=str(tmp_path / "mine.npz")))
    assert "nearest neighbour" in a.measure
    assert a.recommendation == "undetermined"
    assert all(f.recommendation != "exact" for f in a.factors)


def test_plugin_task_oracle_hook():
    exact = audit_task(MirrorOracleTask(0.0), n=50)
    assert "audit_oracle" in exact.measure and exact.residual == 0.0
    broken = [audit_task(MirrorOracleTask(s), n=50).residual for s in (0.01, 0.1, 1.0)]
    assert _strictly_increasing(broken)
    assert recommend(broken[-1]) == "none"


class BadOracleTask(MirrorTask):
    def audit_oracle(self, batch):
        return {"z": batch.x}


def test_oracle_must_return_target_fields():
    with pytest.raises(InputError, match="not target fields"):
        audit_task(BadOracleTask(0.0), n=10)


def test_format_lists_every_factor():
    a = audit_task(MirrorOracleTask(0.1), n=20)
    text = format_audits([a])
    assert "mirror" in text and a.recommendation in text and "C2" in text


# ------------------------------------------------------------------ the command
def test_cli_audit_json_and_errors(tmp_path, capsys):
    from symzoo.cli import main

    out = tmp_path / "audit.json"
    rc = main(["audit", "lorenz96-8", "--breaking", "0,1", "--samples", "32", "--json", "--out", str(out)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    doc = json.loads(out.read_text())
    assert printed == doc
    assert [a["strength"] for a in doc["audits"]] == [0.0, 1.0]
    assert doc["audits"][0]["recommendation"] == "exact" and doc["audits"][1]["recommendation"] == "none"
    assert doc["thresholds"] == {"exact_below": EXACT_BELOW, "none_above": NONE_ABOVE}

    bad = tmp_path / "never.json"
    for argv in (
        ["audit", "lorenz", "--breaking", "0,1", "--out", str(bad)],  # no knob
        ["audit", "lorenz96-8", "--breaking", "0,x", "--out", str(bad)],
        ["audit", "lorenz96-8", "--breaking", "0,-1", "--out", str(bad)],
        ["audit", "lorenz", "nonsense=1", "--out", str(bad)],
        ["audit", "lorenz", "--exact-below", "0.5", "--out", str(bad)],
        ["audit", "lorenz", "--out", str(tmp_path / "missing" / "a.json")],
        ["audit", "no-such-task"],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("symzoo: error: ") and len(err.strip().splitlines()) == 1, err
    assert not bad.exists()


def test_cli_task_arguments(capsys):
    from symzoo.cli import main

    assert main(["audit", "lorenz96-8", "data.task_args.forcing_amplitude=0.3", "--samples", "32"]) == 0
    text = capsys.readouterr().out
    # against its own declared group (trivial once the forcing varies): nothing to break
    assert "against C1" in text and "exact" in text


def test_cli_user_robot_spec_and_payload(capsys):
    from symzoo.datasets.robots import ROBOTS_DIR

    from symzoo.cli import main

    # a robot given as a spec file (the shipped acrobot's, used as a user's would be)
    assert (
        main(["audit", "robot-id", f"spec={ROBOTS_DIR / 'acrobot.yaml'}", "--samples", "16", "--json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["audits"][0]["recommendation"] == "exact" and doc["audits"][0]["residual"] < 1e-10
    # a task built with its knob set is audited against its own (residual) group, at that strength
    assert main(["audit", "quadruped-com", "payload=2", "--samples", "8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["audits"][0]["strength"] == 2.0 and doc["group"] == "C1"
    assert doc["audits"][0]["recommendation"] == "exact"


def test_cli_audits_a_registered_user_task(monkeypatch, capsys):
    from symzoo import registry
    from symzoo.cli import main

    symzoo.list_tasks()  # the built-in registry is loaded; the test registers into a copy of it
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))

    @registry.register_task("user-mirror-oracle", description="a user's task with its own simulator")
    def user_mirror(s: float = 0.0):
        return MirrorOracleTask(s)

    verdicts = []
    for s in ("0", "0.01", "1"):
        assert main(["audit", "user-mirror-oracle", f"s={s}", "--samples", "50", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        verdicts.append(doc["audits"][0]["recommendation"])
        assert doc["audits"][0]["factors"][0]["factor"] == "mirror"
    assert verdicts == ["exact", "relaxed", "none"]
