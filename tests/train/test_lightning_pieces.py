"""The harness uses Lightning's and torch's own pieces: LearningRateMonitor, hyper-parameters in the
TensorBoard log, torch's DistributedSampler with set_epoch (issue 10)."""

from __future__ import annotations

import csv

import torch


def test_tiny_run_logs_learning_rate_and_hparams(tmp_path):
    from symzoo.train.config import load_config
    from symzoo.train.run import train

    cfg = load_config(
        "nbody-charged",
        "linear",
        preset="tiny",
        overrides=["trainer.max_epochs=2", "trainer.progress_bar=false", "optim.lr=0.003"],
    )
    run = train(cfg, str(tmp_path / "run"), quiet=True)
    rows = list(csv.DictReader(open(run / "logs" / "metrics.csv")))
    lr_cols = [c for c in rows[0] if c.startswith("lr-")]
    assert lr_cols, list(rows[0])
    assert any(r[lr_cols[0]] and abs(float(r[lr_cols[0]]) - 0.003) < 1e-12 for r in rows)
    import yaml

    hp = yaml.safe_load((run / "tb" / "hparams.yaml").read_text())
    assert hp["optim.lr"] == 0.003 and hp["model.name"] == "linear" and hp["task"] == "nbody-charged"


def test_train_loader_is_a_distributed_sampler_whose_order_follows_the_epoch():
    from symzoo.train.module import SymzooDataModule

    import symzoo

    task = symzoo.get_task("nbody-charged")
    train, val, test = task.splits("tiny")
    dm = SymzooDataModule(task, train, val, test, batch_size=10, eval_batch_size=None, seed=3)
    loader = dm.train_dataloader()
    sampler = loader.sampler
    assert isinstance(sampler, torch.utils.data.DistributedSampler)
    sampler.set_epoch(0)
    a = list(iter(sampler))
    sampler.set_epoch(1)
    b = list(iter(sampler))
    sampler.set_epoch(0)
    assert a != b and list(iter(sampler)) == a and sorted(a) == list(range(len(train)))
    assert list(iter(dm.val_dataloader().sampler)) == list(range(len(val)))
