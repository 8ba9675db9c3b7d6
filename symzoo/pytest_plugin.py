"""symzoo's model checks in a user's own pytest suite (entry point ``pytest11``: loaded by pytest
wherever symzoo is installed; or ``pytest -p symzoo.pytest_plugin``).

Fixture ``symzoo_check_model(model, task, **options)``: runs :func:`symzoo.testing.check_model` (the
checks of ``symzoo check-model``) and fails the test with one line per failed check; returns the
:class:`~symzoo.testing.CheckResult` list.  ``model`` is a name (a plugin's, or ``module:builder``)
or an ``nn.Module``; ``task`` a task name or object::

    def test_my_net(symzoo_check_model):
        symzoo_check_model("my_pkg.models:build_net", "nbody-charged", model_kwargs={"hidden": 16})

Options ``--symzoo-import MODULE`` (repeatable) and the ini key ``symzoo_plugins`` (one module per
line) import plugin modules, as ``symzoo --import`` does.  For a whole battery as test methods,
subclass the mixins :class:`symzoo.testing.ModelTests` / :class:`~symzoo.testing.EnergyModelTests`.

This module imports nothing heavy at pytest start-up: symzoo and torch load when a fixture runs.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["symzoo_check_model"]


def pytest_addoption(parser) -> None:
    group = parser.getgroup("symzoo", "symzoo model checks")
    group.addoption(
        "--symzoo-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE as a symzoo plugin (registers models/tasks); repeatable",
    )
    parser.addini("symzoo_plugins", "modules to import as symzoo plugins (one per line)", type="linelist")


def pytest_configure(config) -> None:
    mods = list(config.getoption("symzoo_import", default=None) or []) + list(
        config.getini("symzoo_plugins") or []
    )
    if mods:
        from symzoo.plugins import add_plugin_modules

        add_plugin_modules(mods)  # imported with the registries, on first use


@pytest.fixture
def symzoo_check_model():
    """``check(model, task, *, preset="tiny", model_kwargs=None, strict=True, **check_options)``."""

    def check(
        model: Any,
        task: Any,
        *,
        preset: str = "tiny",
        model_kwargs: dict | None = None,
        strict: bool = True,
        **options: Any,
    ):
        import torch

        import symzoo
        from symzoo.registry import model_entry
        from symzoo.testing import check_model

        if isinstance(task, str):
            task = symzoo.get_task(task, preset=preset)
        if isinstance(model, str):
            entry = model_entry(model)
            train = task.splits(preset, seed=0)[0]
            torch.manual_seed(int(options.get("seed", 0)))
            model = symzoo.create_model(
                model, **{**task.model_defaults(entry.name, train), **(model_kwargs or {})}
            )
        name = getattr(model, "builder_name", None) or type(model).__name__
        results = check_model(model, task, **options)
        failed = [r for r in results if r.failed]
        if failed and strict:
            pytest.fail(
                f"{name} on {task.name} failed {len(failed)} check(s): "
                + "; ".join(f"{r.name}: {r.detail}" for r in failed),
                pytrace=False,
            )
        return results

    return check
