"""EGNN protocol on charged N-body (``paper`` preset: 3000/2000/2000), not part of the tests.

Trains ``egnn``, ``gnn`` and ``linear`` with the harness on the published schedule (Adam, batch 100,
evaluation every 5 epochs; lr 5e-4 for EGNN, 1e-3 for GNN and linear; weight decay 1e-12), and
reports the test MSE at the best validation epoch, seconds per epoch, time to the best epoch and
the device.  For a same-run speed reference it also times a plain PyTorch loop doing what the
original EGNN script does per epoch (same model, batch 100, Adam; validation + test every 5
epochs), so the harness's overhead is a ratio measured under the same machine load.

    python benchmarks/nbody_paper.py --out runs/bench            # full (tens of minutes on 2 cores)
    python benchmarks/nbody_paper.py --max-epochs 20 --out /tmp/b  # smoke run

Writes ``<out>/nbody_paper.json`` and prints it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import torch
from symzoo.train.config import load_config
from symzoo.train.run import train

import symzoo

PUBLISHED = {"egnn": 0.0071, "gnn": 0.0107, "linear": 0.0819}
LR = {"egnn": 5e-4, "gnn": 1e-3, "linear": 1e-3}
ARGS = {
    "egnn": "model.args.hidden=64 model.args.layers=4",
    "gnn": "model.args.hidden=64 model.args.layers=4",
    "linear": "",
}


def reference_loop_seconds_per_epoch(model_name: str, epochs: int, threads: int) -> float:
    """Plain PyTorch training loop of the reference script (no Lightning) on the same data."""
    torch.set_num_threads(threads)
    task = symzoo.get_task("nbody-charged")
    train_set, val_set, test_set = task.splits("paper")
    torch.manual_seed(0)
    model = symzoo.create_model(model_name)
    opt = torch.optim.Adam(model.parameters(), lr=LR[model_name], weight_decay=1e-12)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(len(train_set)).split(100):
            b = train_set.__getitems__(idx.tolist())
            opt.zero_grad()
            loss = task.loss(model(b), b)
            loss.backward()
            opt.step()
        if epoch % 5 == 0:
            model.eval()
            with torch.no_grad():
                for ds in (val_set, test_set):
                    for idx in torch.arange(len(ds)).split(100):
                        b = ds.__getitems__(idx.tolist())
                        task.metrics(model(b), b)
    return (time.perf_counter() - t0) / epochs


def time_to_best(run: Path, best_epoch: int) -> float | None:
    path = run / "metrics.csv"
    if not path.is_file():
        return None
    with open(path) as f:
        for row in csv.DictReader(f):
            if row.get("elapsed_s") and row.get("epoch") and int(float(row["epoch"])) == best_epoch:
                return float(row["elapsed_s"])
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="egnn,gnn,linear")
    ap.add_argument("--max-epochs", type=int, default=1000)
    ap.add_argument(
        "--patience", type=int, default=40, help="early stopping, in validation checks (x5 epochs)"
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest for these small graphs)"
    )
    ap.add_argument("--reference-epochs", type=int, default=10)
    ap.add_argument("--extra", default="", help="extra key=value overrides for every model")
    ap.add_argument("--out", default="runs/bench")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "benchmark": "nbody_paper",
        "symzoo": symzoo.__version__,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "load_average_start": os.getloadavg(),
        "models": {},
    }
    for name in args.models.split(","):
        run = out / name
        overrides = [
            f"optim.lr={LR[name]}",
            "optim.weight_decay=1e-12",
            "data.batch_size=100",
            f"trainer.max_epochs={args.max_epochs}",
            "trainer.check_val_every_n_epoch=5",
            f"trainer.early_stopping_patience={args.patience}",
            f"trainer.threads={args.threads}",
            "trainer.progress_bar=false",
            "trainer.tensorboard=false",
            "optim.schedule=none",
        ]
        overrides += ARGS[name].split() + args.extra.split()
        if not (run / "eval.json").is_file():
            cfg = load_config("nbody-charged", name, preset="paper", overrides=overrides)
            train(cfg, str(run), quiet=True)
        ev = json.loads((run / "eval.json").read_text())
        ref = reference_loop_seconds_per_epoch(name, args.reference_epochs, args.threads)
        results["models"][name] = {
            "test_mse_at_best_val": ev["metrics"]["pos_mse"],
            "published_test_mse": PUBLISHED[name],
            "best_epoch": ev["best_epoch"],
            "epochs_run": ev["epochs"],
            "seconds_per_epoch": ev["seconds_per_epoch"],
            "time_to_best_s": time_to_best(run, ev["best_epoch"]),
            "reference_loop_seconds_per_epoch": round(ref, 4),
            "harness_over_reference": round(ev["seconds_per_epoch"] / ref, 3),
            "device": ev["device"],
            "overrides": overrides,
        }
        print(json.dumps({name: results["models"][name]}, indent=2), flush=True)
    results["load_average_end"] = os.getloadavg()
    (out / "nbody_paper.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
