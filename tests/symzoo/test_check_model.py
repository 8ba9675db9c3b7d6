"""`symzoo check-model`: one verdict line per check, a non-zero exit when a check fails.

The models under test are written here as a user would write them in a file of their own
(imported with ``--import`` or named ``module:builder``): one that claims E(3) x S_n but adds a
fixed direction, one that returns NaN, one that reads a field the task does not have, and a force
field whose forces are not -dE/dpos.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import symzoo
from symzoo import plugins, registry
from symzoo.cli import main
from symzoo.testing import check_model

pytest_plugins = ["pytester"]

USER_MODELS = '''
import torch
from torch import nn


class Drifting(nn.Module):
    """Claims the whole Euclidean group, but pushes every particle along +x."""

    symmetry = frozenset({"rotation", "reflection", "translation", "permutation"})
    irreps_in = {"pos": "1o", "vel": "1o"}
    irreps_out = {"pos": "1o"}

    def __init__(self, push=0.1):
        super().__init__()
        self.tau = nn.Parameter(torch.tensor(1.0))
        self.push = push

    def forward(self, batch):
        shift = torch.zeros_like(batch.pos)
        shift[:, 0] = self.push
        return {"pos": batch.pos + self.tau * batch.vel + shift}


class NotANumber(Drifting):
    def forward(self, batch):
        return {"pos": batch.pos * float("nan")}


class NeedsSpecies(Drifting):
    irreps_in = {"pos": "1o", "z": "0e"}

    def forward(self, batch):
        return {"pos": batch.pos + batch.z[:, None]}


def drifting(push: float = 0.1):
    return Drifting(push)


def nan_model():
    return NotANumber()


def needs_species():
    return NeedsSpecies()


def wrong_forces():
    """schnet, with forces of the wrong sign."""
    import symzoo

    inner = symzoo.create_model("schnet", channels=8, layers=1, num_basis=8)

    class Flipped(nn.Module):
        symmetry = inner.symmetry
        irreps_in = inner.irreps_in
        optional_inputs = getattr(inner, "optional_inputs", frozenset())
        irreps_out = inner.irreps_out
        cutoff = inner.cutoff

        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, batch):
            out = self.inner(batch)
            return {"energy": out["energy"], "forces": -out["forces"]}

    return Flipped()
'''


@pytest.fixture()
def user_models(tmp_path, monkeypatch):
    registry._load_all()
    saved = dict(registry._MODELS), list(plugins._imported), list(plugins._paths)
    (tmp_path / "user_models.py").write_text(USER_MODELS)
    monkeypatch.chdir(tmp_path)  # --import finds modules in the current directory
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    registry._MODELS.clear()
    registry._MODELS.update(saved[0])
    plugins._imported[:], plugins._paths[:] = saved[1], saved[2]
    sys.modules.pop("user_models", None)


def _lines(out: str) -> dict[str, str]:
    return {ln.split()[1]: ln for ln in out.splitlines() if ln[:4] in ("PASS", "FAIL", "INFO", "SKIP")}


def test_broken_equivariance_fails_with_a_non_zero_exit(user_models, capsys):
    rc = main(["check-model", "user_models:drifting", "push=0.05", "--task", "nbody-charged"])
    out = capsys.readouterr().out
    assert rc == 1, out
    lines = _lines(out)
    for f in ("rotation", "reflection", "all"):
        assert (
            lines[f"equivariance[{f}]"].startswith("FAIL")
            and "claimed but broken" in lines[f"equivariance[{f}]"]
        )
    # the same push for every particle commutes with translations and with relabelling them
    assert lines["equivariance[translation]"].startswith("PASS")
    assert lines["equivariance[permutation]"].startswith("PASS")
    assert lines["contract"].startswith("PASS") and lines["finite"].startswith("PASS")
    assert lines["parameters"] == "INFO  parameters                 1 (1 trainable)"
    verdict = out.strip().splitlines()[-1]
    assert verdict.startswith("verdict: FAIL: ") and "equivariance[rotation]" in verdict
    # with no push it is the exactly equivariant x + tau v, and passes
    assert main(["check-model", "user_models:drifting", "push=0", "--task", "nbody-charged"]) == 0
    assert capsys.readouterr().out.strip().endswith("verdict: PASS: all 8 checks passed")


def test_nan_and_incompatible_models_fail(user_models):
    task = symzoo.get_task("nbody-charged")
    res = {r.name: r for r in check_model(symzoo.create_model("user_models:nan_model"), task)}
    assert res["finite"].failed and "NaN/Inf in pos (float32), pos (float64)" in res["finite"].detail
    assert res["equivariance[rotation]"].failed and "nan" in res["equivariance[rotation]"].detail
    res = {r.name: r for r in check_model(symzoo.create_model("user_models:needs_species"), task)}
    assert res["contract"].failed and "needs input field(s) z" in res["contract"].detail
    assert res["finite"].failed and "forward failed" in res["finite"].detail
    assert res["equivariance"].status == "SKIP"


def test_energy_model_checks_forces_and_cutoff(user_models):
    task = symzoo.get_task("rmd17-ethanol")
    torch.manual_seed(0)
    good = symzoo.create_model("schnet", channels=8, layers=1, num_basis=8)
    res = {r.name: r for r in check_model(good, task, timing_repeats=1)}
    assert res["forces"].status == "PASS" and res["cutoff"].status == "PASS"
    assert not any(r.failed for r in res.values())
    res = {
        r.name: r
        for r in check_model(symzoo.create_model("user_models:wrong_forces"), task, timing_repeats=1)
    }
    assert res["forces"].failed and "forces != -dE/dpos" in res["forces"].detail
    assert res["equivariance[all]"].status == "PASS"  # flipped forces are still equivariant


def test_finite_group_checks_every_element():
    task = symzoo.get_task("lorenz")
    model = symzoo.create_model("eqmlp", **task.model_defaults("eqmlp", task.splits("tiny")[0]))
    res = {r.name: r for r in check_model(model, task, timing_repeats=1)}
    k = len(task.group.subgroup(None))
    assert (
        res["equivariance[all]"].status == "PASS"
        and f"on all {k} elements" in res["equivariance[all]"].detail
    )
    mlp = symzoo.create_model("mlp", **task.model_defaults("mlp", task.splits("tiny")[0]))
    res = {r.name: r for r in check_model(mlp, task, timing_repeats=1)}
    (f,) = task.group.factors
    assert res[f"equivariance[{f}]"].status == "INFO" and "not claimed" in res[f"equivariance[{f}]"].detail


def test_bad_input_is_one_line(capsys):
    assert main(["check-model", "egnn", "--task", "nbody-charged", "hiden=3"]) == 2
    assert "has no argument 'hiden'" in capsys.readouterr().err
    assert main(["check-model", "egnn+aug", "--task", "nbody-charged"]) == 2
    assert "+aug" in capsys.readouterr().err
    assert main(["check-model", "egnn", "--task", "nbody-charge"]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_pytest_plugin_fixture(pytester, monkeypatch):
    """The pytest11 plugin gives a user's test suite the checks as a fixture."""
    pytester.makepyfile(
        test_user="""
        import symzoo

        def test_mine(symzoo_check_model):
            results = symzoo_check_model("linear", "nbody-charged")
            assert any(r.name == "equivariance[all]" for r in results)

        def test_broken(symzoo_check_model):
            symzoo_check_model("user_models:drifting", "nbody-charged")
        """
    )
    (Path(pytester.path) / "user_models.py").write_text(USER_MODELS)
    # loaded by name, whether or not the pytest11 entry point is installed in this environment;
    # in this process (pytester restores sys.modules and sys.path), the registry restored below
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry._load_all()
    saved = dict(registry._MODELS), list(plugins._imported), list(plugins._paths)
    try:
        res = pytester.runpytest_inprocess("-p", "symzoo.pytest_plugin", "-q", "-p", "no:cacheprovider")
    finally:
        registry._MODELS.clear()
        registry._MODELS.update(saved[0])
        plugins._imported[:], plugins._paths[:] = saved[1], saved[2]
    res.assert_outcomes(passed=1, failed=1)
    text = res.stdout.str()
    assert "user_models:drifting on nbody-charged failed 3 check(s): equivariance[rotation]: claimed" in text
