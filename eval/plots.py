"""Writing figures: PNG files written atomically with the usual file mode.

The plots of a comparison (:mod:`symzoo.eval.report`) and of a breaking sweep
(:mod:`symzoo.eval.breaking`) are saved through :func:`save_png`; it sits below both
(``results < plots < breaking < report``), so the breaking sweep does not reach into the report.
"""

from __future__ import annotations

from pathlib import Path

from symzoo.paths import atomic_path

from .results import readable

__all__ = ["save_png"]


def save_png(fig, path: Path) -> None:
    """``fig`` (a matplotlib ``Figure``) as a PNG at ``path``: written to a temporary file renamed on
    success (never half-written), then given the usual umask mode."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    readable(path)
