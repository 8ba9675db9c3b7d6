HELP = "how symmetric are a task's data? per group factor: departure from the symmetry and a recommendation"

EPILOG = """\
The residual of a factor is |y(g·x) - g·y(x)| / spread of y (0: exact symmetry), from the task's
simulator, vector field or robot model where it has one, else from nearest neighbours in the
stored pairs; null = the same figure for random pairs (~1.4).  Verdicts: exact (residual <= 1e-3),
relaxed (<= 0.2), none (above).  Details: docs/audit.md.

examples:
  symzoo audit lorenz
  symzoo audit nbody-charged external_field=0.1
  symzoo audit kolmogorov2d --breaking 0,0.1,0.3,1 --json
  symzoo audit robot-com spec=my_robot.yaml --out audit.json
"""


def add_arguments(p):
    p.add_argument("task", help="task name (see `symzoo list tasks`)")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="task arguments (as data.task_args.KEY in a recipe; the `data.task_args.` prefix is optional), "
        "e.g. external_field=0.1 or spec=robot.yaml",
    )
    p.add_argument("--preset", help="data preset (default: the task's default, normally tiny)")
    p.add_argument(
        "--breaking",
        metavar="S1,S2,...",
        help="audit the task at each symmetry-breaking strength, each against the unbroken group",
    )
    p.add_argument("--samples", type=int, help="states or samples to audit (default: per measure, 16-512)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample choice and random elements")
    p.add_argument("--exact-below", type=float, default=None, help="residual at or below which: exact (1e-3)")
    p.add_argument("--none-above", type=float, default=None, help="residual above which: none (0.2)")
    p.add_argument("--json", action="store_true", help="print the JSON document instead of the tables")
    p.add_argument("--out", help="also write the JSON document to this file")


def help_epilog(argv: list[str]) -> str:
    return EPILOG


def _task_kwargs(overrides: list[str]) -> dict:
    """``key=value`` task arguments (values read as YAML; ``a.b=v`` nests, as in a recipe)."""
    import yaml

    from symzoo.errors import InputError

    out: dict = {}
    for item in overrides:
        if "=" not in item:
            raise InputError(f"task arguments are key=value, got {item!r}")
        k, v = item.split("=", 1)
        path = k.removeprefix("data.task_args.").split(".")
        if not all(p.isidentifier() for p in path):
            raise InputError(f"{k!r} is not a task argument name")
        try:
            val = yaml.safe_load(v) if v else v
        except yaml.YAMLError:
            val = v
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise InputError(f"task argument {k!r} conflicts with an earlier value")
        node[path[-1]] = val
    return out


def _strengths(text: str) -> list[float]:
    from symzoo.errors import InputError

    vals = []
    for s in text.split(","):
        try:
            vals.append(float(s))
        except ValueError:
            raise InputError(f"--breaking takes comma-separated numbers, got {s!r}") from None
    return vals


def run(args) -> int:
    import math
    from pathlib import Path

    from symzoo import get_task
    from symzoo.errors import InputError
    from symzoo.eval import audit as A
    from symzoo.jsonio import dumps
    from symzoo.paths import atomic_write_text

    # validate everything before measuring or writing
    kwargs = _task_kwargs(list(args.overrides or []))
    strengths = _strengths(args.breaking) if args.breaking else None
    exact = A.EXACT_BELOW if args.exact_below is None else args.exact_below
    none = A.NONE_ABOVE if args.none_above is None else args.none_above
    if not (math.isfinite(exact) and math.isfinite(none)):
        raise InputError("--exact-below and --none-above must be finite numbers")
    A.recommend(0.0, exact_below=exact, none_above=none)
    if args.samples is not None and args.samples < 2:
        raise InputError(f"--samples must be at least 2, got {args.samples}")
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.is_dir():
            raise InputError(f"--out {str(out)!r} is a folder; give a file name such as audit.json")
        if not out.parent.is_dir():
            raise InputError(f"--out: the folder {str(out.parent)!r} does not exist")
    try:
        task = get_task(args.task, preset=args.preset, **kwargs)
    except TypeError as e:
        if "argument" not in str(e):
            raise
        why = str(e).split("() ", 1)[-1]
        raise InputError(f"task {args.task!r} does not take {sorted(kwargs)}: {why}") from None
    opts = dict(preset=args.preset, n=args.samples, seed=args.seed, exact_below=exact, none_above=none)
    audits = (
        A.audit_breaking(task, strengths, **opts) if strengths is not None else [A.audit_task(task, **opts)]
    )
    doc = A.audits_json(audits)
    text = dumps(doc)
    if out is not None:
        atomic_write_text(out, text + "\n")
    print(text if args.json else A.format_audits(audits))
    s = audits[0].strength
    if not args.json and strengths is None and task.breaking is not None and s:
        print(
            f"(these data have {task.breaking.name} = {s:g}, audited against their declared group; "
            f"`--breaking {s:g}` audits them against the unbroken one)"
        )
    return 0
