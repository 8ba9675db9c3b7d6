"""Where symzoo keeps things: ``SYMZOO_HOME`` (default ``~/.cache/symzoo``) and atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["home", "dataset_cache_dir", "atomic_path", "atomic_write_text", "config_hash", "sha256_file"]


def home() -> Path:
    """The symzoo cache root: ``$SYMZOO_HOME`` or ``~/.cache/symzoo``."""
    return Path(os.environ.get("SYMZOO_HOME", Path.home() / ".cache" / "symzoo")).expanduser()


def config_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def dataset_cache_dir(task: str, preset: str, params: dict) -> Path:
    """``SYMZOO_HOME/datasets/<task>/<preset>-<hash of the generation parameters>``."""
    return home() / "datasets" / task / f"{preset}-{config_hash(params)}"


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the pid in the name lets a later writer remove what a killed one left (zero-byte or partial)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if os.path.exists(tmp):
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, path)
        _clean_stale_partials(path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _clean_stale_partials(path: Path) -> None:
    """Remove ``.<name>.<pid>.*.partial`` files beside ``path`` whose writer process is gone."""
    import glob
    import time

    prefix = f".{path.name}."
    for p in path.parent.glob(f"{glob.escape(prefix)}*.partial"):
        token = p.name[len(prefix) :].split(".", 1)[0]
        try:
            if token.isdigit():
                try:
                    os.kill(int(token), 0)
                    continue  # its writer is still running
                except ProcessLookupError:
                    pass
                except PermissionError:
                    continue
            elif time.time() - p.stat().st_mtime < 3600:
                continue  # an older-style name: only once it is clearly abandoned
            p.unlink()
        except OSError:
            pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def cached_npz(path: str | os.PathLike, make, *, what: str = "dataset") -> dict:
    """Arrays from the ``.npz`` cache at ``path``; on a miss (or a corrupt file) ``make()`` builds the
    dict of arrays, which is written atomically and returned."""
    import logging

    import numpy as np

    log = logging.getLogger(__name__)
    path = Path(path)
    if path.exists():
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except Exception as e:  # corrupt cache: regenerate
            log.warning("regenerating corrupt cache %s (%s)", path, e)
    log.info("generating %s into %s", what, path.parent)
    arrays = make()
    import io

    buf = io.BytesIO()  # serialised in memory: a failed write leaves no half-closed zip behind
    np.savez(buf, **arrays)
    existed = path.parent.exists()
    try:
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(buf.getvalue())
    except OSError as e:
        if not existed:  # leave no empty cache folder behind
            try:
                path.parent.rmdir()
            except OSError:
                pass
        from .errors import SymzooError

        raise SymzooError(
            f"cannot write the {what} cache under {path.parent} ({e.strerror or type(e).__name__}); "
            "free some space or point SYMZOO_HOME at a writable disk with room"
        ) from None
    return arrays
