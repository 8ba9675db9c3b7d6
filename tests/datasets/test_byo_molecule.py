"""A user's own molecule: rMD17 files in the layouts a user has, explicit units, zero-shot eval,
and elements a pretrained model never saw (issue 20, item 3).

The fixtures are a few frames cut from the bundled ethanol files, renamed to a molecule that does
not ship (benzene), so the loader cannot find them anywhere else."""

import logging

import numpy as np
import pytest
from symzoo.datasets.atoms import KCAL_MOL_TO_EV, find_data, read_structures

import symzoo
from symzoo.cli import main
from symzoo.errors import InputError, SymzooError


def _ethanol(n=60, part="train"):
    with np.load(find_data(f"rmd17/rmd17_ethanol_{part}_01.npz")) as f:
        return {
            k: f[k][:n] if f[k].ndim and f[k].shape[0] >= n and k != "nuclear_charges" else f[k]
            for k in f.files
        }


@pytest.fixture()
def empty_data(tmp_path, monkeypatch):
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("SYMZOO_DATA", str(d))
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SYMZOO_OFFLINE", "1")
    return d


@pytest.mark.parametrize(
    "rel",
    [
        "rmd17/rmd17_benzene.npz",
        "rmd17_benzene.npz",
        "rmd17/npz_data/rmd17_benzene.npz",
        "npz_data/rmd17_benzene.npz",
    ],
)
def test_whole_molecule_file_in_natural_layouts(empty_data, rel, caplog):
    arrays = _ethanol(60)
    (empty_data / rel).parent.mkdir(parents=True, exist_ok=True)
    np.savez(empty_data / rel, **arrays)
    with caplog.at_level(logging.WARNING):
        train, val, test = symzoo.get_task("rmd17-benzene").splits("tiny")
    assert (len(train), len(val), len(test)) == (20, 10, 20)
    assert "seeded split" in caplog.text  # no published index files beside it: said so
    # kcal/mol -> eV; the test frames are file frames, disjoint from the training pool
    energies = {round(float(e) * KCAL_MOL_TO_EV, 9) for e in arrays["energies"]}
    got_test = {round(float(d.energy), 9) for d in test}
    assert got_test <= energies
    assert not got_test & {round(float(d.energy), 9) for d in (*train, *val)}


def test_published_archive_with_its_split_files(empty_data):
    arrays = _ethanol(60)
    base = empty_data / "rmd17"
    (base / "npz_data").mkdir(parents=True)
    (base / "splits").mkdir()
    np.savez(base / "npz_data" / "rmd17_benzene.npz", **arrays)
    train_idx, test_idx = np.arange(0, 30), np.arange(30, 60)[::-1]
    np.savetxt(base / "splits" / "index_train_01.csv", train_idx, fmt="%d")
    np.savetxt(base / "splits" / "index_test_01.csv", test_idx, fmt="%d")
    _, _, test = symzoo.get_task("rmd17-benzene").splits("tiny")
    # the published test indices, in their order
    assert [float(d.energy) for d in test] == pytest.approx(
        arrays["energies"][test_idx[:20]] * KCAL_MOL_TO_EV
    )
    # rmd17-multi finds it too
    multi = symzoo.get_task("rmd17-multi", molecules="benzene,ethanol")
    tr, _, te = multi.splits("tiny")
    assert {int(d.molecule) for d in te} == {0, 1} and len(tr) == 8


def test_missing_molecule_lists_where_it_looked(empty_data):
    with pytest.raises(SymzooError, match="not found") as e:
        symzoo.get_task("rmd17-paracetamol").splits("tiny")
    msg = str(e.value)
    assert "\n" not in msg and str(empty_data) in msg
    for layout in ("rmd17/rmd17_paracetamol_{train,test}_01.npz", "rmd17/npz_data/rmd17_paracetamol.npz"):
        assert layout in msg


def _ev_npz(path, units=None, n=30):
    arrays = _ethanol(n)
    arrays["energies"] = arrays["energies"] * KCAL_MOL_TO_EV  # now in eV (about -4200)
    arrays["forces"] = arrays["forces"] * KCAL_MOL_TO_EV
    np.savez(path, **arrays, **(units or {}))
    return arrays


