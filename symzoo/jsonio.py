"""Strict JSON for every file symzoo writes.

``json.dumps`` writes ``NaN`` and ``Infinity`` by default, which are not JSON (``jq``, browsers and
most other languages reject them).  symzoo's convention: a non-finite number is written as
``null`` and the document gets a top-level ``"nonfinite"`` list naming the dotted paths of the
values that were NaN or infinite (``["metrics.pos_mse", "equivariance.errors.rotation"]``), so
a reader can tell "missing" from "diverged".  Files are then dumped with ``allow_nan=False``.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["finite", "dumps"]


def finite(obj: Any, path: str = "", bad: list[str] | None = None) -> tuple[Any, list[str]]:
    """A copy of ``obj`` with every non-finite float replaced by ``None``; returns (copy, paths)."""
    bad = [] if bad is None else bad
    if isinstance(obj, float) and not math.isfinite(obj):
        bad.append(path or "<root>")
        return None, bad
    if isinstance(obj, dict):
        return {k: finite(v, f"{path}.{k}" if path else str(k), bad)[0] for k, v in obj.items()}, bad
    if isinstance(obj, (list, tuple)):
        return [finite(v, f"{path}[{i}]", bad)[0] for i, v in enumerate(obj)], bad
    return obj, bad


def dumps(obj: Any, *, indent: int | None = 2, **kwargs: Any) -> str:
    """``json.dumps`` that never writes NaN/Infinity (see module docstring)."""
    clean, bad = finite(obj)
    if bad and isinstance(clean, dict):
        clean["nonfinite"] = sorted(set(clean.get("nonfinite") or []) | set(bad))
    return json.dumps(clean, indent=indent, allow_nan=False, **kwargs)
