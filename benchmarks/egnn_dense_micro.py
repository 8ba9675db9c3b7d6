"""EGNN's model step alone, path against path (issue 23, item 4); not part of the tests.

One batch of ``--graphs`` fully connected N-body graphs (the ``paper`` training data of
``nbody-charged``, 5 particles, 20 directed edges each), egnn hidden 64 / 4 layers, forward +
MSE loss + backward (no optimizer), ``torch.compile`` (inductor, as the harness compiles) under
bf16 autocast (the ``paper`` recipe's precision; ``--fp32`` for float32), one torch thread.
Interleaved: every repeat times each variant for ``--steps`` steps in turn (the order rotates
between repeats), process CPU seconds (``time.process_time``) and wall seconds per step.

Variants (all the same function: before timing, the script requires every variant's output to
match the model's to 1e-10 in float64, eager; ``tests/models/test_egnn_dense_micro.py`` checks
outputs and gradients to 1e-12):

- ``edge``: the edge-list path (gather by ``edge_index``, scatter-add back);
- ``gather``: the dense ``[B, n, n - 1]`` path with neighbours gathered by a small index tensor
  ``nbr [n, n - 1]`` (``x[:, nbr]``; its backward is an index scatter-add);
- ``slice``: the dense path with no index op at all: per-pair terms built on the full ``[B, n,
  n]`` square by broadcasting and the diagonal dropped by a strided view (flatten ``n * n``, drop
  the first entry, view as ``[n - 1, n + 1]``, drop the last column), whose backward is a
  zero-padded copy;
- ``direct``: ``gather`` without the model's layout check (``EGNN.dense_nodes``, a graph break
  under ``torch.compile``);
- ``square``: every edge tensor on the full ``[B, n, n]`` square (25 % more rows in the edge MLPs
  at n = 5), the diagonal masked out of the feature sum (``x_i - x_i = 0`` removes it from the
  coordinate sum);
- ``pointwise``: ``gather`` with the linear maps of width 1 done as multiplies and sums that
  inductor fuses into the neighbouring kernels instead of matrix products: the embedding
  ``Linear(1, hidden)``, the geometric part of the edge MLP's first map (``1 + edge_dim`` = 3
  input columns) and the ``Linear(hidden, 1)`` ends of the coordinate and velocity MLPs (in bf16
  these are slow oneDNN calls: a ``[2000, 1] @ [1, 64]`` product took 184 us, more than a
  ``[2000, 64] @ [64, 64]`` one);
- ``fused``: ``pointwise`` plus every per-node linear map of ``h`` (the edge MLP's source and
  destination projections, the velocity MLP's first layer and the ``h`` half of the node MLP's
  first layer) in one ``[B * n, hidden] @ [hidden, 4 * hidden]`` product.

Short windows, many repeats: on a loaded machine a 10-step window's CPU time moves by +-15 %, so
compare the per-repeat ratios' median (``cpu_ratio_to_<first>_per_repeat_median``) and the minima.

    OMP_NUM_THREADS=1 python benchmarks/egnn_dense_micro.py --repeats 24 --steps 10 --out micro.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time

import torch
from torch import Tensor

import symzoo


def _offdiag(t: Tensor) -> Tensor:
    """``[B, n, n, F] -> [B, n, n - 1, F]``: the off-diagonal entries in row-major order, by views."""
    b, n, _, f = t.shape
    return t.reshape(b, n * n, f)[:, 1:].reshape(b, n - 1, n + 1, f)[:, :, :n].reshape(b, n, n - 1, f)


def _layer_slice(layer, h, x, v, edge_attr):
    n = x.shape[1]
    diff = _offdiag(x[:, :, None, :] - x[:, None, :, :])
    radial = (diff**2).sum(-1, keepdim=True)
    pre = _offdiag(layer.edge_src(h)[:, :, None, :] + layer.edge_dst(h)[:, None, :, :]) + layer.edge_geo(
        torch.cat([radial, edge_attr], -1)
    )
    m = layer.edge_out(layer.edge_act(pre))
    w = layer.coord_mlp(m)
    if layer.tanh:
        w = w * layer.coords_range
    agg = (diff * w).sum(2)
    if layer.coords_agg == "mean":
        agg = agg / (n - 1)
    x = x + agg + layer.vel_mlp(h) * v
    if layer.node_mlp is None:
        return h, x
    dh = layer.node_mlp(torch.cat([h, m.sum(2)], dim=-1))
    return (h + dh if layer.recurrent else dh), x


def _layer_square(layer, h, x, v, edge_attr, mask):
    n = x.shape[1]
    diff = x[:, :, None, :] - x[:, None, :, :]
    radial = (diff**2).sum(-1, keepdim=True)
    pre = (
        layer.edge_src(h)[:, :, None, :]
        + layer.edge_dst(h)[:, None, :, :]
        + layer.edge_geo(torch.cat([radial, edge_attr], -1))
    )
    m = layer.edge_out(layer.edge_act(pre))
    w = layer.coord_mlp(m)
    if layer.tanh:
        w = w * layer.coords_range
    agg = (diff * w).sum(2)
    if layer.coords_agg == "mean":
        agg = agg / (n - 1)
    x = x + agg + layer.vel_mlp(h) * v
    if layer.node_mlp is None:
        return h, x
    dh = layer.node_mlp(torch.cat([h, (m * mask).sum(2)], dim=-1))
    return (h + dh if layer.recurrent else dh), x


def _dot(t: Tensor, lin) -> Tensor:
    """``lin(t)`` for a ``Linear(k, 1)``: a multiply and a sum (fused by inductor) instead of a matmul."""
    out = (t * lin.weight[0]).sum(-1, keepdim=True)
    return out if lin.bias is None else out + lin.bias


def _layer_fused(layer, h, x, v, edge_attr, nbr, merge: bool):
    n, hid = x.shape[1], h.shape[-1]
    diff = x[:, :, None, :] - x[:, nbr]
    radial = (diff**2).sum(-1, keepdim=True)
    g = layer.edge_geo.weight  # [hidden, 1 + edge_dim]: K = 3, as multiplies and adds
    geo = radial * g[:, 0]
    for k in range(edge_attr.shape[-1]):
        geo = geo + edge_attr[..., k : k + 1] * g[:, k + 1]
    vm, nm = layer.vel_mlp, layer.node_mlp
    if merge:
        ws = [layer.edge_src.weight, layer.edge_dst.weight, vm[0].weight]
        bs = [layer.edge_src.bias, torch.zeros_like(layer.edge_src.bias), vm[0].bias]
        if nm is not None:
            ws.append(nm[0].weight[:, :hid])
            bs.append(nm[0].bias)
        parts = torch.nn.functional.linear(h, torch.cat(ws), torch.cat(bs)).split(hid, -1)
        src, dst, vel0 = parts[0], parts[1], parts[2]
    else:
        src, dst, vel0 = layer.edge_src(h), layer.edge_dst(h), vm[0](h)
    pre = src[:, :, None, :] + dst[:, nbr] + geo
    m = layer.edge_out(layer.edge_act(pre))
    c = layer.coord_mlp
    w = _dot(c[1](c[0](m)), c[2])
    if layer.tanh:
        w = c[3](w) * layer.coords_range
    agg = (diff * w).sum(2)
    if layer.coords_agg == "mean":
        agg = agg / (n - 1)
    x = x + agg + _dot(vm[1](vel0), vm[2]) * v
    if nm is None:
        return h, x
    if merge:
        t = parts[3] + torch.nn.functional.linear(m.sum(2), nm[0].weight[:, hid:])
    else:
        t = nm[0](torch.cat([h, m.sum(2)], dim=-1))
    dh = nm[2](nm[1](t))
    return (h + dh if layer.recurrent else dh), x


#: the variants in the order they are timed by default; ``edge``, ``gather`` and ``direct`` are the model's own
VARIANTS = ("gather", "direct", "edge", "slice", "square", "pointwise", "fused")


def forward_variant(model, batch, variant: str) -> Tensor:
    """The batch's output positions ``[N, d]`` through ``variant`` (every variant is the same function)."""
    x, v, attr = batch.pos, batch.vel, batch.attr
    n_total, d = x.shape
    if variant == "edge":  # the edge list permuted (once, by the caller when timing): no dense path
        dense = model.dense_nodes(batch.edge_index, n_total) is not None
        return model(_shuffle(batch) if dense else batch)["pos"]
    n = model.dense_nodes(batch.edge_index, n_total)
    if n is None:
        raise ValueError("the benchmark's dense variants need equal fully connected graphs")
    if variant == "gather":
        return model(batch)["pos"]
    if variant == "direct":  # the same without the (graph-breaking) layout check
        return model._forward_dense(x, v, attr, n)
    b = n_total // n
    xb, vb, ab = x.reshape(b, n, d), v.reshape(b, n, d), attr.reshape(b, n, -1)
    if variant in ("pointwise", "fused"):
        i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        nbr = j[i != j].reshape(n, n - 1).to(x.device)
        h = vb.norm(dim=-1, keepdim=True) * model.embed.weight[:, 0] + model.embed.bias
        d0 = xb[:, :, None, :] - xb[:, nbr]
        ea = torch.cat([ab[:, :, None, :] * ab[:, nbr], (d0**2).sum(-1, keepdim=True)], -1)
        for layer in model.layers:
            h, xb = _layer_fused(layer, h, xb, vb, ea, nbr, variant == "fused")
        return xb.reshape(n_total, d)
    if variant not in ("slice", "square"):
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    h = model.embed(vb.norm(dim=-1, keepdim=True))
    d0 = xb[:, :, None, :] - xb[:, None, :, :]
    ea = torch.cat([ab[:, :, None, :] * ab[:, None, :, :], (d0**2).sum(-1, keepdim=True)], -1)
    if variant == "slice":
        ea = _offdiag(ea)
        for layer in model.layers:
            h, xb = _layer_slice(layer, h, xb, vb, ea)
    else:
        mask = (~torch.eye(n, dtype=torch.bool, device=x.device))[:, :, None].to(h.dtype)
        for layer in model.layers:
            h, xb = _layer_square(layer, h, xb, vb, ea, mask)
    return xb.reshape(n_total, d)


