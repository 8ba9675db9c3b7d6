#!/usr/bin/env python
"""Train (or re-export) pretrained zoo entries and record their measured metrics in the registry.

    python scripts/build_zoo.py egnn.nbody-charged            # run the entry's `command`, export, measure
    python scripts/build_zoo.py egnn.nbody-charged --run DIR  # export an existing run folder instead
    python scripts/build_zoo.py --all                         # every entry of zoo/registry.yaml
    python scripts/build_zoo.py --finetune-study egnn.nbody-charged nbody-gravity --train-sizes 50,100 --seeds 3

Adding an entry for a new domain: describe it in ``zoo/registry.yaml`` (summary, builder, kwargs,
task, preset, recipe, command, source: bundled, files: {}, license, domain, intended_use,
out_of_scope, limitations, conservation; optional ``data_origin`` when the data are not simulated by
symzoo, e.g. rMD17 files), run this script with its name, then
``symzoo zoo cards`` and commit ``zoo/<name>.*``, ``zoo/registry.yaml`` and ``MODEL_CARDS.md``.

What it measures (with the same functions as ``symzoo eval``): test metrics of the entry's preset,
the same test set under a random group element per sample, the equivariance error in float64,
metrics on the entry's ``ood_tasks``, a 1000-step rollout (energy drift, ``metrics.rollout``) for
tasks with dynamics, and a reference output on a fixed stored input that the test suite checks on
every run (forces for force fields; energies get an absolute bound, ``tolerance.per_output``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "zoo"
REGISTRY = ZOO / "registry.yaml"
log = logging.getLogger("build_zoo")

HEADER = """\
# The symzoo pretrained registry: the one source of truth for pretrained entries, MODEL_CARDS.md
# and `symzoo zoo`.  Hand-written fields describe an entry; `python scripts/build_zoo.py NAME`
# trains it with `command`, exports the weights to zoo/ and fills the measured fields
# (files/sha256, num_parameters, metrics, equivariance, reference output).  Regenerate the cards
# afterwards with `symzoo zoo cards`.
"""


def read_registry() -> dict:
    return yaml.safe_load(REGISTRY.read_text())


def write_registry(doc: dict) -> None:
    from symzoo.paths import atomic_write_text

    text = HEADER + yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
    atomic_write_text(REGISTRY, text)


def _round(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def run_command(command: str, out: Path) -> Path:
    """Run a recorded ``symzoo train ...`` command with its ``--out`` replaced by ``out``."""
    argv = shlex.split(command)
    if argv[:2] != ["symzoo", "train"]:
        raise SystemExit(f"command must start with 'symzoo train': {command!r}")
    argv = argv[1:]
    if "--out" in argv:
        i = argv.index("--out")
        del argv[i : i + 2]
    argv += ["--out", str(out), "--quiet"]
    if out.exists():
        shutil.rmtree(out)
    log.info("running: symzoo %s", " ".join(argv))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "symzoo", *argv], check=True, cwd=ROOT)
    log.info("trained in %.0f s", time.perf_counter() - t0)
    return out


def reference_io(model, task, preset: str, n_graphs: int = 3) -> dict:
    """The first ``n_graphs`` test graphs (``in.*``) and the model's outputs on them (``out.*``)."""
    import torch

    from symzoo.task import StackedDataset, cast_batch

    _, _, test = task.splits(preset, seed=0)
    sub = (  # the task's own batching (array tasks too), not a PyG loader over a Subset
        test.subset(torch.arange(n_graphs))
        if isinstance(test, StackedDataset)
        else torch.utils.data.Subset(test, range(n_graphs))
    )
    batch = cast_batch(next(iter(task.loader(sub, n_graphs))), torch.float32)
    with torch.set_grad_enabled(task.needs_grad):
        out = model(batch)
    tensors = {
        f"in.{k}": v.detach().contiguous()
        for k, v in batch.to_dict().items()
        if torch.is_tensor(v) and k != "sample_index"
    }
    tensors.update({f"out.{k}": v.detach().contiguous() for k, v in out.items() if torch.is_tensor(v)})
    return tensors


