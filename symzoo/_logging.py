"""Logging and thread helpers of the core, used by every layer (datasets, train, eval, the CLI).

* :func:`quiet_third_party`: Lightning's banners and known-harmless warnings kept out of the output
  (the CLI, the harness and comparison workers call it; it lives here, not in the CLI, so that
  lower layers need not import the command line);
* :func:`single_thread`: a block run with one torch intra-op thread (simulations and rollouts on tiny
  tensors, where thread synchronisation dominates);
* :func:`quiet_worker`: what a worker process does first (launcher variables dropped, its torch
  threads set, third-party output quieted).

torch is imported inside the functions: ``import symzoo`` stays light.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

__all__ = ["quiet_third_party", "single_thread", "quiet_worker", "LAUNCH_ENV"]

#: launcher variables a worker inherits from its batch job (``srun``: ``SLURM_PROCID`` differs per
#: worker) that would make a cell's single-process training run believe it is one rank of a DDP job
#: (the harness and Lightning read them); a cell is never distributed, so workers drop them
LAUNCH_ENV = (
    "LOCAL_RANK",
    "RANK",
    "WORLD_SIZE",
    "NODE_RANK",
    "SLURM_PROCID",
    "SLURM_LOCALID",
    "SLURM_NTASKS",
)


def quiet_third_party() -> None:
    """Keep Lightning's banners and known-harmless warnings out of the command output."""
    import warnings

    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pat in (
        ".*LeafSpec.*",
        ".*log_every_n_steps.*",
        ".*does not have many workers.*",
        ".*litlogger.*",
        ".*Checkpoint directory.*exists and is not empty.*",
        ".*TensorBoard.*",
    ):
        warnings.filterwarnings("ignore", message=pat)


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run a block with one torch intra-op thread (restored afterwards).

    Simulations and rollouts work on tiny tensors, where thread synchronisation dominates: on a
    loaded machine one thread is 10-50x faster than several.
    """
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def quiet_worker(threads: int | None, env: tuple[str, ...] = LAUNCH_ENV) -> None:
    """A worker process's start: the launcher's variables ``env`` dropped, ``threads`` torch threads
    (unchanged when ``None``/0), third-party output quieted and warnings ignored."""
    import warnings

    for var in env:
        os.environ.pop(var, None)

    import torch

    if threads:
        torch.set_num_threads(int(threads))
    quiet_third_party()
    warnings.filterwarnings("ignore")
