"""EGNN protocol on charged N-body (``paper`` preset: 3000/2000/2000), not part of the tests.

**Speed** (always first): ``--repeats`` interleaved pairs (the order alternates: reference first
in even repeats, harness first in odd ones), each the *original EGNN code's loop* for
``--speed-epochs`` epochs and the harness (``symzoo.train.run.train``, egnn) for as many epochs, on
the same data in the same process, one torch thread (``--pin CORE`` pins the process to one core).
The reference is a faithful re-implementation (written here, nothing of the original is copied) of
Satorras et al.'s ``vgsatorras/egnn`` ``main_nbody.py --model egnn_vel``: its ``EGNN_vel`` model
(per-edge concatenated edge-MLP input, per-component clamp of coordinate updates, every layer
updating ``h``), its per-sample dataset collated by the default ``DataLoader`` (shuffled,
``drop_last``), ``get_edges`` rebuilding the batch's edge list in Python for every batch, Adam (lr
5e-4, weight decay 1e-12); its printing, JSON writing and wandb logging are left out, which only
makes the reference faster.

*Evaluation work* (``--reference-eval``): ``harness`` (default) gives the reference the harness's
evaluation work — one validation pass without autograd after every 5th epoch (epochs 4, 9, ...,
as Lightning's ``check_val_every_n_epoch=5``); ``original`` runs what the original script runs —
validation **and** test passes with autograd on at epochs 0, 5, 10, ....

*Clocks*: wall time (``time.perf_counter``) and process CPU time (``time.process_time``: every
thread of this process; child processes, e.g. ``torch.compile``'s compile workers, through
``resource.getrusage(RUSAGE_CHILDREN)``, which counts them once they have exited) at every epoch
end of both sides (the harness's through a Lightning callback).  *Steady state*: per epoch between
the end of the first and of the last epoch that ran an evaluation, on both sides (so both contain
the same evaluation passes per epoch, and neither the harness's start-up and compilation nor the
reference's first epoch).  Reported: median, min and max over the repeats of seconds per epoch
(wall and CPU) of both sides and of their ratios — **the ratio by CPU time is the headline**
(wall-time ratios swing with the machine's load) — and, with start-up included, the harness's
whole ``train()`` call (data set-up, compilation, fit, final test evaluation) over the reference's
whole loop.

The harness runs the recipe as users get it (``configs/nbody-charged/egnn.yaml``: at the ``paper``
preset bf16 autocast and ``torch.compile``; ``--extra "trainer.precision=32-true
trainer.compile=false"`` times the float32 eager path).  Compilation happens in the harness's
first epoch: it is in the start-up-included ratio, not in the steady-state one.

**Accuracy**: trains ``egnn``, ``gnn`` and ``linear`` with the harness on the published schedule
(Adam, batch 100, evaluation every 5 epochs; lr 5e-4 for EGNN, 1e-3 for GNN and linear; weight
decay 1e-12) and reports the test MSE at the best validation epoch, seconds per epoch, time to the
best epoch and the device.  ``--reference-epochs N`` also trains the reference loop N epochs for
its test MSE at its best validation check.

    python benchmarks/nbody_paper.py --speed-only --repeats 3 --out runs/bench    # speed
    python benchmarks/nbody_paper.py --out runs/bench-paper                      # full (long)
    python benchmarks/nbody_paper.py --preset small --models egnn --out /tmp/b   # accuracy, small

Writes ``<out>/nbody_paper.json`` and prints it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import statistics
import time
from pathlib import Path

import torch
from symzoo.train.config import load_config
from symzoo.train.run import train

import symzoo

PUBLISHED = {"egnn": 0.0071, "gnn": 0.0107, "linear": 0.0819}
LR = {"egnn": 5e-4, "gnn": 1e-3, "linear": 1e-3}
ARGS = {
    "egnn": "model.args.hidden=64 model.args.layers=4",
    "gnn": "model.args.hidden=64 model.args.layers=4",
    "linear": "",
}


class _RefGCL(torch.nn.Module):
    """One ``E_GCL_vel`` layer as the original EGNN code builds it (re-implemented here from the
    paper and the code's structure, not copied): the edge MLP sees ``[h_i, h_j, |x_ij|^2, a_ij]``
    concatenated per edge, coordinate updates are clamped to [-100, 100] per component and
    mean-aggregated, every layer (the last one too) updates ``h``."""

    def __init__(self, hidden: int, edge_dim: int):
        super().__init__()
        nn = torch.nn
        self.edge_mlp = nn.Sequential(
            nn.Linear(2 * hidden + 1 + edge_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
        )
        self.node_mlp = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        last = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=0.001)
        self.coord_mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), last)
        self.coord_mlp_vel = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    @staticmethod
    def _segment_sum(data, ids, n):
        out = data.new_full((n, data.size(1)), 0)
        return out.scatter_add_(0, ids.unsqueeze(-1).expand(-1, data.size(1)), data)

    def forward(self, h, edges, coord, vel, edge_attr):
        row, col = edges
        diff = coord[row] - coord[col]
        radial = torch.sum(diff**2, 1).unsqueeze(1)
        m = self.edge_mlp(torch.cat([h[row], h[col], radial, edge_attr], dim=1))
        trans = torch.clamp(diff * self.coord_mlp(m), min=-100, max=100)
        n = coord.size(0)
        count = self._segment_sum(torch.ones_like(trans), row, n).clamp(min=1)
        coord = coord + self._segment_sum(trans, row, n) / count
        coord = coord + self.coord_mlp_vel(h) * vel
        h = h + self.node_mlp(torch.cat([h, self._segment_sum(m, row, n)], dim=1))
        return h, coord


class _RefEGNNVel(torch.nn.Module):
    """``EGNN_vel`` of the original code (hidden 64, 4 layers, SiLU, recurrent, edge features 2)."""

    def __init__(self, hidden: int = 64, layers: int = 4):
        super().__init__()
        self.embedding = torch.nn.Linear(1, hidden)
        self.layers = torch.nn.ModuleList(_RefGCL(hidden, 2) for _ in range(layers))

    def forward(self, h, x, edges, vel, edge_attr):
        h = self.embedding(h)
        for layer in self.layers:
            h, x = layer(h, edges, x, vel, edge_attr)
        return x


class _RefDataset(torch.utils.data.Dataset):
    """Per-sample items as the original ``NBodyDataset`` returns them: ``loc [n, 3], vel [n, 3],
    edge_attr [n (n - 1), 1] (q_i q_j), charges [n, 1], loc_end [n, 3]``, collated by the default
    ``DataLoader``; ``get_edges`` builds the batch's edge list in Python for every batch."""

    def __init__(self, ds):
        self.loc, self.vel, self.q, self.end = (ds.node[k] for k in ("pos", "vel", "attr", "y"))
        n = self.loc.shape[1]
        self.edges = [
            [i for i in range(n) for j in range(n) if i != j],
            [j for i in range(n) for j in range(n) if i != j],
        ]
        self.edge_attr = (self.q[:, self.edges[0]] * self.q[:, self.edges[1]]).float()

    def __len__(self):
        return self.loc.shape[0]

    def __getitem__(self, i):
        return self.loc[i], self.vel[i], self.edge_attr[i], self.q[i], self.end[i]

    def get_edges(self, batch_size: int, n_nodes: int):
        edges = [torch.LongTensor(self.edges[0]), torch.LongTensor(self.edges[1])]
        rows, cols = [], []
        for i in range(batch_size):
            rows.append(edges[0] + n_nodes * i)
            cols.append(edges[1] + n_nodes * i)
        return [torch.cat(rows), torch.cat(cols)]


def _ref_epoch(model, opt, loader, backprop: bool, grad: bool = True) -> float:
    """One pass of the original script's ``train(model, optimizer, epoch, loader, backprop)``
    (MSE loss; evaluation passes run the forward with autograd on, as the original does, unless
    ``grad=False``; no printing, file writing or wandb logging, which only makes the reference
    faster)."""
    if not grad:
        with torch.no_grad():
            return _ref_epoch(model, opt, loader, backprop, True)
    model.train(backprop)
    total, count = 0.0, 0
    mse = torch.nn.MSELoss()
    for data in loader:
        batch_size, n_nodes, _ = data[0].size()
        data = [d.view(-1, d.size(2)) for d in data]
        loc, vel, edge_attr, _charges, loc_end = data
        edges = loader.dataset.get_edges(batch_size, n_nodes)
        opt.zero_grad()
        nodes = torch.sqrt(torch.sum(vel**2, dim=1)).unsqueeze(1).detach()
        rows, cols = edges
        loc_dist = torch.sum((loc[rows] - loc[cols]) ** 2, 1).unsqueeze(1)
        edge_attr = torch.cat([edge_attr, loc_dist], 1).detach()
        loss = mse(model(nodes, loc.detach(), edges, vel, edge_attr), loc_end)
        if backprop:
            loss.backward()
            opt.step()
        total += loss.item() * batch_size
        count += batch_size
    return total / count


def _cpu_now() -> float:
    """Process CPU seconds: this process's threads plus exited children (compile workers)."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def _steady(marks: list[tuple[int, float, float]], eval_epochs: set[int]) -> tuple[float, float] | None:
    """(wall, cpu) seconds per epoch between the end of the first and of the last evaluated epoch;
    ``marks``: (epoch, wall, cpu) at every epoch end."""
    pts = [m for m in marks if m[0] in eval_epochs]
    if len(pts) < 2:
        return None
    (e0, w0, c0), (e1, w1, c1) = pts[0], pts[-1]
    return (w1 - w0) / (e1 - e0), (c1 - c0) / (e1 - e0)


def reference_loop(
    epochs: int, threads: int, *, preset: str = "paper", lr: float = 5e-4, eval_mode: str = "original"
) -> dict:
    """Seconds per epoch (wall and process CPU; whole loop and steady state) of the original EGNN
    script's loop (``main_nbody.py`` with ``--model egnn_vel``: batch 100, shuffled,
    ``drop_last``; Adam, weight decay 1e-12) on this task's data, and the test MSE at its best
    validation check.  ``eval_mode="original"``: validation and test every 5 epochs (0, 5, ...)
    with autograd on, as the original; ``"harness"``: validation only, without autograd, after
    epochs 4, 9, ... (the harness's evaluation work)."""
    if eval_mode not in ("original", "harness"):
        raise ValueError(f"eval_mode must be 'original' or 'harness', got {eval_mode!r}")
    torch.set_num_threads(threads)
    task = symzoo.get_task("nbody-charged")
    sets = [_RefDataset(ds) for ds in task.splits(preset)]
    torch.manual_seed(0)
    loaders = [
        torch.utils.data.DataLoader(sets[0], batch_size=100, shuffle=True, drop_last=True),
        torch.utils.data.DataLoader(sets[1], batch_size=100, shuffle=False, drop_last=False),
        torch.utils.data.DataLoader(sets[2], batch_size=100, shuffle=False, drop_last=False),
    ]
    model = _RefEGNNVel()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-12)
    best_val, best_test = float("inf"), float("nan")
    evaluated: set[int] = set()
    marks = []
    t0, c0 = time.perf_counter(), _cpu_now()
    for epoch in range(epochs):
        _ref_epoch(model, opt, loaders[0], True)
        if eval_mode == "original" and epoch % 5 == 0:
            val = _ref_epoch(model, opt, loaders[1], False)
            test = _ref_epoch(model, opt, loaders[2], False)
            evaluated.add(epoch)
            if val < best_val:
                best_val, best_test = val, test
        elif eval_mode == "harness" and epoch % 5 == 4:
            val = _ref_epoch(model, opt, loaders[1], False, grad=False)
            evaluated.add(epoch)
            best_val = min(best_val, val)
        marks.append((epoch, time.perf_counter(), _cpu_now()))
    steady = _steady(marks, evaluated)
    return {
        "eval_mode": eval_mode,
        "seconds_per_epoch": (time.perf_counter() - t0) / epochs,
        "cpu_seconds_per_epoch": (_cpu_now() - c0) / epochs,
        "seconds_per_epoch_steady": steady[0] if steady else None,
        "cpu_seconds_per_epoch_steady": steady[1] if steady else None,
        "best_val_mse": best_val,
        "test_mse_at_best_val": best_test,
    }


