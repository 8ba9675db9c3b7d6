"""Flow-map baselines for attractor forecasting (``symzoo.datasets.attractors``).

Both map a window of standardized states ``x [B, W, D]`` to the next state ``x_next [B, D]`` and
claim no symmetry (their ``+aug`` variants learn it from augmentation):

* :class:`FlowMLP` -- ``x_next = x_last + MLP(flatten(x))``; what the shared ``mlp`` builder
  builds on a task whose input is a window of states (its fields, which attractor tasks pass
  through ``Task.model_defaults``);
* :class:`FlowNODE` -- a neural ODE on the last state: ``x_next = RK4(f_θ, x_last)`` over one
  sampling step (``substeps`` RK4 steps of size ``1 / substeps``, time in sampling steps); what the
  shared ``node`` builder builds on a task whose input is a window of states.
"""

from __future__ import annotations

from torch import Tensor, nn

from symzoo.contract import ANY
from symzoo.task import Field

from .base import SymmetryContract, TaskDescribedKwargs, mlp

__all__ = ["FlowMLP", "FlowNODE"]


def _check_window(x: Tensor, window: int | None, dim: int, name: str) -> None:
    from symzoo.errors import InputError

    if x.dim() != 3 or x.shape[-1] != dim or (window is not None and x.shape[1] != window):
        want = f"[B, {window if window is not None else 'W'}, {dim}]"
        raise InputError(f"{name} was built for windows {want}; got x of shape {list(x.shape)}")


class FlowMLP(TaskDescribedKwargs, SymmetryContract, nn.Module):
    """MLP flow map on a flattened window of states (no built-in symmetry)."""

    symmetry: frozenset[str] = frozenset()
    input_fields = {"x": Field(ANY, "graph", "window of states [W, D]")}
    output_fields = {"x_next": Field(ANY, "graph", "state [D]")}

    def __init__(self, window: int = 4, dim: int = 3, hidden: int = 128, layers: int = 3, act: str = "silu"):
        super().__init__()
        if window < 1 or dim < 1:
            raise ValueError(f"FlowMLP needs window >= 1 and dim >= 1, got window={window}, dim={dim}")
        self.window, self.dim = int(window), int(dim)
        self.net = mlp([self.window * self.dim] + [hidden] * layers + [self.dim], act)

    def forward(self, batch) -> dict[str, Tensor]:
        """``x [B, W, D]`` -> ``{"x_next": [B, D]}``."""
        x = batch.x
        _check_window(x, self.window, self.dim, "mlp")
        return {"x_next": x[:, -1] + self.net(x.reshape(x.shape[0], -1))}


class FlowNODE(TaskDescribedKwargs, SymmetryContract, nn.Module):
    """Neural ODE on the last state, integrated by RK4 over one sampling step."""

    symmetry: frozenset[str] = frozenset()
    input_fields = {"x": Field(ANY, "graph", "window of states [W, D]")}
    output_fields = {"x_next": Field(ANY, "graph", "state [D]")}

    def __init__(
        self, dim: int = 3, hidden: int = 128, layers: int = 2, act: str = "tanh", substeps: int = 2
    ):
        super().__init__()
        if dim < 1 or substeps < 1:
            raise ValueError(f"FlowNODE needs dim >= 1 and substeps >= 1, got dim={dim}, substeps={substeps}")
        self.dim, self.substeps = int(dim), int(substeps)
        self.f = mlp([self.dim] + [hidden] * layers + [self.dim], act)

    def forward(self, batch) -> dict[str, Tensor]:
        """``x [B, W, D]`` (the last state is used) -> ``{"x_next": [B, D]}``."""
        _check_window(batch.x, None, self.dim, "node")
        z, h = batch.x[:, -1], 1.0 / self.substeps
        for _ in range(self.substeps):
            k1 = self.f(z)
            k2 = self.f(z + 0.5 * h * k1)
            k3 = self.f(z + 0.5 * h * k2)
            k4 = self.f(z + h * k3)
            z = z + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        return {"x_next": z}
