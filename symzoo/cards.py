"""Model cards rendered from the pretrained registry (``MODEL_CARDS.md``, ``symzoo zoo info``).

The cards follow Mitchell et al., "Model Cards for Model Reporting" (2019): model details,
intended and out-of-scope use, training data, metrics with disaggregated results
(in-distribution, group-transformed test set, other tasks), symmetry and measured equivariance
error, conservation, units, limitations, license and how to reproduce.  Everything comes from
``zoo/registry.yaml``, so the rendering is deterministic and ``symzoo zoo cards --check`` (and the
test suite) can tell when ``MODEL_CARDS.md`` or a card in ``model_cards/`` is out of date.

Two renderings: ``MODEL_CARDS.md`` (an index table linking every card, for reading on GitHub) and one
file per entry, ``model_cards/<name>.md`` (:func:`render_hub_card`), which opens with the YAML front
matter that the Hugging Face Hub reads (``license``, ``library_name: symzoo``, ``tags``,
``datasets``, ``model-index`` with the measured test metrics).  ``symzoo zoo export NAME DIR``
writes the latter as ``DIR/README.md`` beside ``model.safetensors`` and ``config.json``, a folder
ready for ``huggingface-cli upload``.
"""

from __future__ import annotations

from typing import Any

#: the rollout metrics a zoo entry records (``scripts/build_zoo.py``) and its card shows, in order
ZOO_ROLLOUT_KEYS = (
    "energy_drift",
    "energy_drift_final",
    "energy_drift_reference",
    "energy_mse",
    "rollout_error",
    "valid_time",
    "diverged",
    "momentum_drift",
    "angular_momentum_drift",
)

__all__ = [
    "render_card",
    "render_cards",
    "render_hub_card",
    "hub_metadata",
    "hub_card_files",
    "summary_rows",
    "key_metric",
    "symmetry_group",
]

TITLE = "# symzoo model cards"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v)


def _size(n: int | None) -> str:
    if not n:
        return "?"
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} B"


def key_metric(entry: dict) -> str:
    m = entry.get("metrics") or {}
    p = m.get("primary")
    if not p or p not in (m.get("test") or {}):
        return "-"
    ro = m.get("rollout") or {}
    drift = (
        f"; energy drift {_fmt(ro['energy_drift'])} ({ro.get('steps')} steps)" if "energy_drift" in ro else ""
    )
    return f"{p} {_fmt(m['test'][p])}{drift}"


#: short names of the continuous factors (E(n) x S_n tasks) when a model claims only some of them
_ABBREV = {"rotation": "R", "reflection": "P", "translation": "T", "permutation": "S_n"}


def symmetry_group(entry: dict) -> str:
    """The group an entry's model is equivariant to, named from its task's group.

    The task's group (``symmetry.group_of_task``, e.g. ``K4``, ``D4``, ``C2``, ``C8``,
    ``E(3) x S_n``) and its factors (the keys of ``equivariance.relative_error`` but ``all``,
    measured from the task by ``scripts/build_zoo.py``) come from the registry.  A model that
    claims every factor gets the group's name; one that claims some gets them joined by ``+``
    (``R``/``P``/``T``/``S_n`` for the Euclidean ones) ``of`` the group, e.g. ``S_n of E(3) x S_n``;
    one that claims none: ``none (task: Z2 (mirror))``.  Entries without a recorded group fall back
    to the claimed factors alone.
    """
    sym = entry.get("symmetry") or {}
    eq = entry.get("equivariance") or {}
    group = sym.get("group_of_task") or eq.get("group")
    claimed = [str(c) for c in (eq.get("claimed") or sym.get("claimed") or [])]
    factors = [str(k) for k in (eq.get("relative_error") or {}) if k != "all"]
    if group and factors and set(factors) <= set(claimed):
        return str(group)
    order = factors or [c for c in _ABBREV if c in claimed]
    order += sorted(c for c in claimed if c not in order)
    part = "+".join(_ABBREV.get(c, c) for c in order if c in claimed)
    if not group:
        return part or "none"
    return f"{part} of {group}" if part else f"none (task: {group})"


def _symmetry_short(entry: dict) -> str:
    return symmetry_group(entry)


def summary_rows(reg: dict[str, dict]) -> list[tuple[str, str, str, str, str]]:
    """(name, task, symmetry, key metric, size) for ``symzoo zoo list``."""
    rows = []
    for name in sorted(reg):
        e = reg[name]
        files = e.get("files") or {}
        size = _size(sum(int(f.get("bytes") or 0) for r, f in files.items() if r == "weights"))
        rows.append((name, e.get("task", "?"), _symmetry_short(e), key_metric(e), size))
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _symmetry_detail(e: dict) -> str:
    sym = e.get("symmetry") or {}
    group = sym.get("group_of_task") or (e.get("equivariance") or {}).get("group")
    claimed = ", ".join(sym.get("claimed") or (e.get("equivariance") or {}).get("claimed") or []) or "none"
    return f" (the task's group: {group}; the model claims: {claimed})" if group else ""