def _epoch_clock():
    """A Lightning callback that records (epoch, wall, cpu) at every training-epoch end (after
    that epoch's validation, which Lightning runs before ``on_train_epoch_end``)."""
    import lightning as L

    class EpochClock(L.Callback):
        def __init__(self):
            self.marks: list[tuple[int, float, float]] = []
            self.evaluated: set[int] = set()

        def on_validation_end(self, trainer, pl_module):
            if not trainer.sanity_checking:
                self.evaluated.add(int(trainer.current_epoch))

        def on_train_epoch_end(self, trainer, pl_module):
            self.marks.append((int(trainer.current_epoch), time.perf_counter(), _cpu_now()))

    return EpochClock()


def time_to_best(run: Path, best_epoch: int) -> float | None:
    path = run / "metrics.csv"
    if not path.is_file():
        return None
    with open(path) as f:
        for row in csv.DictReader(f):
            if row.get("elapsed_s") and row.get("epoch") and int(float(row["epoch"])) == best_epoch:
                return float(row["elapsed_s"])
    return None


def steady_seconds_per_epoch(run: Path) -> float | None:
    """Seconds per epoch between the first and the last validation check (``elapsed_s`` in
    ``metrics.csv``): the harness's per-epoch cost without its one-off start-up."""
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
    return (t1 - t0) / (e1 - e0)


