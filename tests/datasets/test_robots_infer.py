"""``symzoo robots infer``: the morphological symmetry group found from the model file alone,
checked against the simulator, equals the hand-written specs of the shipped robots (as sets of
signed permutations of the joints, whatever generators either picks) and finds the group of a
robot that ships in no package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from symzoo.datasets.robots import check_spec, load_spec, spec_from_dict
from symzoo.datasets.robots_infer import infer_spec, spec_yaml

from symzoo.cli import main
from symzoo.errors import SymzooError
from symzoo.extras import installed

FIX = Path(__file__).parents[1] / "fixtures" / "hexapod"


def _elements(spec, order: list[str]) -> set[tuple]:
    """Every group element's joint action, as (perm, signs) in the joint order ``order``."""
    idx = [spec.joints.index(j) for j in order]
    mats = spec.reps["q"].matrices[:, idx][:, :, idx]
    out = set()
    for m in mats:
        perm = m.abs().argmax(1)
        out.add((tuple(int(p) for p in perm), tuple(int(s) for s in m[torch.arange(len(m)), perm])))
    return out


@pytest.mark.parametrize(
    "robot,group",
    [("quadruped", "K4"), ("ant", "D4"), ("walker", "C2"), ("acrobot", "C2"), ("cartpole", "C2")],
)
def test_infer_recovers_the_shipped_robots_groups(robot, group):
    shipped = load_spec(robot)
    found = infer_spec(shipped.model_path())
    assert found.group == group and found.order == shipped.group.order
    spec = spec_from_dict(found.spec, shipped.model_path())
    assert sorted(spec.joints) == sorted(shipped.joints)
    assert _elements(spec, shipped.joints) == _elements(shipped, shipped.joints)  # the same group action
    assert max(found.check.values()) < 1e-10
    assert yaml.safe_load(spec_yaml(found.spec)) == found.spec


def _needs_robotics_extra() -> None:
    """Skip unless pinocchio and example-robot-data (a data-only distribution) are installed."""
    if not installed("robotics-pinocchio"):
        pytest.skip("needs the robotics-pinocchio extra (pin, example-robot-data)")


def test_infer_the_solo_12_urdf():
    _needs_robotics_extra()
    shipped = load_spec("solo")
    found = infer_spec(shipped.model_path())
    assert found.group == "K4"
    assert _elements(spec_from_dict(found.spec, shipped.model_path()), shipped.joints) == _elements(
        shipped, shipped.joints
    )


def test_robots_infer_cli_on_the_solo_12_urdf_writes_a_k4_spec_that_trains(tmp_path, capsys, monkeypatch):
    """`symzoo robots infer` on Solo-12's URDF as a user would: the file path, not the shipped spec."""
    _needs_robotics_extra()
    urdf = load_spec("solo").model_path()
    out = tmp_path / "solo.yaml"
    assert main(["robots", "infer", str(urdf), "--out", str(out)]) == 0, capsys.readouterr().err
    assert "group K4" in capsys.readouterr().out
    spec = load_spec(out)
    assert spec.group.name == "K4" and len(spec.joints) == 12
    assert max(check_spec(spec).values()) < 1e-8  # the written spec passes the simulator check
    assert type(spec.sim()).__name__ == "PinocchioSim"  # a URDF spec trains on pinocchio
    # and it trains: the inferred spec through the CLI, emlp equivariant on K4
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    rc = main(["train", "robot-com", "emlp", f"data.task_args.spec={out}", "--preset", "tiny",
               "trainer.max_epochs=1", "--out", "run"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    import json

    ev = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert ev["equivariance"]["group"] == "K4" and max(ev["equivariance"]["errors"].values()) < 1e-10


def test_infer_finds_the_hexapods_mirror_and_writes_a_spec_that_trains(tmp_path, capsys):
    """A robot in no package: the 18-joint hexapod (C2, its head breaks the front/back mirror)."""
    shutil.copy(FIX / "hexapod.xml", tmp_path / "hexapod.xml")
    out = tmp_path / "hexapod.yaml"
    assert main(["robots", "infer", str(tmp_path / "hexapod.xml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "group C2" in text and "sagittal" in text and "transversal" in text  # tried and refused
    spec = load_spec(out)
    assert spec.model == "hexapod.xml"  # relative to the spec: the folder can move
    hand = load_spec(FIX / "hexapod.yaml")
    assert spec.group.name == "C2" and _elements(spec, hand.joints) == _elements(hand, hand.joints)
    assert check_spec(spec)["sagittal"] < 1e-10
    # refused: an existing --out (without --force), a missing file
    assert main(["robots", "infer", str(tmp_path / "hexapod.xml"), "--out", str(out)]) == 2
    assert main(["robots", "infer", str(tmp_path / "nope.xml")]) == 2
    err = capsys.readouterr().err
    assert "exists; pass --force" in err and "does not exist" in err


def test_infer_without_the_head_finds_k4_and_with_a_heavier_leg_nothing(tmp_path):
    xml = (FIX / "hexapod.xml").read_text()
    headless = tmp_path / "headless.xml"
    headless.write_text(
        xml.replace('<geom name="head" type="sphere" pos="0.36 0 0.03" size="0.06" mass="0.3"/>', "")
    )
    found = infer_spec(headless)
    assert found.group == "K4" and set(found.spec["generators"]) == {"sagittal", "transversal"}
    lopsided = tmp_path / "lopsided.xml"
    lopsided.write_text(xml.replace('size="0.02" mass="0.12"', 'size="0.02" mass="0.2"', 1))  # one thigh
    with pytest.raises(SymzooError, match="no morphological symmetry found"):
        infer_spec(lopsided)


def test_robots_check_prints_the_mismatch(capsys):
    assert main(["robots", "check", str(FIX / "hexapod.yaml")]) == 0
    assert "agrees with its simulator" in capsys.readouterr().out
    assert main(["robots", "check", str(FIX / "hexapod_wrong_sign.yaml")]) == 2
    err = capsys.readouterr().err
    assert "generator 'sagittal'" in err and len(err.strip().splitlines()) == 1


def test_infer_reads_a_urdf_for_its_dynamics_only(tmp_path):
    """A URDF whose meshes do not exist: infer reads its inertias through MuJoCo (visual and
    collision geometry dropped) and finds its C2 (training a URDF spec uses pinocchio)."""
    from symzoo.datasets.robots import RobotSim

    urdf = Path(__file__).parents[1] / "fixtures" / "biped" / "biped.urdf"
    found = infer_spec(urdf)
    assert found.group == "C2" and found.spec["joints"] == ["l_hip", "r_hip"]
    assert found.spec["generators"]["sagittal"]["q"] == {
        "perm": {"l_hip": "r_hip", "r_hip": "l_hip"},
        "signs": {"l_hip": -1, "r_hip": -1},
    }
    spec = spec_from_dict(found.spec, urdf)
    assert check_spec(spec, sim=RobotSim(spec))["sagittal"] < 1e-10
