"""Plugins: the example plugin package (examples/plugin) installed with pip into a private folder,
listed, checked and compared with egnn through `compare --jobs 2` and a local Dask cluster; broken
plugins and plugins that would shadow a built-in are one-line errors.

The package is installed with ``pip install --no-deps --no-build-isolation --target DIR`` (about
2 s, nothing downloaded) rather than into the venv, so that the rest of the suite keeps seeing only
the built-in registries; subprocesses see it through ``PYTHONPATH`` as an installed package (its
entry points are read from its ``.dist-info``), this process through ``sys.path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import symzoo
from symzoo import plugins, registry
from symzoo.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plugin"
TASK = "nbody-charged"
#: the smallest grid test_compare.py and test_dask_executor.py run: 1 epoch, 20 samples, 1 seed
FAST = ["trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1"]
GRID = dict(
    models="egnn,example-radial",
    train_sizes="20",
    seeds=1,
    preset="tiny",
    threads=1,
    orbit=False,
    rollout_steps=2,
    rollout_trajectories=2,
    overrides=FAST,
)


def _snapshot():
    return (
        dict(registry._MODELS),
        dict(registry._TASKS),
        list(registry._TASK_FAMILIES),
        list(plugins._imported),
        list(plugins._paths),
        list(plugins._entries),
        plugins._entry_points_loaded,
        list(sys.path),
        os.environ.get(plugins.ENV_VAR),
    )


def _restore(snap) -> None:
    models, tasks, fams, imported, paths, entries, ep_loaded, path, env = snap
    registry._MODELS.clear()
    registry._MODELS.update(models)
    registry._TASKS.clear()
    registry._TASKS.update(tasks)
    registry._TASK_FAMILIES[:] = fams
    plugins._imported[:] = imported
    plugins._paths[:] = paths
    plugins._entries[:] = entries
    plugins._entry_points_loaded = ep_loaded
    sys.path[:] = path
    if env is None:
        os.environ.pop(plugins.ENV_VAR, None)
    else:
        os.environ[plugins.ENV_VAR] = env
    for name in [m for m in sys.modules if m.split(".")[0] in ("symzoo_example", "my_shadow", "my_broken")]:
        del sys.modules[name]


@pytest.fixture()
def clean_registry():
    """Whatever a test registers or imports as a plugin is gone afterwards."""
    registry._load_all()
    snap = _snapshot()
    yield
    _restore(snap)


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    """examples/plugin installed by pip (no dependencies, no download) into a private folder."""
    root = tmp_path_factory.mktemp("plugin")
    src = root / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(src)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (site / "symzoo_example" / "models.py").is_file()
    assert list(site.glob("symzoo_example_plugin-*.dist-info/entry_points.txt"))
    return site


@pytest.fixture()
def example_plugin(example_site, clean_registry):
    """The installed example plugin seen by this process (its entry points read again)."""
    sys.path.insert(0, str(example_site))
    plugins.load_plugins(refresh=True)
    yield example_site


def test_installed_plugin_is_listed_in_a_fresh_process(example_site, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(example_site), "OMP_NUM_THREADS": "1"}
    env.pop(plugins.ENV_VAR, None)
    proc = subprocess.run(
        [sys.executable, "-m", "symzoo", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    models = proc.stdout.split("tasks:")[0]
    line = next(x for x in models.splitlines() if x.strip().startswith("example-radial"))
    assert "[plugin symzoo-example-plugin]" in line and "equivariant" in line
    tasks = proc.stdout.split("tasks:")[1]
    assert any(x.strip().startswith("example-charged-4") for x in tasks.splitlines())
    assert "[plugin" not in next(x for x in models.splitlines() if x.strip().startswith("egnn "))


def test_example_plugin_passes_check_model(example_plugin, capsys, tmp_path):
    assert "example-radial" in symzoo.list_models() and "example-charged-4" in symzoo.list_tasks()
    entry = registry.model_entry("example-radial")
    assert entry.plugin and entry.plugin.startswith("symzoo-example-plugin:")
    assert entry.domain == "nbody" and "example-radial" in symzoo.list_models(domain="nbody")
    rc = main(["check-model", "example-radial", "--task", TASK, "--json", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = out.splitlines()
    for check in ("contract", "finite", "batch", "parameters", "forward-time", "forces"):
        assert sum(ln.split()[1:2] == [check] for ln in lines if ln.split()) == 1, check
    for factor in ("rotation", "reflection", "translation", "permutation", "all"):
        (ln,) = [x for x in lines if f"equivariance[{factor}]" in x]
        assert ln.startswith("PASS") and "float32" in ln and "float64" in ln
    assert lines[-1] == "verdict: PASS: all 8 checks passed"
    import json

    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["passed"] and doc["plugin"].startswith("symzoo-example-plugin")
    eq64 = [c["values"]["float64"] for c in doc["checks"] if c["name"].startswith("equivariance")]
    assert len(eq64) == 5 and max(eq64) < 1e-12
    # the plugin's own task (its data are simulated on first use; not needed here)
    task = symzoo.get_task("example-charged-4", preset="tiny")
    assert task.n_particles == 4 and registry.task_entry("example-charged-4").plugin
    assert list(task.group.factors) == list(symzoo.get_task(TASK).group.factors)


def _plugin_cells(doc: dict) -> None:
    assert doc["failed"] == {}, doc["failed"]
    assert sorted(c["key"] for c in doc["cells"]) == ["egnn/n20-s0", "example-radial/n20-s0"]
    by = {c["key"]: c for c in doc["cells"]}
    radial = by["example-radial/n20-s0"]
    assert radial["metrics"]["pos_mse"] > 0 and radial["equivariance"]["all"] < 1e-9
    assert doc["roles"]["example-radial"]["role"] == "equivariant"
    assert doc["roles"]["example-radial"]["plugin"].startswith("symzoo-example-plugin")
    assert doc["roles"]["egnn"]["plugin"] is None


def test_plugin_model_compared_with_egnn_in_two_worker_processes(example_plugin, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", TASK, *FAST, "--models", "egnn,example-radial", "--train-sizes", "20", "--seeds", "1",
            "--preset", "tiny", "--jobs", "2", "--threads", "1", "--no-orbit", "--rollout-steps", "2",
            "--rollout-trajectories", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "verdict:" in printed and "Plugin models (not part of symzoo): `example-radial`" in printed
    from symzoo.eval.compare import load_results

    doc = load_results(out)
    assert doc["invocations"][-1]["jobs"] == 2
    _plugin_cells(doc)
    md = (out / "report.md").read_text()
    assert "`example-radial` (plugin symzoo-example-plugin)" in md  # the Models table marks it
    assert md.index("## Verdict") < md.index("## Models")
    assert "**Single seed**" in md


def test_plugin_model_on_a_local_dask_cluster_and_a_leaderboard(example_plugin, tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")
    from symzoo.eval.compare import compare
    from symzoo.eval.leaderboard import run_leaderboard

    # worker threads in this process (worker processes are covered by --jobs 2 above and by
    # test_dask_executor.py; what a fresh process needs is test_worker_without_the_plugin_on_its_path)
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        out = tmp_path / "lb" / TASK  # where `symzoo leaderboard --out lb` keeps this task's grid
        doc = compare(TASK, out=out, executor=cluster.scheduler_address, render=False, **GRID)
        assert doc["invocations"][-1]["executor"].startswith("dask://127.0.0.1:")
        _plugin_cells(doc)
        # the plugin model in a leaderboard recipe: the grid above is reused, nothing retrained
        recipe = tmp_path / "r.yaml"
        recipe.write_text(
            "name: plugin\npreset: tiny\ntasks:\n  - {domain: nbody, task: nbody-charged, "
            "equivariant: example-radial, plain: egnn, train_sizes: [20], seeds: [0], orbit: false, "
            "rollout_steps: 2, rollout_trajectories: 2, "
            "overrides: [trainer.max_epochs=1, trainer.check_val_every_n_epoch=1]}\n"
        )
        lb = run_leaderboard(recipe, tmp_path / "lb", executor=cluster.scheduler_address, threads=1)
        # a model defined in the running script cannot reach a Dask worker: refused before writing
        from symzoo.models.baselines import linear

        from symzoo.errors import SymzooError

        def script_model(tau: float = 1.0):
            return linear(tau)

        script_model.__module__ = "__main__"
        symzoo.register_model("script-model")(script_model)
        with pytest.raises(SymzooError, match=r"defined in the running script \(__main__\)"):
            compare(
                TASK,
                out=tmp_path / "x",
                executor=cluster.scheduler_address,
                **{**GRID, "models": "script-model"},
            )
        assert not (tmp_path / "x").exists()
    finally:
        cluster.close()
    (row,) = lb["tasks"]
    assert row["cells_done"] == 2 and row["plugins"] == {"example-radial": "symzoo-example-plugin"}
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    verdict = md.split("## Verdict")[1].split("##")[0]
    assert "`nbody-charged` (N-body): `example-radial` (plugin symzoo-example-plugin)" in verdict
    assert "**Single seed**" in verdict


def test_worker_without_the_plugin_on_its_path_gets_it_from_the_job(example_plugin, tmp_path):
    """A Dask worker started elsewhere has neither the plugin's folder on sys.path nor its entry
    points: the job's plugin spec (worker_spec) is enough for it to build the plugin's model."""
    import json

    spec = plugins.worker_spec()
    assert str(example_plugin) in spec["paths"]
    assert ["model", "example-radial", "symzoo_example.models:radial_net"] == spec["entries"][0][:3]
    code = (
        "import json, sys\n"
        "from symzoo import plugins, registry\n"
        "assert 'example-radial' not in registry.list_models()\n"
        "plugins.activate(json.loads(sys.argv[1]))\n"
        "m = registry.create_model('example-radial', hidden=8)\n"
        "print(type(m).__name__, registry.model_entry('example-radial').plugin)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    env.pop(plugins.ENV_VAR, None)
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["RadialNet", "symzoo-example-plugin:symzoo_example.models:radial_net"]


# ----------------------------------------------------------------------------- errors
def _write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.py").write_text(text)


def test_broken_plugin_is_one_line_naming_it(tmp_path, monkeypatch, capsys, clean_registry):
    _write(tmp_path, "my_broken", "import numpy\nraise RuntimeError('no GPU driver found\\nsecond line')\n")
    monkeypatch.chdir(tmp_path)  # found in the current directory, as python -m finds it
    assert main(["--import", "my_broken", "list", "models"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "symzoo: error: plugin 'my_broken' failed to import: RuntimeError: no GPU driver found"
    # --import names the module for this process and its workers (SYMZOO_PLUGINS)
    assert os.environ[plugins.ENV_VAR] == "my_broken"
    del os.environ[plugins.ENV_VAR]  # (clean_registry restores it; not monkeypatch: it would put it back)
    assert main(["list", "models", "--import", "no_such_plugin_mod"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "plugin 'no_such_plugin_mod' failed to import" in err
    os.environ[plugins.ENV_VAR] = "my_broken"
    with pytest.raises(plugins.PluginError, match="my_broken"):
        plugins.load_plugins()
    del os.environ[plugins.ENV_VAR]
    # module:builder with a missing builder, or no module
    assert main(["check-model", "my_broken_x:build", "--task", TASK]) == 2
    assert "plugin 'my_broken_x' failed to import" in capsys.readouterr().err


def test_plugins_cannot_shadow_builtins(tmp_path, monkeypatch, capsys, clean_registry):
    _write(
        tmp_path,
        "my_shadow",
        "from symzoo import register_model\n\n@register_model('egnn')\ndef egnn():\n    return None\n",
    )
    monkeypatch.chdir(tmp_path)
    assert main(["--import", "my_shadow", "list", "models"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "registers model 'egnn', which is a built-in symzoo model" in err and "my_shadow" in err
    assert registry._MODELS["egnn"].plugin is None  # the built-in is untouched
    with pytest.raises(plugins.PluginError, match="built-in symzoo task"):
        registry.register_plugin_task("nbody-charged", lambda: None, source="x")
    with pytest.raises(plugins.PluginError, match="built-in"):  # a member of a built-in task family
        registry.register_plugin_task(symzoo.list_tasks("chain-pendulum")[0], lambda: None, source="x")


def test_module_builder_names_and_the_environment_variable(tmp_path, monkeypatch, capsys, clean_registry):
    _write(
        tmp_path,
        "my_models",
        "from symzoo.models.baselines import LinearDynamics\n\n"
        "def build(tau: float = 1.0):\n    return LinearDynamics(tau)\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model = symzoo.create_model("my_models:build", tau=0.5)
    assert model.builder_name == "my_models:build" and float(model.tau) == 0.5
    assert registry.model_entry("my_models:build+aug").plugin == "my_models"
    spec = plugins.worker_spec()
    assert "my_models" in spec["modules"] and str(tmp_path) in spec["paths"]
    # `symzoo train TASK module:builder`; the run folder rebuilds it from model.json
    run = tmp_path / "run"
    argv = ["train", TASK, "my_models:build", "model.args.tau=0.5", "--preset", "tiny", "--out", str(run),
            "--quiet", "trainer.max_epochs=1", "data.train_size=20", "trainer.tensorboard=false"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    from symzoo.modelio import load_model

    again = load_model(run)
    assert again.builder_name == "my_models:build" and (run / "eval.json").is_file()
    # SYMZOO_PLUGINS names modules for this process and its children
    _write(tmp_path, "my_named", "from symzoo import register_model\nfrom symzoo.models.baselines import linear\n"
           "register_model('my-linear')(lambda tau=1.0: linear(tau))\n")  # fmt: skip
    os.environ[plugins.ENV_VAR] = "my_named"  # restored by clean_registry
    plugins.load_plugins()
    assert "my-linear" in symzoo.list_models() and registry.model_entry("my-linear").plugin == "my_named"
