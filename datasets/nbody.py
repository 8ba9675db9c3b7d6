"""N-body systems: charged particles (EGNN protocol) and softened gravity.

The simulator follows the EGNN/NRI charged-particle generator (5 particles, charges ±1, initial
positions ~ N(0, 1), speeds 0.5, Δt = 0.001, 5000 steps, a frame every 100 steps) with two
deliberate differences, both to keep the data exactly E(3)-symmetric:

* no bounding box (the reference code's box is switched off in EGNN's 3-D data too), and
* forces are clipped **by norm** at ``0.1 / Δt`` (isotropic), not per axis.

**Symmetry-breaking knob** (``nbody-charged``): ``external_field=E`` adds a uniform field of
strength ``E`` along ``FIELD_AXIS`` (z), i.e. a force ``q_i E ẑ`` on every particle (before the
isotropic clip).  It breaks O(3) to the rotations about z and the reflections through planes
containing z (:class:`symzoo.subgroups.AxialGroup`); translations and permutations survive.
``external_field=0`` is the unchanged simulator (same cache key, same bits).

The integrator is the reference one: semi-implicit Euler (velocity kick, then drift), run in
float64 and vectorized over trajectories.  Data are generated once per preset and cached
atomically under ``SYMZOO_HOME/datasets/<task>/<preset>-<hash>``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from symzoo.dynamics import Dynamics, Invariant
from symzoo.errors import InputError, SymzooError
from symzoo.paths import cached_npz, dataset_cache_dir
from symzoo.registry import register_task
from symzoo.subgroups import AxialGroup
from symzoo.symmetry import POSITION, SCALAR, VECTOR, EuclideanGroup, canonical_frames
from symzoo.task import BreakingKnob, Field, GraphTensorDataset, Task
from symzoo.taskargs import Arg, ArgSchema

__all__ = ["simulate_nbody", "integrate_nbody", "NBodyTask", "FIELD_AXIS"]

#: direction of the uniform external field of the breaking knob
FIELD_AXIS = (0.0, 0.0, 1.0)

log = logging.getLogger(__name__)


def _accelerations(
    pos: Tensor,
    attr: Tensor,
    interaction: str,
    softening: float,
    max_force: float | None,
    field: Tensor | None = None,
) -> Tensor:
    """Accelerations ``[T, n, d]`` of unit-mass charged particles or of gravitating masses;
    ``field [d]`` (charged only) adds the uniform-field force ``q_i E`` before the clip."""
    diff = pos[:, :, None, :] - pos[:, None, :, :]  # x_i - x_j
    r2 = (diff**2).sum(-1) + softening**2
    n = pos.shape[1]
    eye = torch.eye(n, dtype=torch.bool)
    r2 = r2.masked_fill(eye, 1.0)
    inv_r3 = r2.pow(-1.5).masked_fill(eye, 0.0)
    if interaction == "charged":
        # F_i = sum_j q_i q_j (x_i - x_j) / r^3 : like charges repel
        coef = attr[:, :, None] * attr[:, None, :] * inv_r3
    elif interaction == "gravity":
        # a_i = sum_j m_j (x_j - x_i) / (r^2 + eps^2)^{3/2}
        coef = -attr[:, None, :] * inv_r3
    else:
        raise ValueError(f"unknown interaction {interaction!r}")
    f = (coef[..., None] * diff).sum(2)
    if field is not None:
        f = f + attr[:, :, None] * field
    if max_force is not None:
        norm = f.norm(dim=-1, keepdim=True)
        f = f * torch.clamp(max_force / norm.clamp(min=1e-300), max=1.0)
    return f


def simulate_nbody(
    n_traj: int,
    n_particles: int = 5,
    *,
    interaction: str = "charged",
    dim: int = 3,
    dt: float = 1e-3,
    n_steps: int = 5000,
    save_every: int = 100,
    loc_std: float = 1.0,
    vel_norm: float = 0.5,
    softening: float = 0.0,
    clip: bool = True,
    seed: int = 0,
    chunk: int = 2000,
    external_field: float = 0.0,
    field_axis: tuple[float, ...] = FIELD_AXIS,
) -> dict[str, np.ndarray]:
    """Simulate ``n_traj`` trajectories; returns ``pos, vel [n_traj, n_frames, n, dim]`` and
    ``attr [n_traj, n, 1]`` (charges ±1 or masses in [0.5, 1.5]) as float64 arrays.

    ``external_field`` (charged only): strength of a uniform field along ``field_axis``."""
    if n_traj <= 0 or n_particles < 2:
        raise ValueError("simulate_nbody needs n_traj >= 1 and n_particles >= 2")
    field = None
    if external_field != 0.0:
        if interaction != "charged":
            raise ValueError("an external field needs charged particles (interaction='charged')")
        axis = torch.as_tensor(field_axis, dtype=torch.float64)
        if axis.shape != (dim,) or float(axis.norm()) == 0.0:
            raise ValueError(f"field_axis must be a non-zero {dim}-vector, got {field_axis}")
        field = float(external_field) * axis / axis.norm()
    gen = torch.Generator().manual_seed(seed)
    pos0 = torch.randn(n_traj, n_particles, dim, generator=gen, dtype=torch.float64) * loc_std
    vel0 = torch.randn(n_traj, n_particles, dim, generator=gen, dtype=torch.float64)
    vel0 = vel0 * vel_norm / vel0.norm(dim=-1, keepdim=True)
    if interaction == "charged":
        attr = torch.where(torch.rand(n_traj, n_particles, generator=gen) < 0.5, -1.0, 1.0).double()
    else:
        attr = 0.5 + torch.rand(n_traj, n_particles, generator=gen, dtype=torch.float64)
    max_force = 0.1 / dt if clip else None
    n_frames = n_steps // save_every
    pos_out = np.empty((n_traj, n_frames, n_particles, dim))
    vel_out = np.empty_like(pos_out)
    for s in range(0, n_traj, chunk):
        sl = slice(s, s + chunk)
        x, v, a = pos0[sl].clone(), vel0[sl].clone(), attr[sl]
        pos_out[sl, 0], vel_out[sl, 0] = x.numpy(), v.numpy()
        v += dt * _accelerations(x, a, interaction, softening, max_force, field)
        for i in range(1, n_steps):
            x += dt * v
            if i % save_every == 0:
                pos_out[sl, i // save_every], vel_out[sl, i // save_every] = x.numpy(), v.numpy()
            v += dt * _accelerations(x, a, interaction, softening, max_force, field)
    return {"pos": pos_out, "vel": vel_out, "attr": attr.numpy()[..., None]}


def integrate_nbody(
    pos: Tensor,
    vel: Tensor,
    attr: Tensor,
    n_steps: int,
    *,
    save_every: int,
    interaction: str = "charged",
    dt: float = 1e-3,
    softening: float = 0.0,
    clip: bool = True,
    field: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Continue the simulator of :func:`simulate_nbody` from saved states ``pos, vel [B, n, d]``
    (``attr [B, n]``) for ``n_steps`` steps (kick, then drift, as the reference loop); returns
    ``pos, vel [n_steps // save_every + 1, B, n, d]`` (float64), entry 0 = the given states."""
    x, v, a = pos.to(torch.float64).clone(), vel.to(torch.float64).clone(), attr.to(torch.float64)
    max_force = 0.1 / dt if clip else None
    xs, vs = [x.clone()], [v.clone()]
    for i in range(1, n_steps + 1):
        v += dt * _accelerations(x, a, interaction, softening, max_force, field)
        x += dt * v
        if i % save_every == 0:
            xs.append(x.clone())
            vs.append(v.clone())
    return torch.stack(xs), torch.stack(vs)


