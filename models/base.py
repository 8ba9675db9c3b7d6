"""Shared pieces of model builders: the symmetry contract and small MLP/graph helpers."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["SymmetryContract", "mlp", "ACTIVATIONS", "segment_mean", "segment_sum"]

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "softplus": nn.Softplus}


class SymmetryContract:
    """Mixin declaring what a model claims, like e3nn's ``irreps_in/irreps_out``.

    ``symmetry``: the group factors the model is **built** to respect exactly (a subset of
    ``symzoo.symmetry.FACTORS``); generic tests assert equivariance for exactly these and report
    (without asserting) the others.  ``irreps_in`` / ``irreps_out``: e3nn irreps strings of the
    inputs the model reads and the outputs it returns (``"1o"`` for a position or vector).
    ``optional_inputs``: fields of ``irreps_in`` the model uses when present but does not need
    (e.g. a periodic cell); :mod:`symzoo.compat` checks the others against a task's fields.
    """

    symmetry: frozenset[str] = frozenset()
    irreps_in: dict[str, str] = {}
    optional_inputs: frozenset[str] = frozenset()
    irreps_out: dict[str, str] = {}

    def fit_closed_form(self, task, train_set) -> None:
        """Fit parameters in closed form before training (e.g. an echo state network's ridge
        readout); the harness calls it once on fresh runs, after ``task.prepare_model``.  Parameters
        left with ``requires_grad=False`` are not optimized; a model with none left trains no
        steps (its epochs only validate).  Default: nothing."""

    def regularization(self) -> Tensor | None:
        """A penalty the harness adds to the training loss (e.g. the residual pathway prior of
        ``egnn-rpp``); ``None`` (the default) adds nothing.  Returns a scalar tensor."""
        return None


def mlp(
    sizes: Sequence[int],
    act: str = "silu",
    *,
    last_act: bool = False,
    last_bias: bool = True,
    last_gain: float | None = None,
) -> nn.Sequential:
    """A plain MLP ``sizes[0] -> ... -> sizes[-1]`` with ``act`` between layers."""
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        lin = nn.Linear(sizes[i], sizes[i + 1], bias=(last_bias or not last))
        if last and last_gain is not None:
            nn.init.xavier_uniform_(lin.weight, gain=last_gain)
        layers.append(lin)
        if not last or last_act:
            layers.append(ACTIVATIONS[act]())
    return nn.Sequential(*layers)


def segment_sum(src: Tensor, index: Tensor, n: int) -> Tensor:
    """Sum the rows of ``src [E, ...]`` into ``n`` segments given by ``index [E]``."""
    from torch_geometric.utils import scatter

    return scatter(src, index, dim=0, dim_size=n, reduce="sum")


def segment_mean(src: Tensor, index: Tensor, n: int) -> Tensor:
    from torch_geometric.utils import scatter

    return scatter(src, index, dim=0, dim_size=n, reduce="mean")
