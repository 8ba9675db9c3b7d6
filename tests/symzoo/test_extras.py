"""Extras by domain: the core imports without them, and a missing one is named in one line.

The optional packages are hidden by putting ``None`` in ``sys.modules`` (what ``import`` reads as
"not installed"), so these tests run in the full test environment; the fresh core-only install is
measured in docs/getting-started.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from symzoo.cli import main
from symzoo.errors import SymzooError
from symzoo.extras import EXTRAS, MODULE_EXTRA, MissingExtra, extra_for_module, installed, require

ROOT = Path(__file__).resolve().parents[2]

#: every optional top-level module; the core must import and list without any of them
OPTIONAL = sorted(MODULE_EXTRA) + ["tensorboard"]


def _hide(monkeypatch, *names: str) -> None:
    for n in names:
        for m in [m for m in sys.modules if m == n or m.startswith(n + ".")]:
            monkeypatch.delitem(sys.modules, m)
        monkeypatch.setitem(sys.modules, n, None)


def _refused(tmp_path, capsys, task: str, model: str, *overrides: str) -> str:
    """Run ``symzoo train TASK MODEL --preset tiny``; assert exit 2, one error line and no run folder."""
    out = tmp_path / "run"
    rc = main(["train", task, model, "--preset", "tiny", "--quiet", "--out", str(out), *overrides])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.count("\n") == 0 and err.startswith("symzoo: error: "), err
    assert not out.exists()
    return err


def test_require_names_the_extra(monkeypatch):
    _hide(monkeypatch, "mujoco")
    with pytest.raises(
        MissingExtra,
        match=r"^mujoco \(robot simulators\) is not installed: pip install 'symzoo\[robotics\]'$",
    ) as e:
        require("robotics", "mujoco")
    assert isinstance(e.value, SymzooError) and e.value.extra == "robotics"
    assert require("atoms", "json").__name__ == "json"  # present modules are returned
    with pytest.raises(ValueError, match="unknown extra"):
        require("nosuchextra", "json")


def test_a_broken_dependency_inside_a_package_is_not_blamed_on_the_extra(monkeypatch, tmp_path):
    (tmp_path / "symzoo_fake_pkg.py").write_text("import symzoo_not_a_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="symzoo_not_a_module_anywhere"):
        require("atoms", "symzoo_fake_pkg")


def test_extra_for_module_maps_submodules():
    assert extra_for_module("escnn.group") == (
        ("robotics", "flows", "forecasting", "hamiltonian"),
        "finite symmetry groups",
    )
    assert extra_for_module("ase.io")[0] == ("atoms",)
    assert extra_for_module("huggingface_hub")[0] == ("hub",)
    assert extra_for_module("numpy") is None and extra_for_module(None) is None


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_extras_match_the_table():
    proj = _pyproject()["project"]
    extras = proj["optional-dependencies"]

    def names(reqs):
        import re

        return {re.split(r"[<>=!\[; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}

    for extra, pkgs in EXTRAS.items():
        assert extra in extras, extra
        assert {p.lower().replace("_", "-") for p in pkgs} <= names(extras[extra]), extra
    # the core stays light: no domain's simulator or group library, no hub client
    core = names(proj["dependencies"])
    for heavy in (
        "ase",
        "vesin",
        "mujoco",
        "dm-control",
        "escnn",
        "pin",
        "dysts",
        "huggingface-hub",
        "tensorboard",
    ):
        assert heavy not in core, heavy
    # [all] installs every domain and the docs (what make install / make test use)
    (meta,) = [r for r in extras["all"] if r.startswith("symzoo[")]
    assert set(meta[len("symzoo[") : -1].split(",")) == set(EXTRAS) - {
        "wandb",
        "mlflow",
        "robotics-pinocchio",
    }
    assert ".[all,test]" in (ROOT / "scripts" / "install.sh").read_text()


def test_import_symzoo_and_list_work_without_any_extra():
    """A fresh interpreter in which every optional package is missing (as after `pip install .`)."""
    code = (
        "import sys\n"
        f"for n in {OPTIONAL!r}: sys.modules[n] = None\n"
        "import symzoo\n"
        "from symzoo.cli import main\n"
        "assert symzoo.list_models() and symzoo.list_tasks() and symzoo.list_pretrained()\n"
        "rc = main(['list'])\n"
        "assert rc == 0, rc\n"
        "loaded = [n for n in " + repr(OPTIONAL) + " if sys.modules.get(n) is not None]\n"
        "assert not loaded, loaded\n"
        "print('CORE-OK')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "CORE-OK" in r.stdout and "nbody-charged" in r.stdout


def test_robot_task_without_robotics_extra_is_one_line_and_writes_nothing(monkeypatch, tmp_path, capsys):
    _hide(monkeypatch, "mujoco", "dm_control", "escnn")
    err = _refused(tmp_path, capsys, "robot-com", "mlp", "trainer.max_epochs=1")
    assert "pip install 'symzoo[robotics]'" in err, err


def test_atoms_task_without_atoms_extra_names_it(monkeypatch, tmp_path, capsys):
    _hide(monkeypatch, "ase", "vesin")
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))  # no cached copper data: EMT must run
    err = _refused(tmp_path, capsys, "emt-cu", "schnet", "trainer.max_epochs=1")
    assert "symzoo[atoms]" in err, err


@pytest.mark.parametrize("logger,extra", [("wandb", "wandb"), ("mlflow", "mlflow")])
def test_missing_logger_package_names_its_extra_before_any_folder(
    monkeypatch, tmp_path, capsys, logger, extra
):
    _hide(monkeypatch, logger)
    err = _refused(tmp_path, capsys, "nbody-charged", "linear", f"trainer.logger={logger}")
    assert f"pip install 'symzoo[{extra}]'" in err and f"trainer.logger={logger}" in err, err


@pytest.mark.parametrize(
    "task,extra", [("kolmogorov2d", "flows"), ("lorenz", "forecasting"), ("spring", "hamiltonian")]
)
def test_escnn_domains_name_every_extra_that_installs_it(monkeypatch, tmp_path, capsys, task, extra):
    _hide(monkeypatch, "escnn")
    err = _refused(tmp_path, capsys, task, "mlp", "trainer.max_epochs=1")
    assert f"[{extra}]" in err and "escnn" in err, err


def test_unknown_logger_is_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, "nbody-charged", "linear", "trainer.logger=comet")
    assert "trainer.logger must be one of wandb, mlflow" in err and "'comet'" in err


def test_installed_reads_distributions_and_refuses_unknown_extras(monkeypatch):
    from importlib import metadata

    import symzoo.extras as extras

    assert installed("atoms")  # the test environment has every domain's extra
    real = metadata.distribution

    def fake(name):
        if name == "example-robot-data":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", fake)
    assert not extras.installed("robotics-pinocchio")
    with pytest.raises(ValueError, match="unknown extra 'robotic'"):
        installed("robotic")


def test_logger_names_accept_lists_and_the_defaults():
    from symzoo.train.loggers import _names

    assert _names(None) == [] and _names("none") == [] and _names("tensorboard") == []
    assert _names("wandb,mlflow") == ["wandb", "mlflow"] and _names(["mlflow", "mlflow"]) == ["mlflow"]