class NBodyTask(Dynamics, Task):
    """Predict particle positions ``frame_out`` from positions, velocities and charges/masses at
    ``frame_in`` (EGNN protocol: frame 30 -> frame 40, i.e. 1000 integration steps ahead).

    Dynamics (:class:`symzoo.dynamics.Dynamics`): a rollout iterates the model's
    ``frame_in -> frame_out`` map (one step ``dt`` = 1000 integration steps of 0.001 = 1 time
    unit) from test states and compares with the simulator continued from the same states
    (:func:`integrate_nbody`).  The model predicts positions only; the velocity fed to the next
    step is the model's ``vel`` output when it has one, else the mean velocity over the step
    ``(x_1 - x_0) / dt`` (the trapezoidal ``2 (x_1 - x_0) / dt - v_0`` amplifies model errors:
    EGNN's 10-step rollouts diverged in 7 of 16 trajectories with it, none with the mean).  The
    rollout error compares positions.  Invariants: energy (kinetic + pairwise Coulomb or softened gravity, +
    ``-q E z`` in an external field), total momentum and angular momentum -- conserved by the
    pair forces, exactly up to the force clip at close encounters (``*_drift_reference`` shows
    that floor); in an external field only the energy stays conserved (momentum and angular
    momentum are then reported as errors against the reference).
    """

    domain = "nbody"
    domain_label = "N-body"
    units = {
        "pos_mse": "(length unit)^2, dimensionless simulation units",
        "pos_mae": "length unit, dimensionless simulation units",
    }
    primary_metric = "pos_mse"
    input_fields = {"pos": Field(POSITION), "vel": Field(VECTOR), "attr": Field(SCALAR)}
    target_fields = {"y": Field(POSITION)}
    output_fields = {"pos": Field(POSITION)}
    presets = {
        "tiny": {"train": 200, "val": 100, "test": 100, "data_seed": 7},
        "small": {"train": 1000, "val": 500, "test": 500, "data_seed": 7},
        "paper": {"train": 3000, "val": 2000, "test": 2000, "data_seed": 7},
    }

    def __init__(
        self,
        name: str,
        interaction: str,
        *,
        n_particles: int = 5,
        softening: float = 0.0,
        frame_in: int = 30,
        frame_out: int = 40,
        train_size: int | None = None,
        path: str | None = None,
        external_field: float = 0.0,
    ):
        self.name = name
        self.interaction = interaction
        self.n_particles = n_particles
        self.softening = softening
        self.frame_in, self.frame_out = frame_in, frame_out
        self.train_size = train_size
        self.path = path
        self.has_dynamics = path is None  # a user file has no simulator to roll out against
        self.group = EuclideanGroup(3, reflections=True, translations=True, permutations=True)
        if interaction == "charged":
            self.breaking = BreakingKnob(
                name="external_field",
                description=f"uniform external field along {FIELD_AXIS} (force q·E on each particle)",
                unit="field strength E, dimensionless simulation units (force per unit charge)",
                arg="external_field",
                residual_group=AxialGroup(FIELD_AXIS),
            )
            self.breaking_strength = self.breaking.check(external_field)
            if self.breaking_strength > 0:
                if path is not None:
                    raise InputError(f"{name}: external_field applies to simulated data, not to a user file")
                self.group = self.breaking.residual_group
        elif external_field:
            raise InputError(f"{name}: external_field needs charged particles")
        what = "charges ±1, Coulomb-like" if interaction == "charged" else "masses 0.5-1.5, softened gravity"
        self.description = (
            f"{n_particles} particles ({what}); positions, velocities and "
            f"{'charges' if interaction == 'charged' else 'masses'} at frame {frame_in} -> "
            f"positions at frame {frame_out}"
        ) + (f"; uniform field E = {self.breaking_strength:g} along z" if self.breaking_strength else "")
        self._kwargs: dict[str, Any] = dict(
            n_particles=n_particles,
            softening=softening,
            frame_in=frame_in,
            frame_out=frame_out,
            train_size=train_size,
            path=path,
        )

    def with_breaking(self, strength: float) -> NBodyTask:
        """The same task with a uniform field of ``strength`` along z (see the module docstring)."""
        if self.breaking is None:
            return super().with_breaking(strength)
        task = NBodyTask(
            self.name, self.interaction, **self._kwargs, external_field=self.breaking.check(strength)
        )
        task.default_preset = self.default_preset
        return task

    def _sim_params(self, n: int, seed: int) -> dict:
        p = dict(
            n_traj=n,
            n_particles=self.n_particles,
            interaction=self.interaction,
            softening=self.softening,
            seed=seed,
        )
        if self.breaking_strength:  # only then: strength 0 keeps today's cache key
            p.update(external_field=self.breaking_strength, field_axis=list(FIELD_AXIS))
        return p

    def _generate(self, preset: str) -> dict[str, np.ndarray]:
        cfg = self.presets[preset]
        params = {
            split: self._sim_params(cfg[split], cfg["data_seed"] * 1000 + i)
            for i, split in enumerate(("train", "val", "test"))
        }
        path = dataset_cache_dir(self.name, preset, {"params": params, "version": 1}) / "data.npz"

        def make() -> dict[str, np.ndarray]:
            arrays = {}
            for split, p in params.items():
                sim = simulate_nbody(**p)
                arrays.update({f"{split}_{k}": v.astype(np.float32) for k, v in sim.items()})
            return arrays

        return cached_npz(path, make, what=f"{self.name}/{preset}")

    def _load_user_file(self) -> dict[str, np.ndarray]:
        """Read a user ``.npz`` with ``pos, vel, y [S, n, 3]`` and ``attr [S, n(, 1)]``; split 60/20/20."""
        if self.path is None:  # pragma: no cover - only called for a task made from a file
            raise SymzooError(f"{self.name}: no data file (path=)")
        p = Path(self.path)
        if not p.is_file():
            raise SymzooError(f"{self.name}: data file {str(p)!r} does not exist")
        try:
            with np.load(p) as z:
                raw = {k: z[k] for k in z.files}
        except Exception as e:
            raise SymzooError(
                f"{self.name}: {str(p)!r} is not a readable .npz file ({type(e).__name__})"
            ) from None
        missing = [k for k in ("pos", "vel", "attr", "y") if k not in raw]
        if missing:
            raise InputError(f"{self.name}: {p.name} lacks array(s) {missing}; needs pos, vel, attr, y")
        s_ = raw["pos"].shape[0] if raw["pos"].ndim == 3 else -1
        if s_ < 3:  # before any reshape: an empty (zero-frame) file is one line too
            raise InputError(
                f"{self.name}: {p.name} has {max(s_, 0)} samples (pos {list(raw['pos'].shape)}); "
                "at least 3 are needed"
            )
        for k, v in raw.items():
            if v.dtype.kind not in "biuf":
                raise InputError(f"{self.name}: {p.name}: {k} must hold real numbers, got dtype {v.dtype}")
        for k in ("pos", "vel", "y"):
            if raw[k].ndim != 3 or raw[k].shape != (s_, self.n_particles, 3):
                raise InputError(
                    f"{self.name}: {k} must have shape [samples, {self.n_particles}, 3], "
                    f"got {list(raw[k].shape)}"
                )
        attr = (
            raw["attr"].reshape(s_, self.n_particles, -1)
            if raw["attr"].size == s_ * self.n_particles
            else None
        )
        if attr is None:
            raise InputError(f"{self.name}: attr must have shape [samples, {self.n_particles}]")
        for k, v in (("pos", raw["pos"]), ("vel", raw["vel"]), ("y", raw["y"]), ("attr", attr)):
            if not np.isfinite(v).all():
                raise InputError(f"{self.name}: {p.name}: {k} contains NaN or inf values")
        if s_ < 3:
            raise InputError(f"{self.name}: {p.name} has {s_} samples; at least 3 are needed")
        cut1, cut2 = int(0.6 * s_), int(0.8 * s_)
        out = {}
        for split, sl in (("train", slice(0, cut1)), ("val", slice(cut1, cut2)), ("test", slice(cut2, s_))):
            # stored as 1-frame "trajectories": frame 0 input, frame 1 target
            out[f"{split}_pos"] = np.stack([raw["pos"][sl], raw["y"][sl]], 1).astype(np.float32)
            out[f"{split}_vel"] = np.stack([raw["vel"][sl], raw["vel"][sl]], 1).astype(np.float32)
            out[f"{split}_attr"] = attr[sl].astype(np.float32)
        return out

    def splits(self, preset: str | None = None, seed: int = 0):
        preset = preset or self.default_preset
        self.check_preset(preset)
        if self.path is not None:
            arrays = self._load_user_file()
            fin, fout = 0, 1
        else:
            arrays = self._generate(preset)
            fin, fout = self.frame_in, self.frame_out
        n = self.n_particles
        src, dst = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        mask = src != dst
        edge_index = torch.stack([src[mask], dst[mask]])
        out = []
        for split in ("train", "val", "test"):
            pos = torch.from_numpy(arrays[f"{split}_pos"])
            vel = torch.from_numpy(arrays[f"{split}_vel"])
            attr = torch.from_numpy(arrays[f"{split}_attr"])
            ds = GraphTensorDataset(
                {"pos": pos[:, fin], "vel": vel[:, fin], "attr": attr, "y": pos[:, fout]},
                edge_index=edge_index,
                meta={"split": split},
            )
            out.append(ds)
        if self.train_size is not None:
            if self.train_size > len(out[0]):
                raise SymzooError(
                    f"{self.name}/{preset} has {len(out[0])} training samples; "
                    f"train_size={self.train_size} is too many"
                )
            out[0] = out[0].subset(range(self.train_size))
        return tuple(out)

    # ------------------------------------------------------------ dynamics protocol
    time_unit = "simulation time units"
    rollout_steps = 10
    rollout_method = "iterated model map"
    _SIM_DT, _SAVE_EVERY = 1e-3, 100  # the simulator's step and frame spacing (simulate_nbody defaults)

    @property
    def dt(self) -> float:  # type: ignore[override]
        """One model step: ``frame_out - frame_in`` frames of 100 integration steps of 0.001."""
        return self._stride() * self._SIM_DT

    def _stride(self) -> int:
        return (self.frame_out - self.frame_in) * self._SAVE_EVERY

    def _field(self) -> Tensor | None:
        if not self.breaking_strength:
            return None
        axis = torch.as_tensor(FIELD_AXIS, dtype=torch.float64)
        return float(self.breaking_strength) * axis / axis.norm()

    def reference_key(self, preset: str) -> dict:
        cfg = self.presets[preset]
        return {
            "sim": self._sim_params(cfg["test"], cfg["data_seed"] * 1000 + 2),
            "frame_in": self.frame_in,
            "stride": self._stride(),
            "version": 1,
        }

    def initial_batch(
        self, preset: str | None = None, split: str = "test", n: int | None = None, dtype=torch.float64
    ):
        """The first ``n`` states of ``split`` at ``frame_in`` (positions, velocities, charges)."""
        from symzoo.task import cast_batch

        if self.path is not None:
            raise SymzooError(f"{self.name}: rollouts need simulated data, not a user file")
        if split not in ("train", "val", "test"):
            raise SymzooError(f"split must be train, val or test, not {split!r}")
        if n is not None and n < 1:
            raise SymzooError(f"the number of rollout trajectories must be >= 1, got {n}")
        train, val, test = self.splits(preset or self.default_preset)
        ds = {"train": train, "val": val, "test": test}[split]
        k = len(ds) if n is None else min(n, len(ds))
        return cast_batch(ds.__getitems__(list(range(k))), dtype)

    def rollout(self, model, batch, steps: int, **options) -> dict[str, Tensor]:
        """Iterate the model's map ``steps`` times: ``{"pos", "vel"}: [steps + 1, n_nodes, 3]``."""
        if options:
            raise SymzooError(f"{self.name}: rollout takes no options, got {sorted(options)}")
        dt = self.dt
        s = batch.clone()
        xs, vs = [batch.pos], [batch.vel]
        for _ in range(steps):
            out = model(s)
            x1 = out["pos"].to(batch.pos.dtype)
            v1 = out["vel"].to(x1.dtype) if "vel" in out else (x1 - s.pos) / dt
            s = s.clone()
            s.pos, s.vel = x1, v1
            xs.append(x1)
            vs.append(v1)
        return {"pos": torch.stack(xs), "vel": torch.stack(vs)}

    def reference_trajectory(self, batch, steps: int) -> dict[str, Tensor]:
        """The simulator continued from the states of ``batch`` (float64), one frame per model step."""
        b, n = int(batch.num_graphs), self.n_particles
        x, v = integrate_nbody(
            batch.pos.reshape(b, n, -1),
            batch.vel.reshape(b, n, -1),
            batch.attr.reshape(b, n),
            steps * self._stride(),
            save_every=self._stride(),
            interaction=self.interaction,
            dt=self._SIM_DT,
            softening=self.softening,
            field=self._field(),
        )
        return {"pos": x.reshape(steps + 1, b * n, -1), "vel": v.reshape(steps + 1, b * n, -1)}

    def error_fields(self) -> tuple[str, ...]:
        return ("pos",)

    def invariants(self) -> dict[str, Invariant]:
        n = self.n_particles
        charged = self.interaction == "charged"
        field = self._field()

        def split(traj, batch):
            t, b = traj["pos"].shape[0], int(batch.num_graphs)
            x = traj["pos"].reshape(t, b, n, -1).to(torch.float64)
            v = traj["vel"].reshape(t, b, n, -1).to(torch.float64)
            a = batch.attr.reshape(1, b, n).to(torch.float64)
            m = torch.ones_like(a) if charged else a
            return x, v, a, m

        def terms(traj, batch):
            x, v, a, m = split(traj, batch)
            kin = 0.5 * (m * (v**2).sum(-1)).sum(-1)
            r = ((x[..., :, None, :] - x[..., None, :, :]) ** 2).sum(-1).add(self.softening**2).sqrt()
            iu = torch.triu_indices(n, n, 1)
            pair = (a[..., :, None] * a[..., None, :])[..., iu[0], iu[1]] / r[..., iu[0], iu[1]]
            ext = -(a * (x @ field)).sum(-1) if field is not None else torch.zeros_like(kin)
            return kin, pair if charged else -pair, ext

        def energy(traj, batch):
            kin, pair, ext = terms(traj, batch)
            return kin + pair.sum(-1) + ext

        def scale_e(traj, batch):
            # |E(0)| can be ~0 (attracting and repelling pairs cancel): kinetic + sum of |pair terms|
            kin, pair, ext = terms(traj, batch)
            return (kin + pair.abs().sum(-1) + ext.abs())[0]

        def momentum(traj, batch):
            x, v, a, m = split(traj, batch)
            return (m[..., None] * v).sum(-2)

        def angular(traj, batch):
            x, v, a, m = split(traj, batch)
            return torch.linalg.cross(x, m[..., None] * v, dim=-1).sum(-2)

        def scale_p(traj, batch):
            x, v, a, m = split(traj, batch)
            return (m[0] * v[0].norm(dim=-1)).sum(-1)

        def scale_l(traj, batch):
            x, v, a, m = split(traj, batch)
            return (x[0].norm(dim=-1) * m[0] * v[0].norm(dim=-1)).sum(-1)

        u = "dimensionless simulation units"
        free = field is None
        return {
            "energy": Invariant(
                energy, f"energy, {u}", scale=scale_e, description="relative to kinetic + sum |pair energies|"
            ),
            "momentum": Invariant(
                momentum, f"momentum, {u}", conserved=free, scale=scale_p, description="relative to sum |p_i|"
            ),
            "angular_momentum": Invariant(
                angular,
                f"angular momentum, {u}",
                conserved=free,
                scale=scale_l,
                description="relative to sum |x_i||p_i|",
            ),
        }

    # ------------------------------------------------------------ training
    def loss(self, out, batch) -> Tensor:
        return ((out["pos"] - batch.y) ** 2).mean()

    def metrics(self, out, batch) -> dict[str, Tensor]:
        d = out["pos"] - batch.y
        return {"pos_mse": (d**2).mean(), "pos_mae": d.abs().mean()}

    def restrict(self, dataset: GraphTensorDataset) -> GraphTensorDataset:
        """Every system moved to its canonical pose (centroid at 0, principal axes on x, y, z)."""
        batch = dataset.__getitems__(list(range(len(dataset))))
        g = canonical_frames(batch.pos, batch.batch, batch.num_graphs)
        g.perm = None
        moved = self.act(g, batch)
        b, n = len(dataset), dataset.n_nodes
        return dataset.with_fields(
            **{
                k: getattr(moved, k).reshape(b, n, *getattr(moved, k).shape[1:])
                for k in ("pos", "vel", "attr", "y")
            }
        )


