"""The pretrained hub: registry, verified download, cache.

The registry (``zoo/registry.yaml``, shipped as package data ``symzoo.zoo``) is the one source of
truth for every pretrained entry.  An entry is named ``arch.task`` (timm's ``arch.tag``), e.g.
``egnn.nbody-charged``, and records how it was made (builder, constructor arguments, task,
preset, recipe, the exact command), what it achieves (metrics measured by ``symzoo eval`` with
units and split, measured equivariance error), what it is for (domain of validity, intended and
out-of-scope use, limitations), and where its files are (``source`` plus one sha256 per file).

Sources
    ``bundled``                       the files ship in ``zoo/`` (package data; keep them < 2 MB)
    ``https://host/dir``              ``<source>/<file name>`` is downloaded with ``urllib``
    ``hf://org/repo@revision``        ``huggingface_hub.hf_hub_download`` at a pinned revision
                                      (``hf://org/repo@rev/sub/dir`` for files in a folder)

Every file is checked against its sha256 *before* use, bundled files included: a mismatch is a
:class:`~symzoo.errors.SymzooError`, never a silent load.  Downloads go to ``<file>.partial`` in the
cache and are renamed only when complete and verified.  The cache is
``SYMZOO_HOME/pretrained/<name>/<sha256[:12] of the weights>/`` and holds ``model.safetensors``,
``model.json`` (and ``reference.safetensors``): a normal model folder that ``symzoo eval`` and
``symzoo.modelio.load_model`` read.  Offline (``SYMZOO_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``) nothing is
downloaded; bundled and cached entries still load.

Weights are safetensors and configs JSON: nothing downloaded is ever unpickled or ``torch.load``-ed.

Adding entries: train with the harness, then ``python scripts/build_zoo.py NAME`` exports the run
into ``zoo/``, measures the metrics with the evaluation suite and writes the registry entry.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import SymzooError, UnknownNameError, suggest
from .paths import home

__all__ = [
    "registry",
    "list_pretrained",
    "get_entry",
    "pretrained_path",
    "load_pretrained",
    "reference_batch",
    "register_pretrained",
    "is_offline",
    "cache_dir",
    "bundled_dir",
    "download_file",
    "hub_entrypoints",
    "REQUIRED_KEYS",
    "CACHE_NAMES",
]

log = logging.getLogger(__name__)

#: keys every registry entry must have
REQUIRED_KEYS = ("builder", "kwargs", "task", "preset", "recipe", "command", "source", "files", "license")
#: registry file role -> file name in the cache folder
CACHE_NAMES = {"weights": "model.safetensors", "config": "model.json", "reference": "reference.safetensors"}

_REGISTRY: dict[str, dict[str, Any]] | None = None
_EXTRA: dict[str, dict[str, Any]] = {}


# ----------------------------------------------------------------------------- registry
def bundled_dir() -> Path:
    """The folder of the bundled zoo files (package data ``symzoo.zoo``)."""
    return Path(str(resources.files("symzoo.zoo")))


def registry_file() -> Path:
    return bundled_dir() / "registry.yaml"


def _validate_entry(name: str, entry: dict) -> None:
    if not isinstance(entry, dict):
        raise SymzooError(f"pretrained registry: entry {name!r} must be a mapping")
    missing = [k for k in REQUIRED_KEYS if k not in entry]
    if missing:
        raise SymzooError(f"pretrained registry: entry {name!r} lacks {', '.join(missing)}")
    if "." not in name:
        raise SymzooError(f"pretrained registry: entry {name!r} must be named arch.task")
    files = entry["files"]
    for role in ("weights", "config"):
        if role not in files or not files[role].get("sha256") or not files[role].get("name"):
            raise SymzooError(f"pretrained registry: entry {name!r} needs files.{role} with name and sha256")
    for role in files:
        if role not in CACHE_NAMES:
            raise SymzooError(f"pretrained registry: entry {name!r} has unknown file role {role!r}")
    src = str(entry["source"])
    if not (src == "bundled" or src.startswith(("https://", "http://", "hf://"))):
        raise SymzooError(
            f"pretrained registry: entry {name!r} has source {src!r}; "
            "expected 'bundled', 'https://...' or 'hf://org/repo@revision'"
        )


def load_registry(
    path: str | Path | None = None, *, include_unbuilt: bool = False
) -> dict[str, dict[str, Any]]:
    """Read a registry YAML (default: the shipped ``zoo/registry.yaml``) -> ``{name: entry}``.

    Entries whose ``files`` are still empty (described but not built by ``scripts/build_zoo.py``)
    are left out unless ``include_unbuilt``."""
    import yaml

    path = Path(path) if path else registry_file()
    if not path.is_file():
        raise SymzooError(
            f"pretrained registry {path} does not exist (is the symzoo.zoo package data installed?)"
        )
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SymzooError(f"pretrained registry {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    entries = {}
    for name, entry in (doc.get("entries") or {}).items():
        if not isinstance(entry, dict) or entry.get("files"):
            _validate_entry(name, entry)
            entries[name] = entry
        elif include_unbuilt:
            entries[name] = entry
        else:
            log.debug("pretrained entry %s is not built yet (no files); skipped", name)
    return entries


def registry() -> dict[str, dict[str, Any]]:
    """All pretrained entries: the shipped registry plus :func:`register_pretrained` ones."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    return {**_REGISTRY, **_EXTRA}


