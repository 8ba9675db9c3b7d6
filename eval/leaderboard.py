"""``symzoo leaderboard``: one symmetry leaderboard across every domain, from comparison grids.

A **recipe** (``configs/leaderboard/<name>.yaml``, or any YAML file) lists one or two reference
tasks per domain (N-body, Hamiltonian systems, force fields, robot dynamics, forecasting, 2-D
flows), each with its equivariant model, its plain baseline (the same kind of model without the
symmetry) and its augmented baseline (``+aug``), training sizes, seeds, config overrides and, optionally, a
symmetry-breaking sweep::

    name: tiny
    preset: tiny                 # data preset of every grid (a task may set its own)
    seeds: 2
    tasks:
      - task: nbody-charged       # its domain (nbody) and label come from the task
        equivariant: egnn
        plain: mlp
        augmented: mlp+aug
        train_sizes: [50, 200]
        overrides: [trainer.max_epochs=10]
        breaking: {strengths: [0, 0.3, 1], train_sizes: [200]}   # optional

Every task's grid is an ordinary ``symzoo compare`` run (:func:`symzoo.eval.compare.compare`) in
``<out>/<task>/`` (the sweep in ``<out>/<task>-breaking/``), with its ``results.json`` exactly as
``symzoo compare`` writes it: a grid run by hand with the same settings there is reused, a finished
cell is never retrained, and an interrupted leaderboard resumes where it stopped.  Cells run on
the chosen executor (``local`` or ``dask://HOST:PORT``, :mod:`symzoo.eval.executors`).

``leaderboard.json`` (JSON first) is built from the grids' ``results.json`` only
(:func:`build_leaderboard`); ``leaderboard.md`` and ``leaderboard.png`` are rendered from it
(:func:`render_leaderboard`; ``symzoo leaderboard --report DIR`` re-renders without training).

Per task, with *gain* = baseline error ÷ equivariant error on the task's primary test metric:

* **symmetry gain** over the plain and over the augmented baseline at every N, mean ± std over
  seeds of the per-seed ratio (the same seed's baseline and equivariant cells);
* **data-efficiency factor** (:func:`symzoo.eval.stats.data_efficiency`): how many times more
  data the baseline needs to reach the equivariant model's error at the smallest N;
* **orbit ratio** (out-of-orbit ÷ in-orbit error after training on the symmetry-restricted set);
* the domain's **physics metric** from the rollouts the task declares: the task's own score when it
  has one (valid prediction time of the attractors, ...), else the drift of its lead invariant
  (energy), else the rollout error (``physics_metric:`` in the recipe picks another);
* the **breaking crossover**: the knob strength where the gain over the plain baseline falls to 1
  (log-linear interpolation between swept strengths), where a sweep was run.

The summary plot puts the domains on the same dimensionless axes: gain (log) against N / N_max,
and the gains at N_max side by side.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symzoo.errors import SymzooError
from symzoo.paths import atomic_path, atomic_write_text
from symzoo.task import canonical_domain

from .results import clean_json, load_results
from .results import num as _num
from .stats import _fmt, format_mean_std, summarize
from .verdict import leaderboard_verdict, plain_factor, plugin_label

__all__ = [
    "LEADERBOARD_FORMAT",
    "Entry",
    "load_recipe",
    "recipe_path",
    "run_leaderboard",
    "build_leaderboard",
    "render_leaderboard",
    "summarize_task",
    "crossover",
]

log = logging.getLogger(__name__)

LEADERBOARD_FORMAT = "symzoo-leaderboard/1"


_ENTRY_KEYS = {
    "domain",
    "task",
    "equivariant",
    "plain",
    "augmented",
    "train_sizes",
    "seeds",
    "preset",
    "overrides",
    "orbit",
    "orbit_size",
    "rollout",
    "rollout_steps",
    "rollout_trajectories",
    "breaking",
    "physics_metric",
}
_RECIPE_KEYS = {"name", "description", "preset", "seeds", "overrides", "tasks"}


@dataclass
class Entry:
    """One reference task of a recipe."""

    domain: str  # the task's own domain word (``Task.domain``)
    task: str
    equivariant: str
    plain: str
    augmented: str | None
    train_sizes: list[int]
    seeds: list[int]
    preset: str | None = None
    overrides: list[str] = field(default_factory=list)
    orbit: bool = True
    orbit_size: int | None = None
    rollout: bool = True
    rollout_steps: int | None = None
    rollout_trajectories: int = 16
    breaking: dict | None = None  # {"strengths": [...], "train_sizes": [...], "models": [...]}
    physics_metric: str | None = None
    domain_label: str = ""  # the task's ``domain_label`` (how reports title the domain)

    @property
    def models(self) -> list[str]:
        return [m for m in (self.equivariant, self.plain, self.augmented) if m]

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# ----------------------------------------------------------------------------- recipes
def recipe_path(name_or_path: str | Path) -> Path:
    """A recipe file: an existing path, or the name of one in ``configs/leaderboard/``."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise SymzooError(f"leaderboard recipe {p} does not exist")
        return p
    import symzoo.configs as cfgs

    here = Path(next(iter(cfgs.__path__))) / "leaderboard"
    cand = here / f"{name_or_path}.yaml"
    if not cand.is_file():
        known = sorted(q.stem for q in here.glob("*.yaml"))
        raise SymzooError(f"unknown leaderboard recipe {str(name_or_path)!r}; known: {', '.join(known)}")
    return cand


