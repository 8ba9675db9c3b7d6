"""Where the harness's N-body EGNN epoch goes (issue 23, item 4); not part of the tests.

Interleaved repeats (order alternating) in one process, one torch thread, ``paper`` data (3000
training trajectories, batch 100, 30 steps per epoch), process CPU seconds per epoch between the
end of epoch 1 and the last epoch (no compilation, no validation):

- ``bare``: the model's own step and nothing else — ``torch.compile`` (inductor, its default
  Python wrapper, as the harness compiles) of egnn (hidden 64, 4 layers), bf16 autocast, fused
  Adam, the task's loader and loss;
- ``bare-cpp``: the same compiled with inductor's C++ wrapper (``options={"cpp_wrapper": True}``);
- ``harness``: ``symzoo.train.run.train`` with the ``paper`` recipe and the benchmark's overrides
  (``benchmarks/nbody_paper.py``), validation switched off.

``harness / bare`` is the harness's own cost per epoch (Lightning's loop and hooks, the last
checkpoint written every epoch, the epoch-mean logging).

    python benchmarks/nbody_step_split.py --epochs 10 --repeats 4 --out runs/split
    python benchmarks/nbody_step_split.py --sides bare-cpp,bare --out runs/split-wrapper
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbody_paper as nb  # noqa: E402

import symzoo  # noqa: E402


def bare(epochs: int, cpp_wrapper: bool) -> float:
    task = symzoo.get_task("nbody-charged")
    train_set, _, _ = task.splits("paper")
    torch.manual_seed(0)
    model = symzoo.create_model("egnn", hidden=64, layers=4)
    step_model = torch.compile(model, options={"cpp_wrapper": cpp_wrapper})
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-12, fused=True)
    sampler = torch.utils.data.DistributedSampler(train_set, num_replicas=1, rank=0, shuffle=True, seed=0)
    loader = task.loader(train_set, 100, sampler=sampler)
    marks = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = task.loss(step_model(batch), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        marks.append(nb._cpu_now())
    return (marks[-1] - marks[1]) / (epochs - 2)


def harness(epochs: int, out: Path) -> float:
    from symzoo.train.config import load_config
    from symzoo.train.run import train

    overrides = nb.harness_overrides("egnn", epochs, None, 1, "trainer.check_val_every_n_epoch=100000")
    cfg = load_config("nbody-charged", "egnn", preset="paper", overrides=overrides)
    clock = nb._epoch_clock()
    shutil.rmtree(out, ignore_errors=True)
    train(cfg, str(out), quiet=True, callbacks=[clock])
    marks = clock.marks
    return (marks[-1][2] - marks[1][2]) / (epochs - 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--sides", default="bare,harness", help="comma list of bare, bare-cpp, harness")
    ap.add_argument("--out", default="runs/split")
    args = ap.parse_args()
    if args.epochs < 4:
        raise SystemExit("--epochs must be >= 4")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sides = args.sides.split(",")
    if not sides or any(s not in ("bare", "bare-cpp", "harness") for s in sides):
        raise SystemExit(f"--sides: a comma list of bare, bare-cpp, harness; got {args.sides!r}")
    res: dict[str, list[float]] = {s: [] for s in sides}
    for r in range(args.repeats):
        for side in sides if r % 2 == 0 else sides[::-1]:
            if side == "harness":
                cpu = harness(args.epochs, out / "run")
            else:
                cpu = bare(args.epochs, cpp_wrapper=side == "bare-cpp")
            res[side].append(round(cpu, 4))
            print(f"repeat {r} {side}: {cpu:.3f} CPU s/epoch", flush=True)
    ratios = {
        f"{a}_over_{b}": round(statistics.median([x / y for x, y in zip(res[a], res[b], strict=True)]), 4)
        for a, b in (("harness", "bare"), ("bare-cpp", "bare"))
        if a in res and b in res
    }
    report = {
        "benchmark": "nbody_step_split",
        "torch": torch.__version__,
        "epochs": args.epochs,
        "cpu_seconds_per_epoch": res,
        "median": {k: statistics.median(v) for k, v in res.items()},
        "ratio_medians": ratios,
    }
    (out / "nbody_step_split.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
