"""Force-field speed: MD ns/day and energy+forces calls/s per model and system, and the cost per
atom from 108 to 10 976 atoms (fcc Cu cells), with MACE's figures in the same run when
``SYMZOO_MACE_PYTHON`` names a Python that has mace-torch.  Prints a table and writes JSON.
Never part of the test suite.

    python benchmarks/forcefield_speed.py --models nequip,painn,schnet --out forcefield_speed.json
    SYMZOO_MACE_PYTHON=/tmp/mace-venv/bin/python python benchmarks/forcefield_speed.py ...
    python benchmarks/forcefield_speed.py --quick          # fewer steps and only 108/500 atoms

Model sizes are the ``small`` presets of ``configs/atoms/<model>.yaml`` for rmd17-ethanol (listed
in the JSON with their parameter counts), untrained (speed does not depend on the weights).
``nequip-macesize`` (:data:`VARIANTS`) is NequIP at MACE's size, to compare like with like: 64
channels, l_max 3, parity (even and odd irreps), 2 interaction layers as MACE's 2, cutoff 5 Å.
Systems are measured in turn and every model on a system before the next system (interleaved per
system; MACE's worker, when present, also runs once per system).
Systems: rMD17 ethanol (9 atoms) and aspirin (21); fcc Cu (a = 3.61 Å, rattled 0.05 Å, periodic,
vesin's cell list) of 108, 500, 2048 and 10 976 atoms.  A *call* is one energy + forces
evaluation through ``SymzooCalculator`` (float64) at a new geometry; MD is velocity-Verlet NVE
(0.5 fs for molecules, 2 fs for Cu).  Each figure is timed for at least ``--min-seconds`` (and
``--min-calls``) after one warm-up call; above ``--md-max-atoms`` atoms the MD speed is
the calls' (velocity Verlet makes one force call per step).  MACE (``benchmarks/_mace_speed_worker.py``, run by that Python in a
subprocess): 64 channels, L = 1, max_ell 3, correlation 3, 2 interactions, r_max 5 Å, float64,
``MACECalculator``.  On a shared machine the numbers depend on the load; the load average is
recorded with them, and only ratios measured in one run are comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

#: models beyond the recipes: name -> (builder, overrides of its ``small`` recipe arguments)
VARIANTS = {
    # NequIP at MACE's size (MACE here: 64 channels, max_ell 3, 2 interactions, r_max 5 Å)
    "nequip-macesize": ("nequip", {"channels": 64, "l_max": 3, "parity": True, "layers": 2, "cutoff": 5.0}),
}


def _builder(model: str) -> str:
    return VARIANTS[model][0] if model in VARIANTS else model


def _recipe_args(model: str) -> dict:
    from omegaconf import OmegaConf
    from symzoo.train.config import load_config

    cfg = load_config("rmd17-ethanol", _builder(model), preset="small")
    args = OmegaConf.to_container(cfg.model.args)
    if model in VARIANTS:
        args.update(VARIANTS[model][1])
    return args


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

    reps = (3, 5) if quick else (3, 5, 8, 14)  # 108, 500, 2048, 10976 atoms
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


#: MD steps between restarts from the first geometry (see :func:`_calls_and_md`; a restart costs one
#: extra force call, so ns/day is at most 1/40 low)
MD_RESTART_STEPS = 40


def _calls_and_md(
    model, atoms, timestep_fs: float, min_calls: int, min_seconds: float, md_max_atoms: int
) -> dict:
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    from symzoo.calculators import SymzooCalculator

    atoms = atoms.copy()
    atoms.calc = SymzooCalculator(model)
    large = len(atoms) > md_max_atoms
    # warm-up, large systems too: the first call at a new size was up to 6x slower than the next
    # ones (painn on 10 976 Cu atoms: 34 s, then 6 s)
    atoms.get_forces()
    calls, t0, c0 = 0, time.perf_counter(), time.process_time()
    while calls < min_calls or (time.perf_counter() - t0 < min_seconds and calls < 1000):
        atoms.positions += 1e-4  # a new geometry: no cached result
        atoms.get_potential_energy()
        atoms.get_forces()
        calls += 1
    calls_per_s = calls / (time.perf_counter() - t0)
    # process CPU seconds per call: less sensitive than wall time to other jobs on a shared machine
    cpu = {"cpu_us_per_atom_call": round((time.process_time() - c0) / calls / len(atoms) * 1e6, 2)}
    if large:  # one force call per velocity-Verlet step: MD speed from the calls (see --md-max-atoms)
        return {"calls_per_s": calls_per_s, "md_steps_per_s": calls_per_s, "md_from_calls": True, **cpu}
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    start_pos, start_mom = atoms.get_positions(), atoms.get_momenta()
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    steps, t0 = 0, time.perf_counter()
    while steps < min_calls or (time.perf_counter() - t0 < min_seconds and steps < 1000):
        if steps % MD_RESTART_STEPS == 0 and steps:
            # untrained weights: a long trajectory can drive two atoms together (the model then refuses
            # the geometry); the cost of a step does not depend on where it is, so restart from the
            # first geometry every MD_RESTART_STEPS steps
            atoms.set_positions(start_pos)
            atoms.set_momenta(start_mom)
        dyn.run(1)
        steps += 1
    sps = steps / (time.perf_counter() - t0)
    return {"calls_per_s": calls_per_s, "md_steps_per_s": sps, "md_from_calls": False, **cpu}


def _row(model: str, sys_name: str, n_atoms: int, dt: float, calls_per_s: float, sps: float) -> dict:
    return {
        "model": model,
        "system": sys_name,
        "md_atoms": n_atoms,
        "calls_per_s": round(calls_per_s, 4),
        "us_per_atom_call": round(1e6 / (calls_per_s * n_atoms), 2),
        "md_steps_per_s": round(sps, 4),
        "md_ns_per_day": round(sps * dt * 1e-6 * 86400, 5),
        "md_timestep_fs": dt,
    }


def _mace(
    python: str, systems, threads: int, min_calls: int, min_seconds: float, md_max_atoms: int
) -> list[dict]:
    """MACE's figures from ``python`` (a virtualenv with mace-torch), one subprocess, same systems."""
    import subprocess

    job = {
        "md_max_atoms": md_max_atoms,
        "threads": threads,
        "min_calls": min_calls,
        "min_seconds": min_seconds,
        "systems": [
            {
                "name": name,
                "numbers": atoms.numbers.tolist(),
                "positions": atoms.positions.tolist(),
                "cell": atoms.cell.array.tolist(),
                "pbc": atoms.pbc.tolist(),
                "timestep_fs": dt,
            }
            for name, _, atoms, dt in systems
        ],
    }
    worker = Path(__file__).with_name("_mace_speed_worker.py")
    proc = subprocess.run(
        [python, str(worker)], input=json.dumps(job), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:  # keep what it measured before failing
        print(f"the MACE worker ({python}) failed (rc {proc.returncode}):\n{proc.stderr[-2000:]}", flush=True)
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            dt = next(d for n, _, _, d in systems if n == r["system"])
            row = _row("mace", r["system"], r["atoms"], dt, r["calls_per_s"], r["md_steps_per_s"])
            row["parameters"] = r.get("parameters")
            row["md_from_calls"] = r.get("md_from_calls", False)
            rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--models",
        default="nequip,painn,schnet",
        help=f"registered force-field models and/or variants ({', '.join(VARIANTS)})",
    )
    ap.add_argument("--train-steps", type=int, default=10, help="training steps timed (molecules only)")
    ap.add_argument("--min-calls", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=5.0)
    ap.add_argument(
        "--md-max-atoms",
        type=int,
        default=600,
        help="larger systems: MD steps/s taken as calls/s (one force call per step)",
    )
    ap.add_argument(
        "--max-atoms",
        default="nequip=2048,nequip-macesize=2048,mace=2048",
        help="largest system per model, MODEL=N,... (float64 nequip and MACE on 10976 atoms need more "
        "than the 24 GB of the machine this was written on)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer steps and only the 108/500-atom Cu cells")
    ap.add_argument("--out", default="forcefield_speed.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.train_steps, args.min_calls, args.min_seconds = min(args.train_steps, 4), 2, 0.5

    import symzoo

    systems = _systems(args.quick)
    models = args.models.split(",")
    max_atoms = {k: int(v) for k, v in (kv.split("=") for kv in args.max_atoms.split(",") if kv)}
    rows, params = [], {}
    partial = Path(str(args.out) + ".rows.jsonl")  # every row as soon as it is measured
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text("")

    def keep(row: dict) -> None:
        rows.append(row)
        with open(partial, "a") as f:
            f.write(json.dumps(row) + "\n")

    mace_python = os.environ.get("SYMZOO_MACE_PYTHON")

    def report_row(row: dict) -> None:
        keep(row)
        print(
            f"{row['model']:16s} {row['system']:10s} {row['calls_per_s']:9.3f} calls/s  "
            f"{row['us_per_atom_call']:9.1f} us/atom  MD {row['md_ns_per_day']:9.4f} ns/day "
            f"({row['md_atoms']} atoms)",
            flush=True,
        )

    # interleaved per system: every model on one system, then the next system
    for system in systems:
        sys_name, structures, atoms, dt = system
        for name in models:
            if len(atoms) > max_atoms.get(name, 10**9):
                continue
            torch.manual_seed(0)
            model = symzoo.create_model(_builder(name), **_recipe_args(name))
            model.fit_reference(structures)
            params[name] = sum(p.numel() for p in model.parameters())
            r = _calls_and_md(model, atoms, dt, args.min_calls, args.min_seconds, args.md_max_atoms)
            row = _row(name, sys_name, len(atoms), dt, r["calls_per_s"], r["md_steps_per_s"])
            row["md_from_calls"] = r["md_from_calls"]
            row["cpu_us_per_atom_call"] = r["cpu_us_per_atom_call"]
            if not sys_name.startswith("cu-"):
                row["train_steps_per_s"] = round(_train_steps_per_s(model, structures, args.train_steps), 3)
                row["atoms_per_train_step"] = sum(s.pos.shape[0] for s in structures)
            report_row(row)
        if mace_python and len(atoms) <= max_atoms.get("mace", 10**9):
            for row in _mace(
                mace_python, [system], args.threads, args.min_calls, args.min_seconds, args.md_max_atoms
            ):
                report_row(row)
                params["mace"] = row.get("parameters")
    if mace_python:
        models = models + ["mace"]
    scaling = {}
    for name in models:
        cu = [r for r in rows if r["model"] == name and r["system"].startswith("cu-")]
        if len(cu) >= 2:
            x = np.log([r["md_atoms"] for r in cu])
            y = np.log([1.0 / r["calls_per_s"] for r in cu])
            per_atom = [r["us_per_atom_call"] for r in cu]
            scaling[name] = {
                "call_time_exponent_vs_atoms": round(float(np.polyfit(x, y, 1)[0]), 3),
                "us_per_atom_largest_over_smallest": round(per_atom[-1] / per_atom[0], 3),
            }
    report = {
        "results": rows,
        "scaling": scaling,
        "threads": args.threads,
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "model_args": {n: _recipe_args(n) for n in args.models.split(",")},
        "parameters": params,
        "max_atoms": max_atoms,
        "mace_python": mace_python,
        "command": "python benchmarks/forcefield_speed.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
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