def _ints(x, what: str) -> list[int]:
    if isinstance(x, int) and not isinstance(x, bool):
        return list(range(x)) if what.endswith("seeds") else [x]
    if isinstance(x, str):
        x = [v for v in x.split(",") if v.strip()]
    try:
        out = [int(v) for v in x]
    except (TypeError, ValueError):
        raise SymzooError(f"{what}: give integers, got {x!r}") from None
    if not out or min(out) < (0 if what.endswith("seeds") else 1):
        raise SymzooError(
            f"{what}: give at least one {'seed' if what.endswith('seeds') else 'positive size'}"
        )
    return out


def _recipe_task(name: str, preset: str | None, known: set[str], where: str) -> Any:
    """The task a recipe row names (its domain and label come from it); a one-line error if unknown."""
    from symzoo.registry import get_task

    try:
        return get_task(name, preset=preset if name not in known else None)
    except SymzooError:
        raise SymzooError(f"{where}: unknown task {name!r} (see `symzoo list tasks`)") from None


def load_recipe(name_or_path: str | Path) -> dict:
    """Read and validate a recipe; returns ``{"name", "path", "preset", "entries": [Entry, ...]}``
    (a one-line :class:`SymzooError` for anything wrong, before anything runs)."""
    import yaml

    from symzoo.registry import list_tasks, model_entry

    path = recipe_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SymzooError(
            f"leaderboard recipe {path}: not readable YAML ({str(e).splitlines()[0]})"
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tasks"), list) or not raw["tasks"]:
        raise SymzooError(f"leaderboard recipe {path}: needs a non-empty 'tasks:' list")
    unknown = set(raw) - _RECIPE_KEYS
    if unknown:
        raise SymzooError(f"leaderboard recipe {path}: unknown key(s) {', '.join(sorted(unknown))}")
    tasks = set(list_tasks())
    entries: list[Entry] = []
    for i, t in enumerate(raw["tasks"]):
        where = f"leaderboard recipe {path.name}, task #{i + 1}"
        if not isinstance(t, dict):
            raise SymzooError(f"{where}: each task is a mapping (task:, equivariant:, plain:, ...)")
        bad = set(t) - _ENTRY_KEYS
        if bad:
            raise SymzooError(f"{where}: unknown key(s) {', '.join(sorted(bad))}")
        for k in ("task", "equivariant", "plain", "train_sizes"):
            if k not in t:
                raise SymzooError(f"{where}: missing {k!r}")
        name = str(t["task"])
        task_obj = _recipe_task(name, t.get("preset", raw.get("preset")), tasks, where)
        # the domain and its label are the task's; a recipe's `domain:` (optional, older spellings
        # such as forcefield/robots accepted) must name the same one
        domain = canonical_domain(getattr(task_obj, "domain", "")) or "other"
        if "domain" in t and canonical_domain(str(t["domain"])) != domain:
            raise SymzooError(
                f"{where}: domain {t['domain']!r} is not the domain of task {name!r} ({domain}); "
                "leave `domain:` out, the task gives it"
            )
        for role in ("equivariant", "plain", "augmented"):
            m = t.get(role)
            if m is None:
                continue
            model_entry(str(m).split("+")[0])
            if "+" in str(m) and not str(m).endswith("+aug"):
                raise SymzooError(f"{where}: model {m!r}: the only variant suffix is '+aug'")
        if t.get("augmented") and not str(t["augmented"]).endswith("+aug"):
            raise SymzooError(f"{where}: augmented {t['augmented']!r} must be a MODEL+aug")
        br = t.get("breaking")
        if br is not None:
            if isinstance(br, list):
                br = {"strengths": br}
            if not isinstance(br, dict) or not br.get("strengths"):
                raise SymzooError(f"{where}: breaking needs strengths: [s1, s2, ...]")
            try:
                br = {**br, "strengths": [float(s) for s in br["strengths"]]}
            except (TypeError, ValueError):
                raise SymzooError(f"{where}: breaking strengths must be numbers") from None
            if "train_sizes" in br:
                br["train_sizes"] = _ints(br["train_sizes"], f"{where}: breaking.train_sizes")
        overrides = [str(o) for o in (raw.get("overrides") or [])] + [
            str(o) for o in (t.get("overrides") or [])
        ]
        for o in overrides:
            if "=" not in o:
                raise SymzooError(f"{where}: override {o!r} must look like key=value")
        from symzoo.train.config import refuse_interpolations

        refuse_interpolations(overrides, f"{where}: overrides")
        entries.append(
            Entry(
                domain=domain,
                domain_label=str(getattr(task_obj, "domain_label", "") or domain),
                task=name,
                equivariant=str(t["equivariant"]),
                plain=str(t["plain"]),
                augmented=str(t["augmented"]) if t.get("augmented") else None,
                train_sizes=sorted(_ints(t["train_sizes"], f"{where}: train_sizes")),
                seeds=_ints(t.get("seeds", raw.get("seeds", 3)), f"{where}: seeds"),
                preset=t.get("preset", raw.get("preset")),
                overrides=overrides,
                orbit=bool(t.get("orbit", True)),
                orbit_size=t.get("orbit_size"),
                rollout=bool(t.get("rollout", True)),
                rollout_steps=t.get("rollout_steps"),
                rollout_trajectories=int(t.get("rollout_trajectories", 16)),
                breaking=br,
                physics_metric=t.get("physics_metric"),
            )
        )
    if len({e.task for e in entries}) != len(entries):
        raise SymzooError(f"leaderboard recipe {path}: a task is listed twice")
    return {
        "name": str(raw.get("name", path.stem)),
        "description": raw.get("description"),
        "path": str(path),
        "entries": entries,
    }


# ----------------------------------------------------------------------------- running
def _grid_dirs(out: Path, e: Entry) -> tuple[Path, Path | None]:
    return out / e.task, (out / f"{e.task}-breaking" if e.breaking else None)


def run_leaderboard(
    recipe: str | Path | dict,
    out: str | Path | None = None,
    *,
    executor: str | None = None,
    jobs: int | None = None,
    threads: int | None = None,
    tasks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    overrides: Sequence[str] = (),
    on_grid: Callable[[Entry, str, dict], None] | None = None,
    on_cell: Callable[[dict, int, int], None] | None = None,
) -> dict:
    """Run (or reuse) every task's grid of a recipe, then write ``leaderboard.json``, ``.md``, ``.png``.

    ``tasks``: only these tasks of the recipe; ``seeds``: replace the recipe's seeds; ``overrides``:
    appended to every grid's config overrides (e.g. ``trainer.max_epochs=1`` for a smoke run; they
    are part of a grid's settings, so use another ``out``).  ``on_grid(entry, kind, results)`` after
    each grid (``kind``: ``"grid"`` or ``"breaking"``).  Returns the leaderboard document.
    """
    from .compare import compare
    from .executors import connect_executor

    rec = recipe if isinstance(recipe, dict) else load_recipe(recipe)
    entries: list[Entry] = list(rec["entries"])
    if tasks:
        unknown = [t for t in tasks if t not in {e.task for e in entries}]
        if unknown:
            raise SymzooError(
                f"--tasks {unknown[0]!r} is not in recipe {rec['name']!r} ({', '.join(e.task for e in entries)})"
            )
        entries = [e for e in entries if e.task in tasks]
    extra = [str(o) for o in overrides]
    from symzoo.train.config import refuse_interpolations

    refuse_interpolations(extra, "overrides")
    for o in extra:
        if "=" not in o:
            raise SymzooError(f"override {o!r} must look like key=value")
    for e in entries:
        e.overrides = list(e.overrides) + extra
        if seeds is not None:
            e.seeds = [int(s) for s in seeds]
    out = Path(out or f"runs/leaderboard-{rec['name']}")
    if out.exists() and not out.is_dir():
        raise SymzooError(f"--out {out} is a file, not a folder")
    if (out / "leaderboard.json").is_file():
        prev = _read(out / "leaderboard.json")
        if prev is None or prev.get("format") != LEADERBOARD_FORMAT:
            raise SymzooError(f"{out}/leaderboard.json is not a symzoo leaderboard; choose another --out")
    elif out.is_dir() and any(out.iterdir()) and not any((out / e.task).is_dir() for e in entries):
        raise SymzooError(f"{out} exists and is not a leaderboard folder; choose another --out")

    ex = connect_executor(executor)  # one connection for every grid; a bad address fails here
    t0 = time.perf_counter()
    meta = {
        "recipe": {"name": rec["name"], "path": rec.get("path"), "description": rec.get("description")},
        "entries": [e.as_dict() for e in entries],
        "executor": ex.name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        for e in entries:
            grid, bdir = _grid_dirs(out, e)
            common: dict[str, Any] = dict(
                preset=e.preset,
                jobs=jobs,
                threads=threads,
                rollout=e.rollout,
                rollout_steps=e.rollout_steps,
                rollout_trajectories=e.rollout_trajectories,
                executor=ex,
                on_cell=on_cell,
            )
            doc = compare(
                e.task,
                e.models,
                e.train_sizes,
                e.seeds,
                out=grid,
                reference=e.equivariant,
                orbit=e.orbit,
                orbit_size=e.orbit_size,
                overrides=e.overrides,
                **common,
            )
            if on_grid:
                on_grid(e, "grid", doc)
            _write(out, meta, t0)
            if e.breaking:
                br = e.breaking
                doc = compare(
                    e.task,
                    br.get("models") or [e.equivariant, e.plain],
                    br.get("train_sizes") or [max(e.train_sizes)],
                    e.seeds,
                    out=bdir,
                    reference=e.equivariant,
                    orbit=False,
                    overrides=e.overrides,
                    breaking=br["strengths"],
                    **common,
                )
                if on_grid:
                    on_grid(e, "breaking", doc)
                _write(out, meta, t0)
    finally:
        ex.close()
    doc = _write(out, meta, t0)
    doc["out"] = str(out)
    return doc


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write(out: Path, meta: dict, t0: float) -> dict:
    prev = _read(out / "leaderboard.json") or {}
    runs = [r for r in prev.get("invocations", []) if r.get("started") != meta["started"]]
    runs.append(
        {
            "started": meta["started"],
            "executor": meta["executor"],
            "wall_seconds": round(time.perf_counter() - t0, 3),
        }
    )
    doc = build_leaderboard(out, meta["entries"], recipe=meta["recipe"])
    doc["invocations"] = runs
    doc["wall_seconds_total"] = round(sum(r["wall_seconds"] for r in runs), 3)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "leaderboard.json", json.dumps(clean_json(doc), indent=2, default=str))
    render_leaderboard(out)
    return doc


# ----------------------------------------------------------------------------- statistics
def _by_seed(doc: dict, model: str, n: int, metric: str) -> dict[int, float]:
    return {
        int(c["seed"]): _num(c["metrics"].get(metric))
        for c in doc.get("cells", [])
        if c.get("study", "curve") == "curve" and c["model"] == model and int(c["train_size"]) == int(n)
    }


def paired_gain(doc: dict, baseline: str, reference: str, n: int, metric: str) -> dict:
    """Per-seed baseline ÷ reference error at N, summarized (mean ± std over the shared seeds)."""
    from .stats import symmetry_gain

    b, r = _by_seed(doc, baseline, n, metric), _by_seed(doc, reference, n, metric)
    return summarize([symmetry_gain(b[s], r[s]) for s in sorted(set(b) & set(r))])


def physics_key(doc: dict, summ: dict, wanted: str | None = None) -> str | None:
    """The rollout metric a task's results declare for the leaderboard (see the module docstring)."""
    from .report import lead_invariant, scores_of

    have = {k for per in (summ.get("rollout") or {}).values() for stats in per.values() for k in stats}
    if wanted:
        return wanted if wanted in have else None
    for k in scores_of(doc):
        if k in have:
            return k
    lead = lead_invariant(doc)
    if lead and f"{lead}_drift" in have:
        return f"{lead}_drift"
    return "rollout_error" if "rollout_error" in have else None


def _rollout_unit(doc: dict, key: str) -> str:
    for c in doc.get("cells", []):
        u = ((c.get("rollout") or {}).get("units") or {}).get(key)
        if u:
            return str(u)
    return ""


def crossover(strengths: Sequence[float], gains: Sequence[float]) -> dict:
    """Where the gain falls to 1 along increasing strength: ``{"strength", "bound"}`` with
    ``bound`` ``"="`` (interpolated, log-linear in the gain, linear in the strength), ``">"``
    (gain above 1 up to the largest strength), ``"<"`` (at or below 1 already at the smallest) or
    ``"?"`` (no finite gains)."""
    pts = [(float(s), float(g)) for s, g in zip(strengths, gains) if math.isfinite(_num(g)) and _num(g) > 0]
    if not pts:
        return {"strength": math.nan, "bound": "?"}
    pts.sort()
    if pts[0][1] <= 1:
        return {"strength": pts[0][0], "bound": "<"}
    for (s0, g0), (s1, g1) in zip(pts, pts[1:]):
        if g1 <= 1 < g0:
            f = math.log(g0) / (math.log(g0) - math.log(g1))
            return {"strength": s0 + f * (s1 - s0), "bound": "="}
    return {"strength": pts[-1][0], "bound": ">"}


def _task_label(entry: dict) -> str:
    """The domain label of an entry saved without one (a leaderboard.json from before labels were
    the tasks'): its task's ``domain_label``, else the domain word."""
    from symzoo.registry import get_task

    try:
        return str(get_task(str(entry["task"])).domain_label or canonical_domain(entry["domain"]))
    except Exception:  # noqa: BLE001 - a task no longer registered: the word will do
        return canonical_domain(entry["domain"])


def summarize_task(doc: dict, entry: dict, breaking_doc: dict | None = None) -> dict:
    """The leaderboard row of one task, from its grid's ``results.json`` (and its sweep's)."""
    from .report import summarize_results

    summ = summarize_results(doc)
    pm = summ["metric"]
    sizes = [int(n) for n in doc["train_sizes"]]
    eq, plain, aug = entry["equivariant"], entry["plain"], entry.get("augmented")
    baselines = {"plain": plain, **({"augmented": aug} if aug else {})}
    n_max, n_min = max(sizes), min(sizes)
    row: dict[str, Any] = {
        "domain": canonical_domain(entry["domain"]),
        "domain_label": entry.get("domain_label") or _task_label(entry),
        "task": doc["task"],
        "preset": doc["preset"],
        "metric": pm,
        "unit": (doc.get("units") or {}).get(pm, ""),
        "group": doc.get("group"),
        "models": {"equivariant": eq, **baselines},
        "roles": {m: (doc.get("roles") or {}).get(m, {}).get("role") for m in [eq, *baselines.values()]},
        "train_sizes": sizes,
        "seeds": [int(s) for s in doc["seeds"]],
        "cells_done": doc.get("cells_done"),
        "cells_total": doc.get("cells_total"),
        "failed": sorted(doc.get("failed") or {}),
        "cell_seconds_total": doc.get("cell_seconds_total"),
        "cell_seconds_mean": (doc.get("cell_seconds_total") or 0) / max(1, int(doc.get("cells_done") or 0)),
        "error": {m: summ["curves"].get(m, {}) for m in [eq, *baselines.values()]},
        "gain": {b: {str(n): paired_gain(doc, m, eq, n, pm) for n in sizes} for b, m in baselines.items()},
        "gain_of_means": {b: summ["gain"].get(m, {}) for b, m in baselines.items()},
        "efficiency": {b: (summ["efficiency"].get(m) or {}).get(str(n_min)) for b, m in baselines.items()},
        "efficiency_size": n_min,
        "orbit": {
            r: (summ.get("orbit") or {}).get(m, {}).get("ratio")
            for r, m in {"equivariant": eq, **baselines}.items()
            if (summ.get("orbit") or {}).get(m)
        },
        "orbit_size": (doc.get("orbit") or {}).get("train_size") if summ.get("orbit") else None,
        # models from plugins (not part of symzoo) and rollouts that diverged, for the verdict
        "plugins": {
            m: plugin_label(doc.get("roles") or {}, m)
            for m in [eq, *baselines.values()]
            if plugin_label(doc.get("roles") or {}, m)
        },
        "diverged": {
            r: _num(
                ((summ.get("rollout") or {}).get(m) or {}).get(str(n_max), {}).get("diverged", {}).get("mean")
            )
            for r, m in {"equivariant": eq, **baselines}.items()
            if "diverged" in ((summ.get("rollout") or {}).get(m) or {}).get(str(n_max), {})
        },
    }
    key = physics_key(doc, summ, entry.get("physics_metric"))
    if key:
        row["physics"] = {
            "metric": key,
            "unit": _rollout_unit(doc, key),
            "train_size": n_max,
            "values": {
                r: (summ["rollout"].get(m) or {}).get(str(n_max), {}).get(key)
                for r, m in {"equivariant": eq, **baselines}.items()
            },
        }
    if breaking_doc is not None:
        bs = summarize_results(breaking_doc).get("breaking") or {}
        strengths = [float(s) for s in bs.get("strengths", [])]
        per_n = {}
        for n, by_s in ((bs.get("gain") or {}).get(plain) or {}).items():
            g = [_num(by_s.get(f"{s:g}")) for s in strengths]
            per_n[n] = {"gain": g, "crossover": crossover(strengths, g)}
        row["breaking"] = {
            "knob": bs.get("knob"),
            "unit": bs.get("unit"),
            "strengths": strengths,
            "baseline": plain,
            "by_size": per_n,
            "cells_done": breaking_doc.get("cells_done"),
            "cells_total": breaking_doc.get("cells_total"),
        }
    return row


def build_leaderboard(out: str | Path, entries: Sequence[dict], *, recipe: dict | None = None) -> dict:
    """The leaderboard document from the grids' ``results.json`` in ``out`` (grids not run yet are
    listed under ``"missing"``)."""
    out = Path(out)
    rows, missing = [], []
    for e in entries:
        ent = e if isinstance(e, dict) else e.as_dict()
        grid = out / ent["task"]
        if not (grid / "results.json").is_file():
            missing.append(ent["task"])
            continue
        bdoc = None
        if ent.get("breaking") and (out / f"{ent['task']}-breaking" / "results.json").is_file():
            bdoc = load_results(out / f"{ent['task']}-breaking")
        rows.append(summarize_task(load_results(grid), ent, bdoc))
    order = list(dict.fromkeys(r["domain"] for r in rows))  # the domains in the recipe's order
    rows.sort(key=lambda r: (order.index(r["domain"]), r["task"]))
    return {
        "format": LEADERBOARD_FORMAT,
        "recipe": recipe or {},
        "entries": [e if isinstance(e, dict) else e.as_dict() for e in entries],
        "tasks": rows,
        "missing": missing,
    }


# ----------------------------------------------------------------------------- rendering
def load_leaderboard(out: str | Path) -> dict:
    path = Path(out) / "leaderboard.json"
    doc = _read(path) if path.is_file() else None
    if doc is None or doc.get("format") != LEADERBOARD_FORMAT:
        raise SymzooError(f"{path} is missing or not a symzoo leaderboard (run `symzoo leaderboard` first)")
    return doc


def _ms(stat: dict | None, digits: int = 3) -> str:
    return format_mean_std(stat or {}, digits).replace(" (n=", " (").replace(")", ")") if stat else "—"


def _short(stat: dict | None) -> str:
    """``mean ± std`` without the count."""
    if not stat or not stat.get("n"):
        return "—"
    s = _fmt(_num(stat["mean"]))
    if stat["n"] > 1 and math.isfinite(_num(stat.get("std"))):
        s += f" ± {_fmt(_num(stat['std']), 2)}"
    return s


def _cross(row: dict) -> str:
    br = row.get("breaking")
    if not br or not br.get("by_size"):
        return "—"
    n = max(br["by_size"], key=int)
    c = br["by_size"][n]["crossover"]
    s, b = _num(c.get("strength")), c.get("bound")
    unit = f" {_short_unit(br['unit'])}".rstrip() if br.get("unit") else ""
    if b == "?":
        return "—"
    txt = {"=": f"{_fmt(s)}", ">": f"> {_fmt(s)}", "<": f"≤ {_fmt(s)}"}[b]
    return f"{br['knob']} {txt}{unit} (N = {n})"


def render_markdown(doc: dict, images: dict | None = None) -> str:
    rows = doc["tasks"]
    name = (doc.get("recipe") or {}).get("name", "")
    L = [
        f"# Symmetry leaderboard `{name}`",
        "",
        "Gain = baseline error ÷ equivariant error on the task's primary test metric at equal N "
        "(> 1: the symmetry helps), mean ± std over seeds of the per-seed ratio.  Data efficiency: "
        "how many times more data the baseline needs to reach the equivariant error at the smallest "
        "N.  Orbit ratio: out-of-orbit ÷ in-orbit error after training on the symmetry-restricted "
        "set (≈ 1: the symmetry is built in).",
        "",
    ]
    verdict = leaderboard_verdict(doc)
    if verdict:
        L += ["## Verdict", ""] + [f"- {v}" for v in verdict] + [""]
    hdr = [
        "domain",
        "task",
        "equivariant vs plain, +aug",
        "equivariant error (N_max)",
        "gain vs plain",
        "gain vs +aug",
        "data eff. vs plain",
        "orbit ratio eq / plain / +aug",
        "breaking crossover",
    ]
    body = []
    for r in rows:
        nmax = str(max(r["train_sizes"]))
        eq = r["models"]["equivariant"]
        unit = _short_unit(r.get("unit") or "")
        orb = r.get("orbit") or {}
        body.append(
            [
                r["domain_label"],
                f"`{r['task']}` ({r['preset']})",
                f"`{eq}` vs `{r['models']['plain']}`"
                + (f", `{r['models']['augmented']}`" if r["models"].get("augmented") else ""),
                f"{_short(r['error'][eq].get(nmax))} {r['metric']}"
                + (f" [{unit}]" if unit and unit not in r["metric"] else ""),
                f"{_short(r['gain']['plain'].get(nmax))}",
                f"{_short(r['gain'].get('augmented', {}).get(nmax))}",
                plain_factor(r["efficiency"].get("plain") or {}) + f" (N = {r['efficiency_size']})",
                " / ".join(_short(orb.get(k)) for k in ("equivariant", "plain", "augmented") if k in orb)
                or "—",
                _cross(r),
            ]
        )
    L += _table(hdr, body)
    if images and images.get("summary"):
        L += ["", f"![symmetry gain across domains]({images['summary']})"]
    L += ["", "## Symmetry gain at every N (per-seed ratio, mean ± std)", ""]
    body = []
    for r in rows:
        for b in ("plain", "augmented"):
            if b not in r["gain"]:
                continue
            body.append(
                [r["domain_label"], f"`{r['task']}`", f"`{r['models'][b]}` ÷ `{r['models']['equivariant']}`"]
                + ["; ".join(f"N={n}: {_short(r['gain'][b].get(str(n)))}" for n in r["train_sizes"])]
            )
    L += _table(["domain", "task", "ratio", "gain"], body)
    phys = [r for r in rows if r.get("physics")]
    if phys:
        L += ["", "## Rollout / physics metric of each domain (at N_max)", ""]
        body = []
        for r in phys:
            p = r["physics"]
            unit = (p.get("unit") or "").split(",")[0]
            body.append(
                [r["domain_label"], f"`{r['task']}`", f"{p['metric']} ({unit})" if unit else p["metric"]]
                + [_short(p["values"].get(k)) for k in ("equivariant", "plain", "augmented")]
            )
        L += _table(["domain", "task", "metric", "equivariant", "plain", "+aug"], body)
    brs = [r for r in rows if r.get("breaking")]
    if brs:
        L += ["", "## Symmetry-breaking sweeps (gain vs plain against the knob strength)", ""]
        body = []
        for r in brs:
            br = r["breaking"]
            for n, v in br["by_size"].items():
                body.append(
                    [f"`{r['task']}`", str(br["knob"]), f"N = {n}"]
                    + ["; ".join(f"{s:g}: {_fmt(g)}" for s, g in zip(br["strengths"], v["gain"]))]
                    + [_cross({**r, "breaking": {**br, "by_size": {n: v}}})]
                )
        L += _table(["task", "knob", "N", "gain at strength", "crossover"], body)
    L += ["", "## Cost", ""]
    L += _table(
        ["domain", "task", "cells", "mean cell [s]", "cell-seconds"],
        [
            [
                r["domain_label"],
                f"`{r['task']}`",
                f"{r['cells_done']}/{r['cells_total']}"
                + (f" ({len(r['failed'])} failed)" if r["failed"] else ""),
                f"{r['cell_seconds_mean']:.1f}",
                f"{_num(r['cell_seconds_total']):.0f}",
            ]
            for r in rows
        ],
    )
    if doc.get("missing"):
        L += ["", f"Not run yet: {', '.join(f'`{t}`' for t in doc['missing'])}."]
    inv = doc.get("invocations") or []
    if inv:
        L += [
            "",
            f"Wall time {doc.get('wall_seconds_total', 0):.0f} s over {len(inv)} invocation(s); "
            f"executor {inv[-1].get('executor')}.  Grids: `<out>/<task>/results.json` "
            "(`symzoo report <out>/<task>` for a task's full report).",
        ]
    return "\n".join(L) + "\n"


def _short_unit(u: str) -> str:
    """``"meV/Å, per atom"`` -> ``"meV/Å"``; a sentence-long unit -> its first word or ``""``."""
    u = str(u).split(",")[0].split("(")[0].strip()
    return u if len(u) <= 12 else ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]


