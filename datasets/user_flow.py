"""A flow of one's own: the ``flow`` task, next-frame forecasting of the user's 2-D snapshots.

``symzoo train flow steerable-cnn data.task_args.path=snapshots.npz data.task_args.kind=pseudoscalar``
(``docs/byo_flow.md``).

The file is an ``.npz`` of snapshots on a **square, periodic, uniform grid** (y on the second-last
axis, x on the last; the flow models convolve with circular padding):

``field`` (default key ``w``)   the state, ``[n_traj, frames, n, n]`` or ``[frames, n, n]`` (one
                                trajectory); a ``vector`` state is ``[n_traj, frames, 2, n, n]`` or
                                ``[frames, 2, n, n]`` with channels ``(u_x, u_y)``
``forcing`` (optional key)      a time-independent input field ``[n, n]`` or ``[n_traj, n, n]``
                                (e.g. the curl of a body force); zero when absent

Field kinds are declared, never assumed (``kind`` is required, ``forcing_kind`` too when there is
a forcing): ``scalar`` (values unchanged by rotations and reflections: temperature, a passive
tracer), ``pseudoscalar`` (the sign flips under reflections: vorticity, a curl) or ``vector``
(rotated with the grid: velocity).  They fix how the symmetry group D4 (rotations by 90° and
reflections of the grid, :class:`symzoo.groups.GridRep`) acts on the data, and so what an
equivariant model must do.  A ``vector`` state is converted to its vorticity
``ω = ∂u_y/∂x − ∂u_x/∂y`` (spectral derivatives on the periodic box of side ``length``), the
pseudo-scalar the flow models forecast; a vector forcing likewise to its curl.  ``steerable-cnn``
treats its inputs as pseudo-scalars and is refused on a ``scalar`` state (use ``cnn``/``unet``).

Grid checks (one-line errors, before anything is written): square ``n x n`` with ``n`` even and
>= 8, every value finite, at least 2 frames per trajectory more than ``unroll``, the forcing on
the state's grid.

Splits: with 3 or more trajectories, whole trajectories (``test_fraction``, ``val_fraction`` of
them, at least one each, the last ones in the file); with fewer, each trajectory is cut in time
(first 70 % train, next 10 % validation, last 20 % test).  A sample is ``w [n, n]``, ``f [n, n]``
and ``y [unroll, n, n]`` (the next ``unroll`` frames), as in :class:`symzoo.datasets.flows.FlowTask`,
whose loss, metrics (``w_rmse``, ``w_rmse_1``), rollout and forecast scores this task reuses; the
time unit is ``frame_dt`` (default 1: one frame).
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from symzoo.dynamics import Invariant
from symzoo.errors import InputError, SymzooError
from symzoo.registry import register_task
from symzoo.task import ArrayDataset, Field, Task

from .flows import FlowTask, _flow_group

__all__ = ["UserFlowTask", "curl", "FIELD_KINDS"]

log = logging.getLogger(__name__)

FIELD_KINDS = ("scalar", "pseudoscalar", "vector")


def curl(u: np.ndarray, length: float = 2 * math.pi) -> np.ndarray:
    """``∂u_y/∂x − ∂u_x/∂y`` of ``u [..., 2, n, n]`` (channels u_x, u_y) on the periodic box of
    side ``length`` -> ``[..., n, n]`` (spectral derivatives)."""
    n = u.shape[-1]
    k = np.fft.fftfreq(n, d=length / n) * 2 * np.pi
    ky, kx = np.meshgrid(k, k, indexing="ij")
    ux, uy = np.fft.fft2(u[..., 0, :, :]), np.fft.fft2(u[..., 1, :, :])
    return np.fft.ifft2(1j * kx * uy - 1j * ky * ux).real


def _check_kind(kind: Any, what: str) -> str:
    if kind is None:
        raise InputError(
            f"declare the field kind of the {what}: data.task_args.{'kind' if what == 'state' else 'forcing_kind'}"
            "=scalar|pseudoscalar|vector (pseudoscalar for vorticity; kinds are never assumed)"
        )
    k = str(kind).replace("-", "").replace("_", "").lower()
    if k not in FIELD_KINDS:
        raise InputError(
            f"unknown field kind {kind!r} for the {what}; expected scalar, pseudoscalar or vector"
        )
    return k


def _grid_check(a: np.ndarray, key: str, path: Path) -> None:
    n, m = a.shape[-2], a.shape[-1]
    if n != m:
        raise InputError(f"{path}: {key!r} must be on a square grid (n x n), got {n}x{m}")
    if n < 8 or n % 2:
        raise InputError(f"{path}: {key!r}: the periodic grid needs an even size n >= 8, got {n}")
    if not np.isfinite(a).all():
        raise InputError(f"{path}: {key!r} contains NaN or inf values")


class UserFlowTask(FlowTask):
    """Next-frame forecasting of the user's snapshots (module docstring)."""

    domain = "flows"
    time_unit = "frame_dt (the file's time unit; default 1 = one frame)"
    _unroll: int  # always given (FlowTask's is optional)

    def __init__(
        self,
        path: str,
        *,
        kind: str | None = None,
        field: str = "w",
        forcing: str | None = None,
        forcing_kind: str | None = None,
        frame_dt: float = 1.0,
        length: float = 2 * math.pi,
        unroll: int = 1,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        train_size: int | None = None,
    ):
        state_kind = _check_kind(kind, "state")
        f_kind = _check_kind(forcing_kind, "forcing") if forcing is not None else "pseudoscalar"
        if not (math.isfinite(frame_dt) and frame_dt > 0 and math.isfinite(length) and length > 0):
            raise InputError(f"frame_dt and length must be finite and > 0, got {frame_dt}, {length}")
        if int(unroll) < 1:
            raise InputError(f"unroll must be >= 1, got {unroll}")
        for nm, v in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 < float(v) < 1:
                raise InputError(f"{nm} must be in (0, 1), got {v}")
        p = Path(str(path)).expanduser()
        if not p.is_file():
            raise InputError(f"flow snapshots {p} do not exist")
        try:
            with np.load(p) as z:
                keys = list(z.files)
                if field not in keys:
                    raise InputError(
                        f"{p}: no array {field!r} (it has {', '.join(keys) or 'none'}); set data.task_args.field"
                    )
                state = np.asarray(z[field], dtype=np.float64)
                f_arr = None
                if forcing is not None:
                    if forcing not in keys:
                        raise InputError(f"{p}: no forcing array {forcing!r} (it has {', '.join(keys)})")
                    f_arr = np.asarray(z[forcing], dtype=np.float64)
        except InputError:
            raise
        except (OSError, ValueError) as e:
            raise InputError(f"{p}: not a readable .npz file ({str(e).splitlines()[0][:100]})") from None
        want = 4 if state_kind == "vector" else 3
        if state.ndim == want:
            state = state[None]
        if state.ndim != want + 1:
            shape = "[n_traj, frames, 2, n, n]" if state_kind == "vector" else "[n_traj, frames, n, n]"
            raise InputError(f"{p}: {field!r} must be {shape} (or without n_traj), got {list(state.shape)}")
        if state_kind == "vector" and state.shape[2] != 2:
            raise InputError(
                f"{p}: a vector state needs 2 channels (u_x, u_y) on axis 2, got {list(state.shape)}"
            )
        _grid_check(state, field, p)
        n = state.shape[-1]
        if state_kind == "vector":
            state = curl(state, length)
        self.n_traj, self.n_frames = state.shape[0], state.shape[1]
        if self.n_frames < int(unroll) + 2:
            raise InputError(
                f"{p}: {self.n_frames} frames per trajectory; unroll={unroll} needs at least {int(unroll) + 2}"
            )
        if f_arr is None:
            f_full = np.zeros((self.n_traj, n, n))
        else:
            fw = 3 if f_kind == "vector" else 2
            if f_arr.ndim == fw:
                f_arr = np.broadcast_to(f_arr, (self.n_traj, *f_arr.shape))
            if f_arr.ndim != fw + 1 or f_arr.shape[0] != self.n_traj or f_arr.shape[-1] != n:
                raise InputError(
                    f"{p}: forcing {forcing!r} must be {'[2, n, n]' if fw == 3 else '[n, n]'} or per trajectory "
                    f"on the state's {n}x{n} grid, got {list(f_arr.shape)}"
                )
            _grid_check(f_arr, str(forcing), p)
            f_full = curl(np.asarray(f_arr), length) if f_kind == "vector" else np.asarray(f_arr)
            if f_kind == "vector":
                f_kind = "pseudoscalar"
        self.path, self.state_kind, self.forcing_kind = (
            p,
            ("pseudoscalar" if state_kind == "vector" else state_kind),
            f_kind,
        )
        self.declared_kind = state_kind
        self.frame_dt, self._unroll, self.train_size = float(frame_dt), int(unroll), train_size
        self.val_fraction, self.test_fraction = float(val_fraction), float(test_fraction)
        self._state, self._forcing_field = state.astype(np.float32), f_full.astype(np.float32)
        self._digest = hashlib.sha256(self._state.tobytes() + self._forcing_field.tobytes()).hexdigest()[:16]

        self.name, self.kind, self.forcing_axis = "flow", "user", "x"
        self.full_group = self.group = _flow_group()
        from symzoo.groups import GridRep

        w_rep, f_rep = GridRep(self.group, self.state_kind), GridRep(self.group, self.forcing_kind)
        self.input_fields = {"w": Field(w_rep, "graph", "state"), "f": Field(f_rep, "graph", "forcing")}
        self.target_fields = {"y": Field(w_rep, "graph", "state")}
        self.output_fields = {"w": Field(w_rep, "graph", "state")}
        self.units = {
            "w_rmse": "RMSE of the state over the unrolled steps, in the file's units",
            "w_rmse_1": "RMSE of the state after one frame, in the file's units",
        }
        self.breaking = None
        self.breaking_strength = 0.0
        self._kwargs = {}
        self.presets = {
            name: {"frame_dt": self.frame_dt, "unroll": self._unroll} for name in ("tiny", "small", "paper")
        }
        self.rollout_steps = max(1, min(16, self._split_frames("test") - 1))
        self.description = (
            f"next-frame forecasting of {p.name}: {self.n_traj} trajectories x {self.n_frames} frames on "
            f"{n}x{n}, state {state_kind}" + (f", forcing {forcing_kind}" if forcing else "")
        )

    # ------------------------------------------------------------ data
    def _split_index(self) -> dict[str, tuple[slice, slice]]:
        """split -> (trajectories, frames) slices (module docstring)."""
        t, f = self.n_traj, self.n_frames
        if t >= 3:
            n_test = max(1, int(round(self.test_fraction * t)))
            n_val = max(1, int(round(self.val_fraction * t)))
            n_train = t - n_test - n_val
            if n_train < 1:
                n_train, n_val, n_test = t - 2, 1, 1
            all_f = slice(0, f)
            return {
                "train": (slice(0, n_train), all_f),
                "val": (slice(n_train, n_train + n_val), all_f),
                "test": (slice(n_train + n_val, t), all_f),
            }
        a, b = int(round(0.7 * f)), int(round(0.8 * f))
        k = self._unroll + 1
        if a < k or b - a < k or f - b < k:
            raise InputError(
                f"flow {self.path.name}: one trajectory of {f} frames is too short to cut into train/val/test "
                f"pieces of at least {k} frames (give more frames or 3+ trajectories)"
            )
        every = slice(0, t)
        return {"train": (every, slice(0, a)), "val": (every, slice(a, b)), "test": (every, slice(b, f))}

    def _split_frames(self, split: str) -> int:
        s = self._split_index()[split][1]
        return len(range(*s.indices(self.n_frames)))

    def _split_arrays(self, split: str) -> tuple[Tensor, Tensor]:
        ts, fs = self._split_index()[split]
        return torch.from_numpy(np.ascontiguousarray(self._state[ts, fs])), torch.from_numpy(
            np.ascontiguousarray(self._forcing_field[ts])
        )

    def splits(self, preset: str | None = None, seed: int = 0):
        preset = preset or self.default_preset
        self.check_preset(preset)
        k = self._unroll
        out = []
        for split in ("train", "val", "test"):
            traj, forcing = self._split_arrays(split)
            n_frames, n = traj.shape[1], traj.shape[-1]
            starts = torch.arange(n_frames - k)
            w = traj[:, starts].reshape(-1, n, n)
            y = torch.stack([traj[:, starts + j + 1] for j in range(k)], 2).reshape(-1, k, n, n)
            f = forcing[:, None].expand(-1, len(starts), n, n).reshape(-1, n, n).clone()
            out.append(ArrayDataset({"w": w, "f": f, "y": y}, meta={"split": split, "trajectories": traj}))
        if self.train_size is not None:
            if not 1 <= int(self.train_size) <= len(out[0]):
                raise SymzooError(
                    f"flow has {len(out[0])} training samples; train_size={self.train_size} is not possible"
                )
            gen = torch.Generator().manual_seed(0)
            out[0] = out[0].subset(torch.randperm(len(out[0]), generator=gen)[: int(self.train_size)])
        return tuple(out)

    def model_defaults(self, model_name: str, train_set) -> dict[str, Any]:
        """The input scales (as :class:`FlowTask`); a model that reads its inputs as pseudo-scalars
        and claims the group's symmetry (``steerable-cnn``) is refused on a ``scalar`` state."""
        if self.state_kind == "scalar" or self.forcing_kind == "scalar":
            from symzoo.contract import model_contract

            cls = _model_class(model_name)  # the builder's declared return class: nothing is built
            claims = set(getattr(cls, "symmetry", ()) or ()) & {"rotation", "reflection"}
            reads = model_contract(cls).inputs if cls is not None else {}
            kinds = [
                getattr(reads[k].rep, "names", None) or {reads[k].rep.name} for k in ("w", "f") if k in reads
            ]
            if claims and any(set(k) == {"grid-pseudoscalar"} for k in kinds):
                raise InputError(
                    f"model {model_name!r} treats its fields as pseudo-scalars, but this flow's fields are "
                    f"declared {self.state_kind}/{self.forcing_kind}: its reflection equivariance would be wrong "
                    "(use cnn or unet, or declare kind=pseudoscalar if the field is a vorticity)"
                )
        out = super().model_defaults(model_name, train_set)
        return {k: (v if v > 0 else 1.0) for k, v in out.items()}

    # ------------------------------------------------------------ dynamics protocol
    @property
    def dt(self) -> float:  # type: ignore[override]
        return self.frame_dt

    def reference_key(self, preset: str) -> dict:
        return {"file": self._digest, "unroll": self._unroll, "kind": "user-flow", "version": 1}

    def initial_batch(self, preset=None, split: str = "test", n: int | None = None, dtype=torch.float64):
        """The first frame of the first ``n`` trajectories of ``split`` (their stored frames are the reference)."""
        from torch_geometric.data import Data

        from symzoo.task import cast_batch

        if split not in ("train", "val", "test"):
            raise SymzooError(f"split must be train, val or test, not {split!r}")
        traj, forcing = self._split_arrays(split)
        k = traj.shape[0] if n is None else max(1, min(int(n), traj.shape[0]))
        b = Data(w=traj[:k, 0].clone(), f=forcing[:k].clone())
        b.num_graphs = k
        b.traj = traj[:k]
        b.preset = preset or self.default_preset
        return cast_batch(b, dtype)

    def reference_trajectory(self, batch, steps: int) -> dict[str, Tensor]:
        """The stored frames (a user's flow has no simulator: rollouts stop at the data's end)."""
        traj = getattr(batch, "traj", None)
        if traj is None or traj.shape[1] <= steps:
            have = 0 if traj is None else traj.shape[1] - 1
            raise SymzooError(f"flow: a rollout of {steps} steps needs more than the {have} stored frames")
        return {"w": traj[:, : steps + 1].transpose(0, 1).to(torch.float64)}

    def invariants(self) -> dict[str, Invariant]:
        """Energy, enstrophy and spectrum when the state is a vorticity (pseudo-scalar or a
        converted velocity); none for a scalar field."""
        return super().invariants() if self.state_kind == "pseudoscalar" else {}

    def ood_variants(self) -> dict[str, Task]:
        return {}

    def with_breaking(self, strength: float):
        return Task.with_breaking(self, strength)


def _model_class(model_name: str) -> Any:
    """The class a registered builder declares it returns (``None`` when it declares none)."""
    import typing

    from symzoo.registry import model_entry

    try:
        return typing.get_type_hints(model_entry(model_name).builder).get("return")
    except Exception:  # noqa: BLE001 (an unresolvable annotation: no declared contract to check)
        return None


@register_task("flow")
def flow(**kw) -> Task:
    """Your 2-D snapshots: path=FILE.npz kind=scalar|pseudoscalar|vector [field=w forcing=KEY forcing_kind frame_dt unroll]."""
    if kw.get("path") is None:
        from .user_ode import UnconfiguredTask

        msg = "the flow task needs data.task_args.path=FILE.npz and kind=scalar|pseudoscalar|vector (see docs/byo_flow.md)"
        if kw:
            raise InputError(msg)
        presets: dict[str, dict[str, Any]] = {p: {} for p in ("tiny", "small", "paper")}
        return UnconfiguredTask("flow", "flows", presets, msg, msg)
    return UserFlowTask(**kw)


flow.task_class = UserFlowTask  # for `symzoo train flow MODEL --help`
