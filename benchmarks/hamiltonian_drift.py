"""Energy drift of HNN vs. neural-ODE baselines over long rollouts (Greydanus et al. 2019 Table).

Trains each model on each task with the symzoo harness (its recipe ``configs/hamiltonian/<model>.yaml``
at the chosen preset, identical budgets), then rolls every trained model out from the test
initial states with :func:`symzoo.eval.rollout.rollout_metrics` and prints one JSON document
(also written to ``--out/results.json``) with the energy drift, rollout error and valid time,
plus the ratios node / hnn of the energy drift (mean over the horizon and final), of the energy MSE
(Greydanus's metric) and of the rollout error, per task.  Plots of error and energy vs.
time go to ``--plot-dir/hamiltonian_<task>.png`` (default ``--out``)::

    SYMZOO_HOME=/tmp/szh nice -n 10 python benchmarks/hamiltonian_drift.py \\
        --tasks spring,gravity-2 --models hnn,node --preset small --steps 1000 --out runs/ham-drift
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="spring,gravity-2")
    ap.add_argument("--models", default="hnn,node")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--steps", type=int, default=1000, help="rollout length in steps of the task's dt")
    ap.add_argument("--n-traj", type=int, default=16, help="test trajectories rolled out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/hamiltonian-drift")
    ap.add_argument("--plot-dir", default=None, help="where the PNGs go (default: --out)")
    ap.add_argument("overrides", nargs="*", help="key=value config overrides for every run")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from symzoo.eval.rollout import plot_rollouts, rollout_metrics
    from symzoo.train.config import load_config
    from symzoo.train.run import train

    from symzoo.modelio import load_model
    from symzoo.paths import atomic_write_text
    from symzoo.registry import get_task, model_fit_problem

    out = Path(args.out)
    plot_dir = Path(args.plot_dir) if args.plot_dir else out
    results: dict = {
        "preset": args.preset,
        "steps": args.steps,
        "n_traj": args.n_traj,
        "seed": args.seed,
        "overrides": args.overrides,
        "tasks": {},
    }
    for task_name in args.tasks.split(","):
        task = get_task(task_name, preset=args.preset)
        per_model, series = {}, {}
        for model_name in args.models.split(","):
            problem = model_fit_problem(model_name, task)  # from the declared fields, nothing built
            if problem is not None:
                print(f"{task_name:>12} {model_name:>6}: skipped ({problem})", file=sys.stderr)
                continue
            run = out / f"{task_name}-{model_name}-s{args.seed}"
            if not (run / "model.safetensors").is_file():
                cfg = load_config(
                    task_name,
                    model_name,
                    preset=args.preset,
                    overrides=[
                        f"seed={args.seed}",
                        "trainer.progress_bar=false",
                        "trainer.threads=1",
                        "trainer.tensorboard=false",
                        *args.overrides,
                    ],
                )
                train(cfg, str(run), quiet=True)
            model = load_model(run)
            ev = json.loads((run / "eval.json").read_text())
            r = rollout_metrics(model, task, steps=args.steps, n_traj=args.n_traj, return_series=True)
            series[model_name] = r.pop("series")
            r["test_deriv_mse"] = ev["metrics"].get("deriv_mse")
            r["train_seconds"] = ev.get("fit_seconds")  # from the run (also when the run is reused)
            r["epochs"] = ev.get("epochs")
            per_model[model_name] = r
            print(
                f"{task_name:>12} {model_name:>6}: energy drift {r['energy_drift']:.3g}, rollout error "
                f"{r['rollout_error']:.3g}, valid time {r['valid_time']:.3g}",
                file=sys.stderr,
            )
        entry = {"models": per_model}
        if "hnn" in per_model and "node" in per_model:
            entry["ratio_node_over_hnn"] = {
                k: per_model["node"][k] / max(per_model["hnn"][k], 1e-300)
                for k in ("energy_drift", "energy_drift_final", "energy_mse", "rollout_error")
            }
        results["tasks"][task_name] = entry
        plot_rollouts(
            series,
            plot_dir / f"hamiltonian_{task_name}.png",
            title=f"{task_name}: {args.steps}-step RK4 rollouts ({args.preset} preset)",
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
