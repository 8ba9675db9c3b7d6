"""Simulators of atomistic data: ASE's EMT copper (the ``emt-cu`` task's data), offline Langevin MD."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from .io import make_structure

log = logging.getLogger(__name__)


def simulate_emt_cu(
    n_frames: int,
    temperature: float,
    *,
    seed: int = 0,
    size: Sequence[int] = (2, 2, 2),
    a: float = 3.61,
    timestep_fs: float = 2.0,
    sample_every: int = 10,
    equilibrate: int = 100,
    friction: float = 0.02,
    strain: float = 0.02,
) -> list:
    """``n_frames`` snapshots of a periodic fcc Cu cell under Langevin MD with ASE's EMT at
    ``temperature`` (K); the cell is isotropically strained by up to ``± strain`` so that
    volumes (and stresses) vary.  Returns structures in eV and Å."""
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", a=a * (1.0 + rng.uniform(-strain, strain)), cubic=True).repeat(tuple(size))
    atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dyn = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature,
        friction=friction,
        rng=np.random.default_rng(int(rng.integers(1 << 30))),
        fixcm=False,
    )
    dyn.run(equilibrate)
    out = []
    for _ in range(n_frames):
        dyn.run(sample_every)
        out.append(
            make_structure(
                atoms.positions.copy(),
                atoms.numbers,
                atoms.get_potential_energy(),
                atoms.get_forces(),
                atoms.cell.array.copy(),
                atoms.pbc,
            )
        )
    return out
