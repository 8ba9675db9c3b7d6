"""MACE's figures for ``forcefield_speed.py``: run by the Python that ``SYMZOO_MACE_PYTHON`` names
(a separate virtualenv with mace-torch; MACE pins e3nn 0.4.4 and never becomes a symzoo
dependency).  Reads a JSON job on stdin, prints one JSON line per system on stdout.

The model is an untrained MACE (speed does not depend on the weights) of the size the issue's
comparison used: 64x0e + 64x1o hidden irreps (64 channels, L = 1), max_ell 3, correlation 3,
2 interactions, r_max 5 Å, float64 through ``mace.calculators.MACECalculator``.  Only the
standard library, numpy, torch, ASE and mace are imported here (nothing of symzoo).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def build(zs: list[int], channels: int, r_max: float):
    import torch
    from e3nn import o3
    from mace import modules

    torch.set_default_dtype(torch.float64)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    return modules.MACE(
        r_max=r_max,
        num_bessel=8,
        num_polynomial_cutoff=6,
        max_ell=3,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=2,
        num_elements=len(zs),
        hidden_irreps=o3.Irreps(f"{channels}x0e + {channels}x1o"),
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.zeros(len(zs)),
        avg_num_neighbors=10.0,
        atomic_numbers=zs,
        correlation=3,
        gate=torch.nn.functional.silu,
    )


def main() -> int:
    import torch
    from ase import Atoms, units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet
    from mace.calculators import MACECalculator

    job = json.loads(sys.stdin.read())
    torch.set_num_threads(int(job.get("threads", 1)))
    for s in job["systems"]:
        atoms = Atoms(numbers=s["numbers"], positions=s["positions"], cell=s["cell"], pbc=s["pbc"])
        zs = sorted(set(int(z) for z in s["numbers"]))
        model = build(zs, int(job.get("channels", 64)), float(job.get("r_max", 5.0)))
        atoms.calc = MACECalculator(models=model, device="cpu", default_dtype="float64")
        large = len(atoms) > int(job.get("md_max_atoms", 10**9))
        atoms.get_forces()  # warm-up (large systems too: the first call at a new size is slow)
        calls, t0 = 0, time.perf_counter()
        while calls < job["min_calls"] or (time.perf_counter() - t0 < job["min_seconds"] and calls < 1000):
            atoms.positions += 1e-4  # a new geometry each call (no cached result)
            atoms.get_potential_energy()
            atoms.get_forces()
            calls += 1
        calls_per_s = calls / (time.perf_counter() - t0)
        if large:  # one force call per velocity-Verlet step
            n_params = sum(p.numel() for p in model.parameters())
            row = {"system": s["name"], "atoms": len(atoms), "calls_per_s": calls_per_s}
            row.update(md_steps_per_s=calls_per_s, md_from_calls=True, parameters=n_params)
            print(json.dumps(row), flush=True)
            continue
        MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
        dyn = VelocityVerlet(atoms, s["timestep_fs"] * units.fs)
        steps, t0 = 0, time.perf_counter()
        while steps < job["min_calls"] or (time.perf_counter() - t0 < job["min_seconds"] and steps < 1000):
            dyn.run(1)
            steps += 1
        sps = steps / (time.perf_counter() - t0)
        n_params = sum(p.numel() for p in model.parameters())
        print(
            json.dumps(
                {
                    "system": s["name"],
                    "atoms": len(atoms),
                    "calls_per_s": calls_per_s,
                    "md_steps_per_s": sps,
                    "parameters": n_params,
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
