"""Speed of the 2-D vorticity solver and of the flow models' rollouts (JSON; not a test).

    OMP_NUM_THREADS=1 python benchmarks/flows_speed.py --sizes 64,128 --out flows_speed.json

Solver: IF-RK4 steps per second of one 2-D field (float64, ν = 1e-3, Kolmogorov forcing).
Models: one-frame model steps per second at batch 1 (float32, default widths, eval mode).
Runs on the GPU too when ``--device cuda`` is given.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch


def _rate(fn, min_time: float) -> float:
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time:
        fn()
        n += 1
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="64,128")
    p.add_argument("--models", default="steerable-cnn,cnn,unet,relaxed-gcnn")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-time", type=float, default=2.0)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from symzoo.datasets.flows import VorticitySolver, kolmogorov_forcing, random_vorticity

    import symzoo

    res: dict = {"device": a.device, "threads": a.threads, "torch": torch.__version__,
                 "machine": platform.processor() or platform.machine(), "solver": {}, "models": {}}  # fmt: skip
    for n in [int(s) for s in a.sizes.split(",")]:
        s = VorticitySolver(n, nu=1e-3, drag=0.1, forcing=kolmogorov_forcing(n), device=a.device)
        w = s.to_hat(random_vorticity(1, n, rms=4.0))
        res["solver"][f"{n}"] = {
            "steps_per_s": round(_rate(lambda s=s, w=w: s.step_hat(w, 1e-3), a.min_time), 2)
        }
        from torch_geometric.data import Data

        b = Data(w=torch.randn(1, n, n, device=a.device), f=kolmogorov_forcing(n).float()[None].to(a.device))
        b.num_graphs = 1
        for name in a.models.split(","):
            m = symzoo.create_model(name).to(a.device).eval()
            with torch.no_grad():
                rate = _rate(lambda m=m, b=b: m(b), a.min_time)
            res["models"].setdefault(name, {})[f"{n}"] = {"steps_per_s": round(rate, 2)}
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
