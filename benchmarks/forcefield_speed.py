"""Force-field speed: training steps/s and MD steps/s (ns/day) per model and system, and how the
cost grows with the number of atoms (EMT copper cells of 108-864 atoms).  Prints a table and
writes JSON.  Never part of the test suite.

    python benchmarks/forcefield_speed.py --models nequip,painn,schnet --out forcefield_speed.json
    python benchmarks/forcefield_speed.py --quick          # fewer steps and cells

Model sizes are the ``small`` presets of ``configs/atoms/<model>.yaml`` for rmd17-ethanol.  Systems: rMD17
ethanol (9 atoms) and aspirin (21) in batches of 5 (training) or single molecules (MD); fcc Cu
cells (periodic, neighbour list with cell shifts).  MD is velocity-Verlet NVE through
``SymzooCalculator`` (float64, 0.5 fs for molecules, 2 fs for Cu).  On a shared machine the
numbers depend on the load; the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch


def _recipe_args(model: str) -> dict:
    from omegaconf import OmegaConf
    from symzoo.train.config import load_config

    cfg = load_config("rmd17-ethanol", model, preset="small")
    return OmegaConf.to_container(cfg.model.args)


def _systems(quick: bool):
    from ase import Atoms
    from ase.build import bulk

    import symzoo

    out = []
    for mol in ("ethanol", "aspirin"):
        task = symzoo.get_task(f"rmd17-{mol}")
        structs = task.splits("tiny")[0]
        atoms = Atoms(numbers=structs[0].z.numpy(), positions=structs[0].pos.numpy())
        out.append((mol, structs[:5], atoms, 0.5))
    from symzoo.datasets.atoms import make_structure

    reps = (3, 4) if quick else (3, 4, 5, 6)
    for r in reps:
        cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((r, r, r))
        cu.rattle(0.05, seed=r)
        d = make_structure(cu.positions, cu.numbers, 0.0, np.zeros((len(cu), 3)), cu.cell.array, cu.pbc)
        out.append((f"cu-{len(cu)}", [d], cu, 2.0))
    return out


def _train_steps_per_s(model, structures, steps: int) -> float:
    from torch_geometric.data import Batch

    model.train()
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    b = Batch.from_data_list(structures)
    for k in ("pos", "energy", "forces", "cell"):
        if hasattr(b, k):
            setattr(b, k, getattr(b, k).float())
    t0 = 0.0
    for i in range(steps + 2):
        if i == 2:
            t0 = time.perf_counter()
        out = model(b)
        loss = (out["energy"] - b.energy).pow(2).mean() + (out["forces"] - b.forces).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - t0)


def _md(model, atoms, timestep_fs: float, steps: int) -> tuple[float, float]:
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    from symzoo.calculators import SymzooCalculator

    atoms = atoms.copy()
    atoms.calc = SymzooCalculator(model)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    dyn.run(1)
    t0 = time.perf_counter()
    dyn.run(steps)
    wall = time.perf_counter() - t0
    sps = steps / wall
    return sps, sps * timestep_fs * 1e-6 * 86400  # steps/s, ns/day


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="nequip,painn,schnet")
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--md-steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer steps and only the 108/256-atom Cu cells")
    ap.add_argument("--out", default="forcefield_speed.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.train_steps, args.md_steps = min(args.train_steps, 4), min(args.md_steps, 5)

    import symzoo

    systems = _systems(args.quick)
    rows = []
    for name in args.models.split(","):
        kw = _recipe_args(name)
        for sys_name, structures, atoms, dt in systems:
            torch.manual_seed(0)
            model = symzoo.create_model(name, **kw)
            model.fit_reference(structures)
            n_atoms = sum(s.pos.shape[0] for s in structures)
            tps = _train_steps_per_s(model, structures, args.train_steps)
            md_sps, ns_day = _md(model, atoms, dt, args.md_steps)
            row = {
                "model": name,
                "system": sys_name,
                "atoms_per_train_step": n_atoms,
                "md_atoms": len(atoms),
                "train_steps_per_s": round(tps, 3),
                "md_steps_per_s": round(md_sps, 3),
                "md_ns_per_day": round(ns_day, 4),
                "md_timestep_fs": dt,
            }
            rows.append(row)
            print(
                f"{name:8s} {sys_name:10s} train {tps:8.2f} steps/s ({n_atoms} atoms/step)   "
                f"MD {md_sps:8.2f} steps/s = {ns_day:8.3f} ns/day ({len(atoms)} atoms)",
                flush=True,
            )
    scaling = {}
    for name in args.models.split(","):
        cu = [r for r in rows if r["model"] == name and r["system"].startswith("cu-")]
        if len(cu) >= 2:
            x = np.log([r["md_atoms"] for r in cu])
            y = np.log([1.0 / r["md_steps_per_s"] for r in cu])
            scaling[name] = {"md_time_exponent_vs_atoms": round(float(np.polyfit(x, y, 1)[0]), 3)}
    report = {
        "results": rows,
        "scaling": scaling,
        "threads": args.threads,
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "model_args": {n: _recipe_args(n) for n in args.models.split(",")},
        "unix_time": int(time.time()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(args.out) + ".partial")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, args.out)
    print(json.dumps(scaling))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
