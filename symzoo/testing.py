"""Reusable test toolkit: equivariance, finite-difference forces, batch consistency.

Shipped inside the package (NequIP's ``utils/unittests`` pattern) so that any registered model and
task, including ones written outside symzoo, can be checked the same way::

    from symzoo.testing import assert_equivariant
    assert_equivariant(symzoo.create_model("egnn"), symzoo.get_task("nbody-charged"))

Errors are relative RMS errors ``rms(f(g x) - g f(x)) / rms(g f(x))`` over every output the task
declares, maximised over trials; one number per group factor.  A NaN error (NaN outputs) is kept
as NaN and fails :func:`assert_equivariant`: non-finite is never "perfectly equivariant".

:func:`check_model` runs the whole battery on one model and task and returns one
:class:`CheckResult` per check (``symzoo check-model`` prints them; the pytest plugin's
``symzoo_check_model`` fixture asserts them).  In a test suite of your own, subclass the mixins::

    from symzoo.testing import ModelTests, EnergyModelTests

    class TestMyNet(ModelTests):              # EnergyModelTests for energy + forces models
        model_name = "my_pkg.models:build_net"   # a registered name or module:builder
        task_name = "nbody-charged"
        model_kwargs = {"hidden": 16}
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

__all__ = [
    "DEFAULT_TOLERANCES",
    "equivariance_errors",
    "assert_equivariant",
    "assert_batch_consistent",
    "assert_forces_match_finite_differences",
    "assert_smooth_at_cutoff",
    "CheckResult",
    "check_model",
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
    from .compat import check_compatible
    from .task import cast_batch

    check_compatible(model, task)  # a model for other data: one line, not an AttributeError
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


def assert_smooth_at_cutoff(model, task, *, atol_energy: float = 1e-7, atol_forces: float = 1e-5) -> None:
    """Assert that a dimer's energy is continuous and its forces vanish at ``model.cutoff``
    (float64; the atoms are the first species of the task's example batch)."""
    from torch_geometric.data import Batch, Data

    m = _prepare(model, torch.float64)
    rc = float(model.cutoff)
    z = task.example_batch(1).z[:1].repeat(2)

    def dimer(r: float):
        pos = torch.tensor([[0.0, 0.0, 0.0], [r, 0.0, 0.0]], dtype=torch.float64)
        return Batch.from_data_list([Data(pos=pos, z=z)])

    with torch.enable_grad():
        inside, outside = m(dimer(rc - 1e-4)), m(dimer(rc + 1e-4))
    jump = abs(float((inside["energy"].sum() - outside["energy"].sum()).detach()))
    assert jump < atol_energy, f"energy jumps by {jump:.3g} at the cutoff {rc:g}"
    fmax = float(inside["forces"].detach().abs().max())
    assert fmax < atol_forces, f"forces do not vanish at the cutoff {rc:g} (max |F| {fmax:.3g})"


# ----------------------------------------------------------------------------- one-command checks
@dataclass
class CheckResult:
    """One check of :func:`check_model`: ``status`` is ``PASS``, ``FAIL``, ``INFO`` (a measurement,
    never failing) or ``SKIP`` (does not apply to this model or task)."""

    name: str
    status: str
    detail: str
    values: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self, width: int = 26) -> str:
        return f"{self.status:<4}  {self.name:<{width}} {self.detail}"

    def as_dict(self) -> dict:
        return asdict(self)


def _fmt(e: float) -> str:
    return "nan" if e != e else f"{e:.2g}"


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def _n_elements(task, factor: str, trials: int) -> str:
    group = task.group
    if group.finite:
        k = len(group.subgroup(None if factor == "all" else [factor]))
        return f"all {k} elements"
    return f"{trials} random elements"