#: frames the simulator saves (``simulate_nbody`` defaults: 5000 steps, one frame every 100)
N_FRAMES = 5000 // 100


def _frames_in_order(v: dict) -> str | None:
    if v["frame_out"] <= v["frame_in"]:
        return f"frame_out ({v['frame_out']}) must come after frame_in ({v['frame_in']})"
    return None


#: the declared task arguments of the N-body tasks (``data.task_args.*``; checked by ``get_task``)
NBODY_ARGS = ArgSchema(
    {
        "n_particles": Arg(int, min=2, max=100, help="particles per system"),
        "softening": Arg(float, min=0.0, help="Plummer softening length"),
        "frame_in": Arg(int, min=0, max=N_FRAMES - 2, help=f"input frame of the {N_FRAMES} simulated frames"),
        "frame_out": Arg(
            int, min=1, max=N_FRAMES - 1, help=f"target frame of the {N_FRAMES} simulated frames"
        ),
        "train_size": Arg(int, min=1, nullable=True, help="training samples"),
        "path": Arg(str, nullable=True, help="a .npz of your own trajectories"),
        "external_field": Arg(float, min=0.0, help="the symmetry-breaking field strength"),
    },
    checks=(_frames_in_order,),
    defaults={"frame_in": 30, "frame_out": 40},
)


@register_task("nbody-charged", args=NBODY_ARGS)
def nbody_charged(**kw) -> NBodyTask:
    """5 charged particles (EGNN protocol): frame 30 -> frame 40 positions."""
    return NBodyTask("nbody-charged", "charged", **kw)


@register_task("nbody-gravity", args=NBODY_ARGS)
def nbody_gravity(**kw) -> NBodyTask:
    """5 gravitating masses (softening 0.1): frame 30 -> frame 40 positions."""
    return NBodyTask("nbody-gravity", "gravity", **{"softening": 0.1, **kw})