def harness_overrides(
    name: str, max_epochs: int, patience: int | None, threads: int, extra: str
) -> list[str]:
    out = [
        f"optim.lr={LR[name]}",
        "optim.weight_decay=1e-12",
        "data.batch_size=100",
        f"trainer.max_epochs={max_epochs}",
        "trainer.check_val_every_n_epoch=5",
        f"trainer.early_stopping_patience={patience if patience else 'null'}",
        f"trainer.threads={threads}",
        "trainer.progress_bar=false",
        "trainer.tensorboard=false",
        "optim.schedule=none",
    ]
    return out + ARGS[name].split() + extra.split()


def _stats(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {
        "median": round(statistics.median(xs), 4),
        "min": round(xs[0], 4),
        "max": round(xs[-1], 4),
        "all": [round(x, 4) for x in xs],
    }


def _harness_run(args, overrides: list[str], run: Path) -> dict:
    if run.exists():
        shutil.rmtree(run)
    cfg = load_config("nbody-charged", "egnn", preset=args.preset, overrides=overrides)
    clock = _epoch_clock()
    torch.set_num_threads(args.threads)
    t0, c0 = time.perf_counter(), _cpu_now()
    train(cfg, str(run), quiet=True, callbacks=[clock])
    wall, cpu = time.perf_counter() - t0, _cpu_now() - c0
    ev = json.loads((run / "eval.json").read_text())
    steady = _steady(clock.marks, clock.evaluated)
    if steady is None:
        raise SystemExit("the harness ran fewer than 2 validations: raise --speed-epochs (>= 10)")
    return {
        "steady": steady,
        "train_call": (wall, cpu),
        "fit_seconds_per_epoch": ev["seconds_per_epoch"],
        "steady_wall_from_metrics_csv": steady_seconds_per_epoch(run),
    }


def speed(args, out: Path) -> dict:
    """``--repeats`` interleaved pairs (order alternating): the original code's loop and the
    harness (egnn), each for ``--speed-epochs`` epochs on the same data in the same process;
    wall and CPU clocks, ratios per pair (module docstring)."""
    keys = ("ref_wall", "ref_cpu", "har_wall", "har_cpu", "r_wall", "r_cpu", "r_call_wall", "r_call_cpu")
    col: dict[str, list[float]] = {k: [] for k in keys}
    overrides = harness_overrides("egnn", args.speed_epochs, None, args.threads, args.extra)
    resolved = load_config("nbody-charged", "egnn", preset=args.preset, overrides=overrides)
    loads = []
    for r in range(args.repeats):
        order = ("ref", "har") if r % 2 == 0 else ("har", "ref")
        res = {}
        for side in order:
            if side == "ref":
                res[side] = reference_loop(
                    args.speed_epochs, args.threads, preset=args.preset, eval_mode=args.reference_eval
                )
            else:
                res[side] = _harness_run(args, overrides, out / f"speed-egnn-{r}")
        ref, har = res["ref"], res["har"]
        (hw, hc), (cw, cc) = har["steady"], har["train_call"]
        rw, rc = ref["seconds_per_epoch_steady"], ref["cpu_seconds_per_epoch_steady"]
        vals = (
            rw,
            rc,
            hw,
            hc,
            hw / rw,
            hc / rc,
            cw / (ref["seconds_per_epoch"] * args.speed_epochs),
            cc / (ref["cpu_seconds_per_epoch"] * args.speed_epochs),
        )
        for k, v in zip(keys, vals, strict=True):
            col[k].append(v)
        loads.append(os.getloadavg()[0])
        print(
            f"repeat {r} ({' then '.join(order)}): reference {rw:.3f} s/epoch wall, {rc:.3f} cpu; "
            f"harness {hw:.3f} wall, {hc:.3f} cpu (steady); ratio wall {hw / rw:.3f}, "
            f"cpu {hc / rc:.3f}; whole train() / whole loop: wall {vals[6]:.3f}, cpu {vals[7]:.3f}; "
            f"load {loads[-1]:.1f}",
            flush=True,
        )
    return {
        "preset": args.preset,
        "epochs_per_repeat": args.speed_epochs,
        "repeats": args.repeats,
        "order": "alternating (reference first in even repeats)",
        "pinned_cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "reference_eval": args.reference_eval,
        "harness_overrides": overrides,
        "harness_precision": str(resolved.trainer.precision),
        "harness_compile": resolved.trainer.get("compile", False),
        "reference_seconds_per_epoch_steady": _stats(col["ref_wall"]),
        "reference_cpu_seconds_per_epoch_steady": _stats(col["ref_cpu"]),
        "harness_seconds_per_epoch_steady": _stats(col["har_wall"]),
        "harness_cpu_seconds_per_epoch_steady": _stats(col["har_cpu"]),
        "harness_over_reference_cpu_steady": _stats(col["r_cpu"]),
        "harness_over_reference_wall_steady": _stats(col["r_wall"]),
        "harness_train_call_over_reference_loop_cpu": _stats(col["r_call_cpu"]),
        "harness_train_call_over_reference_loop_wall": _stats(col["r_call_wall"]),
        "load_average_after_each_repeat": [round(x, 2) for x in loads],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="egnn,gnn,linear")
    ap.add_argument("--max-epochs", type=int, default=1000)
    ap.add_argument(
        "--patience", type=int, default=40, help="early stopping, in validation checks (x5 epochs)"
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest for these small graphs)"
    )
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--speed-only", action="store_true", help="only the interleaved speed comparison")
    ap.add_argument("--speed-epochs", type=int, default=20, help="epochs per speed repeat (each side)")
    ap.add_argument(
        "--repeats", type=int, default=3, help="interleaved speed repeats (median and spread); 0: none"
    )
    ap.add_argument(
        "--reference-epochs", type=int, default=0, help="also train the original code this long (accuracy)"
    )
    ap.add_argument(
        "--reference-eval",
        choices=("harness", "original"),
        default="harness",
        help="the reference's evaluation work: the harness's (validation without autograd every 5th "
        "epoch; default) or the original script's (validation + test with autograd every 5 epochs)",
    )
    ap.add_argument("--pin", type=int, default=None, help="pin the process to this CPU core")
    ap.add_argument("--extra", default="", help="extra key=value overrides for every model")
    ap.add_argument("--out", default="runs/bench")
    args = ap.parse_args()
    if args.repeats and args.speed_epochs < 10:
        raise SystemExit("--speed-epochs must be >= 10 (two validations on each side)")
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "benchmark": "nbody_paper",
        "symzoo": symzoo.__version__,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "load_average_start": os.getloadavg(),
        "models": {},
    }
    if args.repeats:
        results["speed"] = speed(args, out)
        print(json.dumps({"speed": results["speed"]}, indent=2), flush=True)
    if args.reference_epochs:
        results["reference_accuracy"] = reference_loop(
            args.reference_epochs, args.threads, preset=args.preset, eval_mode="original"
        )
    for name in [] if args.speed_only else args.models.split(","):
        run = out / name
        overrides = harness_overrides(name, args.max_epochs, args.patience, args.threads, args.extra)
        if not (run / "eval.json").is_file():
            cfg = load_config("nbody-charged", name, preset=args.preset, overrides=overrides)
            train(cfg, str(run), quiet=True)
        ev = json.loads((run / "eval.json").read_text())
        results["models"][name] = {
            "test_mse_at_best_val": ev["metrics"]["pos_mse"],
            "published_test_mse": PUBLISHED[name],
            "best_epoch": ev["best_epoch"],
            "epochs_run": ev["epochs"],
            "seconds_per_epoch": ev["seconds_per_epoch"],
            "seconds_per_epoch_steady": steady_seconds_per_epoch(run),
            "time_to_best_s": time_to_best(run, ev["best_epoch"]),
            "device": ev["device"],
            "overrides": overrides,
        }
        print(json.dumps({name: results["models"][name]}, indent=2), flush=True)
    results["load_average_end"] = os.getloadavg()
    (out / "nbody_paper.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
