"""Robot symmetry specs, their check against MuJoCo, and the robot tasks (tiny presets)."""

import copy

import numpy as np
import pytest
import torch
import yaml
from symzoo.datasets.robots import ROBOTS_DIR, check_spec, list_robots, load_spec, spec_from_dict
from torch import nn

import symzoo
from symzoo.errors import InputError
from symzoo.groups import SymmetrySpecError
from symzoo.testing import assert_equivariant, equivariance_errors

pytest.importorskip("mujoco")


@pytest.fixture(autouse=True)
def _home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path_factory.getbasetemp() / "robots_home"))


#: the MuJoCo robots (solo is simulated with pinocchio: tests/datasets/test_solo.py)
MUJOCO_ROBOTS = [r for r in list_robots() if r != "solo"]


def _raw(name):
    raw = yaml.safe_load((ROBOTS_DIR / f"{name}.yaml").read_text())
    return raw


@pytest.mark.parametrize("robot", MUJOCO_ROBOTS)
def test_every_shipped_spec_agrees_with_its_simulator(robot):
    spec = load_spec(robot)
    worst = check_spec(spec, n_states=4)
    assert set(worst) == set(spec.group.generator_names) and max(worst.values()) < 1e-8
    for rep in spec.reps.values():
        assert rep.is_homomorphism()


def test_shipped_groups():
    assert {r: load_spec(r).group.order for r in MUJOCO_ROBOTS} == {
        "acrobot": 2,
        "ant": 8,
        "cartpole": 2,
        "half_cheetah": 1,
        "quadruped": 4,
        "walker": 2,
    }
    pv = load_spec("quadruped").reps["pseudovector"].matrices
    sag = load_spec("quadruped").group.generator_index["sagittal"]
    assert torch.equal(pv[sag], torch.diag(torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64)))


def test_one_flipped_joint_sign_fails_with_generator_joint_and_size():
    raw = _raw("acrobot")
    raw["generators"]["mirror"]["q"]["signs"] = [-1, 1]  # elbow sign flipped
    with pytest.raises(SymmetrySpecError) as e:
        check_spec(spec_from_dict(raw, ROBOTS_DIR / "acrobot.yaml"), n_states=3)
    msg = str(e.value)
    assert "\n" not in msg and "'mirror'" in msg and "joint 'elbow'" in msg and "differs by" in msg
    assert "flipping the sign of joint 'elbow'" in msg


def test_flipped_sign_pair_on_the_quadruped_is_caught():
    raw = _raw("quadruped")
    signs = raw["generators"]["sagittal"]["q"]["signs"]
    signs[2], signs[6] = -signs[2], -signs[6]  # knee_front_left <-> knee_front_right, wrong sign
    with pytest.raises(SymmetrySpecError, match="do not close to K4"):  # the group check sees it first
        spec_from_dict(raw)
    for gen in ("sagittal", "transversal"):  # the knee sign flipped on every leg: a group, wrong physics
        raw["generators"][gen]["q"]["signs"] = [-1, 1, -1, 1] * 4
    # the largest mismatch is on the front leg's knee or the pitch above it (no limit force in the check)
    with pytest.raises(
        SymmetrySpecError, match=r"generator 'sagittal'.*joint '(knee|pitch)_front_(left|right)'"
    ):
        check_spec(spec_from_dict(raw, ROBOTS_DIR / "quadruped.yaml"), n_states=2, diagnose=False)


def test_wrong_joint_order_and_wrong_R_are_caught():
    raw = _raw("walker")
    raw["generators"]["swap"]["q"]["perm"] = [3, 5, 4, 0, 2, 1]  # knee and ankle mixed up
    with pytest.raises(SymmetrySpecError, match="generator 'swap'"):
        check_spec(spec_from_dict(raw, ROBOTS_DIR / "walker.yaml"), n_states=2, diagnose=False)
    raw = _raw("quadruped")
    raw["generators"]["transversal"]["R"] = np.eye(3).tolist()  # a mirror is not the identity
    with pytest.raises(
        SymmetrySpecError,
        match="centroidal momentum of component [lk]_[xyz] differs by .*; check the generator's R",
    ):
        check_spec(spec_from_dict(raw, ROBOTS_DIR / "quadruped.yaml"), n_states=2, diagnose=False)


def test_half_cheetah_would_be_mirror_fails():
    raw = _raw("half_cheetah")
    raw["group"] = "C2"
    raw["generators"] = {
        "mirror": {
            "R": [[-1, 0, 0], [0, 1, 0], [0, 0, 1]],
            "q": {"perm": [3, 4, 5, 0, 1, 2], "signs": [-1] * 6},
        }
    }
    with pytest.raises(SymmetrySpecError, match="disagrees with the simulator: generator 'mirror'"):
        check_spec(spec_from_dict(raw, ROBOTS_DIR / "half_cheetah.yaml"), n_states=2, diagnose=False)


