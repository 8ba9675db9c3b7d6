"""Issue 24, items 3, 5, 6, 7 and 8 beyond the bad-input table: checkpoints that cannot be resumed
exactly, the Python API and the ASE calculator, a full disk while caching data, a model too large
for the machine, and no stray warning text around refusals and exports."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import symzoo
from symzoo.cli import main
from symzoo.errors import SymzooError

FAST = [
    "--preset",
    "tiny",
    "--quiet",
    "trainer.max_epochs=2",
    "trainer.tensorboard=false",
    "model.args.hidden=8",
    "model.args.layers=1",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    assert main(["train", "nbody-charged", "egnn", "--out", str(out), *FAST]) == 0
    return out


def _fail(argv, capsys) -> str:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("symzoo: error: "), err
    assert "Error:" not in err.replace("symzoo: error:", "") and "Exception" not in err, err
    return err


def _snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _tampered(run: Path, tmp: Path, name: str, edit) -> Path:
    dest = tmp / name
    shutil.copytree(run, dest)
    ck = dest / "checkpoints" / "last.ckpt"
    state = torch.load(ck, weights_only=True)
    edit(state)
    torch.save(state, ck)
    return dest


@pytest.mark.parametrize(
    "name,edit,msg",
    [
        ("epoch", lambda s: s.update(epoch=7), "is inconsistent: its epoch (7)"),
        ("negative", lambda s: s.update(epoch=-3), "is damaged"),
        ("string", lambda s: s.update(global_step="8"), "is damaged"),
        ("no-optimizer", lambda s: s.pop("optimizer_states"), "holds no optimizer state"),
        ("empty-optimizer", lambda s: s.update(optimizer_states=[]), "holds no optimizer state"),
        (
            "other-model",
            lambda s: s["state_dict"].pop(next(k for k in s["state_dict"] if k.startswith("model."))),
            "does not match the run's model",
        ),
    ],
)
def test_checkpoints_that_cannot_resume_exactly(run, tmp_path, capsys, name, edit, msg):
    bad = _tampered(run, tmp_path, name, edit)
    before = _snapshot(bad)
    err = _fail(["train", "--resume", bad, "--quiet", "trainer.max_epochs=3"], capsys)
    assert msg in err, err
    assert _snapshot(bad) == before  # nothing written (metrics, config, lock)


def test_resume_with_fewer_epochs_than_done(run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    before = _snapshot(copy)
    err = _fail(["train", "--resume", copy, "--quiet", "trainer.max_epochs=1"], capsys)
    assert "already trained 2 epochs; trainer.max_epochs=1 must be at least 2" in err
    assert _snapshot(copy) == before


def test_crafted_checkpoint_refusal_is_one_line_without_warnings(tmp_path, capfd):
    from symzoo.train.callbacks import load_checkpoint_safely

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "x": NotATensor()}, path)
    capfd.readouterr()
    with _no_warnings():
        with pytest.raises(SymzooError, match="holds objects other than tensors"):
            load_checkpoint_safely(path)
    out, err = capfd.readouterr()
    assert out == "" and err == "", err


class NotATensor:
    """An object a weights-only load refuses (its unpickling would import this module)."""


class _no_warnings:
    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings(record=True)
        self.record = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        assert not self.record, [str(w.message) for w in self.record]
        return False


def test_export_prints_no_torch_warning(tmp_path, capfd):
    from symzoo.export import export_forcefield, load_exported

    model = symzoo.create_model("schnet", channels=8, layers=1, cutoff=4.0)
    capfd.readouterr()
    out = export_forcefield(model, tmp_path / "ff.pt2")
    _, err = capfd.readouterr()
    assert ".partial" not in err and "Expect archive file" not in err, err
    assert load_exported(out)[1]["format"].startswith("symzoo-forcefield-export")
    assert not list(tmp_path.glob("*.partial"))


def test_full_disk_while_caching_data(tmp_path, monkeypatch):
    """A write that fails with EFBIG (a file-size limit, as a full disk fails with ENOSPC) gives one
    line and leaves no cache folder behind (was: OSError then ZipFile.__del__ noise)."""
    import resource

    from symzoo.paths import cached_npz

    target = tmp_path / "datasets" / "toy" / "tiny-abc" / "data.npz"
    target.parent.parent.mkdir(parents=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))  # Python ignores SIGXFSZ: EFBIG
    try:
        with pytest.raises(SymzooError, match="cannot write the toy cache") as e:
            cached_npz(target, lambda: {"a": np.zeros(10**6)}, what="toy")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert "SYMZOO_HOME" in str(e.value)
    assert not target.parent.exists(), list(target.parent.iterdir())
    # with room, the same call caches and reads back
    arrays = cached_npz(target, lambda: {"a": np.arange(3)}, what="toy")
    assert target.is_file() and arrays["a"].tolist() == [0, 1, 2]


def test_model_too_large_for_memory_is_refused_by_an_estimate(tmp_path, capsys):
    from symzoo.train.run import _check_size

    # the estimate alone first: should it ever stop refusing, the CLI call below would really
    # allocate ~400 GB, and the machine's out-of-memory killer would take the test run down
    with pytest.raises(SymzooError, match="billion parameters"):
        _check_size("egnn", {"hidden": 60000, "layers": 4})
    out = tmp_path / "out"
    err = _fail(
        [
            "train",
            "nbody-charged",
            "egnn",
            "--preset",
            "tiny",
            "--quiet",
            "--out",
            out,
            "model.args.hidden=60000",
        ],
        capsys,
    )
    assert "billion parameters" in err and "GiB available" in err, err
    assert not out.exists()


# ------------------------------------------------------------------ Python API and ASE (item 7)
def test_create_model_checks_types_against_the_signature():
    for bad in (1.5, True, "abc"):
        with pytest.raises(SymzooError, match=r"hidden must be of type int \(default 64\)"):
            symzoo.create_model("egnn", hidden=bad)
    assert symzoo.create_model("schnet", cutoff=4).cutoff == 4.0  # an int for a float is fine


def test_assert_equivariant_on_an_incompatible_task():
    from symzoo.errors import IncompatibleError
    from symzoo.testing import assert_equivariant

    with pytest.raises(IncompatibleError, match="does not fit task 'rmd17-ethanol'"):
        assert_equivariant(symzoo.create_model("egnn", hidden=8, layers=1), symzoo.get_task("rmd17-ethanol"))


def test_calculator_refusals():
    pytest.importorskip("ase")
    from ase import Atoms

    from symzoo.calculators import SymzooCalculator

    schnet = symzoo.create_model("schnet", channels=8, layers=1, cutoff=4.0)
    with pytest.raises(SymzooError, match="needs a symzoo energy model"):
        SymzooCalculator(torch.nn.Linear(3, 3))
    with pytest.raises(SymzooError, match="dtype must be torch.float32 or torch.float64"):
        SymzooCalculator(schnet, dtype=torch.int64)
    with pytest.raises(SymzooError, match="device must be"):
        SymzooCalculator(schnet, device="banana")
    if not torch.cuda.is_available():
        with pytest.raises(SymzooError, match="not available on this machine"):
            SymzooCalculator(schnet, device="cuda")
    # an mlp energy model reads no cell: a periodic structure is refused, a molecule works
    mlp = symzoo.create_model("mlp", target="energy", n_particles=2, hidden=8, layers=1)
    mol = Atoms("H2", positions=[[0, 0, 0], [0.9, 0, 0]])
    mol.calc = SymzooCalculator(mlp)
    assert np.isfinite(mol.get_potential_energy())
    crystal = Atoms("H2", positions=[[0, 0, 0], [0.9, 0, 0]], cell=[3, 3, 3], pbc=True)
    crystal.calc = SymzooCalculator(mlp)
    with pytest.raises(SymzooError, match="does not read a periodic cell"):
        crystal.get_potential_energy()
    crystal.calc = SymzooCalculator(schnet)  # a model that reads the cell
    assert np.isfinite(crystal.get_potential_energy())


def test_report_refuses_string_metrics(tmp_path, capsys):
    d = tmp_path / "cmp"
    d.mkdir()
    cells = [
        {"model": "egnn", "train_size": 20, "seed": 0, "study": "curve", "metrics": {"pos_mse": 0.1}},
        {
            "model": "egnn",
            "train_size": 20,
            "seed": 1,
            "study": "curve",
            "metrics_group": {"pos_mse": [1]},
            "metrics": {},
        },
    ]
    (d / "results.json").write_text(json.dumps({"format": "symzoo-compare/1", "cells": cells}))
    err = _fail(["report", d], capsys)
    assert "cell #2" in err and "metrics_group.pos_mse is [1], not a number" in err
    assert sorted(p.name for p in d.iterdir()) == ["results.json"]
