"""The pretrained hub: registry, bundled weights, sha256 verification, cache, offline mode, sources."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from symzoo.train.config import recipe_path

import symzoo
from symzoo import hub
from symzoo.errors import SymzooError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "egnn.nbody-charged",
    "gnn.nbody-charged",
    "linear.nbody-charged",
    "egnn.nbody-gravity",
    "hnn.spring",
    "node.spring",
    "ehnn.gravity-2",
    "schnet.rmd17-ethanol",
    "painn.rmd17-ethanol",
    "nequip.rmd17-ethanol",
    "nequip.rmd17-aspirin",
    "nequip.rmd17-malonaldehyde",
    "nequip.rmd17-uracil",
    "nequip.rmd17-toluene",
    "nequip.rmd17-naphthalene",
    "nequip.rmd17-salicylic",
}


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYMZOO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield
    hub._EXTRA.clear()


def test_registry_lists_the_entries_with_their_metadata():
    names = symzoo.list_pretrained()
    assert EXPECTED <= set(names)
    assert symzoo.list_pretrained("nbody-gravity") == ["egnn.nbody-gravity"]
    assert symzoo.list_pretrained("rmd17") == [
        "nequip.rmd17-aspirin",
        "nequip.rmd17-ethanol",
        "nequip.rmd17-malonaldehyde",
        "nequip.rmd17-multi",
        "nequip.rmd17-multi-all",
        "nequip.rmd17-naphthalene",
        "nequip.rmd17-salicylic",
        "nequip.rmd17-toluene",
        "nequip.rmd17-uracil",
        "painn.rmd17-ethanol",
        "painn.rmd17-multi",
        "schnet.rmd17-ethanol",
    ]
    for name in names:
        e = hub.get_entry(name)
        # ARCH.TASK, or ARCH.TASK-VARIANT for a second entry of one builder on one task with other
        # task arguments (nequip.rmd17-multi: ethanol held out; nequip.rmd17-multi-all: none held out)
        arch, task = name.split(".", 1)
        assert e["builder"] == arch and (e["task"] == task or task.startswith(e["task"] + "-")), name
        recipe = recipe_path(e["task"], arch)  # the task's own folder or its family recipe
        assert recipe is not None and e["recipe"] == f"configs/{recipe.parent.name}/{recipe.name}"
        assert e["command"].startswith(f"symzoo train {e['task']} {arch}")
        assert e["metrics"]["split"] == "test" and e["metrics"]["primary"] in e["metrics"]["test"]
        assert set(e["metrics"]["units"]) == set(e["metrics"]["test"])
        assert e["license"] and e["domain"] and e["conservation"] and e["intended_use"]
        assert isinstance(e["num_parameters"], int) and e["num_parameters"] >= 1
        assert len(e["files"]["weights"]["sha256"]) == 64
        if e["source"] == "bundled":
            assert e["files"]["weights"]["bytes"] < 2_000_000
        errs = e["equivariance"]["relative_error"]
        for factor in e["equivariance"]["claimed"]:  # what a model claims it measurably has
            assert errs[factor] < 1e-10, (name, factor, errs[factor])


@pytest.mark.parametrize("name", symzoo.list_pretrained())
def test_every_entry_reproduces_its_recorded_output(name):
    """Weights and code never drift apart: a fixed stored input gives the recorded output."""
    model = symzoo.load_pretrained(name)
    assert model.pretrained["name"] == name and not model.training
    assert sum(p.numel() for p in model.parameters()) == hub.get_entry(name)["num_parameters"]
    batch, expected = hub.reference_batch(name)
    task = symzoo.get_task(hub.get_entry(name)["task"])
    with torch.set_grad_enabled(task.needs_grad):
        out = model(batch)
    tol = hub.get_entry(name)["reference"]["tolerance"]
    assert expected and set(expected) <= set(out)
    for key, want in expected.items():
        t = (tol.get("per_output") or {}).get(key, tol)
        torch.testing.assert_close(out[key].detach(), want, rtol=t["rtol"], atol=t["atol"])
    first = hub.get_entry(name)["reference"]["first_values"]
    key = hub.get_entry(name)["reference"]["output"]
    assert torch.allclose(
        out[key].flatten()[: len(first)].double(),
        torch.tensor(first, dtype=torch.float64),
        rtol=1e-4,
        atol=1e-5,
    )


def test_pretrained_path_is_a_verified_model_folder_in_the_cache(tmp_path):
    folder = symzoo.pretrained_path("linear.nbody-charged")
    assert folder.is_relative_to(tmp_path / "home" / "pretrained" / "linear.nbody-charged")
    e = hub.get_entry("linear.nbody-charged")
    assert (
        hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
        == e["files"]["weights"]["sha256"]
    )
    assert (folder / "model.json").is_file() and not list(folder.glob("*.partial"))
    from symzoo.modelio import load_model

    assert load_model(folder).meta["pretrained_name"] == "linear.nbody-charged"


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError, match="did you mean 'egnn.nbody-charged'"):
        symzoo.load_pretrained("egnn.nbody-charge")


def _tampered_bundle(tmp_path, monkeypatch, name="linear.nbody-charged") -> Path:
    fake = tmp_path / "bundle"
    shutil.copytree(hub.bundled_dir(), fake, ignore=shutil.ignore_patterns("__pycache__"))
    w = fake / hub.get_entry(name)["files"]["weights"]["name"]
    data = bytearray(w.read_bytes())
    data[-1] ^= 0x01  # one flipped bit in the tensor data: still a valid safetensors file
    w.write_bytes(bytes(data))
    monkeypatch.setattr(hub, "bundled_dir", lambda: fake)
    return w


def test_tampered_bundled_weight_is_refused(tmp_path, monkeypatch):
    _tampered_bundle(tmp_path, monkeypatch)
    with pytest.raises(SymzooError, match="sha256 mismatch"):
        symzoo.load_pretrained("linear.nbody-charged")
    assert not (hub.cache_dir("linear.nbody-charged") / "model.safetensors").exists()


def test_tampered_cache_is_replaced_and_never_used(tmp_path, monkeypatch):
    folder = symzoo.pretrained_path("linear.nbody-charged")
    good = (folder / "model.safetensors").read_bytes()
    data = bytearray(good)
    data[-1] ^= 0x01
    (folder / "model.safetensors").write_bytes(bytes(data))
    symzoo.pretrained_path("linear.nbody-charged")  # bundled: fetched again from the verified bundle
    assert (folder / "model.safetensors").read_bytes() == good
    # with a tampered cache and a tampered bundle nothing is usable: refuse
    (folder / "model.safetensors").write_bytes(bytes(data))
    _tampered_bundle(tmp_path, monkeypatch)
    with pytest.raises(SymzooError, match="sha256 mismatch"):
        symzoo.pretrained_path("linear.nbody-charged")


# ----------------------------------------------------------------------------- remote sources
class _Handler(SimpleHTTPRequestHandler):
    requests: list[str] = []
    truncate: set[str] = set()

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        name = self.path.rsplit("/", 1)[-1]
        if name in self.truncate:
            body = (Path(self.directory) / "zoo" / name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving a copy of the linear entry's files."""
    root = tmp_path / "srv" / "zoo"
    root.mkdir(parents=True)
    e = hub.get_entry("linear.nbody-charged")
    for spec in e["files"].values():
        shutil.copyfile(hub.bundled_dir() / spec["name"], root / spec["name"])
    _Handler.requests = []
    _Handler.truncate = set()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root.parent)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/zoo"
    entry = {**e, "source": url}
    hub.register_pretrained("linear.remote-test", entry)
    yield root, url
    httpd.shutdown()
    httpd.server_close()