def test_bad_specs_are_one_line_errors(tmp_path):
    raw = _raw("cartpole")
    raw["joints"] = ["slider", "pole_hinge"]
    raw["generators"]["mirror"]["q"]["perm"] = [0, 1]
    spec = spec_from_dict(raw, ROBOTS_DIR / "cartpole.yaml")
    with pytest.raises(SymmetrySpecError, match=r"names joint\(s\) \['pole_hinge'\]") as e:
        spec.sim()
    assert "\n" not in str(e.value)
    # generators that do not close to the declared group (non-commuting involutions for K4)
    bad = {
        "name": "toy",
        "model": "x.xml",
        "joints": ["a", "b", "c"],
        "group": "K4",
        "generators": {"s": {"q": {"perm": [1, 0, 2]}}, "t": {"q": {"perm": [0, 2, 1]}}},
    }
    with pytest.raises(SymmetrySpecError, match="do not close to K4"):
        spec_from_dict(bad)
    with pytest.raises(SymmetrySpecError, match="unknown key"):
        spec_from_dict({**bad, "gneerators": {}})
    p = tmp_path / "broken.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(SymmetrySpecError, match="not valid YAML"):
        load_spec(p)


def test_robot_file_that_does_not_load_caches_nothing(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("SYMZOO_HOME", str(home))
    raw = _raw("acrobot")
    (tmp_path / "bad.xml").write_text("<mujoco><worldbody><body><joint name='shoulder'/></body></mujoco>")
    raw["model"] = "bad.xml"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw))
    task = symzoo.get_task("robot-id", spec=str(tmp_path / "bad.yaml"))
    with pytest.raises(InputError, match="does not load") as e:
        task.splits("tiny")
    assert "\n" not in str(e.value)
    # a spec that disagrees with its simulator makes no data either
    raw = _raw("acrobot")
    raw["model"] = str(load_spec("acrobot").model_path())
    raw["generators"]["mirror"]["q"]["signs"] = [1, -1]
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(SymmetrySpecError, match="disagrees with the simulator"):
        symzoo.get_task("robot-id", spec=str(tmp_path / "wrong.yaml")).splits("tiny")
    assert not home.exists() or not any(p.is_file() for p in home.rglob("*"))


def test_payload_breaks_the_quadruped_mirrors():
    spec = load_spec("quadruped")
    with pytest.raises(SymmetrySpecError, match="disagrees with the simulator"):
        check_spec(spec, sim=spec.sim(payload_mass=1.0), n_states=2, diagnose=False)
    task = symzoo.get_task("quadruped-com")
    broken = task.with_breaking(0.5)
    assert broken.group.order == 1 and task.group.order == 4 and broken.breaking.unit == "kg"
    with pytest.raises(InputError, match="no payload"):
        symzoo.get_task("cartpole-id", payload=1.0)


class Reynolds(nn.Module):
    """A random MLP averaged over the group: exactly equivariant for any task's reps."""

    def __init__(self, task):
        super().__init__()
        self.task = task
        self.symmetry = frozenset(task.group.factors)
        d_in = sum(f.rep.dim for f in task.input_fields.values())
        self.outs = {k: f.rep.dim for k, f in task.output_fields.items()}
        self.net = nn.Sequential(nn.Linear(d_in, 32), nn.Tanh(), nn.Linear(32, sum(self.outs.values())))

    def forward(self, batch):
        t = self.task
        acc = None
        for g in t.group.elements(int(batch.num_graphs)):
            gb = t.act(g, batch)
            x = torch.cat([getattr(gb, k) for k in t.input_fields], -1)
            y = dict(zip(self.outs, self.net.to(x.dtype)(x).split(list(self.outs.values()), -1)))
            back = t.act_output(t.group.inverse(g), y, batch)
            acc = back if acc is None else {k: acc[k] + back[k] for k in acc}
        return {k: v / t.group.order for k, v in acc.items()}


@pytest.mark.parametrize("name", ["cartpole-id", "quadruped-com", "acrobot-fd"])
def test_tasks_through_the_toolkit(name):
    task = symzoo.get_task(name, preset="tiny")
    train, val, test = task.splits("tiny")
    assert len(train) == 256 and len(val) == 64
    assert len(test) == 128 * (task.group.order if name.endswith("com") else 1)
    batch = task.example_batch(4)
    task.validate_batch(batch)
    assert_equivariant(Reynolds(task), task)
    model = Reynolds(task)
    assert max(equivariance_errors(model, task).values()) < 1e-9
    out = model(batch)
    m = task.metrics(out, batch)
    assert task.primary_metric in m and all(torch.isfinite(v) for v in m.values())
    assert set(task.units) >= set(m)


