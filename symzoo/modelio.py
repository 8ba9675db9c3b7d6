"""Saving and loading models as ``model.safetensors`` + ``model.json`` (never pickle).

``model.json`` records the builder name and constructor arguments, the task, its symmetry and
units, and the symzoo version, which is all that is needed to rebuild the module, and
``weights_sha256``: the checksum of ``model.safetensors``, checked by :func:`load_model` (one flipped
byte in a run folder's weights is refused, as the zoo's downloads are).  Weights with NaN or inf
values are refused on load (``symzoo eval`` and ``symzoo export`` never report or export them).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from . import jsonio
from .errors import SymzooError
from .paths import atomic_path

__all__ = ["save_model", "load_model", "model_meta", "read_model_meta", "check_weights"]


def save_model(
    model: torch.nn.Module, directory: str | Path, meta: dict[str, Any], *, stem: str = "model"
) -> tuple[Path, Path]:
    """Write ``<stem>.safetensors`` and ``<stem>.json`` atomically; returns both paths."""
    from safetensors.torch import save

    from ._version import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    info = {
        "builder": getattr(model, "builder_name", None),
        "kwargs": getattr(model, "builder_kwargs", {}),
        "symmetry_claimed": sorted(getattr(model, "symmetry", ())),
        "irreps_in": getattr(model, "irreps_in", {}),
        "irreps_out": getattr(model, "irreps_out", {}),
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
        "symzoo_version": __version__,
        **meta,
    }
    if info["builder"] is None:
        raise ValueError("save_model needs a model built by symzoo.create_model (it has no builder_name)")
    st, js = directory / f"{stem}.safetensors", directory / f"{stem}.json"
    blob = _sorted_header(save(state, metadata={"format": "pt", "builder": info["builder"]}))
    info["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    with atomic_path(st) as tmp:
        Path(tmp).write_bytes(blob)
    with atomic_path(js) as tmp:
        Path(tmp).write_text(jsonio.dumps(json.loads(json.dumps(info, default=str)), indent=2))
    return st, js


def _sorted_header(blob: bytes) -> bytes:
    """The safetensors bytes with the JSON header's keys sorted (``__metadata__`` included).

    safetensors serialises the metadata from a hash map whose order changes between calls, so the
    same weights would get different sha256 sums.  Sorting changes neither the header's length nor
    the data offsets."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    if len(text) > n:  # never happens with serde_json's compact output; keep the original then
        return blob
    return blob[:8] + text + b" " * (n - len(text)) + blob[8 + n :]


def read_model_meta(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    js = path / "model.json" if path.is_dir() else path.with_suffix(".json")
    if not js.is_file():
        raise SymzooError(f"{js} does not exist: not a symzoo run folder or model file")
    try:
        meta = json.loads(js.read_text())
    except json.JSONDecodeError as e:
        raise SymzooError(f"{js} is not valid JSON ({e.msg} at line {e.lineno})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SymzooError(f"{js} cannot be read ({type(e).__name__})") from None
    if not isinstance(meta, dict):
        raise SymzooError(f"{js} is not a symzoo model description (a JSON object with 'builder', 'kwargs')")
    if not isinstance(meta.get("builder"), str) or not isinstance(meta.get("kwargs", {}), dict):
        raise SymzooError(f"{js}: 'builder' must be a model name and 'kwargs' an object of its arguments")
    return meta


def check_weights(state: dict, where: str | Path) -> None:
    """Refuse weights with NaN or inf values (a diverged or corrupted model): one line naming the
    first such tensor."""
    for k, v in state.items():
        if torch.is_tensor(v) and torch.is_floating_point(v) and not bool(torch.isfinite(v).all()):
            n = int((~torch.isfinite(v)).sum())
            raise SymzooError(
                f"{where}: tensor {k!r} holds {n} NaN/inf value(s); the model diverged or the file is "
                "damaged (nothing evaluated or exported)"
            )


def model_meta(model: torch.nn.Module) -> dict[str, Any]:
    """The ``model.json`` content a loaded model carries (``model.meta``, set by :func:`load_model`;
    ``{}`` for a model built in this process)."""
    meta = getattr(model, "meta", None)
    return meta if isinstance(meta, dict) else {}


def load_model(path: str | Path, *, weights: str | Path | None = None) -> torch.nn.Module:
    """Rebuild a model from a run folder (or ``x.json`` beside ``x.safetensors``) and load its weights."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .registry import create_model

    path = Path(path)
    meta = read_model_meta(path)
    st = (
        Path(weights)
        if weights
        else (path / "model.safetensors" if path.is_dir() else path.with_suffix(".safetensors"))
    )
    if not st.is_file():
        raise SymzooError(f"{st} does not exist")
    want = meta.get("weights_sha256")
    if want is not None and not weights:
        from .paths import sha256_file

        got = sha256_file(st)
        if got != want:
            raise SymzooError(
                f"{st} does not match the sha256 recorded in model.json ({str(want)[:12]}..., file "
                f"{got[:12]}...): the weights were corrupted or edited"
            )
    try:
        state = load_file(str(st))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise SymzooError(f"{st} is corrupt or not a safetensors file ({str(e).splitlines()[0]})") from None
    check_weights(state, st)
    try:
        model = create_model(meta["builder"], **meta.get("kwargs", {}))
    except SymzooError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise SymzooError(
            f"{path}: cannot rebuild {meta.get('builder')!r} from model.json: {first}"
        ) from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise SymzooError(
            f"{st} does not match builder {meta['builder']!r}: {str(e).splitlines()[1:2]}"
        ) from None
    model.meta = meta
    model.eval()
    return model
