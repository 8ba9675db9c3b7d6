"""MD stability of a force field: NVE energy drift and time until an unphysical event.

``md_stability(model, atoms)`` runs velocity-Verlet NVE dynamics with the model as an ASE
calculator (float64) from Maxwell-Boltzmann velocities and reports

* ``energy_drift_meV_per_atom_per_ps``: slope of a least-squares line through the total energy
  per atom against time (meV / atom / ps) — a conservative, smooth force field drifts little;
* ``max_energy_deviation_meV_per_atom``: largest |E_tot(t) − E_tot(0)| per atom;
* ``time_to_event_ps``: time of the first unphysical event, or ``None`` when the run is stable.
  Events: a bond (a pair closer than ``bond_factor`` × the sum of ASE's natural covalent cutoffs
  in the starting structure) stretching by more than ``bond_stretch_A`` Å, two atoms closer than the
  model's minimum distance (the model refuses the input), or a non-finite energy or force;
* ``ns_per_day``: simulation speed of this run.

Results are a JSON-ready dict.  Typical use on a trained run::

    from symzoo.eval.md import md_stability_run
    md_stability_run("runs/rmd17-ethanol-nequip", steps=2000, timestep_fs=0.5, temperature_K=500)
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from symzoo.errors import SymzooError

__all__ = ["md_stability", "md_stability_run", "bonds_of"]

log = logging.getLogger(__name__)


def bonds_of(atoms, bond_factor: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """Bonded pairs ``[n_bonds, 2]`` of ``atoms`` and their lengths (minimum image for cells)."""
    from ase.neighborlist import natural_cutoffs, neighbor_list

    i, j, d = neighbor_list("ijd", atoms, natural_cutoffs(atoms, mult=bond_factor))
    keep = i < j
    return np.stack([i[keep], j[keep]], 1), d[keep]


def md_stability(
    model,
    atoms,
    *,
    steps: int = 1000,
    timestep_fs: float = 0.5,
    temperature_K: float = 300.0,
    bond_stretch_A: float = 0.5,
    bond_factor: float = 1.2,
    log_every: int = 10,
    seed: int = 0,
    calculator=None,
) -> dict[str, Any]:
    """NVE stability of ``model`` started from ``atoms`` (see module docstring)."""
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
    from ase.md.verlet import VelocityVerlet

    from symzoo.calculators import SymzooCalculator

    if steps < 1 or timestep_fs <= 0:
        raise SymzooError("md_stability needs steps >= 1 and timestep_fs > 0")
    atoms = atoms.copy()
    atoms.calc = calculator if calculator is not None else SymzooCalculator(model)
    n = len(atoms)
    pairs, d0 = bonds_of(atoms, bond_factor)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=np.random.default_rng(seed))
    Stationary(atoms)
    if not np.any(atoms.pbc):
        ZeroRotation(atoms)
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    times, energies = [], []
    event, reason = None, None
    t0 = time.perf_counter()
    done = 0
    try:
        for k in range(0, steps + 1, log_every):
            if k:
                dyn.run(log_every)
                done = k
            e = atoms.get_potential_energy() + atoms.get_kinetic_energy()
            t_ps = done * timestep_fs / 1000.0
            if not math.isfinite(e) or not np.isfinite(atoms.get_forces()).all():
                event, reason = t_ps, "non-finite energy or forces"
                break
            times.append(t_ps)
            energies.append(e / n)
            if len(pairs):
                vec = atoms.positions[pairs[:, 1]] - atoms.positions[pairs[:, 0]]
                if np.any(atoms.pbc):
                    from ase.geometry import find_mic

                    vec, _ = find_mic(vec, atoms.cell, atoms.pbc)
                d = np.linalg.norm(vec, axis=1)
                stretch = np.abs(d - d0)
                if stretch.max() > bond_stretch_A:
                    event, reason = (
                        t_ps,
                        f"bond {tuple(pairs[stretch.argmax()].tolist())} changed by {stretch.max():.2f} Å",
                    )
                    break
    except SymzooError as e:  # e.g. atoms closer than the model's minimum distance
        event, reason = done * timestep_fs / 1000.0, str(e)
    wall = time.perf_counter() - t0
    times_a, e_a = np.asarray(times), np.asarray(energies)
    drift = float(np.polyfit(times_a, e_a, 1)[0]) * 1000 if len(times_a) >= 3 else float("nan")
    sim_ps = done * timestep_fs / 1000.0
    return {
        "n_atoms": n,
        "steps_run": done,
        "steps_requested": steps,
        "timestep_fs": timestep_fs,
        "temperature_K": temperature_K,
        "simulated_ps": sim_ps,
        "stable": event is None,
        "time_to_event_ps": event,
        "event": reason,
        "bond_stretch_A": bond_stretch_A,
        "n_bonds": int(len(pairs)),
        "energy_drift_meV_per_atom_per_ps": drift,
        "max_energy_deviation_meV_per_atom": float(np.abs(e_a - e_a[0]).max() * 1000)
        if len(e_a)
        else float("nan"),
        "wall_seconds": round(wall, 3),
        "ns_per_day": (sim_ps / 1000.0) / (wall / 86400.0) if wall > 0 and done else 0.0,
    }


def md_stability_run(run_dir: str | Path, *, structure_index: int = 0, **kwargs) -> dict[str, Any]:
    """:func:`md_stability` of a trained run, started from a test structure of its task."""
    from ase import Atoms

    from symzoo.modelio import load_model, model_meta
    from symzoo.registry import get_task

    model = load_model(run_dir)
    meta = model_meta(model)
    task = get_task(meta["task"], preset=meta.get("preset"), **(meta.get("task_args") or {}))
    _, _, test = task.splits(meta.get("preset"), seed=0)
    d = test[structure_index]
    kw = {}
    if hasattr(d, "cell"):
        kw = {"cell": d.cell[0].numpy(), "pbc": d.pbc[0].numpy()}
    atoms = Atoms(numbers=d.z.numpy(), positions=d.pos.numpy(), **kw)
    res = md_stability(model, atoms, **kwargs)
    res.update({"model": meta.get("builder"), "task": meta["task"], "structure_index": structure_index})
    return res
