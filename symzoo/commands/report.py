HELP = "re-render a comparison's report.md and plots from its results.json (no training)"


def add_arguments(p):
    p.add_argument("dir", help="a `symzoo compare` output folder (holding results.json)")
    p.add_argument("--quiet", action="store_true", help="print only the written paths")


def run(args) -> int:
    from symzoo.eval.compare import load_results
    from symzoo.eval.report import format_summary, render_report

    written = render_report(args.dir)
    if not args.quiet:
        print(format_summary(load_results(args.dir)))
        print()
    for p in written.values():
        print(f"wrote {p}")
    return 0
