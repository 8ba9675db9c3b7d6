"""``esn``: an echo state network (reservoir computer) flow map, fit in closed form by ridge regression.

The reservoir (Jaeger 2001; Pathak et al. 2018) is driven by the window of standardized states
``u_1..u_W`` from a zero state::

    r_t = (1 - a) r_{t-1} + a tanh(A r_{t-1} + W_in u_t + b)

with a fixed random sparse ``A`` (``degree`` non-zeros per row, rescaled to ``spectral_radius``),
``W_in`` uniform in ``±input_scale`` and ``b`` the reservoir bias.  The readout is linear in the
features ``[1, u_W, r~]`` and predicts the increment: ``x_next = u_W + W_out [1, u_W, r~]``.

**Odd symmetry.**  A tanh reservoir *without bias* is an odd map (``r(-u) = -r(u)``); with a
linear readout the whole ESN is then odd and, for systems symmetric under ``x -> -x`` only in
part, it tends to produce mirror attractors (Herteux & Räth 2020).  We use **Pathak's squared
readout** (``readout="squared"``, the default): ``r~`` squares every second reservoir unit, which
breaks the spurious odd symmetry; ``readout="bias"`` instead keeps a linear readout and adds a
random reservoir bias ``b`` (uniform in ``±bias_scale``).  The ESN claims no symmetry.
The random reservoir comes from ``seed`` (default: drawn from torch's global RNG, which the
harness seeds per run, so seeds of a comparison get different reservoirs); it is stored in the
weights as buffers.

**Training** is closed form: :meth:`ESN.fit_closed_form` (called by the harness before the first
epoch, :meth:`symzoo.models.base.SymmetryContract.fit_closed_form`) collects the teacher-forced
features of the whole training set and solves ridge regression
``W_out = Y^T F (F^T F + β I)^-1`` in float64; afterwards the model has no trainable parameters
and the harness runs no optimizer steps (its epochs only validate and checkpoint).
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

from symzoo.contract import ANY
from symzoo.registry import register_model
from symzoo.task import Field

from .base import SymmetryContract

__all__ = ["ESN"]

log = logging.getLogger(__name__)


class ESN(SymmetryContract, nn.Module):
    """Echo state network flow map on windows ``x [B, W, D]`` (module docstring)."""

    symmetry: frozenset[str] = frozenset()
    input_fields = {"x": Field(ANY, "graph", "window of states [W, D]")}
    output_fields = {"x_next": Field(ANY, "graph", "state [D]")}

    def __init__(
        self,
        state_dim: int = 3,
        window: int = 4,
        reservoir: int = 300,
        spectral_radius: float = 0.9,
        input_scale: float = 0.5,
        degree: int = 3,
        leak: float = 1.0,
        ridge: float = 1e-6,
        readout: str = "squared",
        bias_scale: float = 0.5,
        seed: int | None = None,
    ):
        super().__init__()
        if readout not in ("squared", "bias"):
            raise ValueError(f"esn readout must be 'squared' (Pathak) or 'bias', got {readout!r}")
        if state_dim < 1 or window < 1 or reservoir < 2 or not 0 < leak <= 1 or ridge < 0:
            raise ValueError(
                "esn needs state_dim >= 1, window >= 1, reservoir >= 2, 0 < leak <= 1 and ridge >= 0; got "
                f"state_dim={state_dim}, window={window}, reservoir={reservoir}, leak={leak}, ridge={ridge}"
            )
        self.dim, self.window, self.n = int(state_dim), int(window), int(reservoir)
        self.leak, self.ridge, self.readout = float(leak), float(ridge), readout
        if seed is None:  # from torch's global RNG (the harness seeds it per run)
            seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        gen = torch.Generator().manual_seed(int(seed))
        a = torch.zeros(self.n, self.n, dtype=torch.float64)
        k = max(1, min(int(degree), self.n))
        cols = torch.stack([torch.randperm(self.n, generator=gen)[:k] for _ in range(self.n)])
        a.scatter_(1, cols, torch.rand(self.n, k, generator=gen, dtype=torch.float64) * 2 - 1)
        rho = torch.linalg.eigvals(a).abs().max().real
        if rho > 0:
            a *= spectral_radius / rho
        w_in = (torch.rand(self.n, self.dim, generator=gen, dtype=torch.float64) * 2 - 1) * input_scale
        b = (torch.rand(self.n, generator=gen, dtype=torch.float64) * 2 - 1) * bias_scale
        dt = torch.get_default_dtype()
        self.A: Tensor  # buffer
        self.register_buffer("A", a.to(dt))
        self.W_in: Tensor  # buffer
        self.register_buffer("W_in", w_in.to(dt))
        self.b: Tensor  # buffer
        self.register_buffer("b", (b if readout == "bias" else torch.zeros_like(b)).to(dt))
        n_feat = 1 + self.dim + self.n
        # a small random readout until fit_closed_form (so an unfit ESN is not trivially the identity)
        self.W_out = nn.Parameter(0.01 * torch.randn(self.dim, n_feat, generator=gen).to(dt))

    def features(self, x: Tensor) -> Tensor:
        """Readout features ``[1, u_W, r~]`` of windows ``x [B, W, D]`` -> ``[B, 1 + D + R]``."""
        from symzoo.errors import InputError

        if x.dim() != 3 or x.shape[1:] != (self.window, self.dim):
            raise InputError(f"esn was built for windows [B, {self.window}, {self.dim}]; got {list(x.shape)}")
        a, w_in, b = self.A.to(x.dtype), self.W_in.to(x.dtype), self.b.to(x.dtype)
        r = x.new_zeros(x.shape[0], self.n)
        for t in range(x.shape[1]):
            r = (1 - self.leak) * r + self.leak * torch.tanh(r @ a.T + x[:, t] @ w_in.T + b)
        if self.readout == "squared":
            r = r.clone()
            r[:, 1::2] = r[:, 1::2] ** 2
        return torch.cat([x.new_ones(x.shape[0], 1), x[:, -1], r], -1)

    def forward(self, batch) -> dict[str, Tensor]:
        """``x [B, W, D]`` -> ``{"x_next": [B, D]}``."""
        x = batch.x
        return {"x_next": x[:, -1] + self.features(x) @ self.W_out.to(x.dtype).T}

    @torch.no_grad()
    def fit_closed_form(self, task, train_set) -> None:
        """Ridge regression of the readout on the teacher-forced training windows (float64)."""
        ftf = torch.zeros(self.W_out.shape[1], self.W_out.shape[1], dtype=torch.float64)
        fty = torch.zeros(self.W_out.shape[1], self.dim, dtype=torch.float64)
        count = 0
        for batch in task.loader(train_set, 2048):
            x = batch.x.to(torch.float64)
            f = self.double().features(x)
            y = batch.x_next.to(torch.float64) - x[:, -1]
            ftf += f.T @ f
            fty += f.T @ y
            count += x.shape[0]
        dt = torch.get_default_dtype()
        self.to(dt)
        eye = torch.eye(ftf.shape[0], dtype=torch.float64)
        w = torch.linalg.solve(ftf + self.ridge * count * eye, fty).T
        self.W_out.data = w.to(dt)
        self.W_out.requires_grad_(False)
        log.info("esn: ridge readout fit on %d windows (%d features)", count, ftf.shape[0])


@register_model("esn", domain="forecasting")
def esn(
    state_dim: int = 3,
    window: int = 4,
    reservoir: int = 300,
    spectral_radius: float = 0.9,
    input_scale: float = 0.5,
    degree: int = 3,
    leak: float = 1.0,
    ridge: float = 1e-6,
    readout: str = "squared",
    bias_scale: float = 0.5,
    seed: int | None = None,
) -> ESN:
    """Echo state network (Pathak's squared readout by default), ridge-regression readout; no symmetry."""
    return ESN(
        state_dim,
        window,
        reservoir,
        spectral_radius,
        input_scale,
        degree,
        leak,
        ridge,
        readout,
        bias_scale,
        seed,
    )