def _no_leftovers(name="linear.remote-test"):
    folder = hub.cache_dir(name)
    return not folder.exists() or not [
        p for p in folder.iterdir() if p.suffix in (".partial", ".safetensors")
    ]


def test_download_from_http_server_verifies_and_caches(server):
    model = symzoo.load_pretrained("linear.remote-test")
    ref = symzoo.load_pretrained("linear.nbody-charged")
    assert torch.equal(model.tau, ref.tau)
    assert len(_Handler.requests) == 3 and all(r.startswith("/zoo/") for r in _Handler.requests)
    symzoo.load_pretrained("linear.remote-test")  # cached: no new request
    assert len(_Handler.requests) == 3
    assert not list(hub.cache_dir("linear.remote-test").glob("*.partial"))


def test_corrupted_download_is_refused(server):
    root, _ = server
    w = root / hub.get_entry("linear.remote-test")["files"]["weights"]["name"]
    data = bytearray(w.read_bytes())
    data[-1] ^= 0x01
    w.write_bytes(bytes(data))
    with pytest.raises(SymzooError, match="sha256 mismatch"):
        symzoo.load_pretrained("linear.remote-test")
    assert _no_leftovers()


def test_truncated_transfer_is_refused(server):
    _Handler.truncate = {hub.get_entry("linear.remote-test")["files"]["weights"]["name"]}
    with pytest.raises(SymzooError, match="truncated|failed after"):
        symzoo.pretrained_path("linear.remote-test")
    assert _no_leftovers()