def test_com_targets_are_orbit_averaged_and_standardized():
    task = symzoo.get_task("quadruped-com")
    train, _, test = task.splits("tiny")
    mu, s = task.target_stats["momentum"]
    y = (train.fields["momentum"].numpy() - mu) / s
    assert np.allclose((y**2).mean(0), 1.0, atol=0.3)
    # the orbit-expanded test set: each state's images carry the transformed labels
    n = len(test) // 4
    b = test.__getitems__(list(range(len(test))))
    for i, g in enumerate(task.group.elements(n)):
        moved = task.act(g, test.subset(range(n)).__getitems__(list(range(n))))
        assert torch.allclose(moved.momentum, b.momentum[i * n : (i + 1) * n], atol=1e-9)
    assert np.allclose(mu[[0, 1, 3, 4, 5]], 0)  # only l_z (invariant under both mirrors) keeps a mean
    assert s[0] != s[1]  # l_x and l_y are different orbits (K4, not C4)


def test_restrict_is_a_fundamental_domain():
    task = symzoo.get_task("walker-id")
    train, _, _ = task.splits("tiny")
    r = task.restrict(train)
    assert len(r) == len(train)
    again = task.restrict(r)
    assert torch.allclose(again.fields["q"], r.fields["q"])
    w = torch.arange(1, 7, dtype=torch.float64)
    mats = task.reps["q"].matrices
    scores = torch.einsum("j,gjk,bk->bg", w, mats, r.fields["q"])
    assert (scores.argmax(1) == 0).all()


def test_acrobot_fd_reference_matches_targets():
    task = symzoo.get_task("acrobot-fd")
    batch = task.initial_batch("tiny", "test", 4, dtype=torch.float64)
    ref = task.reference_trajectory(batch, 2)
    assert ref["q"].shape == (3, 4, 2)
    assert torch.allclose(ref["q"][1], batch.q_next, atol=1e-9)
    e = task.invariants()["energy"].fn(ref, batch)
    assert e.shape == (3, 4) and torch.isfinite(e).all()


def test_user_spec_task_and_unknown_robot(tmp_path):
    raw = copy.deepcopy(_raw("cartpole"))
    raw["model"] = str(load_spec("cartpole").model_path())
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(raw))
    task = symzoo.get_task("robot-id", spec=str(tmp_path / "mine.yaml"))
    assert task.group.order == 2 and len(task.splits("tiny")[0]) == 256
    with pytest.raises(symzoo.errors.UnknownNameError, match="unknown robot 'quadrupd'.*quadruped"):
        load_spec("quadrupd")


@pytest.mark.parametrize("name", ["quadruped-id", "walker-id"])
def test_inverse_dynamics_torques_are_physical(name):
    """Torques of the generated data are rigid-body dynamics plus joint damping, nothing else:
    tau = M(q)[J, J] a + bias(q, v)[J] - passive(q, v)[J] from mj_mulM / mj_forward, no active
    constraint (the quadruped's tendon-coupling equalities once added ~1e6 N·m), and a bound:
    |tau_i| <= sum_j |M_ij| |a|_max + |bias_i| + damping_i |v|_max."""
    import mujoco

    task = symzoo.get_task(name)
    train, _, _ = task.splits("tiny")
    b = train.__getitems__(list(range(32)))
    q, v, a, tau = (getattr(b, k).numpy() for k in ("q", "v", "a", "tau"))
    sim = task.spec.sim()
    m, d = sim.model, sim.data
    bound = 0.0
    for k in range(len(q)):
        sim._set(q[k], v[k])
        mujoco.mj_forward(m, d)
        assert d.nefc == 0, "a constraint is active in a sampled state"
        full = np.zeros((m.nv, m.nv))
        col = np.zeros(m.nv)
        for i, e in enumerate(np.eye(m.nv)):  # the mass matrix column by column (any MuJoCo 3.x)
            mujoco.mj_mulM(m, d, col, e)
            full[:, i] = col
        M = full[np.ix_(sim.dadr, sim.dadr)]
        ref = M @ a[k] + d.qfrc_bias[sim.dadr] - d.qfrc_passive[sim.dadr]
        np.testing.assert_allclose(tau[k], ref, rtol=1e-9, atol=1e-9)
        lim = np.abs(M).sum(1) * np.pi + np.abs(d.qfrc_bias[sim.dadr]) + m.dof_damping[sim.dadr] * np.pi
        assert np.all(np.abs(tau[k]) <= lim + 1e-9)
        bound = max(bound, float(lim.max()))
    assert np.abs(tau).max() < 200.0 and bound < 1e3  # N·m: damping 30 N·m·s/rad at π rad/s is ~94


