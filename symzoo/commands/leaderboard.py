HELP = "one symmetry leaderboard across every domain: runs (or reuses) each task's comparison grid"


def add_arguments(p):
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="config overrides appended to every grid (e.g. trainer.max_epochs=1; use another --out)",
    )
    p.add_argument(
        "--preset",
        default="tiny",
        help="built-in recipe configs/leaderboard/NAME.yaml: tiny (CI, minutes) | small (README table)",
    )
    p.add_argument("-c", "--recipe", help="a leaderboard recipe YAML file (instead of --preset)")
    p.add_argument("--out", help="output folder (default runs/leaderboard-<recipe>); re-running resumes it")
    p.add_argument("--tasks", help="comma-separated subset of the recipe's tasks")
    p.add_argument("--seeds", help="replace the recipe's seeds: a count (0..k-1) or a comma-separated list")
    p.add_argument(
        "--executor",
        default="local",
        metavar="local|dask://HOST:PORT",
        help="where cells train: this machine's process pool (default) or a running Dask scheduler",
    )
    p.add_argument("--jobs", type=int, help="cells trained in parallel (local executor; default: the cores)")
    p.add_argument("--threads", type=int, help="torch threads per cell (default: cores // jobs; dask: 1)")
    p.add_argument(
        "--report",
        metavar="DIR",
        help="re-aggregate DIR/leaderboard.json from its grids' results.json and re-render (no training)",
    )


def run(args) -> int:
    import sys
    from pathlib import Path

    from symzoo.errors import SymzooError
    from symzoo.eval.compare import parse_list
    from symzoo.eval.leaderboard import load_recipe, rebuild, run_leaderboard

    if args.report:
        written = rebuild(args.report)
        for p in written.values():
            print(f"wrote {p}")
        return 0
    bad = [x for x in args.overrides if "=" not in x]
    if bad:
        raise SymzooError(f"unexpected argument {bad[0]!r}: overrides look like key=value")
    if args.jobs is not None and args.jobs < 1:
        raise SymzooError("--jobs must be at least 1")
    if args.threads is not None and args.threads < 1:
        raise SymzooError("--threads must be at least 1")
    seeds = None
    if args.seeds:
        text = str(args.seeds).strip()
        if "," in text:
            seeds = parse_list(text, "--seeds", int)
        else:
            try:
                seeds = list(range(int(text)))
            except ValueError:
                raise SymzooError(f"--seeds {text!r}: give a count or a comma-separated list") from None
            if not seeds:
                raise SymzooError("--seeds must be at least 1")
    recipe = load_recipe(args.recipe or args.preset)
    tasks = parse_list(args.tasks, "--tasks") if args.tasks else None

    def on_grid(entry, kind, doc):
        inv = doc["invocations"][-1]
        print(
            f"{entry.domain:12s} {entry.task}{' (breaking sweep)' if kind == 'breaking' else ''}: "
            f"{doc['cells_done']}/{doc['cells_total']} cells (trained {inv['cells_trained']}, "
            f"reused {inv['cells_reused']}) in {inv['wall_seconds']:.1f} s",
            flush=True,
        )

    def on_cell(res, done, total):
        if res.get("status") == "failed":
            print(f"  [{done}/{total}] {res['key']}: FAILED ({res['error']})", file=sys.stderr, flush=True)

    doc = run_leaderboard(
        recipe,
        args.out,
        executor=args.executor,
        jobs=args.jobs,
        threads=args.threads,
        tasks=tasks,
        seeds=seeds,
        overrides=args.overrides,
        on_grid=on_grid,
        on_cell=on_cell,
    )
    out = doc["out"]
    print()
    print((Path(out) / "leaderboard.md").read_text().split("\n## ")[0])
    print(f"wall time {doc['invocations'][-1]['wall_seconds']:.1f} s; report: {out}/leaderboard.md")
    failed = sum(len(r["failed"]) for r in doc["tasks"])
    if failed:
        print(
            f"symzoo: error: {failed} cell(s) failed; re-run the same command to retry them", file=sys.stderr
        )
        return 1
    return 0