def render_card(name: str, e: dict, *, level: int = 2) -> str:
    h = "#" * level
    hh = h + "#"
    m = e.get("metrics") or {}
    files = e.get("files") or {}
    w = files.get("weights") or {}
    kwargs = ", ".join(f"{k}={v}" for k, v in (e.get("kwargs") or {}).items()) or "defaults"
    L = [f"{h} {name}", "", str(e.get("summary", "")).strip(), ""]
    L += [
        f"{hh} Model details",
        "",
        f"- Architecture: `{e['builder']}({kwargs})`" + (f"; {e['paper']}" if e.get("paper") else ""),
        f"- Parameters: {e.get('num_parameters', '?'):,}"
        if isinstance(e.get("num_parameters"), int)
        else f"- Parameters: {e.get('num_parameters', '?')}",
        f"- Weights: `{w.get('name', '?')}` ({_size(w.get('bytes'))}, safetensors), "
        f"sha256 `{w.get('sha256', '?')}`",
        f'- Source: `{e.get("source")}`; load with `symzoo.load_pretrained("{name}")`',
        f"- License: {e.get('license', '?')}",
        f"- Symmetry: {symmetry_group(e)}" + _symmetry_detail(e),
        "",
    ]
    L += [
        f"{hh} Intended use",
        "",
        str(e.get("intended_use", "not stated")).strip(),
        "",
        f"{hh} Out-of-scope use",
        "",
        str(e.get("out_of_scope", "not stated")).strip(),
        "",
    ]
    t = e.get("training") or {}
    L += [
        f"{hh} Training data",
        "",
        str(e.get("training_data", f"task `{e.get('task')}`, preset `{e.get('preset')}`")).strip(),
        "",
    ]
    if t:
        L += [
            f"Trained on {t.get('train_size')} samples with seed {t.get('seed')}; best validation epoch "
            f"{t.get('best_epoch')} of {t.get('epochs_run')} ({t.get('device')}, torch {t.get('torch')}, "
            f"{t.get('fit_seconds')} s of fitting).",
            "",
        ]
    if m:
        keys = list((m.get("test") or {}).keys())
        L += [
            f"{hh} Metrics",
            "",
            f"Measured by `{m.get('measured_by')}` on the `{m.get('split')}` split of preset "
            f"`{m.get('preset')}` (n = {m.get('n_test')}); primary metric `{m.get('primary')}`. Units: "
            + "; ".join(f"`{k}` in {u}" for k, u in (m.get("units") or {}).items())
            + ".",
            "",
        ]
        rows = [["in-distribution test"] + [_fmt(m["test"][k]) for k in keys]]
        if m.get("test_group_transformed"):
            group = (e.get("equivariance") or {}).get("group", "the task's group")
            rows.append(
                [f"test, a random {group} element per sample"]
                + [_fmt(m["test_group_transformed"].get(k, float("nan"))) for k in keys]
            )
        for task, vals in (m.get("ood") or {}).items():
            rows.append(
                [f"out of distribution: `{task}` test (other physics)"]
                + [_fmt(vals.get(k, float("nan"))) for k in keys]
            )
        L += _table(["evaluation"] + [f"`{k}`" for k in keys], rows) + [""]
        ro = m.get("rollout") or {}
        if ro:
            rkeys = [k for k in ZOO_ROLLOUT_KEYS if k in ro]
            L += [
                f"Long-horizon rollout ({ro.get('steps')} {ro.get('method')} steps of dt = {ro.get('dt')}, "
                f"horizon {ro.get('horizon')}, {ro.get('n_traj')} `{ro.get('split')}` trajectories, "
                f"{ro.get('dtype')}; `{ro.get('measured_by')}`):",
                "",
            ]
            L += _table([f"`{k}`" for k in rkeys], [[_fmt(ro[k]) for k in rkeys]]) + [""]
            L += [
                "; ".join(f"`{k}`: {u}" for k, u in (ro.get("units") or {}).items() if k in rkeys) + ".",
                "",
            ]
    L += published_lines(e, hh)
    eq = e.get("equivariance") or {}
    if eq:
        claimed = ", ".join(eq.get("claimed") or []) or "none"
        L += [
            f"{hh} Symmetry",
            "",
            f"The task's symmetry group is {eq.get('group')}; the model claims: {claimed}. Measured "
            f"relative equivariance error ({eq.get('dtype')}, random group elements, "
            "`symzoo.testing.equivariance_errors`):",
            "",
        ]
        errs = eq.get("relative_error") or {}
        L += _table(list(errs), [[_fmt(v) for v in errs.values()]]) + [""]
    L += [f"{hh} Conservation", "", str(e.get("conservation", "not stated")).strip(), ""]
    L += [f"{hh} Domain of validity and units", "", str(e.get("domain", "not stated")).strip(), ""]
    for task, ft in (e.get("finetune") or {}).items():
        L += [
            f"{hh} Fine-tuning on `{task}`",
            "",
            f"Test `{ft['results'][0]['metric']}` ({ft.get('units')}) on preset `{ft.get('preset')}` "
            f"(n = {ft.get('n_test')}), mean ± std over seeds: fine-tuned from this entry vs. the same "
            f"architecture and config trained from scratch on the same N samples"
            + (
                f"; without any fine-tuning this entry scores {_fmt(ft['zero_shot'])}"
                if "zero_shot" in ft
                else ""
            )
            + ".",
            "",
        ]
        rows = [
            [
                str(r["train_size"]),
                str(r["seeds"]),
                f"{_fmt(r['pretrained']['mean'])} ± {_fmt(r['pretrained']['std'])}",
                f"{_fmt(r['scratch']['mean'])} ± {_fmt(r['scratch']['std'])}",
                f"{r['gain']}x",
            ]
            for r in ft["results"]
        ]
        L += _table(["N train", "seeds", "fine-tuned", "from scratch", "scratch / fine-tuned"], rows) + [""]
        if ft.get("note"):
            L += [str(ft["note"]).strip(), ""]
        L += [
            "```",
            ft["command_finetune"],
            ft["command_scratch"],
            "# the whole study:",
            ft["study_command"],
            "```",
            "",
        ]
    L += [f"{hh} Limitations", "", str(e.get("limitations", "not stated")).strip(), ""]
    L += [
        f"{hh} How to reproduce",
        "",
        "```",
        str(e.get("command", "")).strip(),
        f"python scripts/build_zoo.py {name}   # trains with the command above, exports, measures",
        f"symzoo eval {name}                    # re-measures the metrics above",
        f"symzoo zoo verify {name}              # ... and compares them with this card",
        "```",
        "",
        f"Recipe: `{e.get('recipe')}`"
        + (
            ""
            if e.get("recipe_existed", True)
            else " (did not exist when trained: the schema defaults and the "
            "overrides in the command were used)"
        )
        + "; the resolved configuration is stored as `train_config` in "
        f"`{(files.get('config') or {}).get('name', '?')}`.",
        "",
    ]
    return "\n".join(L)


