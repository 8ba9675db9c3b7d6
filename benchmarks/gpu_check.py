"""GPU check: every domain's reference model trained a few epochs on CUDA, DDP on 2 GPUs when
present, force-field calls/s and N-body seconds per epoch, all in one JSON.  Not part of the tests.

Sized to finish in under 8 minutes on one GPU (``--budget-s``, default 420 s: a section that would
start after the budget is spent is recorded as skipped; every section has its own timeout).  Run
it through ``benchmarks/gpu_check.sh`` (which picks ``$OUT`` when set) or directly::

    python benchmarks/gpu_check.py --out DIR               # on a GPU machine
    python benchmarks/gpu_check.py --cpu --out /tmp/check  # the same code paths on the CPU, seconds per domain

Sections (each recorded with its status, seconds and, on failure, the last lines of its error):

* ``domains``: ``symzoo train TASK MODEL`` (a subprocess per domain, the CLI users run) for the
  zoo's reference model of every domain (:data:`REFERENCE`): ``tiny`` preset, ``--epochs``
  epochs; on CUDA ``trainer.precision=bf16-mixed`` and ``trainer.compile=true`` where the task
  allows them (not for tasks that differentiate the model's output: force fields, Hamiltonian
  models — the harness refuses compile there and bf16 would spoil the derivatives); a run whose
  compile fails is retried once without it and the failure recorded.  In ``--cpu`` mode: one
  epoch, ``trainer.compile=aot_eager`` (traces forward and backward without generating code).
* ``ddp``: with 2 or more GPUs (or ``--ddp-cpu``: 2 CPU ranks over gloo), ``torchrun
  --nproc-per-node=2 -m symzoo train nbody-charged egnn ... trainer.devices=2
  trainer.strategy=ddp`` and the harness's ``ddp_check.json`` (identical weights on every rank).
* ``forcefield``: energy + forces calls/s (float64 and float32, autograd forces, one structure per
  call, after warm-up) of nequip, painn, schnet (their ``small`` recipes) and NequIP at MACE's size
  (``nequip-macesize`` of ``benchmarks/forcefield_speed.py``) on ethanol (9 atoms) and a periodic
  fcc Cu cell (500 atoms; 108 with ``--cpu``).
* ``nbody``: the harness's egnn on charged N-body at the ``paper`` preset (3000 training
  trajectories; ``tiny`` with ``--cpu``), bf16 + compile on CUDA, ``--nbody-epochs`` epochs,
  validation every 2: seconds per epoch with start-up and in the steady state (between the first
  and the last validation, from ``metrics.csv``).

Writes ``<out>/gpu_check.json`` after every section (a timeout keeps what was measured).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

#: (task, model) of each domain's reference model: the pretrained zoo's entries
REFERENCE = (
    ("rmd17-ethanol", "nequip"),
    ("nbody-charged", "egnn"),
    ("spring", "hnn"),
    ("gravity-2", "ehnn"),
    ("quadruped-com", "emlp"),
    ("walker-id", "delan-eq"),
    ("lorenz96-8", "circnet"),
    ("kolmogorov2d", "steerable-cnn"),
)

ROOT = Path(__file__).resolve().parents[1]


class Budget:
    def __init__(self, seconds: float):
        self.t0, self.seconds = time.perf_counter(), seconds

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.t0)


def _write(out: Path, report: dict) -> None:
    tmp = out / "gpu_check.json.partial"
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, out / "gpu_check.json")


def _env() -> dict:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "gpus": torch.cuda.device_count() if cuda else 0,
        "gpu_name": torch.cuda.get_device_name(0) if cuda else None,
        "bf16_supported": bool(cuda and torch.cuda.is_bf16_supported()),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _run(cmd: list[str], timeout: float, env: dict | None = None) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            cmd, capture_output=True, text=True, timeout=max(timeout, 1), env=env, cwd=ROOT, check=False
        )
        rc, text = p.returncode, (p.stdout + p.stderr)
    except subprocess.TimeoutExpired as e:
        rc = 124
        text = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        text += "\n(timed out)"
    return rc, text, round(time.perf_counter() - t0, 2)


def _tail(text: str, n: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _steady(run: Path) -> float | None:
    """Seconds per epoch between the first and the last validation (``elapsed_s`` in metrics.csv)."""
    path = run / "metrics.csv"
    if not path.is_file():
        return None
    pts = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            if row.get("elapsed_s") and row.get("epoch"):
                pts[int(float(row["epoch"]))] = float(row["elapsed_s"])
    if len(pts) < 2:
        return None
    (e0, t0), (e1, t1) = min(pts.items()), max(pts.items())
    return round((t1 - t0) / (e1 - e0), 4)


def _train(task: str, model: str, run: Path, overrides: list[str], timeout: float, preset: str) -> dict:
    cmd = [sys.executable, "-m", "symzoo", "train", task, model, "--preset", preset, "--out", str(run)]
    rc, text, secs = _run(cmd + overrides, timeout)
    rec: dict = {"command": " ".join(["symzoo", *cmd[3:], *overrides]), "rc": rc, "seconds": secs}
    ev = run / "eval.json"
    if rc == 0 and ev.is_file():
        e = json.loads(ev.read_text())
        rec.update(
            status="ok",
            device=e.get("device"),
            epochs=e.get("epochs"),
            seconds_per_epoch=e.get("seconds_per_epoch"),
            seconds_per_epoch_steady=_steady(run),
            primary_metric=e.get("primary_metric"),
            test=(e.get("metrics") or {}).get(e.get("primary_metric", ""), None),
        )
    else:
        rec.update(status="failed", error=_tail(text))
    return rec


def domains(args, out: Path, budget: Budget, report: dict) -> None:
    import symzoo

    cuda = not args.cpu
    res = report.setdefault("domains", {})
    for task_name, model in REFERENCE:
        key = f"{model}.{task_name}"
        if budget.left() < 20:
            res[key] = {"status": "skipped (budget)"}
            continue
        task = symzoo.get_task(task_name)
        grad = bool(task.needs_grad)
        precision = "32-true" if grad else ("bf16-mixed" if cuda else "bf16-mixed")
        compile_ = "false" if grad else ("true" if cuda else "aot_eager")
        base = [
            f"trainer.accelerator={'cuda' if cuda else 'cpu'}",
            f"trainer.max_epochs={args.epochs}",
            "trainer.check_val_every_n_epoch=1",
            "trainer.early_stopping_patience=null",
            "trainer.progress_bar=false",
            "trainer.tensorboard=false",
            f"trainer.precision={precision}",
        ]
        run = out / "runs" / key
        timeout = min(args.domain_timeout, budget.left())
        rec = _train(task_name, model, run, base + [f"trainer.compile={compile_}"], timeout, "tiny")
        rec.update(domain=task.domain, precision=precision, compile=compile_)
        if rec["status"] != "ok" and compile_ != "false" and budget.left() > 20:
            first = rec
            rec = _train(
                task_name,
                model,
                out / "runs" / f"{key}-eager",
                base + ["trainer.compile=false"],
                min(args.domain_timeout, budget.left()),
                "tiny",
            )
            rec.update(
                domain=task.domain,
                precision=precision,
                compile="false (retry)",
                compile_failure=first.get("error"),
            )
        res[key] = rec
        print(f"[domains] {key}: {rec['status']} ({rec['seconds']} s)", flush=True)
        _write(out, report)


def ddp(args, out: Path, budget: Budget, report: dict) -> None:
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not (gpus >= 2 or args.ddp_cpu):
        report["ddp"] = {"status": f"skipped ({gpus} GPU(s); --ddp-cpu runs 2 CPU ranks)"}
        return
    if budget.left() < 40:
        report["ddp"] = {"status": "skipped (budget)"}
        return
    acc = "cpu" if (args.cpu or gpus < 2) else "cuda"
    run = out / "runs" / "ddp-egnn"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "symzoo", "train", "nbody-charged", "egnn", "--preset", "tiny", "--out", str(run),
        f"trainer.accelerator={acc}", "trainer.devices=2", "trainer.strategy=ddp",
        "trainer.max_epochs=2", "trainer.progress_bar=false", "trainer.tensorboard=false",
    ]  # fmt: skip
    rc, text, secs = _run(cmd, min(args.domain_timeout, budget.left()))
    check = run / "ddp_check.json"
    rec = {"command": "torchrun --nproc-per-node=2 -m symzoo train " + " ".join(cmd[7:]), "rc": rc,
           "seconds": secs, "accelerator": acc}  # fmt: skip
    if rc == 0 and check.is_file():
        rec.update(status="ok", ddp_check=json.loads(check.read_text()))
    else:
        rec.update(status="failed", error=_tail(text))
    report["ddp"] = rec
    print(f"[ddp] {rec['status']} ({secs} s)", flush=True)


def _ff_rate(model, structure, device, dtype, min_seconds: float) -> float:
    import torch

    model = model.to(device=device, dtype=dtype)
    b = structure.to(device)
    for k in ("pos", "cell"):
        if getattr(b, k, None) is not None and torch.is_floating_point(getattr(b, k)):
            setattr(b, k, getattr(b, k).to(dtype))

    def call():
        out = model(b)
        float(out["energy"].detach().sum()), float(out["forces"].detach().sum())  # synchronizes

    call()
    call()
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < min_seconds:
        call()
        n += 1
    return n / (time.perf_counter() - t0)


def forcefield(args, out: Path, budget: Budget, report: dict) -> None:
    import numpy as np
    import torch
    from ase.build import bulk
    from symzoo.datasets.atoms import make_structure
    from torch_geometric.data import Batch

    import symzoo

    sys.path.insert(0, str(Path(__file__).parent))
    from forcefield_speed import _builder, _recipe_args

    device = "cpu" if args.cpu else "cuda"
    ethanol = symzoo.get_task("rmd17-ethanol").splits("tiny")[0]
    reps = 3 if args.cpu else 5  # 108 or 500 atoms
    cu = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((reps, reps, reps))
    cu.rattle(0.05, seed=reps)
    cu_s = make_structure(cu.positions, cu.numbers, 0.0, np.zeros((len(cu), 3)), cu.cell.array, cu.pbc)
    systems = {"ethanol": ethanol[0], f"cu-{len(cu)}": cu_s}
    rows = report.setdefault("forcefield", {"device": device, "rows": []})["rows"]
    for name in ("nequip", "painn", "schnet", "nequip-macesize"):
        for sys_name, st in systems.items():
            for dtype in (torch.float64, torch.float32):
                if budget.left() < 15:
                    rows.append({"model": name, "system": sys_name, "status": "skipped (budget)"})
                    continue
                try:
                    torch.manual_seed(0)
                    model = symzoo.create_model(_builder(name), **_recipe_args(name))
                    model.fit_reference(ethanol[:5] if sys_name == "ethanol" else [st])
                    rate = _ff_rate(model, Batch.from_data_list([st]), device, dtype, args.ff_seconds)
                    rows.append({"model": name, "system": sys_name, "atoms": int(st.pos.shape[0]),
                                 "dtype": str(dtype).replace("torch.", ""), "calls_per_s": round(rate, 3),
                                 "status": "ok"})  # fmt: skip
                except Exception as e:  # recorded, the check goes on
                    rows.append({"model": name, "system": sys_name, "status": f"failed: {e!r}"[:300]})
                print(f"[forcefield] {rows[-1]}", flush=True)
        _write(out, report)


def nbody(args, out: Path, budget: Budget, report: dict) -> None:
    if budget.left() < 40:
        report["nbody"] = {"status": "skipped (budget)"}
        return
    cuda = not args.cpu
    preset = "tiny" if args.cpu else "paper"
    ov = [
        f"trainer.accelerator={'cuda' if cuda else 'cpu'}",
        f"trainer.max_epochs={args.nbody_epochs}",
        "trainer.check_val_every_n_epoch=2",
        "trainer.early_stopping_patience=null",
        "trainer.progress_bar=false",
        "trainer.tensorboard=false",
        "data.batch_size=100",
        "optim.lr=5e-4",
        f"trainer.precision={'bf16-mixed' if cuda else '32-true'}",
        f"trainer.compile={'true' if cuda else 'false'}",
    ]
    rec = _train("nbody-charged", "egnn", out / "runs" / "nbody-egnn", ov, min(240, budget.left()), preset)
    rec["preset"] = preset
    report["nbody"] = rec
    print(f"[nbody] {rec.get('status')}: {rec.get('seconds_per_epoch_steady')} s/epoch steady", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "runs/gpu_check"))
    ap.add_argument("--cpu", "--dry-run", dest="cpu", action="store_true",
                    help="run every section on the CPU at the smallest sizes (a few seconds per domain)")  # fmt: skip
    ap.add_argument("--epochs", type=int, default=None, help="epochs per domain (default 3; 1 with --cpu)")
    ap.add_argument("--nbody-epochs", type=int, default=None, help="N-body epochs (default 8; 4 with --cpu)")
    ap.add_argument("--ff-seconds", type=float, default=None, help="seconds per force-field figure")
    ap.add_argument("--budget-s", type=float, default=420.0, help="start no section after this")
    ap.add_argument("--domain-timeout", type=float, default=120.0)
    ap.add_argument("--ddp-cpu", action="store_true", help="run the DDP section with 2 CPU ranks")
    ap.add_argument("--sections", default="domains,ddp,forcefield,nbody")
    args = ap.parse_args(argv)
    args.epochs = args.epochs or (1 if args.cpu else 3)
    args.nbody_epochs = args.nbody_epochs or (4 if args.cpu else 8)
    args.ff_seconds = args.ff_seconds if args.ff_seconds is not None else (0.3 if args.cpu else 2.0)
    import torch

    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device; use --cpu for the dry run", file=sys.stderr)
        return 2
    sections = args.sections.split(",")
    unknown = set(sections) - {"domains", "ddp", "forcefield", "nbody"}
    if unknown:
        print(f"gpu_check: unknown section(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = Budget(args.budget_s)
    report: dict = {
        "benchmark": "gpu_check",
        "mode": "cpu dry run" if args.cpu else "cuda",
        "command": "python benchmarks/gpu_check.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "env": _env(),
        "unix_time": int(time.time()),
    }
    _write(out, report)
    for name, fn in (("domains", domains), ("ddp", ddp), ("forcefield", forcefield), ("nbody", nbody)):
        if name not in sections:
            continue
        t0 = time.perf_counter()
        try:
            fn(args, out, budget, report)
        except Exception as e:  # one broken section does not lose the others
            report[name] = {"status": f"failed: {e!r}"[:500]}
        report.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        _write(out, report)
    report["total_seconds"] = round(time.perf_counter() - budget.t0, 1)
    ok = [k for k, v in (report.get("domains") or {}).items() if v.get("status") == "ok"]
    report["summary"] = {
        "domains_ok": f"{len(ok)}/{len(REFERENCE)}",
        "ddp": (report.get("ddp") or {}).get("status"),
        "nbody_seconds_per_epoch_steady": (report.get("nbody") or {}).get("seconds_per_epoch_steady"),
    }
    _write(out, report)
    print(json.dumps(report["summary"]))
    print(f"wrote {out / 'gpu_check.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
