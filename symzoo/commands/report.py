HELP = "re-render a comparison's report.md and plots from its results.json (no training)"


def add_arguments(p):
    p.add_argument("dir", help="a `symzoo compare` output folder (holding results.json)")
    p.add_argument(
        "--metric",
        help="report another recorded metric than the task's primary one "
        "(e.g. force_rmse_meV_per_A); lower must be better",
    )
    p.add_argument("--quiet", action="store_true", help="print only the written paths")


def run(args) -> int:
    from symzoo.eval.compare import load_results
    from symzoo.eval.report import format_summary, render_report

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