def check_model(
    model,
    task,
    *,
    tolerances: dict | None = None,
    trials: int = 2,
    num_graphs: int = 4,
    seed: int = 0,
    timing_repeats: int = 5,
    fd_rtol: float = 1e-5,
) -> list[CheckResult]:
    """Every toolkit check on ``model`` and ``task``, one :class:`CheckResult` each, in order:

    ``contract`` (the declared symmetry contract, and its inputs/outputs against the task's fields),
    ``finite`` (no NaN/Inf outputs in float32 and float64), ``equivariance[F]`` for every factor
    ``F`` of the task's group and ``all`` (float32 and float64, dtype-specific tolerances; every
    element of a finite group, ``trials`` random elements of a continuous one; factors the model
    does not claim are reported, not asserted), ``batch`` (a batch equals its graphs one at a
    time), ``forces`` (against central finite differences) and ``cutoff`` (energy continuous,
    forces zero at ``model.cutoff``) for energy models, ``parameters`` and ``forward-time``.
    Nothing raises: a check that cannot run is a ``FAIL`` with the reason.
    """
    from .compat import check_compatible

    tol = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    results: list[CheckResult] = []
    factors = list(task.group.factors)
    claimed = getattr(model, "symmetry", None)

    # contract
    problems = []
    if not isinstance(claimed, (frozenset, set, tuple, list)):
        problems.append("declares no `symmetry` (a frozenset of the group factors it respects)")
        claimed = frozenset()
    from .contract import model_contract

    contract = model_contract(model)
    if not contract.outputs:
        problems.append("declares no `output_fields` (output name -> symzoo.task.Field)")
    try:
        check_compatible(model, task)
    except Exception as e:  # noqa: BLE001 -- IncompatibleError or a broken contract attribute
        problems.append(str(e))
    claimed = frozenset(claimed)
    unknown = sorted(claimed - set(factors))
    if problems:
        results.append(CheckResult("contract", "FAIL", "; ".join(problems)))
    else:
        reads = ", ".join(sorted(contract.inputs)) or "nothing declared"
        returns = ", ".join(sorted(contract.outputs))
        claims = ", ".join(f for f in factors if f in claimed) or "no factor"
        extra = f" (also claims {', '.join(unknown)}, not factors of this task)" if unknown else ""
        results.append(
            CheckResult(
                "contract",
                "PASS",
                f"claims {claims} of {task.group!r}{extra}; reads {reads}; returns {returns}",
                {
                    "claimed": sorted(claimed & set(factors)),
                    "missing": [f for f in factors if f not in claimed],
                },
            )
        )

    # finite outputs (and whether the model runs at all)
    runs = True
    bad: list[str] = []
    try:
        for dtype in (torch.float32, torch.float64):
            m = _prepare(model, dtype)
            with torch.enable_grad():
                out = m(task.example_batch(num_graphs, seed=seed, dtype=dtype))
            keys = [k for k in task.output_fields if k in out]
            if not keys:
                raise AssertionError(
                    f"returns {sorted(out)}, none of the task's outputs {sorted(task.output_fields)}"
                )
            bad += [
                f"{k} ({str(dtype).replace('torch.', '')})" for k in keys if not torch.isfinite(out[k]).all()
            ]
    except Exception as e:  # noqa: BLE001
        runs = False
        results.append(CheckResult("finite", "FAIL", f"forward failed: {_one_line(e)}"))
    else:
        if bad:
            results.append(CheckResult("finite", "FAIL", f"NaN/Inf in {', '.join(bad)}"))
        else:
            results.append(CheckResult("finite", "PASS", "all outputs finite in float32 and float64"))

    # equivariance per factor
    check_factors = factors + (["all"] if claimed >= set(factors) else [])
    if runs:
        errs: dict = {}
        try:
            for dtype in (torch.float32, torch.float64):
                errs[dtype] = equivariance_errors(
                    model,
                    task,
                    factors=check_factors,
                    dtype=dtype,
                    trials=trials,
                    num_graphs=num_graphs,
                    seed=seed,
                )
        except Exception as e:  # noqa: BLE001
            results.append(CheckResult("equivariance", "FAIL", f"could not be measured: {_one_line(e)}"))
        else:
            for f in check_factors:
                e32, e64 = errs[torch.float32][f], errs[torch.float64][f]
                where = _n_elements(task, f, trials)
                vals = {
                    "float32": e32,
                    "float64": e64,
                    "tol_float32": tol[torch.float32],
                    "tol_float64": tol[torch.float64],
                }
                text = f"float32 {_fmt(e32)}, float64 {_fmt(e64)} on {where}"
                if f == "all" or f in claimed:
                    ok = e32 <= tol[torch.float32] and e64 <= tol[torch.float64]
                    limits = f"(tolerance {tol[torch.float32]:.0e} / {tol[torch.float64]:.0e})"
                    status, detail = (
                        ("PASS", f"{text} {limits}")
                        if ok
                        else ("FAIL", f"claimed but broken: {text} {limits}")
                    )
                elif e64 <= tol[torch.float64]:
                    status, detail = "INFO", f"not claimed, yet equivariant: {text} (claim it in `symmetry`)"
                else:
                    status, detail = "INFO", f"not claimed: {text}"
                results.append(CheckResult(f"equivariance[{f}]", status, detail, vals))
    else:
        results.append(CheckResult("equivariance", "SKIP", "the model does not run on the task's batches"))

    # batch consistency
    if runs:
        try:
            assert_batch_consistent(model, task)
        except AssertionError as e:
            results.append(CheckResult("batch", "FAIL", str(e).splitlines()[0]))
        except Exception as e:  # noqa: BLE001
            results.append(CheckResult("batch", "FAIL", f"could not be measured: {_one_line(e)}"))
        else:
            results.append(
                CheckResult("batch", "PASS", "a batch gives its graphs' outputs one at a time (float64)")
            )

    # energy models: forces against finite differences, smoothness at the cutoff
    energy = {"energy", "forces"} <= set(model_contract(model).outputs) and "forces" in task.output_fields
    if not energy:
        results.append(CheckResult("forces", "SKIP", "not an energy model (no energy and forces outputs)"))
    elif runs:
        try:
            assert_forces_match_finite_differences(model, task.example_batch(2), rtol=fd_rtol, seed=seed)
        except AssertionError as e:
            results.append(CheckResult("forces", "FAIL", f"forces != -dE/dpos: {str(e).splitlines()[0]}"))
        except Exception as e:  # noqa: BLE001
            results.append(CheckResult("forces", "FAIL", f"could not be measured: {_one_line(e)}"))
        else:
            results.append(
                CheckResult(
                    "forces", "PASS", f"forces = -dE/dpos to {fd_rtol:g} (central differences, float64)"
                )
            )
        if getattr(model, "cutoff", None) is None:
            results.append(CheckResult("cutoff", "SKIP", "the model declares no `cutoff`"))
        else:
            try:
                assert_smooth_at_cutoff(model, task)
            except AssertionError as e:
                results.append(CheckResult("cutoff", "FAIL", str(e).splitlines()[0]))
            except Exception as e:  # noqa: BLE001
                results.append(CheckResult("cutoff", "FAIL", f"could not be measured: {_one_line(e)}"))
            else:
                results.append(
                    CheckResult(
                        "cutoff",
                        "PASS",
                        f"energy continuous and forces zero at the cutoff {float(model.cutoff):g}",
                    )
                )

    # size and speed
    n_par = int(sum(p.numel() for p in model.parameters()))
    n_train = int(sum(p.numel() for p in model.parameters() if p.requires_grad))
    results.append(
        CheckResult(
            "parameters", "INFO", f"{n_par:,} ({n_train:,} trainable)", {"total": n_par, "trainable": n_train}
        )
    )
    if runs:
        m = _prepare(model, torch.float32)
        batch = task.example_batch(num_graphs, seed=seed, dtype=torch.float32)
        times = []
        with torch.enable_grad():
            m(batch)  # warm-up
            for _ in range(max(1, int(timing_repeats))):
                t0 = time.perf_counter()
                m(batch)
                times.append(time.perf_counter() - t0)
        times.sort()
        ms = 1000 * times[len(times) // 2]
        results.append(
            CheckResult(
                "forward-time",
                "INFO",
                f"{ms:.3g} ms per batch of {num_graphs} graphs (float32, median of {len(times)}, "
                f"{torch.get_num_threads()} thread(s))",
                {"ms": ms, "num_graphs": num_graphs},
            )
        )
    for r in results:
        r.values = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.values.items()
        }
    return results


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
        model, task = self._model_task()
        assert_smooth_at_cutoff(model, task)
