"""torch.hub from a plain clone, without symzoo installed (issue 10)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_hubconf_mapping_matches_pyproject():
    import tomllib

    src = (ROOT / "hubconf.py").read_text()
    mapping = eval(src.split("_PACKAGE_DIRS = ", 1)[1].split("\n}\n", 1)[0] + "}")  # the literal
    with open(ROOT / "pyproject.toml", "rb") as f:
        assert mapping == tomllib.load(f)["tool"]["setuptools"]["package-dir"]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The working tree's files as a user's clone (``git ls-files``: tracked files, as committed)."""
    import shutil

    dest = tmp_path_factory.mktemp("clone") / "symzoo"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / rel)
    return dest


def test_torch_hub_load_from_a_clone_without_pip_install(clone, tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        # forget the editable install of the development checkout: only the clone may be used
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()
                            and "editable" not in repr(f).lower()]
        sys.path[:] = [p for p in sys.path if "__editable__" not in p and p not in ("", {str(ROOT)!r})]
        import importlib.util
        assert importlib.util.find_spec("symzoo") is None, "symzoo is importable without the clone"
        import torch
        m = torch.hub.load({str(clone)!r}, "linear.nbody-charged", source="local", trust_repo=True)
        spec = importlib.util.spec_from_file_location("hubconf_listed", {str(clone / "hubconf.py")!r})
        hubconf = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(hubconf)
        names = [n for n in dir(hubconf) if callable(getattr(hubconf, n)) and not n.startswith("_")]
        assert "egnn.nbody-charged" in names and "egnn" in names and "nequip" in names, names
        assert not {{"Path", "create_model", "list_models", "hub_entrypoints"}} & set(names), names
        assert m.pretrained["name"] == "linear.nbody-charged"
        import symzoo, symzoo.models
        assert symzoo.__file__.startswith({str(clone)!r}), symzoo.__file__
        assert symzoo.models.__file__.startswith({str(clone / "models")!r}), symzoo.models.__file__
        a = torch.hub.load({str(clone)!r}, "egnn", source="local", hidden=16, layers=2)
        assert sum(p.numel() for p in a.parameters()) > 0 and not hasattr(a, "pretrained")
        b = torch.hub.load({str(clone)!r}, "egnn.nbody-charged", source="local", pretrained=False)
        assert type(b).__name__ == type(torch.hub.load({str(clone)!r}, "egnn", source="local")).__name__
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["SYMZOO_HOME"] = str(tmp_path / "home")
    env["TORCH_HOME"] = str(tmp_path / "torch")
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300
    )
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]
