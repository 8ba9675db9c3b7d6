"""Reusable test toolkit: equivariance, finite-difference forces, batch consistency.

Shipped inside the package (NequIP's ``utils/unittests`` pattern) so that any registered model and
task, including ones written outside symzoo, can be checked the same way::

    from symzoo.testing import assert_equivariant
    assert_equivariant(symzoo.create_model("egnn"), symzoo.get_task("nbody-charged"))

Errors are relative RMS errors ``rms(f(g x) - g f(x)) / rms(g f(x))`` over every output the task
declares, maximised over trials; one number per group factor.  A NaN error (NaN outputs) is kept
as NaN and fails :func:`assert_equivariant`: non-finite is never "perfectly equivariant".
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import Tensor

__all__ = [
    "DEFAULT_TOLERANCES",
    "equivariance_errors",
    "assert_equivariant",
    "assert_batch_consistent",
    "assert_forces_match_finite_differences",
    "ModelTests",
    "EnergyModelTests",
]

#: relative-error tolerances by dtype
DEFAULT_TOLERANCES = {torch.float64: 1e-9, torch.float32: 2e-4}


def _rel(a: Tensor, b: Tensor) -> float:
    a, b = a.detach(), b.detach()
    num = (a - b).double().pow(2).mean().sqrt()
    den = b.double().pow(2).mean().sqrt()
    return float((num / den.clamp(min=1e-12)).detach())


def _elements_to_check(task, batch, factor: str, trials: int, gen: torch.Generator):
    """Every element of the (sub)group for finite groups, ``trials`` random ones otherwise.

    For a finite group the factor ``"all"`` enumerates the whole group and a generator's name its
    cyclic subgroup; each element is applied to every sample of the batch at once.
    """
    group = task.group
    if group.finite:
        members = group.subgroup(None if factor == "all" else [factor])
        return [group.element(i, int(batch.num_graphs)) for i in members if i != 0]
    return [
        task.sample_group(batch, factors=None if factor == "all" else [factor], generator=gen)
        for _ in range(trials)
    ]


def _prepare(model, dtype):
    m = copy.deepcopy(model).to(dtype)
    m.eval()
    return m


@torch.enable_grad()
def equivariance_errors(
    model,
    task,
    *,
    factors: Iterable[str] | None = None,
    dtype: torch.dtype = torch.float64,
    trials: int = 2,
    num_graphs: int = 4,
    seed: int = 0,
    batch=None,
) -> dict[str, float]:
    """Relative equivariance error of ``model`` on ``task`` for each factor of ``task.group``.

    ``factors`` defaults to every factor of the group, plus ``"all"`` (the whole group).  For a
    continuous group each factor is checked on ``trials`` random elements; for a finite group on
    **every** element of the subgroup the factor generates (``"all"``: every element of the group).
    Works for any batch the task makes (graphs, plain vectors, grids).  ``batch`` defaults to
    ``task.example_batch``.
    """
    from .task import cast_batch

    m = _prepare(model, dtype)
    batch = task.example_batch(num_graphs, dtype=dtype) if batch is None else cast_batch(batch, dtype)
    factors = list(task.group.factors) + ["all"] if factors is None else list(factors)
    gen = torch.Generator().manual_seed(seed)
    out = m(batch)
    errors: dict[str, float] = {}
    for factor in factors:
        worst = 0.0
        for g in _elements_to_check(task, batch, factor, trials, gen):
            out_g = m(task.act(g, batch))
            expected = task.act_output(g, out, batch)
            for key in task.output_fields:
                if key in out:
                    e = _rel(out_g[key], expected[key])
                    # max(worst, nan) would drop the NaN: a NaN (or inf) error is the worst there is
                    worst = e if (e != e or e > worst) else worst
            if worst != worst:
                break
        errors[factor] = worst
    return errors


def assert_equivariant(
    model,
    task,
    *,
    dtypes: Iterable[torch.dtype] = (torch.float32, torch.float64),
    factors: Iterable[str] | None = None,
    tolerances: dict | None = None,
    **kwargs,
) -> dict[torch.dtype, dict[str, float]]:
    """Assert ``model`` is equivariant on ``task`` for the factors it claims, in each dtype.

    ``factors`` defaults to ``model.symmetry`` intersected with the task's group factors (plus
    ``"all"`` when the model claims every factor).  Returns the measured errors per dtype.
    """
    tol = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    if factors is None:
        claimed = set(getattr(model, "symmetry", ()))
        factors = [f for f in task.group.factors if f in claimed]
        if claimed >= set(task.group.factors):
            factors.append("all")
    factors = list(factors)
    results = {}
    failures = []
    for dtype in dtypes:
        errs = equivariance_errors(model, task, factors=factors, dtype=dtype, **kwargs) if factors else {}
        results[dtype] = errs
        for f, e in errs.items():
            if not e <= tol[dtype]:
                failures.append(f"{f}: {e:.3g} > {tol[dtype]:.0e} ({str(dtype).replace('torch.', '')})")
    if failures:
        name = getattr(model, "builder_name", type(model).__name__)
        raise AssertionError(f"{name} is not equivariant on {task.name}: " + "; ".join(failures))
    return results


@torch.enable_grad()
def assert_batch_consistent(
    model, task, *, num_graphs: int = 3, dtype: torch.dtype = torch.float64, rtol: float = 1e-9
) -> None:
    """Assert that a batch gives the same per-graph outputs as its graphs one at a time."""
    _, _, test = task.splits("tiny", seed=0)
    m = _prepare(model, dtype)
    from .task import StackedDataset, cast_batch

    def load(idx):
        sub = test.subset(idx) if isinstance(test, StackedDataset) else torch.utils.data.Subset(test, idx)
        return cast_batch(next(iter(task.loader(sub, len(idx)))), dtype)

    full = m(load(list(range(num_graphs))))
    singles = [m(load([i])) for i in range(num_graphs)]
    for key in task.output_fields:
        if key not in full:
            continue
        cat = torch.cat([s[key] for s in singles], 0)
        err = _rel(full[key], cat)
        assert err <= rtol, f"{key}: batched vs single outputs differ by {err:.3g} (relative)"


def assert_forces_match_finite_differences(
    model,
    batch,
    *,
    energy_key: str = "energy",
    forces_key: str = "forces",
    eps: float = 1e-4,
    n_checks: int = 6,
    rtol: float = 1e-5,
    seed: int = 0,
) -> None:
    """Assert ``forces = -dE/dpos`` against central differences on random coordinates (float64)."""
    from .task import cast_batch

    m = _prepare(model, torch.float64)
    batch = cast_batch(batch, torch.float64)
    with torch.enable_grad():
        forces = m(batch)[forces_key].detach()
    gen = torch.Generator().manual_seed(seed)
    n = batch.pos.shape[0]
    for _ in range(n_checks):
        i = int(torch.randint(n, (1,), generator=gen))
        k = int(torch.randint(batch.pos.shape[1], (1,), generator=gen))
        e = []
        for s in (1, -1):
            b = batch.clone()
            b.pos = batch.pos.clone()
            b.pos[i, k] += s * eps
            with torch.enable_grad():
                e.append(m(b)[energy_key].detach().sum())
        fd = -(e[0] - e[1]) / (2 * eps)
        scale = forces.abs().max().clamp(min=1e-8)
        assert abs(float(fd - forces[i, k])) <= rtol * float(scale) + 1e-8, (
            f"force[{i},{k}] = {float(forces[i, k]):.8g} but finite difference gives {float(fd):.8g}"
        )


class ModelTests:
    """Test mixin (NequIP's ``BaseEnergyModelTests`` pattern): subclass and set ``model_name`` and
    ``task_name`` (and optionally ``model_kwargs``) to run the generic battery on a model."""

    model_name: str = ""
    task_name: str = ""
    model_kwargs: dict = {}

    def _model_task(self):
        import symzoo

        torch.manual_seed(0)
        return symzoo.create_model(self.model_name, **self.model_kwargs), symzoo.get_task(self.task_name)

    def test_equivariance_float32_float64(self):
        model, task = self._model_task()
        assert_equivariant(model, task)

    def test_unclaimed_factors_are_reported(self):
        model, task = self._model_task()
        unclaimed = [f for f in task.group.factors if f not in getattr(model, "symmetry", ())]
        errs = equivariance_errors(model, task, factors=unclaimed) if unclaimed else {}
        for f, e in errs.items():
            assert e > 1e-6, f"{self.model_name} does not claim {f} but is equivariant to it ({e:.2g})"

    def test_batch_consistency(self):
        model, task = self._model_task()
        assert_batch_consistent(model, task)

    def test_output_finite(self):
        model, task = self._model_task()
        out = model(task.example_batch(2, dtype=torch.float32))
        for key in task.output_fields:
            if key in out:
                assert torch.isfinite(out[key]).all()


class EnergyModelTests(ModelTests):
    """Mixin for energy models (forces = -dE/dpos): the :class:`ModelTests` battery plus forces
    against central finite differences and smoothness at the cutoff (nequip's ``BaseEnergyModelTests``).

    Set ``model_name``, ``task_name`` and ``model_kwargs``; the cutoff test builds a dimer of the
    first species of the task's example batch and needs the model's ``cutoff`` attribute.
    """

    fd_rtol: float = 1e-5

    def test_forces_match_finite_differences(self):
        model, task = self._model_task()
        assert_forces_match_finite_differences(model, task.example_batch(2), rtol=self.fd_rtol)

    def test_smooth_at_the_cutoff(self):
        from torch_geometric.data import Batch, Data

        model, task = self._model_task()
        m = _prepare(model, torch.float64)
        rc = float(model.cutoff)
        z = task.example_batch(1).z[:1].repeat(2)

        def dimer(r: float):
            pos = torch.tensor([[0.0, 0.0, 0.0], [r, 0.0, 0.0]], dtype=torch.float64)
            return Batch.from_data_list([Data(pos=pos, z=z)])

        with torch.enable_grad():
            inside, outside = m(dimer(rc - 1e-4)), m(dimer(rc + 1e-4))
        assert abs(float(inside["energy"].sum() - outside["energy"].sum())) < 1e-7, (
            "energy jumps at the cutoff"
        )
        assert float(inside["forces"].abs().max()) < 1e-5, "forces do not vanish at the cutoff"