def _domain_colors(rows: Sequence[dict]) -> dict[str, str]:
    """One colour per domain, in the order the domains first appear (matplotlib's tab10 cycle)."""
    domains = list(dict.fromkeys(r["domain"] for r in rows))
    return {d: f"tab:{c}" for d, c in zip(domains, _TAB10 * (1 + len(domains) // len(_TAB10)))}


_TAB10 = ["blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan"]


def plot_summary(doc: dict, path: str | Path) -> Path | None:
    """Left: gain (log) vs N / N_max per task (plain solid, +aug dashed); right: gains at N_max."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = doc["tasks"]
    if not rows:
        return None
    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    labels, vals, errs, cols, hatches = [], [], [], [], []
    colors = _domain_colors(rows)
    for r in rows:
        c = colors[r["domain"]]
        nmax = max(r["train_sizes"])
        for b, ls in (("plain", "-"), ("augmented", "--")):
            g = r["gain"].get(b)
            if not g:
                continue
            xs = [n / nmax for n in r["train_sizes"]]
            ys = [_num(g[str(n)]["mean"]) for n in r["train_sizes"]]
            es = [_num(g[str(n)]["std"]) if g[str(n)]["n"] > 1 else 0.0 for n in r["train_sizes"]]
            es = [e if math.isfinite(e) else 0.0 for e in es]
            ax.errorbar(xs, ys, yerr=es, color=c, ls=ls, marker="o", ms=4, capsize=2,
                        label=f"{r['task']} ÷ {r['models'][b]}")  # fmt: skip
            labels.append(f"{r['task']}\n÷ {r['models'][b]}")
            vals.append(ys[-1])
            errs.append(es[-1])
            cols.append(c)
            hatches.append("" if b == "plain" else "//")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N / N_max")
    ax.set_ylabel("symmetry gain (baseline ÷ equivariant error)")
    ax.set_title("gain vs relative training size")
    ax.legend(fontsize=6.5, loc="best")
    x = list(range(len(vals)))
    safe = [v if math.isfinite(v) and v > 0 else math.nan for v in vals]
    bars = bx.bar(x, safe, yerr=errs, color=cols, capsize=2)
    for bar, h in zip(bars, hatches):
        bar.set_hatch(h)
    bx.axhline(1.0, color="k", lw=0.8)
    bx.set_yscale("log")
    bx.set_xticks(x)
    bx.set_xticklabels(labels, fontsize=6.5, rotation=60, ha="right")
    bx.set_title("gain at N_max (hatched: vs +aug)")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    from .report import readable

    readable(path)
    return path


def render_leaderboard(out: str | Path) -> dict[str, Path]:
    """``leaderboard.md`` and ``leaderboard.png`` from ``out/leaderboard.json`` (atomically)."""
    from .report import readable

    out = Path(out)
    doc = load_leaderboard(out)
    written: dict[str, Path] = {}
    png = plot_summary(doc, out / "leaderboard.png")
    if png:
        written["summary"] = png
    md = out / "leaderboard.md"
    atomic_write_text(md, render_markdown(doc, {"summary": png.name} if png else None))
    readable(md)
    written["markdown"] = md
    return written


def rebuild(out: str | Path) -> dict[str, Path]:
    """Re-aggregate ``leaderboard.json`` from the grids' ``results.json`` and re-render (no training)."""
    out = Path(out)
    doc = load_leaderboard(out)
    new = build_leaderboard(out, doc.get("entries") or [], recipe=doc.get("recipe"))
    for k in ("invocations", "wall_seconds_total"):
        if k in doc:
            new[k] = doc[k]
    atomic_write_text(out / "leaderboard.json", json.dumps(clean_json(new), indent=2, default=str))
    return render_leaderboard(out)
