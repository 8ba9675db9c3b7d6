"""Optional training loggers beside the defaults (``trainer.logger=wandb|mlflow``).

Every run writes ``metrics.csv`` (Lightning's CSV logger) and, unless ``trainer.tensorboard=false``,
TensorBoard event files under ``tb/``.  ``trainer.logger`` adds Lightning's Weights & Biases or
MLflow logger (``"wandb"``, ``"mlflow"``, or both: ``"wandb,mlflow"``); each is an extra
(``pip install 'symzoo[wandb]'`` / ``'symzoo[mlflow]'``).  The names are checked, and the package
imported, by :func:`check_loggers` before the run folder exists, so a missing package is one line
naming its extra and nothing is written.  Their own settings come from their environment variables
(``WANDB_PROJECT``, ``WANDB_MODE=offline``, ``MLFLOW_TRACKING_URI``, ...); without
``MLFLOW_TRACKING_URI`` MLflow writes to ``RUN/mlruns`` (its file store, which MLflow >= 3.7 only
opens with ``MLFLOW_ALLOW_FILE_STORE=true``: set for the run when unset).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from symzoo.errors import SymzooError
from symzoo.extras import require

__all__ = ["LOGGERS", "check_loggers", "extra_loggers"]

#: ``trainer.logger`` name -> (extra, module it needs)
LOGGERS: dict[str, tuple[str, str]] = {"wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow")}


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    names = [str(x).strip() for part in items for x in str(part).split(",") if str(x).strip()]
    names = [n for n in names if n.lower() not in ("none", "csv", "tensorboard")]
    for n in names:
        if n not in LOGGERS:
            raise SymzooError(
                f"trainer.logger must be one of {', '.join(LOGGERS)} (or a comma-separated list; CSV and "
                f"TensorBoard are always on, see trainer.tensorboard), not {n!r}"
            )
    return list(dict.fromkeys(names))


def check_loggers(value: Any) -> list[str]:
    """Validate ``trainer.logger`` and import each logger's package (raises
    :class:`~symzoo.extras.MissingExtra` naming the extra); returns the logger names."""
    names = _names(value)
    for n in names:
        require(*LOGGERS[n])
    return names


def extra_loggers(value: Any, run: Path, run_name: str) -> list:
    """Lightning loggers for ``trainer.logger`` writing beside the run folder ``run``."""
    out: list = []
    for n in check_loggers(value):
        if n == "wandb":
            from lightning.pytorch.loggers import WandbLogger

            out.append(WandbLogger(name=run_name, save_dir=str(run)))
        elif n == "mlflow":
            from lightning.pytorch.loggers import MLFlowLogger

            if not os.environ.get("MLFLOW_TRACKING_URI"):
                # no tracking server: the records go to RUN/mlruns, MLflow's file store, which
                # MLflow >= 3.7 refuses unless this is set (a database store needs the full mlflow)
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

            out.append(
                MLFlowLogger(experiment_name="symzoo", run_name=run_name, save_dir=str(run / "mlruns"))
            )
    return out
