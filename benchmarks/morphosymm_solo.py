"""MorphoSymm's Solo-12 CoM-momentum comparison (Ordoñez-Apraez et al.) through the harness.

Trains K4-EMLP (``emlp`` on ``solo-com``), C2-EMLP (``emlp`` on ``solo-com-c2``), MLP+aug and MLP
with the recipe ``configs/solo-com/*.yaml`` (preset ``paper``: 3 hidden ReLU layers of 512, Adam
lr 2.4e-3, batch 256, up to 600 epochs, early stopping on validation with patience 120), one run
per model and seed, interleaved (seed outer, model inner, so a cut-short sweep has every model at
the same seeds).  Each run is a normal run folder under ``--out``; the summary JSON (written after
every run, so an interrupted sweep keeps what finished) holds per run the test ``momentum_mse``
(MSE of standardized targets on the K4-orbit test set), the best epoch, epochs run, wall and
process CPU seconds, and the validation curve; per model the mean, std, min and max over seeds
next to MorphoSymm's published 10-seed mean.

    OMP_NUM_THREADS=1 python benchmarks/morphosymm_solo.py --seeds 0,1,2 --out runs/solo \\
        --json docs/data/morphosymm_solo.json [--max-epochs 40] [--models emlp,mlp]

``--merge A.json B.json ... --json OUT.json`` merges the runs of earlier summaries (one seed each,
say, run on different days) into one summary, refusing files whose preset or overrides differ.

``--max-epochs`` cuts the protocol at an equal number of epochs for every model (for a CPU
budget); ``--patience`` overrides the early-stopping patience (validation checks).  Needs the
robotics extra (``pip install 'symzoo[robotics-pinocchio]'``).  Not part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

#: MorphoSymm's published test MSE (10-seed means, 512 hidden units; paper Table / PROTOCOLS.md)
PUBLISHED = {"K4-EMLP": 0.0126, "C2-EMLP": 0.0174, "MLP+aug": 0.0209, "MLP": 0.0514}

#: label -> (task, model)
MODELS = {
    "K4-EMLP": ("solo-com", "emlp"),
    "C2-EMLP": ("solo-com-c2", "emlp"),
    "MLP+aug": ("solo-com", "mlp+aug"),
    "MLP": ("solo-com", "mlp"),
}
_ALIASES = {"emlp": "K4-EMLP", "k4-emlp": "K4-EMLP", "c2-emlp": "C2-EMLP", "mlp+aug": "MLP+aug", "mlp": "MLP"}


def _labels(spec: str) -> list[str]:
    out = []
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        label = _ALIASES.get(name.lower())
        if label is None:
            raise SystemExit(f"morphosymm_solo: unknown model {name!r}; choose from {', '.join(MODELS)}")
        out.append(label)
    return out


def _val_curve(run: Path, monitor: str) -> list[list[float]]:
    """``[[epoch, val], ...]`` from the run's metrics.csv."""
    path = run / "metrics.csv"
    if not path.is_file():
        return []
    curve = []
    with path.open() as f:
        for row in csv.DictReader(f):
            v = row.get(monitor, "")
            if v not in ("", None):
                curve.append([int(float(row["epoch"])), float(v)])
    return curve


def _summary(runs: list[dict]) -> dict:
    out = {}
    for label in MODELS:
        vals = [r["test_momentum_mse"] for r in runs if r["label"] == label]
        if not vals:
            continue
        mean = statistics.fmean(vals)
        out[label] = {
            "n_seeds": len(vals),
            "mean": mean,
            "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
            "min": min(vals),
            "max": max(vals),
            "published": PUBLISHED[label],
            "ratio_to_published": mean / PUBLISHED[label],
            "epochs": [r["epochs"] for r in runs if r["label"] == label],
            "best_epochs": [r["best_epoch"] for r in runs if r["label"] == label],
        }
    order = sorted(out, key=lambda k: out[k]["mean"])
    return {
        "models": out,
        "order_measured": order,
        "order_published": sorted(PUBLISHED, key=PUBLISHED.__getitem__),
    }


def _print(models: dict) -> None:
    for label, s in models.items():
        print(
            f"{label:8s} {s['mean']:.4f} ± {s['std']:.4f} (n={s['n_seeds']})  published {s['published']:.4f}"
            f"  ratio {s['ratio_to_published']:.2f}"
        )