def reload_registry() -> None:
    global _REGISTRY
    _REGISTRY = None


def register_pretrained(name: str, entry: dict[str, Any], *, overwrite: bool = False) -> None:
    """Add an entry at run time (e.g. weights hosted on your own server or Hugging Face)."""
    _validate_entry(name, entry)
    if not overwrite and name in registry():
        raise SymzooError(f"pretrained entry {name!r} already exists (pass overwrite=True)")
    _EXTRA[name] = dict(entry)


def list_pretrained(filter: str = "") -> list[str]:
    """Names of the pretrained entries (sorted), optionally containing ``filter``."""
    return sorted(n for n in registry() if filter in n)


def get_entry(name: str) -> dict[str, Any]:
    reg = registry()
    if name not in reg and ("/" in name or os.sep in name or name.startswith(".")):
        # `symzoo eval PATH` falls back to pretrained names: a path-like name is a missing folder
        raise UnknownNameError(
            f"{name} does not exist (not a run folder, and not a pretrained name; see `symzoo zoo list`)"
        )
    if name not in reg:
        raise UnknownNameError(
            f"unknown pretrained model {name!r}{suggest(name, reg)}; see `symzoo zoo list`"
        )
    return reg[name]


# ----------------------------------------------------------------------------- sources
def is_offline() -> bool:
    """``SYMZOO_OFFLINE`` or ``HF_HUB_OFFLINE`` set to a true value."""
    for var in ("SYMZOO_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


def cache_dir(name: str, entry: dict | None = None) -> Path:
    """``SYMZOO_HOME/pretrained/<name>/<sha256[:12] of the weights>``."""
    entry = entry or get_entry(name)
    return home() / "pretrained" / name / entry["files"]["weights"]["sha256"][:12]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _parse_hf(url: str) -> tuple[str, str, str]:
    """``hf://org/repo@revision/path/file`` -> (repo_id, revision, filename)."""
    rest = url[len("hf://") :]
    if "@" not in rest:
        raise SymzooError(f"{url}: Hugging Face sources must pin a revision: hf://org/repo@revision/file")
    repo_id, tail = rest.split("@", 1)
    if "/" not in tail or repo_id.count("/") != 1:
        raise SymzooError(f"{url}: expected hf://org/repo@revision/file")
    revision, filename = tail.split("/", 1)
    if not revision or not filename:
        raise SymzooError(f"{url}: expected hf://org/repo@revision/file")
    return repo_id, revision, filename


def _verify(path: Path, sha256: str, what: str) -> None:
    got = _sha256(path)
    if got != sha256:
        raise SymzooError(
            f"{what}: sha256 mismatch (expected {sha256[:16]}..., got {got[:16]}...); "
            "the file is corrupt or was tampered with, refusing to use it"
        )


def download_file(url: str, dest: str | Path, sha256: str, *, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` through ``dest.partial``; verify size and sha256, then rename.

    ``https://`` (and ``http://``) through ``urllib``; ``hf://org/repo@rev/file`` through
    ``huggingface_hub`` (imported here; a clear error if it is missing).  Raises
    :class:`SymzooError` offline, on network errors, truncated transfers and checksum mismatches;
    nothing is left at ``dest`` then.
    """
    dest = Path(dest)
    if is_offline():
        raise SymzooError(
            f"offline (SYMZOO_OFFLINE/HF_HUB_OFFLINE is set) and {dest.name} is not cached; "
            f"unset it or fetch {url} on a connected machine with `symzoo zoo download`"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f"{dest.name}.{os.getpid()}.partial")  # unique per process
    try:
        if url.startswith("hf://"):
            _download_hf(url, partial)
        elif url.startswith(("https://", "http://")):
            _download_http(url, partial, timeout)
        else:
            raise SymzooError(f"cannot download {url!r}: unsupported scheme")
        _verify(partial, sha256, f"download of {url}")
        os.replace(partial, dest)
    finally:
        if partial.exists():
            partial.unlink()
    log.info("downloaded %s -> %s", url, dest)
    return dest


def _download_http(url: str, partial: Path, timeout: float) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "symzoo"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(partial, "wb") as f:
            expected = resp.headers.get("Content-Length")
            got = 0
            while True:
                try:
                    block = resp.read(1 << 16)
                except (OSError, ValueError) as e:  # IncompleteRead, reset connection
                    raise SymzooError(
                        f"download of {url} failed after {got} bytes: {type(e).__name__}"
                    ) from None
                if not block:
                    break
                f.write(block)
                got += len(block)
    except urllib.error.HTTPError as e:
        raise SymzooError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise SymzooError(f"download of {url} failed: {e.reason}") from None
    except (TimeoutError, ConnectionError) as e:
        raise SymzooError(f"download of {url} failed: {type(e).__name__}: {e}") from None
    if expected is not None and int(expected) != got:
        raise SymzooError(f"download of {url} was truncated: got {got} of {expected} bytes")


def _download_hf(url: str, partial: Path) -> None:
    repo_id, revision, filename = _parse_hf(url)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise SymzooError(
            f"{url} is on the Hugging Face Hub: `pip install 'symzoo[hub]'` (or `pip install huggingface_hub`) to download it"
        ) from None
    try:
        local = hf_hub_download(repo_id=repo_id, filename=filename, revision=revision)
    except Exception as e:  # the hub raises many types; report one line
        first = str(e).splitlines()[0] if str(e) else ""
        raise SymzooError(f"download of {url} failed: {type(e).__name__}: {first}") from None
    shutil.copyfile(local, partial)


def _file_url(entry: dict, role: str) -> str:
    spec = entry["files"][role]
    if spec.get("url"):
        return str(spec["url"])
    return str(entry["source"]).rstrip("/") + "/" + spec["name"]


def pretrained_path(name: str, *, force: bool = False) -> Path:
    """A verified model folder (``model.safetensors`` + ``model.json``) for a pretrained entry.

    Bundled files are checked and copied into the cache; remote ones are downloaded.  A cached
    file whose sha256 no longer matches is discarded and fetched again (refused when offline).
    ``force=True`` fetches everything again.
    """
    entry = get_entry(name)
    folder = cache_dir(name, entry)
    try:
        return _materialize(name, entry, folder, force)
    except OSError as e:
        if entry["source"] != "bundled" or isinstance(e, SymzooError):
            raise
        # a read-only SYMZOO_HOME must not block the models that ship with symzoo: verify and use
        # a private copy in the temporary folder instead
        import tempfile

        uid = os.getuid() if hasattr(os, "getuid") else 0
        fallback = Path(tempfile.gettempdir()) / f"symzoo-{uid}" / folder.relative_to(home())
        log.warning("%s is not writable (%s); using %s", folder, type(e).__name__, fallback)
        return _materialize(name, entry, fallback, force)


def _materialize(name: str, entry: dict, folder: Path, force: bool) -> Path:
    for role, spec in entry["files"].items():
        dest = folder / CACHE_NAMES[role]
        sha = spec["sha256"]
        if dest.is_file() and not force:
            if _sha256(dest) == sha:
                continue
            log.warning("cached %s of %s does not match its sha256; fetching it again", dest.name, name)
            dest.unlink()
        if entry["source"] == "bundled":
            src = bundled_dir() / spec["name"]
            if not src.is_file():
                raise SymzooError(f"bundled file {src} of {name!r} is missing; reinstall symzoo")
            _verify(src, sha, f"bundled file {src.name} of {name!r}")
            folder.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(f"{dest.name}.{os.getpid()}.partial")  # unique per process
            try:
                shutil.copyfile(src, partial)
                _verify(partial, sha, f"copy of {src.name}")
                os.replace(partial, dest)
            finally:
                if partial.exists():
                    partial.unlink()
        else:
            download_file(_file_url(entry, role), dest, sha)
    return folder


def load_pretrained(name: str, *, device: str | None = None):
    """``symzoo.load_pretrained("egnn.nbody-charged")``: a verified, documented model in eval mode.

    The returned module has ``.meta`` (its ``model.json``) and ``.pretrained`` (the registry entry).
    """
    from .modelio import load_model

    folder = pretrained_path(name)
    model = load_model(folder)
    entry = get_entry(name)
    meta: dict[str, Any] = getattr(model, "meta", None) or {}
    if meta.get("builder") != entry["builder"]:
        raise SymzooError(
            f"{name}: model.json names builder {meta.get('builder')!r} but the "
            f"registry says {entry['builder']!r}"
        )
    model.pretrained = dict(entry, name=name)  # type: ignore[assignment]  # nn.Module attribute
    if device is not None:
        model = model.to(device)
    return model


def reference_batch(name: str):
    """The stored fixed input of an entry and its recorded output: ``(batch, {key: tensor})``."""
    from safetensors.torch import load_file
    from torch_geometric.data import Data

    entry = get_entry(name)
    if "reference" not in entry["files"]:
        raise SymzooError(f"{name} has no reference input/output")
    tensors = load_file(str(pretrained_path(name) / CACHE_NAMES["reference"]))
    inputs = {k[len("in.") :]: v for k, v in tensors.items() if k.startswith("in.")}
    outputs = {k[len("out.") :]: v for k, v in tensors.items() if k.startswith("out.")}
    batch = Data(**inputs)
    if "ptr" in inputs:
        batch.num_graphs = int(inputs["ptr"].numel() - 1)
    if "pos" in inputs:
        batch.num_nodes = int(inputs["pos"].shape[0])
    return batch, outputs


def hub_entrypoints() -> dict[str, Any]:
    """``{name: callable}`` for ``hubconf.py`` (``torch.hub.load(repo, "egnn.nbody-charged")``)."""

    def make(n: str):
        def entry(pretrained: bool = True, **kwargs):
            if pretrained:
                if kwargs:
                    raise SymzooError(f"{n}: pretrained weights fix the architecture; pass no kwargs")
                return load_pretrained(n)
            from .registry import create_model

            e = get_entry(n)
            return create_model(e["builder"], **{**e["kwargs"], **kwargs})

        entry.__name__ = n
        entry.__doc__ = f"{n}: {get_entry(n).get('summary', '')} (symzoo pretrained entry)"
        return entry

    return {n: make(n) for n in list_pretrained()}
