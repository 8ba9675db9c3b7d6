HELP = "evaluate a run folder (or pretrained model) on its task's test split"


def add_arguments(p):
    p.add_argument("target", help="run folder, or a pretrained name")
    p.add_argument("--task", help="evaluate on another task than the one it was trained on")
    p.add_argument("--preset", help="data preset of the test split")
    p.add_argument(
        "--out",
        help="where to write the report (default: RUN/eval.json on the run's own task and preset, "
        "RUN/eval-TASK-PRESET.json on another one: the run's record is never overwritten)",
    )
    p.add_argument("--json", action="store_true", help="print the JSON report instead of a table")


def run(args) -> int:
    import json
    from pathlib import Path

    from symzoo.errors import SymzooError
    from symzoo.eval.evaluate import evaluate_run, format_eval

    target = Path(args.target)
    looks_like_path = (
        "/" in args.target or args.target.startswith(".") or target.suffix in (".json", ".safetensors")
    )
    if not target.exists() and looks_like_path:
        raise SymzooError(f"{args.target} does not exist (expected a run folder or a pretrained name)")
    if not target.exists():
        import symzoo

        resolver = getattr(symzoo, "pretrained_path", None)
        if resolver is not None:
            target = resolver(args.target)
    report = evaluate_run(target, task_name=args.task, preset=args.preset, out=args.out)
    print(json.dumps(report, indent=2) if args.json else format_eval(report))
    return 0
