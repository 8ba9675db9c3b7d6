HELP = "re-render a comparison's report.md and plots from its results.json (no training)"


def add_arguments(p):
    p.add_argument("dir", help="a `symzoo compare` output folder (holding results.json)")
    p.add_argument(
        "--metric",
        help="report another recorded metric than the task's primary one "
        "(e.g. force_rmse_meV_per_A); lower must be better",
    )
    p.add_argument("--quiet", action="store_true", help="print only the written paths")


def check_cells(doc: dict, path: str) -> None:
    """Every cell's metrics are numbers (or ``null``, ``"inf"``, ``"-inf"``: strict JSON's spelling
    of NaN and infinities): a results.json edited or written by other code is refused in one line
    instead of being rendered with its strings read as NaN."""
    from symzoo.errors import SymzooError

    cells = doc.get("cells", [])
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise SymzooError(f"{path}: 'cells' must be a list of objects")

    def bad(v) -> bool:
        if v is None or v in ("inf", "-inf"):
            return False
        return isinstance(v, bool) or not isinstance(v, (int, float))

    for i, c in enumerate(cells):
        where = f"{path}: cell #{i + 1} ({c.get('model')}, N={c.get('train_size', c.get('size'))}, seed {c.get('seed')})"
        blocks = {"metrics": c.get("metrics", {}), "metrics_group": c.get("metrics_group") or {}}
        for v, ms in (c.get("metrics_ood") or {}).items():
            blocks[f"metrics_ood.{v}"] = ms
        for name, ms in blocks.items():
            if not isinstance(ms, dict):
                raise SymzooError(f"{where}: {name} must be an object of metric -> number")
            for k, v in ms.items():
                if bad(v):
                    raise SymzooError(f"{where}: {name}.{k} is {v!r}, not a number")


def run(args) -> int:
    from symzoo.eval.compare import load_results
    from symzoo.eval.report import format_summary, render_report

    check_cells(load_results(args.dir), f"{args.dir}/results.json")
    written = render_report(args.dir, metric=args.metric)
    if not args.quiet:
        doc = load_results(args.dir)
        if args.metric:
            doc["metric"] = args.metric
        print(format_summary(doc))
        print()
    for p in written.values():
        print(f"wrote {p}")
    return 0