def _shuffle(batch):
    b = batch.clone()
    perm = torch.randperm(batch.edge_index.shape[1], generator=torch.Generator().manual_seed(0))
    b.edge_index = batch.edge_index[:, perm]
    return b


def parity(model, batch, variants=VARIANTS) -> dict[str, float]:
    """Largest ``|output - model(batch)|`` of each variant, eager, in the dtype of ``model``/``batch``."""
    with torch.no_grad():
        ref = model(batch)["pos"]
        return {v: float((forward_variant(model, batch, v) - ref).abs().max()) for v in variants}


def _profile(step, variant: str, steps: int = 10) -> dict:
    """Self CPU time per step of the matrix products (``aten::mm``/``addmm``, by shape) and of all."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events) / steps / 1e3
    mms = sorted(
        (e for e in events if e.key in ("aten::mm", "aten::addmm")), key=lambda e: -e.self_cpu_time_total
    )
    return {
        "variant": variant,
        "steps": steps,
        "self_cpu_ms_per_step_all_ops": round(total, 3),
        "self_cpu_ms_per_step_matmul": round(sum(e.self_cpu_time_total for e in mms) / steps / 1e3, 3),
        "matmul_calls_per_step": sum(e.count for e in mms) // steps,
        "matmul_by_shape": [
            {
                "op": e.key,
                "shapes": str(e.input_shapes),
                "calls_per_step": e.count // steps,
                "us_per_call": round(e.self_cpu_time_total / e.count, 1),
            }
            for e in mms[:12]
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graphs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma list; the first is the ratios' base"
    )
    ap.add_argument("--fp32", action="store_true", help="float32 instead of bf16 autocast")
    ap.add_argument("--eager", action="store_true", help="no torch.compile")
    ap.add_argument("--out", default=None, help="write the JSON here")
    ap.add_argument(
        "--profile",
        default=None,
        metavar="VARIANT",
        help="after timing, profile 10 steps of VARIANT (torch.profiler): matrix products vs the rest",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    task = symzoo.get_task("nbody-charged")
    train_set, _, _ = task.splits("paper")
    batch = next(iter(task.loader(train_set, args.graphs)))
    torch.manual_seed(0)
    model = symzoo.create_model("egnn", hidden=64, layers=4)
    variants = args.variants.split(",")
    bad = sorted(set(variants) - set(VARIANTS))
    if bad:
        ap.error(f"unknown variants {bad}; choose from {', '.join(VARIANTS)}")
    # the same function first: every variant against the model, float64, eager
    f64 = copy.deepcopy(model).double()
    diffs = parity(f64, batch.clone().apply(lambda t: t.double() if t.is_floating_point() else t), variants)
    print("float64 max |variant - model|: " + ", ".join(f"{v} {e:.1e}" for v, e in diffs.items()), flush=True)
    if max(diffs.values()) > 1e-10:
        raise SystemExit("a variant is not the model's function")

    def make(variant):
        fn = lambda bt: forward_variant(model, bt, variant)  # noqa: E731
        return fn if args.eager else torch.compile(fn)

    calls = {v: make(v) for v in variants}
    data = {v: _shuffle(batch) if v == "edge" else batch for v in variants}

    def step(v):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.fp32):
            loss = task.loss({"pos": calls[v](data[v])}, batch)
        model.zero_grad(set_to_none=True)
        loss.backward()

    for v in variants:
        for _ in range(3):  # compile + warm up
            step(v)
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    wall: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(args.repeats):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for v in order:
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(args.steps):
                step(v)
            cpu[v].append((time.process_time() - c0) / args.steps * 1e3)
            wall[v].append((time.perf_counter() - w0) / args.steps * 1e3)
        print(
            f"repeat {r}: " + ", ".join(f"{v} {cpu[v][-1]:.2f}" for v in variants) + " CPU ms/step",
            flush=True,
        )
    base = variants[0]
    result = {
        "command": "OMP_NUM_THREADS=1 python benchmarks/egnn_dense_micro.py " + " ".join(sys.argv[1:]),
        "graphs": args.graphs,
        "precision": "fp32" if args.fp32 else "bf16 autocast",
        "compiled": not args.eager,
        "torch": torch.__version__,
        "load_average": os.getloadavg(),
        "cpu_ms_per_step": {
            v: {
                "median": round(statistics.median(c), 3),
                "min": round(min(c), 3),
                "all": [round(t, 3) for t in c],
            }
            for v, c in cpu.items()
        },
        "wall_ms_per_step_median": {v: round(statistics.median(c), 3) for v, c in wall.items()},
        f"cpu_ratio_to_{base}_per_repeat_median": {
            v: round(statistics.median(a / b for a, b in zip(cpu[v], cpu[base], strict=True)), 3)
            for v in variants
        },
    }
    if args.profile:
        result["profile"] = _profile(lambda: step(args.profile), args.profile)
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