from symzoo.cards import ZOO_ROLLOUT_KEYS as ROLLOUT_KEYS  # noqa: E402  (one list for registry and cards)


def rollout_summary(model, task, preset: str, steps: int = 1000, n_traj: int = 16) -> dict | None:
    """Long-horizon rollout metrics (energy drift, ...) for tasks with dynamics (``task.rollout``)."""
    if not (hasattr(task, "rollout") and hasattr(task, "conserved")):
        return None
    from symzoo.eval.rollout import rollout_metrics

    r = rollout_metrics(model, task, steps=steps, n_traj=n_traj, preset=preset)
    out = {
        "measured_by": f"symzoo.eval.rollout.rollout_metrics(model, task, steps={steps}, n_traj={n_traj}, "
        f"preset={preset!r})",
        "split": r.get("split", "test"),
        "n_traj": n_traj,
        "steps": steps,
        "dt": r.get("dt"),
        "horizon": r.get("horizon"),
        "method": r.get("method"),
        "dtype": r.get("dtype"),
        "units": {
            "energy_drift": "relative |E(t) - E(0)| / |E(0)|, mean over t and trajectories",
            "energy_drift_final": "relative |E(T) - E(0)| / |E(0)| at the last step",
            "energy_drift_reference": "the same for the float64 RK4 reference integrator",
            "energy_mse": "(energy unit)^2, dimensionless",
            "rollout_error": "geometric mean over t of the relative phase-space error",
            "valid_time": "time until the relative error exceeds "
            f"{r.get('valid_threshold', 0.1)}, simulation time units",
            "diverged": "fraction of trajectories with non-finite states",
            "momentum_drift": "|P(t) - P(0)| relative to sum |p_i|, mean over t and trajectories",
            "angular_momentum_drift": "|L(t) - L(0)| relative to sum |q_i||p_i|, mean over t",
        },
    }
    out.update({k: _round(float(r[k]), 4) for k in ROLLOUT_KEYS if k in r})
    return out


