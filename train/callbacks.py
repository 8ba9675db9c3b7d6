"""Callbacks and plugins of the harness: atomic checkpoints and the DDP weight-agreement check."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

__all__ = ["AtomicCheckpointIO", "DDPWeightCheck"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes checkpoints to a temporary file and renames it: a killed run never leaves half a file."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(fd)
        try:
            torch.save(checkpoint, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def weights_checksum(module: torch.nn.Module) -> torch.Tensor:
    """Two float64 numbers summarising every parameter: sum and a position-weighted sum."""
    flat = torch.cat([p.detach().double().flatten().cpu() for p in module.parameters()])
    w = torch.arange(1, flat.numel() + 1, dtype=torch.float64) / flat.numel()
    return torch.stack([flat.sum(), (flat * w).sum()])


class DDPWeightCheck(L.Callback):
    """After training on several processes, gathers a checksum of the weights from every rank and
    writes ``ddp_check.json`` (rank 0); raises if the ranks disagree."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.world_size < 2:
            return
        local = weights_checksum(pl_module.model).to(pl_module.device)
        gathered = trainer.strategy.all_gather(local).cpu()  # [world, 2]
        if trainer.is_global_zero:
            values = gathered.tolist()
            agree = bool(torch.allclose(gathered, gathered[0].expand_as(gathered), rtol=0, atol=0))
            (self.run_dir / "ddp_check.json").write_text(
                json.dumps({"world_size": trainer.world_size, "checksums": values, "agree": agree}, indent=2)
            )
            if not agree:
                raise RuntimeError(f"DDP ranks ended with different weights: {values}")
