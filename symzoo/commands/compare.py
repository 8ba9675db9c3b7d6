HELP = "learning curves and symmetry metrics of several models on one task (resumable grid)"


def add_arguments(p):
    p.add_argument("task", help="task name (see `symzoo list tasks`)")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="config overrides for every cell, written right after TASK (e.g. trainer.max_epochs=5)",
    )
    p.add_argument(
        "--models",
        required=True,
        help="comma-separated model names; NAME+aug trains NAME with random group augmentation",
    )
    p.add_argument(
        "--train-sizes",
        default="100,300,1000",
        help="comma-separated training-set sizes (default 100,300,1000)",
    )
    p.add_argument(
        "--seeds", default="3", help="number of seeds (0..k-1), or a comma-separated list (default 3)"
    )
    p.add_argument("--preset", help="data preset: tiny | small | paper (default: the task's default)")
    p.add_argument(
        "--out", help="output folder (default runs/compare-<task>-<preset>); re-running resumes it"
    )
    p.add_argument("--jobs", type=int, help="cells trained in parallel (default: the available cores)")
    p.add_argument("--threads", type=int, help="torch threads per cell (default: cores // jobs)")
    p.add_argument(
        "--executor",
        default="local",
        metavar="local|dask://HOST:PORT",
        help="where cells train: this machine's process pool (default) or a running Dask scheduler "
        "(pip install 'symzoo[cluster]'; workers must share this filesystem)",
    )
    p.add_argument(
        "--reference",
        help="the equivariant model the others are compared to "
        "(default: the first model claiming the task's full group)",
    )
    p.add_argument(
        "--orbit-size", type=int, help="training size of the orbit study (default: the largest size)"
    )
    p.add_argument("--no-orbit", action="store_true", help="skip the orbit-generalization study")
    p.add_argument(
        "--rollout-steps",
        type=int,
        default=None,
        help="tasks with dynamics: rollout horizon in steps of the task's dt (default: the task's, "
        "1000 for the Hamiltonian systems, 10 for N-body)",
    )
    p.add_argument(
        "--rollout-trajectories",
        type=int,
        default=16,
        help="tasks with dynamics: test initial states rolled out per cell (default 16)",
    )
    p.add_argument(
        "--breaking",
        metavar="S1,S2,...",
        help="sweep the task's symmetry-breaking knob over these strengths (e.g. 0,0.01,0.1,1; "
        "nbody-charged: a uniform external field); the report plots the symmetry gain against it",
    )
    p.add_argument(
        "--no-rollout",
        action="store_true",
        help="skip the rollout metrics (energy drift, rollout error) of tasks with dynamics",
    )


def run(args) -> int:
    import sys

    from symzoo.errors import SymzooError
    from symzoo.eval.compare import compare, parse_list
    from symzoo.eval.report import format_summary

    bad = [x for x in args.overrides if "=" not in x]
    if bad:
        raise SymzooError(f"unexpected argument {bad[0]!r}: overrides look like key=value")
    seeds_text = str(args.seeds).strip()
    if "," in seeds_text:
        seeds = parse_list(seeds_text, "--seeds", int)
    else:
        try:
            seeds = int(seeds_text)
        except ValueError:
            raise SymzooError(f"--seeds {seeds_text!r}: give a count or a comma-separated list") from None
        if seeds < 1:
            raise SymzooError("--seeds must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise SymzooError("--jobs must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise SymzooError("--threads must be at least 1")
    if args.rollout_steps is not None and args.rollout_steps < 1:
        raise SymzooError("--rollout-steps must be at least 1")
    if args.rollout_trajectories < 1:
        raise SymzooError("--rollout-trajectories must be at least 1")

    def on_cell(res, done, total):
        where = f"[{done}/{total}]"
        if res.get("status") == "failed":
            print(f"{where} {res['key']}: FAILED ({res['error']})", file=sys.stderr, flush=True)
            return
        pm = next(iter(res["metrics"]))
        extra = ""
        if res.get("orbit"):
            extra = f", out/in-orbit ratio {res['orbit']['ratio']:.3g}"
        ro = res.get("rollout") or {}
        if "energy_drift" in ro:
            extra += f", energy drift {ro['energy_drift']:.3g}"
        elif "error" in ro:
            extra += f", rollout failed ({ro['error']})"
        print(
            f"{where} {res['key']}: {pm}={res['metrics'][pm]:.4g}{extra} ({res.get('wall_seconds', 0):.1f} s)",
            flush=True,
        )

    def on_start(info):
        msg = f"{info['total']} cells in {info['out']}: {info['reused']} already finished"
        if info["todo"]:
            msg += (
                f", training {info['todo']} ({info['jobs']} at a time, "
                f"{info['threads']} torch thread{'s' * (info['threads'] > 1)} each)"
            )
        print(msg, flush=True)

    doc = compare(
        args.task,
        args.models,
        args.train_sizes,
        seeds,
        preset=args.preset,
        out=args.out,
        jobs=args.jobs,
        threads=args.threads,
        reference=args.reference,
        orbit=not args.no_orbit,
        orbit_size=args.orbit_size,
        overrides=args.overrides,
        on_cell=on_cell,
        on_start=on_start,
        rollout=not args.no_rollout,
        rollout_steps=args.rollout_steps,
        rollout_trajectories=args.rollout_trajectories,
        breaking=args.breaking,
        executor=args.executor,
    )
    print()
    print(format_summary(doc))
    inv = doc["invocations"][-1]
    print(
        f"\ntrained {inv['cells_trained']} cell(s), reused {inv['cells_reused']}; "
        f"{inv['wall_seconds']:.1f} s; report: {doc['out']}/report.md"
    )
    if doc.get("failed"):
        print(
            f"symzoo: error: {len(doc['failed'])} cell(s) failed; re-run the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0