def export(name: str, run: Path, doc: dict) -> None:
    """Copy ``run``'s model into ``zoo/``, measure it, and fill the registry entry ``name``."""
    from omegaconf import OmegaConf
    from safetensors.torch import save_file
    from symzoo.eval.evaluate import evaluate_dataset, evaluate_run

    import symzoo
    from symzoo import hub
    from symzoo.modelio import load_model
    from symzoo.paths import atomic_path, atomic_write_text, sha256_file
    from symzoo.registry import get_task

    entry = doc["entries"][name]
    model = load_model(run)
    meta = dict(model.meta)
    if meta["builder"] != entry["builder"]:
        raise SystemExit(f"{run} holds a {meta['builder']!r} model, the entry says {entry['builder']!r}")
    if meta.get("task") != entry["task"]:
        raise SystemExit(f"{run} was trained on {meta.get('task')!r}, the entry says {entry['task']!r}")
    entry["kwargs"] = dict(meta.get("kwargs") or {})
    cfg_file = run / "config.yaml"
    train_cfg = OmegaConf.to_container(OmegaConf.load(cfg_file)) if cfg_file.is_file() else None
    meta.update({"pretrained_name": name, "train_config": train_cfg})
    meta.pop("recipe", None)

    weights, config, ref = (
        ZOO / f"{name}.safetensors",
        ZOO / f"{name}.json",
        ZOO / f"{name}.reference.safetensors",
    )
    with atomic_path(weights) as tmp:
        shutil.copyfile(run / "model.safetensors", tmp)
    atomic_write_text(config, json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    task = get_task(entry["task"], preset=entry["preset"], **(meta.get("task_args") or {}))
    tensors = reference_io(model, task, entry["preset"])
    with atomic_path(ref) as tmp:
        save_file(tensors, str(tmp))
    for p in (weights, config, ref):
        p.chmod(0o644)
    # the preset the weights were trained on (model.json's; a run may train on another preset than the
    # entry's default for fine-tuning and loading, e.g. data.preset=paper); `symzoo eval` measures on it
    trained_preset = str(meta.get("preset") or entry["preset"])
    sizes = task.presets.get(trained_preset, {})
    split_s = ", ".join(f"{sizes[k]} {k}" for k in ("train", "val", "test") if sizes.get(k) is not None)
    unit = f"trajectories of {sizes['frames']} frames each" if "frames" in sizes else "samples"
    entry["training_data"] = (
        f"Task `{entry['task']}`: {task.description.rstrip('.')}. Preset "
        f"`{trained_preset}`"
        + (f" ({split_s} {unit}" if split_s else "")
        + (f", data seed {sizes['data_seed']})" if "data_seed" in sizes else ")" if split_s else "")
        + "; "
        + (
            entry.get("data_origin")
            or "generated by symzoo's simulator and cached under SYMZOO_HOME/datasets"
        )
        + "."
    )
    entry["source"] = "bundled"
    entry["files"] = {
        role: {"name": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size}
        for role, p in (("weights", weights), ("config", config), ("reference", ref))
    }
    out_keys = sorted(k for k in tensors if k.startswith("out."))
    # per-atom forces say more than a graph-level energy of order -4000 eV
    out_key = "out.forces" if "out.forces" in out_keys else out_keys[0]
    tolerance = {"rtol": 1e-4, "atol": 1e-5}
    if "out.energy" in out_keys:  # large absolute energies: an absolute bound (float32 resolution ~ 0.5 meV)
        tolerance["per_output"] = {"energy": {"rtol": 0.0, "atol": 5e-3}}
    entry["reference"] = {
        "input": f"first 3 graphs of the {entry['task']}/{entry['preset']} test split (float32), "
        f"stored in {ref.name}",
        "output": out_key[4:],
        "first_values": [_round(float(v)) for v in tensors[out_key].flatten()[:6]],
        "tolerance": tolerance,
    }
    entry["num_parameters"] = int(meta["num_parameters"])
    entry["symmetry"] = {"group_of_task": meta.get("symmetry_group"), "claimed": meta.get("symmetry_claimed")}
    entry["units"] = meta.get("units")

    # measure through the hub (verifies the bundled files) with the functions of `symzoo eval`
    write_registry(doc)
    hub.reload_registry()
    folder = symzoo.pretrained_path(name, force=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate_run(folder, out=Path(tmp) / "eval.json")
        loaded = symzoo.load_pretrained(name)
        # the group-transformed test on the same split as the metrics (the weights' own preset)
        mtask = (
            task
            if trained_preset == entry["preset"]
            else get_task(entry["task"], preset=trained_preset, **(meta.get("task_args") or {}))
        )
        _, _, test = mtask.splits(trained_preset, seed=0)
        transformed = evaluate_dataset(loaded, mtask, test, transform="group", seed=0)
        ood = {}
        for other in entry.get("ood_tasks") or []:
            r = evaluate_run(folder, task_name=other, preset=entry["preset"], out=Path(tmp) / f"{other}.json")
            ood[other] = {k: _round(v) for k, v in r["metrics"].items()}
        for variant, ms in (report.get("metrics_ood") or {}).items():  # Task.ood_variants
            ood[variant] = {k: _round(v) for k, v in ms.items()}
        rollout = rollout_summary(loaded, task, entry["preset"])
    ev = json.loads((run / "eval.json").read_text()) if (run / "eval.json").is_file() else {}
    entry["metrics"] = {
        "measured_by": f"symzoo eval {name}",
        "split": "test",
        "preset": report["preset"],
        "n_test": report["n_test"],
        "primary": report["primary_metric"],
        "units": report["units"],
        "test": {k: _round(v) for k, v in report["metrics"].items()},
        "test_group_transformed": {k: _round(v) for k, v in transformed.items()},
        "ood": ood,
    }
    if rollout:
        entry["metrics"]["rollout"] = rollout
    entry["equivariance"] = {
        "dtype": report["equivariance"]["dtype"],
        "group": report["equivariance"]["group"],
        "claimed": report["equivariance"]["claimed"],
        "relative_error": {k: float(f"{v:.2e}") for k, v in report["equivariance"]["errors"].items()},
    }
    entry["training"] = {
        "train_size": meta.get("train_size"),
        "best_epoch": meta.get("best_epoch"),
        "epochs_run": ev.get("epochs"),
        "fit_seconds": ev.get("fit_seconds"),
        "device": ev.get("device"),
        "torch": ev.get("torch"),
        "symzoo_version": meta.get("symzoo_version"),
        "seed": meta.get("seed"),
    }
    recipe = ROOT / entry["recipe"] if entry.get("recipe") else None
    entry["recipe_existed"] = bool(recipe and recipe.is_file())
    write_registry(doc)
    REGISTRY.chmod(0o644)
    hub.reload_registry()
    log.info("%s: %s", name, entry["metrics"]["test"])


def finetune_study(
    name: str,
    target: str,
    sizes: list[int],
    seeds: int,
    preset: str,
    extra: list[str],
    workdir: Path,
    results_file: str | None = None,
    reuse: bool = False,
) -> None:
    """Fine-tune ``name`` on ``target`` and train the same model from scratch, at each size and seed.

    Results go to ``<workdir>/<name>-<target>.json`` first, then into the registry entry's
    ``finetune.<target>`` (``--from-results FILE`` merges an existing results file only)."""
    if results_file is None:
        from symzoo.train.finetune import finetune

        rows, n_test, units = [], None, None
        for n in sizes:
            res = {"pretrained": [], "scratch": []}
            every: dict = {"pretrained": [], "scratch": []}  # all test metrics of each run
            for seed in range(seeds):
                for kind in ("pretrained", "scratch"):
                    tag = "".join(f"-{x.split('=', 1)[1]}" for x in extra if x.startswith("data.task_args."))
                    out = workdir / f"{name}-{target}{tag}-{kind}-n{n}-s{seed}"
                    if reuse and (out / "eval.json").is_file():
                        run = out
                    else:
                        if out.exists():
                            shutil.rmtree(out)
                        run = finetune(
                            name,
                            target,
                            train_size=n,
                            preset=preset,
                            overrides=[f"seed={seed}", *extra],
                            out=str(out),
                            from_scratch=(kind == "scratch"),
                        )
                    ev = json.loads((run / "eval.json").read_text())
                    res[kind].append(ev["metrics"][ev["primary_metric"]])
                    every[kind].append(ev["metrics"])
                    n_test, units = ev["n_test"], ev["units"][ev["primary_metric"]]
                    log.info("%s n=%d seed=%d: %s %.5g", target, n, seed, kind, res[kind][-1])
            row = {"train_size": n, "seeds": seeds, "metric": ev["primary_metric"]}
            for kind, vals in res.items():
                row[kind] = {
                    "mean": _round(statistics.mean(vals), 4),
                    "std": _round(statistics.stdev(vals), 2) if len(vals) > 1 else 0.0,
                    "values": [_round(v, 4) for v in vals],
                }
                others = [k for k in every[kind][0] if k != ev["primary_metric"] and k.endswith("mae_meV")]
                if others:  # e.g. the energy MAE of a force field, next to its primary force MAE
                    row[kind]["other_metrics"] = {
                        k: {
                            "mean": _round(statistics.mean(m[k] for m in every[kind]), 4),
                            "std": (
                                _round(statistics.stdev(m[k] for m in every[kind]), 2)
                                if len(vals) > 1
                                else 0.0
                            ),
                        }
                        for k in others
                    }
            row["gain"] = _round(row["scratch"]["mean"] / row["pretrained"]["mean"], 3)
            rows.append(row)
        extra_s = (" " + " ".join(extra)) if extra else ""
        study = {
            "preset": preset,
            "split": "test",
            "n_test": n_test,
            "units": units,
            "command_finetune": f"symzoo finetune {name} {target}{extra_s} seed=S --train-size N --preset {preset}",
            "command_scratch": f"symzoo finetune {name} {target}{extra_s} seed=S --train-size N --preset {preset} "
            "--from-scratch",
            "study_command": f"python scripts/build_zoo.py --finetune-study {name} {target} "
            f"--train-sizes {','.join(map(str, sizes))} --seeds {seeds} --preset {preset}"
            + (f" --extra '{' '.join(extra)}'" if extra else ""),
            "results": rows,
            "extra": list(extra),
        }
        workdir.mkdir(parents=True, exist_ok=True)
        tag = "".join(f"-{x.split('=', 1)[1]}" for x in extra if x.startswith("data.task_args."))
        results_file = workdir / f"{name}-{target}{tag}-{'-'.join(map(str, sizes))}.json"
        results_file.write_text(json.dumps(study, indent=2))
        results_file = str(results_file)
    parts = [json.loads(Path(f).read_text()) for f in str(results_file).split(",")]
    study = parts[0]
    study["results"] = sorted((r for part in parts for r in part["results"]), key=lambda r: r["train_size"])
    all_sizes = ",".join(str(r["train_size"]) for r in study["results"])
    study["study_command"] = re.sub(
        r"--(?:train-)?sizes \S+", f"--train-sizes {all_sizes}", study["study_command"]
    )
    if "zero_shot" not in study:  # the pretrained model on the target test set, no training at all
        from symzoo.eval.evaluate import evaluate_dataset

        import symzoo
        from symzoo.registry import get_task

        targs = {
            x.split("=", 1)[0].rsplit(".", 1)[-1]: yaml.safe_load(x.split("=", 1)[1])
            for x in study.get("extra", [])
            if x.startswith("data.task_args.")
        }
        task = get_task(target, preset=preset, **targs)
        _, _, test = task.splits(preset, seed=0)
        metrics = evaluate_dataset(symzoo.load_pretrained(name), task, test)
        study["zero_shot"] = _round(metrics[study["results"][0]["metric"]], 4)
    doc = read_registry()  # fresh: other builds may have written meanwhile
    label = target + "".join(
        f" {x.split('=', 1)[0].rsplit('.', 1)[-1]}={x.split('=', 1)[1]}"
        for x in study.get("extra", [])
        if x.startswith("data.task_args.")
    )
    doc["entries"][name].setdefault("finetune", {})[label] = study
    write_registry(doc)
    log.info("fine-tuning study %s -> %s: %s", name, target, study["results"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*")
    p.add_argument("--all", action="store_true")
    p.add_argument("--run", help="export this existing run folder instead of training")
    p.add_argument("--reuse", action="store_true", help="reuse runs/zoo/<name> when it is complete")
    p.add_argument("--workdir", default=str(ROOT / "runs" / "zoo"))
    p.add_argument("--finetune-study", nargs=2, metavar=("PRETRAINED", "TASK"))
    p.add_argument(
        "--train-sizes", default="50,100", help="comma-separated training-set sizes of the fine-tuning study"
    )
    # --sizes: the spelling the README used to show; deprecated (a warning), still accepted
    p.add_argument("--sizes", dest="train_sizes", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--preset", default="small")
    p.add_argument("--extra", default="", help="extra key=value overrides for the fine-tuning study")
    p.add_argument(
        "--from-results", help="merge this fine-tuning results JSON into the registry, no training"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if any(a == "--sizes" or a.startswith("--sizes=") for a in (sys.argv[1:] if argv is None else argv)):
        log.warning("--sizes is deprecated; use --train-sizes")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("SYMZOO_HOME", str(ROOT / ".symzoo_home"))
    doc = read_registry()
    workdir = Path(args.workdir)
    if args.finetune_study:
        finetune_study(
            *args.finetune_study,
            [int(s) for s in args.train_sizes.split(",")],
            args.seeds,
            args.preset,
            args.extra.split(),
            workdir / "finetune",
            args.from_results,
            args.reuse,
        )
        return 0
    names = list(doc["entries"]) if args.all else args.names
    for name in names:
        if name not in doc["entries"]:
            raise SystemExit(f"{name!r} is not described in {REGISTRY}")
        if args.run:
            run = Path(args.run)
        else:
            run = workdir / name
            if not (args.reuse and (run / "eval.json").is_file()):
                run = run_command(doc["entries"][name]["command"], run)
        export(name, run, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