@pytest.mark.parametrize("name", ["emlp.quadruped-com", "delan-eq.walker-id"])
def test_robot_pretrained_loads_in_a_fresh_process(name, tmp_path):
    """The bundled robot models load and reproduce their reference output in a new interpreter (the
    emlp's escnn buffers are named after its representations, which must not depend on the process)."""
    import os
    import subprocess
    import sys

    if name not in symzoo.list_pretrained():
        pytest.skip(f"{name} is not in the registry")
    code = (
        "import torch, symzoo\n"
        "from symzoo import hub\n"
        f"name = {name!r}\n"
        "m = symzoo.load_pretrained(name)\n"
        "batch, want = hub.reference_batch(name)\n"
        "with torch.set_grad_enabled(symzoo.get_task(hub.get_entry(name)['task']).needs_grad):\n"
        "    out = m(batch)\n"
        "for k, w in want.items():\n"
        "    torch.testing.assert_close(out[k].detach(), w, rtol=1e-4, atol=1e-5)\n"
        "print('ok', sorted(want))\n"
    )
    env = {**os.environ, "SYMZOO_HOME": str(tmp_path), "SYMZOO_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr[-2000:]


def test_ant_is_d4_and_a_wrong_sign_or_a_c4_only_spec_is_caught():
    """dm_control's Ant: 4 legs at 90° on a sphere, D4 of order 8 (checked against MuJoCo); an ankle
    sign flipped under the mirror is caught, and the 90° turn is a real symmetry (not only the mirrors)."""
    spec = load_spec("ant")
    assert spec.group.order == 8 and spec.group.name == "D4"
    raw = _raw("ant")
    raw["generators"]["mirror"]["q"]["signs"] = [-1, -1] * 4  # ankles flipped too: still a group
    with pytest.raises(SymmetrySpecError, match=r"generator 'mirror'.*joint '\w+_(hip|ankle)'"):
        check_spec(spec_from_dict(raw, ROBOTS_DIR / "ant.yaml"), n_states=2, diagnose=False)
    raw = _raw("ant")
    raw["generators"]["rotation"]["q"]["perm"] = [6, 7, 0, 1, 2, 3, 4, 5]  # turning the wrong way
    with pytest.raises(SymmetrySpecError, match="generator 'rotation'"):
        check_spec(spec_from_dict(raw, ROBOTS_DIR / "ant.yaml"), n_states=2, diagnose=False)


@pytest.mark.parametrize(
    "task_name,model_name", [("ant-id", "emlp"), ("ant-id", "delan-eq"), ("ant-com", "emlp")]
)
def test_equivariant_models_on_the_d4_ant(task_name, model_name):
    from symzoo.compat import check_compatible

    torch.manual_seed(0)
    task = symzoo.get_task(task_name)
    train, _, _ = task.splits("tiny")
    model = symzoo.create_model(model_name, **task.model_defaults(model_name, train))
    check_compatible(model, task)
    task.prepare_model(model, train)
    errs = assert_equivariant(model, task)  # every element of D4, float32 and float64
    assert set(errs[torch.float64]) == set(task.group.factors) | {"all"}


@pytest.mark.parametrize("model_name", ["emlp", "delan-eq"])
def test_prepare_model_keeps_a_pretrained_models_statistics(model_name):
    """``pretrained=True`` (fine-tuning) keeps fitted standardization; a model whose statistics are
    still at their defaults (not copied from the pretrained weights) gets them fitted anyway."""
    task = symzoo.get_task("ant-id")
    train, _, _ = task.splits("tiny")
    fresh = symzoo.create_model(model_name, **task.model_defaults(model_name, train))
    task.prepare_model(fresh, train, pretrained=True)  # defaults: fitted regardless
    fitted = {k: v.clone() for k, v in fresh.named_buffers()}
    other = symzoo.create_model(model_name, **task.model_defaults(model_name, train))
    assert any(not torch.equal(fitted[k], v) for k, v in other.named_buffers())
    # a "pretrained" model fine-tuned on a different subset keeps what it had
    task.prepare_model(fresh, task.splits("tiny")[1], pretrained=True)
    assert all(torch.equal(fitted[k], v) for k, v in fresh.named_buffers())
    # without pretrained the statistics follow the new training set
    task.prepare_model(fresh, task.splits("tiny")[1])
    assert any(not torch.equal(fitted[k], v) for k, v in fresh.named_buffers())
