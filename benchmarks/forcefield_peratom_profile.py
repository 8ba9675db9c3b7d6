"""Where the per-atom cost of a force field grows with system size: energy + forces of an untrained
model (the ``small`` recipe size) on rattled fcc Cu cells through ``SymzooCalculator`` (float64),
wall microseconds per atom per call, and torch's profiler self time per atom of the top operators
at the smallest and the largest cell.  Prints a table and writes JSON.  Never part of the tests.

    python benchmarks/forcefield_peratom_profile.py --model nequip --reps 3,6,9 --out runs/bench/peratom.json

Companion of ``forcefield_speed.py`` (which measures calls/s and MD ns/day, with MACE side by
side): this one says *which* operators make the per-atom cost rise, e.g. element-wise products
on ``[edges, channels, 2l + 1]`` tensors that no longer fit in the CPU's caches.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nequip")
    ap.add_argument("--reps", default="3,6,9", help="fcc cubic cell repeats (4 r^3 atoms)")
    ap.add_argument("--min-seconds", type=float, default=3.0)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from ase.build import bulk
    from forcefield_speed import _recipe_args
    from torch.profiler import profile

    import symzoo
    from symzoo.calculators import SymzooCalculator

    model = symzoo.create_model(args.model, **_recipe_args(args.model))
    calc = SymzooCalculator(model)
    reps = [int(r) for r in args.reps.split(",")]
    rows, ops = [], {}
    for r in reps:
        cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((r, r, r))
        cu.rattle(0.05, seed=r)
        cu.calc = calc
        cu.get_forces()  # warm-up (and the neighbour list's first build)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.min_seconds or n < 2:
            cu.positions += 1e-4
            cu.get_forces()
            n += 1
        us = (time.perf_counter() - t0) / n * 1e6 / len(cu)
        rows.append({"atoms": len(cu), "us_per_atom": round(us, 1), "calls": n})
        print(f"{len(cu):6d} atoms: {us:8.1f} us/atom per energy+forces call ({n} calls)", flush=True)
        if r in (reps[0], reps[-1]):
            with profile() as prof:
                cu.positions += 1e-4
                cu.get_forces()
            top = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[: args.top]
            ops[len(cu)] = {e.key: round(e.self_cpu_time_total / len(cu), 2) for e in top}
    small, large = min(ops), max(ops)
    print(f"\nself time per atom (us), {small} -> {large} atoms:")
    for k, v in ops[large].items():
        a = ops[small].get(k)
        grow = f"{v / a:5.2f}x" if a else "  new"
        print(f"  {k:45s} {a if a is not None else '-':>9} -> {v:9.2f}  {grow}")
    result = {
        "benchmark": "forcefield_peratom_profile",
        "model": args.model,
        "model_args": _recipe_args(args.model),
        "torch": torch.__version__,
        "load_average": os.getloadavg(),
        "rows": rows,
        "top_ops_us_per_atom": {str(k): v for k, v in ops.items()},
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
