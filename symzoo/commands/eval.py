HELP = "evaluate a run folder (or pretrained model) on its task's test split"

EPILOG = """\
key=value are task arguments, as data.task_args.KEY in a recipe (the prefix is optional; a.b=v
nests): on the run's own task they are laid over the run's own, with --task they build that task.

examples:
  symzoo eval runs/my-run
  symzoo eval nequip.rmd17-multi --task rmd17-ethanol
  symzoo eval schnet.rmd17-ethanol --task xyz path=my_ethanol.extxyz
  symzoo eval runs/hexapod-emlp spec=hexapod_v2.yaml
"""


def add_arguments(p):
    p.add_argument("target", help="run folder, or a pretrained name")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="task arguments (as data.task_args.KEY in a recipe; the prefix is optional), "
        "e.g. --task xyz path=my.extxyz, or spec=robot.yaml",
    )
    p.add_argument("--task", help="evaluate on another task than the one it was trained on")
    p.add_argument("--preset", help="data preset of the test split")
    p.add_argument(
        "--out",
        help="where to write the report (default: RUN/eval.json on the run's own task and preset, "
        "RUN/eval-TASK-PRESET.json on another one, RUN/eval-TASK-PRESET-HASH.json with task "
        "arguments: the run's record is never overwritten)",
    )
    p.add_argument("--json", action="store_true", help="print the JSON report instead of a table")


def help_epilog(argv: list[str]) -> str:
    return EPILOG


def run(args) -> int:
    import json
    from pathlib import Path

    from symzoo.commands.audit import _task_kwargs
    from symzoo.errors import SymzooError
    from symzoo.eval.evaluate import evaluate_run, format_eval

    task_args = _task_kwargs(list(args.overrides or []))  # checked before anything is loaded

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
    report = evaluate_run(
        target, task_name=args.task, preset=args.preset, out=args.out, task_args=task_args or None
    )
    print(json.dumps(report, indent=2) if args.json else format_eval(report))
    return 0