def merge(files: list[str], out: Path) -> int:
    """One summary from several (the runs of each, seeds told apart); exit 2 on unlike protocols."""
    docs = [json.loads(Path(f).read_text()) for f in files]
    first = docs[0]
    for f, d in zip(files, docs):
        if (d.get("preset"), d.get("overrides")) != (first.get("preset"), first.get("overrides")):
            print(f"morphosymm_solo: {f}: preset/overrides {d.get('preset')} {d.get('overrides')} differ "
                  f"from {files[0]}'s {first.get('preset')} {first.get('overrides')}", file=sys.stderr)  # fmt: skip
            return 2
    runs = [r for d in docs for r in d["runs"]]
    seen = [(r["label"], r["seed"]) for r in runs]
    if len(seen) != len(set(seen)):
        print("morphosymm_solo: the files repeat a (model, seed) run", file=sys.stderr)
        return 2
    doc = {
        **{k: v for k, v in first.items() if k not in ("runs", "models", "order_measured", "seeds")},
        "command": "python benchmarks/morphosymm_solo.py --merge " + " ".join(files) + f" --json {out}",
        "merged_from": [{"file": f, "command": d.get("command")} for f, d in zip(files, docs)],
        "seeds": sorted({r["seed"] for r in runs}),
        **_summary(runs),
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, allow_nan=False))
    _print(doc["models"])
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--preset", default="paper")
    p.add_argument("--max-epochs", type=int, default=None, help="cut the protocol at this many epochs")
    p.add_argument("--patience", type=int, default=None, help="override trainer.early_stopping_patience")
    p.add_argument("--out", default="runs/morphosymm_solo")
    p.add_argument("--json", default=None, help="summary JSON (default OUT/summary.json)")
    p.add_argument("--set", action="append", default=[], help="extra key=value override (repeatable)")
    p.add_argument(
        "--merge", nargs="+", metavar="JSON", help="merge these summaries into --json; no training"
    )
    args = p.parse_args(argv)
    if args.merge:
        if not args.json:
            p.error("--merge needs --json OUT")
        return merge(args.merge, Path(args.json))

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    import torch
    from symzoo.train.config import load_config
    from symzoo.train.run import train

    labels = _labels(args.models)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    js = Path(args.json) if args.json else out / "summary.json"
    overrides = list(args.set)
    if args.max_epochs is not None:
        overrides.append(f"trainer.max_epochs={args.max_epochs}")
    if args.patience is not None:
        overrides.append(f"trainer.early_stopping_patience={args.patience}")
    command = "python benchmarks/morphosymm_solo.py " + " ".join(argv if argv is not None else sys.argv[1:])
    runs: list[dict] = []
    for seed in seeds:
        for label in labels:
            task, model = MODELS[label]
            cfg = load_config(task, model, preset=args.preset, overrides=[*overrides, f"seed={seed}"])
            cfg.trainer.progress_bar = False
            cfg.trainer.tensorboard = False
            run_dir = out / f"{label}-s{seed}"
            w0, c0 = time.perf_counter(), time.process_time()
            run = train(cfg, str(run_dir), quiet=True)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            ev = json.loads((run / "eval.json").read_text())
            mse = float(ev["metrics"]["momentum_mse"])
            rec = {
                "label": label,
                "task": task,
                "model": model,
                "seed": seed,
                "test_momentum_mse": mse,
                "n_test": ev["n_test"],
                "best_epoch": ev["best_epoch"],
                "epochs": ev["epochs"],
                "best_val": ev["best_val"],
                "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "cpu_s_per_epoch": round(cpu / max(ev["epochs"], 1), 3),
                "val_curve": _val_curve(run, f"val_{ev['primary_metric']}"),
                "config": {
                    "hidden": cfg.model.args.get("hidden"),
                    "layers": cfg.model.args.get("layers"),
                    "act": cfg.model.args.get("act"),
                    "lr": cfg.optim.lr,
                    "batch_size": cfg.data.batch_size,
                    "max_epochs": cfg.trainer.max_epochs,
                    "early_stopping_patience": cfg.trainer.early_stopping_patience,
                    "check_val_every_n_epoch": cfg.trainer.check_val_every_n_epoch,
                },
            }
            runs.append(rec)
            logging.getLogger("morphosymm_solo").warning(
                "%s seed %d: test momentum_mse %.4f (best epoch %d of %d; %.0f s CPU)",
                label,
                seed,
                mse,
                rec["best_epoch"],
                rec["epochs"],
                cpu,
            )
            doc = {
                "benchmark": "morphosymm_solo",
                "command": command,
                "preset": args.preset,
                "overrides": overrides,
                "seeds": seeds,
                "threads": torch.get_num_threads(),
                "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                "machine": platform.machine(),
                "torch": torch.__version__,
                "published_source": "Ordoñez-Apraez et al. (MorphoSymm), 10-seed test MSE at 512 hidden units",
                **_summary(runs),
                "runs": runs,
            }
            js.parent.mkdir(parents=True, exist_ok=True)
            tmp = js.with_suffix(".partial")
            tmp.write_text(json.dumps(doc, indent=1, allow_nan=False))
            tmp.replace(js)
    _print(_summary(runs)["models"])
    return 0 if all(math.isfinite(r["test_momentum_mse"]) for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
