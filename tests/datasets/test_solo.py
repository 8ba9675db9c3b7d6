"""Solo-12 (MorphoSymm's anchor): its spec, the check against pinocchio, and ``solo-com`` (tiny).

The spec tests run everywhere; the ones that simulate need the optional extra
``symzoo[robotics-pinocchio]`` (``pin`` and ``example-robot-data``) and are skipped without it.
"""

from importlib import metadata

import numpy as np
import pytest
import torch
import yaml
from symzoo.datasets.robots import ROBOTS_DIR, load_spec, spec_from_dict

import symzoo
from symzoo.errors import InputError
from symzoo.extras import installed
from symzoo.groups import SymmetrySpecError

needs_extra = pytest.mark.skipif(
    not installed("robotics-pinocchio"),
    reason="needs the robotics-pinocchio extra: pip install 'symzoo[robotics-pinocchio]' (pin, example-robot-data)",
)


@pytest.fixture(autouse=True)
def _home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path_factory.getbasetemp() / "solo_home"))


def _raw():
    return yaml.safe_load((ROBOTS_DIR / "solo.yaml").read_text())


def test_spec_is_k4_on_the_urdf_joint_names():
    spec = load_spec("solo")
    assert spec.group.order == 4 and spec.n_joints == 12
    assert spec.joints[:3] == ["FL_HAA", "FL_HFE", "FL_KFE"]
    for rep in spec.reps.values():
        assert rep.is_homomorphism()
    q = spec.generator_matrices("q")
    # sagittal: left <-> right, abduction (x-axis) joints flip; transversal: front <-> hind, flexion flips
    assert np.allclose(
        np.diag(q["sagittal"] @ np.eye(12)[[3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8]].T), [-1, 1, 1] * 4
    )
    assert np.allclose(
        np.diag(q["transversal"] @ np.eye(12)[[6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5]].T), [1, -1, -1] * 4
    )


def test_one_flipped_sign_does_not_close():
    raw = _raw()
    raw["generators"]["transversal"]["q"]["signs"][4] *= -1
    with pytest.raises(SymmetrySpecError, match="order 4") as e:
        spec_from_dict(raw, ROBOTS_DIR / "solo.yaml")
    assert "\n" not in str(e.value)


def test_tasks_build_without_the_extra():
    assert {"solo-com", "solo-com-c2"} <= set(symzoo.list_tasks())
    assert symzoo.get_task("solo-com").group.order == 4
    assert symzoo.get_task("solo-com-c2").group.order == 2


def test_missing_package_is_one_line(monkeypatch):
    from symzoo.datasets import robots_pinocchio

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(InputError, match=r"symzoo\[robotics-pinocchio\]") as e:
        robots_pinocchio.example_robot_data_path("robots/solo_description/robots/solo12.urdf", "solo")
    assert "\n" not in str(e.value)


@needs_extra
def test_spec_agrees_with_pinocchio():
    from symzoo.datasets.robots import check_spec
    from symzoo.datasets.robots_pinocchio import PinocchioSim, check_urdf_spec

    spec = load_spec("solo")
    sim = check_urdf_spec(spec, n_states=3)
    # the URDF itself is mirror-symmetric only to ~5e-4 (see check_urdf_spec), its kinematics exactly
    assert 1e-6 < sim.asymmetry(n_states=5) < 5e-3
    worst = check_spec(spec, sim=PinocchioSim(spec, symmetrize_inertia=True), n_states=3)
    assert max(worst.values()) < 1e-8
    assert set(check_spec("solo", n_states=2)) == {"sagittal", "transversal"}  # routes to check_urdf_spec


@needs_extra
def test_wrong_signs_disagree_with_pinocchio():
    from symzoo.datasets.robots_pinocchio import check_urdf_spec

    raw = _raw()
    for i in (1, 4, 7, 10):  # transversal keeps the flexion angles: closes, but is wrong
        raw["generators"]["transversal"]["q"]["signs"][i] = 1
    bad = spec_from_dict(raw, ROBOTS_DIR / "solo.yaml")
    with pytest.raises(SymmetrySpecError, match="disagrees with the simulator: generator 'transversal'") as e:
        check_urdf_spec(bad, n_states=2)
    assert "\n" not in str(e.value)


@needs_extra
def test_solo_com_tiny():
    task = symzoo.get_task("solo-com")
    train, val, test = task.splits("tiny")
    assert (len(train), len(val), len(test)) == (256, 64, 4 * 128)  # test set: the whole K4 orbit
    # orbit-averaged labels are exactly equivariant: y(g x) = rho(g) y(x)
    from symzoo.datasets.robots_pinocchio import PinocchioSim

    sim = PinocchioSim(task.spec)
    b = train.__getitems__(list(range(8)))
    mats = {k: task.reps[k].matrices.numpy() for k in ("q", "v", "momentum")}
    y = task._orbit_averaged_momentum(sim, b.q.numpy(), b.v.numpy())
    for i in range(4):
        yg = task._orbit_averaged_momentum(sim, b.q.numpy() @ mats["q"][i].T, b.v.numpy() @ mats["v"][i].T)
        assert np.allclose(yg, y @ mats["momentum"][i].T, atol=1e-12)
    assert np.allclose(y, b.momentum.numpy())
    q = train.fields["q"].numpy()
    assert np.abs(q).max() <= np.pi and np.abs(train.fields["v"].numpy()).max() <= np.pi
    c2 = symzoo.get_task("solo-com-c2")
    _, _, test2 = c2.splits("tiny")
    assert torch.equal(test2.fields["momentum"], test.fields["momentum"])  # same data, K4 orbit


@needs_extra
def test_solo_com_trains_and_emlp_is_equivariant(tmp_path):
    from symzoo.testing import assert_equivariant

    task = symzoo.get_task("solo-com")
    task.splits("tiny")
    model = symzoo.create_model("emlp", task="solo-com", hidden=16)
    assert_equivariant(model, task)
