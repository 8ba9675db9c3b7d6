"""A leaderboard recipe: its entries (:class:`Entry`) read and checked from YAML.

``recipe < summary < render < run`` (:mod:`symzoo.eval.leaderboard`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symzoo.errors import SymzooError
from symzoo.task import canonical_domain

__all__ = ["LEADERBOARD_FORMAT", "Entry", "recipe_path", "load_recipe"]

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
