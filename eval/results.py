"""The ``results.json`` document of a comparison: its format tag, strict-JSON numbers, reading; and
the file helpers every study writes with (:func:`readable`, :func:`save_png` for figures).

Both the runner (:mod:`symzoo.eval.compare`, which writes it) and the renderer
(:mod:`symzoo.eval.report`, which only reads it) import from here, so neither imports the other.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from symzoo.errors import SymzooError
from symzoo.paths import atomic_path

__all__ = ["RESULTS_FORMAT", "clean_json", "num", "load_results", "readable", "save_png"]

RESULTS_FORMAT = "symzoo-compare/1"


def clean_json(x):
    """Strict JSON: NaN -> ``null``, ±inf -> ``"inf"``/``"-inf"`` (read back with :func:`num`)."""
    if isinstance(x, dict):
        return {str(k): clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_json(v) for v in x]
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
    return x


def num(x) -> float:
    """A number from :func:`clean_json` output (``None`` -> NaN, ``"inf"`` -> inf)."""
    if x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def load_results(out: str | Path) -> dict:
    """Read ``DIR/results.json`` (a one-line error when it is missing or not a comparison)."""
    path = Path(out) / "results.json" if Path(out).is_dir() or not str(out).endswith(".json") else Path(out)
    if not path.is_file():
        raise SymzooError(f"{path} does not exist: not a `symzoo compare` output folder")
    try:
        res = json.loads(path.read_text())
    except ValueError as e:
        raise SymzooError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(res, dict) or res.get("format") != RESULTS_FORMAT:
        raise SymzooError(f"{path} is not a symzoo comparison (format {RESULTS_FORMAT!r})")
    return res


def readable(path: Path) -> Path:
    """Give a file written through ``atomic_path`` (mkstemp: mode 0600) the usual umask mode."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)
    return path


def save_png(fig, path: Path) -> None:
    """``fig`` (a matplotlib ``Figure``) as a PNG at ``path``: written to a temporary file renamed on
    success (never half-written), then given the usual umask mode."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    readable(path)