def test_missing_file_is_a_clear_error(server):
    root, _ = server
    (root / hub.get_entry("linear.remote-test")["files"]["weights"]["name"]).unlink()
    with pytest.raises(SymzooError, match="HTTP 404"):
        symzoo.pretrained_path("linear.remote-test")


@pytest.mark.parametrize("var", ["SYMZOO_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_request_never_touches_the_network(server, monkeypatch, var):
    monkeypatch.setenv(var, "1")
    with pytest.raises(SymzooError, match="offline"):
        symzoo.load_pretrained("linear.remote-test")
    assert _Handler.requests == []
    # bundled entries still load offline
    assert symzoo.load_pretrained("linear.nbody-charged").tau.numel() == 1
    # and so do entries already in the cache
    monkeypatch.delenv(var)
    symzoo.pretrained_path("linear.remote-test")
    monkeypatch.setenv(var, "1")
    assert symzoo.load_pretrained("linear.remote-test").tau.numel() == 1


# ----------------------------------------------------------------------------- Hugging Face
def test_hf_source_goes_through_huggingface_hub(monkeypatch, tmp_path):
    calls = []
    e = hub.get_entry("linear.nbody-charged")

    def fake_download(repo_id, filename, revision):
        calls.append((repo_id, filename, revision))
        return str(hub.bundled_dir() / filename.rsplit("/", 1)[-1])

    fake = type(sys)("huggingface_hub")
    fake.hf_hub_download = fake_download
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    hub.register_pretrained("linear.hf-test", {**e, "source": "hf://symzoo/zoo@0123abc/weights"})
    model = symzoo.load_pretrained("linear.hf-test")
    assert model.tau.numel() == 1
    assert ("symzoo/zoo", f"weights/{e['files']['weights']['name']}", "0123abc") in calls


def test_hf_source_without_huggingface_hub_or_revision(monkeypatch):
    e = hub.get_entry("linear.nbody-charged")
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    hub.register_pretrained("linear.hf-missing", {**e, "source": "hf://symzoo/zoo@v1"})
    with pytest.raises(SymzooError, match="pip install huggingface_hub"):
        symzoo.pretrained_path("linear.hf-missing")
    hub.register_pretrained("linear.hf-unpinned", {**e, "source": "hf://symzoo/zoo"})
    with pytest.raises(SymzooError, match="pin a revision"):
        symzoo.pretrained_path("linear.hf-unpinned")


def test_bad_registry_entries_are_rejected():
    e = hub.get_entry("linear.nbody-charged")
    with pytest.raises(SymzooError, match="source"):
        hub.register_pretrained("linear.x", {**e, "source": "ftp://x"})
    with pytest.raises(SymzooError, match="arch.task"):
        hub.register_pretrained("linear", e)
    with pytest.raises(SymzooError, match="already exists"):
        hub.register_pretrained("linear.nbody-charged", e)


# ----------------------------------------------------------------------------- entry points
def test_hubconf_exposes_the_registry_to_torch_hub():
    model = torch.hub.load(str(ROOT), "linear.nbody-charged", source="local", trust_repo=True)
    assert model.pretrained["name"] == "linear.nbody-charged"
    import importlib.util

    spec = importlib.util.spec_from_file_location("symzoo_hubconf_test", ROOT / "hubconf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert {n for n in dir(mod) if callable(getattr(mod, n)) and not n.startswith("_")} >= set(
        symzoo.list_pretrained()
    )


def test_import_symzoo_does_not_load_the_hub():
    code = "import sys, symzoo; assert 'symzoo.hub' not in sys.modules and 'yaml' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