def test_npz_without_units_is_refused_never_assumed(tmp_path):
    arrays = _ev_npz(tmp_path / "mine.npz")
    with pytest.raises(InputError, match="declares no energy unit") as e:
        symzoo.get_task("xyz", path=str(tmp_path / "mine.npz"))
    assert "energy_unit=" in str(e.value) and "forces_unit=" in str(e.value) and "\n" not in str(e.value)
    task = symzoo.get_task("xyz", path=str(tmp_path / "mine.npz"), energy_unit="eV", forces_unit="eV/Å")
    got = read_structures(tmp_path / "mine.npz", energy_unit="eV", forces_unit="eV/Å")
    assert float(got[0].energy) == pytest.approx(arrays["energies"][0])
    assert np.allclose(got[3].forces.numpy(), arrays["forces"][3])
    assert len(task.splits("tiny")[0]) == 20
    # units stored in the file are read; Hartree is converted; a conflict or a typo is refused
    _ev_npz(tmp_path / "declared.npz", {"energy_unit": "eV", "forces_unit": "eV/A"})
    assert float(read_structures(tmp_path / "declared.npz")[0].energy) == pytest.approx(arrays["energies"][0])
    with pytest.raises(InputError, match="remove one"):
        read_structures(tmp_path / "declared.npz", energy_unit="Hartree")
    ha = read_structures(tmp_path / "mine.npz", energy_unit="Hartree", forces_unit="Hartree/Bohr")
    assert float(ha[0].energy) == pytest.approx(arrays["energies"][0] * 27.211386245988)
    assert float(ha[0].forces[0, 0]) == pytest.approx(
        arrays["forces"][0, 0, 0] * 27.211386245988 / 0.529177210903
    )
    with pytest.raises(InputError, match="unknown energy unit 'kcal'"):
        symzoo.get_task("xyz", path=str(tmp_path / "mine.npz"), energy_unit="kcal", forces_unit="eV/Å")


def test_npz_without_units_refused_by_the_cli_before_any_folder(tmp_path, capsys):
    _ev_npz(tmp_path / "mine.npz")
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "xyz",
            "schnet",
            "--out",
            str(out),
            "--quiet",
            f"data.task_args.path={tmp_path / 'mine.npz'}",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "declares no energy unit" in err[0]
    assert not out.exists()


def test_extxyz_is_read_in_ase_units_unless_declared(tmp_path):
    from ase.build import molecule
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    at = molecule("H2O")
    at.calc = SinglePointCalculator(at, energy=-2.5, forces=np.full((3, 3), 0.1))
    write(str(tmp_path / "w.xyz"), [at, at.copy()], format="extxyz")
    (ev,) = read_structures(tmp_path / "w.xyz", index="0")
    assert float(ev.energy) == pytest.approx(-2.5) and float(ev.forces[0, 0]) == pytest.approx(0.1)
    (kc,) = read_structures(tmp_path / "w.xyz", index="0", energy_unit="kcal/mol", forces_unit="kcal/mol/Å")
    assert float(kc.energy) == pytest.approx(-2.5 * KCAL_MOL_TO_EV)


def test_zero_shot_eval_of_the_multi_molecule_entry(tmp_path, capsys):
    code = main(["eval", "nequip.rmd17-multi", "--task", "rmd17-ethanol", "--preset", "tiny", "--json",
                 "--out", str(tmp_path / "e.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    import json

    rep = json.loads(out)
    assert rep["task"] == "rmd17-ethanol" and rep["n_test"] == 20
    assert 0 < rep["metrics"]["force_mae_meV_per_A"] < 5000  # a finite, physical-range error
    assert rep["equivariance"]["errors"]["all"] < 1e-9


def test_an_element_the_model_never_saw(caplog):
    """Refused zero-shot (the model names the element); accepted for fine-tuning with a warning
    and re-fitted reference energies."""
    from ase.build import bulk
    from symzoo.datasets.atoms import make_structure
    from torch_geometric.data import Batch

    model = symzoo.load_pretrained("nequip.rmd17-ethanol")
    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    rng = np.random.default_rng(0)
    items = [
        make_structure(
            cu.positions + rng.normal(0, 0.05, (4, 3)), cu.numbers, -3.0 - 0.1 * i, np.zeros((4, 3))
        )
        for i in range(6)
    ]
    with pytest.raises(InputError, match=r"Z=\[29\] were not in this model's training data"):
        model(Batch.from_data_list(items[:2]))
    task = symzoo.get_task("rmd17-ethanol")
    with caplog.at_level(logging.WARNING):
        task.prepare_model(model, items, pretrained=True)
    assert "never seen by the pretrained model" in caplog.text and "Z=[29]" in caplog.text
    assert model.known_species.nonzero().flatten().tolist() == [29]
    assert float(model(Batch.from_data_list(items[:1]))["energy"]) == pytest.approx(-3.25, abs=2.0)


def test_train_help_and_list_show_the_xyz_keys(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "xyz", "schnet", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for key in (
        "path",
        "test_path",
        "test_fraction",
        "energy_key",
        "forces_key",
        "energy_unit",
        "forces_unit",
    ):
        assert f"data.task_args.{key} = " in out, key
    assert main(["list", "tasks"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  xyz "))
    for key in ("test_path", "test_fraction", "energy_key", "forces_key", "energy_unit", "forces_unit"):
        assert key in line, key