def published_comparison(e: dict) -> list[dict[str, Any]]:
    """The entry's measured test metrics next to the published figures of the same architecture.

    ``published`` in the registry: ``{source: ..., note: ..., metrics: {metric: value}}`` (values in
    the units of ``metrics.units``).  Returns one row per published metric the entry has measured:
    ``{metric, published, measured, ratio}`` with ``ratio = measured / published`` (the gap), computed
    here from the registry's measured metrics, never stored.
    """
    pub = e.get("published") or {}
    test = (e.get("metrics") or {}).get("test") or {}
    rows = []
    for k, v in (pub.get("metrics") or {}).items():
        if k in test and v:
            rows.append(
                {
                    "metric": k,
                    "published": float(v),
                    "measured": float(test[k]),
                    "ratio": float(test[k]) / float(v),
                }
            )
    return rows


def published_lines(e: dict, hh: str) -> list[str]:
    pub = e.get("published") or {}
    if not pub:
        return []
    units = (e.get("metrics") or {}).get("units") or {}
    rows = published_comparison(e)
    L = [
        f"{hh} Published figures of the same architecture",
        "",
        f"Source: {str(pub.get('source', '?')).strip()}.",
        "",
    ]
    if rows:
        L += _table(
            ["metric", "published", "this entry", "this entry / published"],
            [
                [
                    f"`{r['metric']}` ({units.get(r['metric'], '?')})",
                    _fmt(r["published"]),
                    _fmt(r["measured"]),
                    f"{r['ratio']:.2f}x",
                ]
                for r in rows
            ],
        ) + [""]
    if pub.get("note"):
        L += [str(pub["note"]).strip(), ""]
    return L


