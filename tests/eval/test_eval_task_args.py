"""``symzoo eval TARGET [--task T] key=value ...``: the task's arguments on the command line, with the
grammar ``train`` and ``audit`` use (``data.task_args.KEY`` or ``KEY``; ``a.b=v`` nests).

A user's ethanol frames in eV (extxyz) evaluated zero-shot by a pretrained force-field entry: the same
frames written in kcal/mol with their units declared must give the same errors (the units reached the
task), and a run's own record (``eval.json``) is never overwritten by an evaluation on other data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from symzoo.cli import main


def _write_frames(path, n: int, *, start: int = 0, unit: str = "eV") -> None:
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write
    from symzoo.datasets.atoms import KCAL_MOL_TO_EV, find_data

    scale = KCAL_MOL_TO_EV if unit == "eV" else 1.0  # the rMD17 file is in kcal/mol
    with np.load(find_data("rmd17/rmd17_ethanol_train_01.npz")) as f:
        z, pos = f["nuclear_charges"], f["coords"][start : start + n]
        energy, forces = f["energies"][start : start + n] * scale, f["forces"][start : start + n] * scale
    frames = []
    for r, e, fo in zip(pos, energy, forces):
        atoms = Atoms(numbers=z, positions=r)
        atoms.calc = SinglePointCalculator(atoms, energy=float(e), forces=fo)
        frames.append(atoms)
    write(str(path), frames, format="extxyz")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    return tmp_path


def test_pretrained_entry_on_a_users_ev_extxyz(home, capsys):
    _write_frames(home / "ethanol_eV.xyz", 40)
    _write_frames(home / "ethanol_kcal.xyz", 40, unit="kcal/mol")
    rc = main(["eval", "schnet.rmd17-ethanol", "--task", "xyz", "path=ethanol_eV.xyz", "--out", "ev.json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "schnet on xyz" in out.out and "force_mae_meV_per_A" in out.out
    ev = json.loads((home / "ev.json").read_text())
    assert ev["task"] == "xyz" and ev["trained_on"] == "rmd17-ethanol"
    assert ev["task_args"] == {"path": "ethanol_eV.xyz"}
    # the prefixed spelling, and the same frames in kcal/mol with their units declared
    rc = main(["eval", "schnet.rmd17-ethanol", "--task", "xyz", "data.task_args.path=ethanol_kcal.xyz",
               "energy_unit=kcal/mol", "forces_unit=kcal/mol/Å", "--out", "kcal.json"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    kcal = json.loads((home / "kcal.json").read_text())
    assert ev["n_test"] == kcal["n_test"] > 0
    for k in ("force_mae_meV_per_A", "energy_mae_meV"):
        assert ev["metrics"][k] == pytest.approx(kcal["metrics"][k], rel=1e-5), k
    # read in the right unit, the pretrained ethanol model's error is that of ethanol, well below the
    # forces' own scale (a kcal/mol file read as eV would be off by the factor 23)
    forces_rms = 1000 * float(np.sqrt(np.mean(_forces_ev(home / "ethanol_eV.xyz") ** 2)))
    assert ev["metrics"]["force_mae_meV_per_A"] < 0.3 * forces_rms
    # the eV file read as kcal/mol: another, much larger error; the units really reach the task
    rc = main(["eval", "schnet.rmd17-ethanol", "--task", "xyz", "path=ethanol_eV.xyz", "energy_unit=kcal/mol",
               "forces_unit=kcal/mol/Å", "--out", "wrong.json"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    wrong = json.loads((home / "wrong.json").read_text())
    assert wrong["metrics"]["force_mae_meV_per_A"] > 3 * ev["metrics"]["force_mae_meV_per_A"]


def _forces_ev(path) -> np.ndarray:
    from ase.io import read

    return np.concatenate([a.get_forces() for a in read(str(path), index=":")])


@pytest.mark.parametrize(
    "args, says",
    [
        (["path=ethanol_eV.xyz", "pth=other.xyz"], "pth"),
        (["path"], "path"),
        (["1bad=3"], "not a task argument name"),
        (["path=missing.xyz"], "missing.xyz"),
    ],
)
def test_bad_task_arguments_are_one_line_and_write_nothing(home, capsys, args, says):
    _write_frames(home / "ethanol_eV.xyz", 12)
    try:
        rc = main(["eval", "schnet.rmd17-ethanol", "--task", "xyz", *args, "--out", "r.json"])
    except SystemExit as e:  # argparse's own refusal (a bare word where key=value belongs)
        rc = e.code
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("symzoo: error:") and "\n" not in err and says in err, err
    assert not (home / "r.json").exists()


def test_run_folder_on_other_data_keeps_its_record(home, capsys):
    _write_frames(home / "a.xyz", 24)
    _write_frames(home / "b.xyz", 24, start=100)
    rc = main(["train", "xyz", "schnet", "data.task_args.path=a.xyz", "--preset", "tiny", "--out", "run",
               "trainer.max_epochs=1", "model.args.channels=8"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    own = (home / "run" / "eval.json").read_text()
    rc = main(["eval", "run", "path=b.xyz"])
    assert rc == 0, capsys.readouterr().err
    assert (home / "run" / "eval.json").read_text() == own  # the run's record is untouched
    (other,) = (home / "run").glob("eval-xyz-tiny-*.json")
    rep = json.loads(other.read_text())
    assert rep["task_args"]["path"] == "b.xyz" and rep["trained_on"] == "xyz"
    assert rep["metrics"] != json.loads(own)["metrics"]
    # the run's own arguments again: that is its own evaluation, written to eval.json
    rc = main(["eval", "run", "path=a.xyz"])
    assert rc == 0, capsys.readouterr().err
    assert len(list((home / "run").glob("eval-*.json"))) == 1