def render_cards(reg: dict[str, dict]) -> str:
    """The whole ``MODEL_CARDS.md``: an index of the registry (entry, task, group, key metric, a link
    to its card in ``model_cards/NAME.md``), not a copy of the cards."""
    L = [
        TITLE,
        "",
        "<!-- generated from zoo/registry.yaml by `symzoo zoo cards`; do not edit by hand -->",
        "",
        "Every entry was trained with the symzoo harness from the recorded command and measured with "
        "`symzoo eval`; `symzoo eval NAME` re-measures it. Load one with "
        "`symzoo.load_pretrained(NAME)` (files verified by sha256). Each entry's card (model details, "
        "intended use, training data, metrics, symmetry, conservation, limitations, how to reproduce; "
        "Hugging Face front matter) is `model_cards/NAME.md`, also rendered on the documentation "
        "site's Model zoo page; `symzoo zoo export NAME DIR` writes it with the weights and "
        "`config.json` as a folder ready to upload to a model hub.",
        "",
    ]
    L += _table(
        ["entry", "task", "group", "key metric (test)", "card"],
        [
            [f"`{r[0]}`", r[1], r[2], r[3], f"[model_cards/{r[0]}.md](model_cards/{r[0]}.md)"]
            for r in summary_rows(reg)
        ],
    )
    return "\n".join(L).rstrip() + "\n"


#: Hugging Face license identifiers for the licenses the registry uses
_HF_LICENSES = {"mit": "mit", "apache-2.0": "apache-2.0", "apache 2.0": "apache-2.0", "cc0-1.0": "cc0-1.0"}

#: data sets a task trains on (Hub ``datasets`` field); tasks not listed are simulated by symzoo
_TASK_DATASETS = {"rmd17-": "rmd17", "3bpa": "3bpa"}


def _hf_license(text: str) -> str:
    head = str(text or "").split(";")[0].split("(")[0].strip().lower()
    return _HF_LICENSES.get(head, "other")


def hub_metadata(name: str, e: dict) -> dict[str, Any]:
    """The Hugging Face model-card metadata of a registry entry (the README's YAML front matter)."""
    from .registry import get_task

    task_name = str(e.get("task", ""))
    domain = ""
    try:
        domain = str(get_task(task_name).domain)
    except Exception:  # an entry whose task is not registered here still gets a card
        pass
    claimed = sorted(
        (e.get("symmetry") or {}).get("claimed") or (e.get("equivariance") or {}).get("claimed") or []
    )
    tags = ["symzoo", "physics", str(e.get("builder")), task_name]
    tags += [t for t in (domain,) if t]
    tags += ["equivariant"] if {"rotation", "permutation"} <= set(claimed) else []
    tags += [f"symmetry-{c}" for c in claimed]
    datasets = [v for k, v in _TASK_DATASETS.items() if task_name.startswith(k)] or [f"symzoo/{task_name}"]
    m = e.get("metrics") or {}
    units = m.get("units") or {}
    results = []
    for split_key, split in (
        ("test", m.get("split", "test")),
        ("test_group_transformed", "test (group-transformed)"),
    ):
        vals = m.get(split_key) or {}
        if not vals:
            continue
        results.append(
            {
                "task": {"type": domain or "physics", "name": task_name},
                "dataset": {
                    "type": datasets[0],
                    "name": f"{task_name} (preset {m.get('preset')})",
                    "split": split,
                },
                "metrics": [
                    {
                        "type": k,
                        "value": float(v),
                        "name": f"{k} ({units[k]})" if k in units else k,
                        "verified": False,
                    }
                    for k, v in vals.items()
                    if isinstance(v, (int, float))
                ],
            }
        )
    meta: dict[str, Any] = {"license": _hf_license(e.get("license", ""))}
    if meta["license"] == "other":
        meta["license_name"] = str(e.get("license", "unknown"))
    meta.update(
        {
            "library_name": "symzoo",
            "tags": [t for i, t in enumerate(tags) if t and t not in tags[:i]],
            "datasets": datasets,
        }
    )
    if results:
        meta["model-index"] = [{"name": name, "results": results}]
    return meta


def render_hub_card(name: str, e: dict) -> str:
    """``model_cards/<name>.md`` and an export's ``README.md``: YAML front matter + the card."""
    import yaml

    front = yaml.safe_dump(hub_metadata(name, e), sort_keys=False, allow_unicode=True, width=100)
    return "---\n" + front + "---\n\n" + render_card(name, e, level=1).rstrip() + "\n"


def hub_card_files(reg: dict[str, dict]) -> dict[str, str]:
    """``{"model_cards/<name>.md": text}`` for every entry (what ``symzoo zoo cards`` writes)."""
    return {f"model_cards/{name}.md": render_hub_card(name, reg[name]) for name in sorted(reg)}
