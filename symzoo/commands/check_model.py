"""``symzoo check-model MODEL --task TASK``: the test toolkit's checks on one model, one line each.

MODEL is a registered name (a plugin's included) or ``module:builder``; ``key=value`` arguments go
to the builder (after the task's data-dependent defaults, as training does).  Exit status 0 when
every check passes, 1 when one fails, 2 for bad input.
"""

HELP = "check a model's symmetry contract on a task: equivariance, forces, NaN/Inf, size, speed"


def add_arguments(p):
    p.add_argument("model", help="model name (see `symzoo list models`) or module:builder")
    # named `overrides` so that key=value after the options is collected too (symzoo.cli.main)
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="builder arguments, e.g. hidden=16; data.task_args.KEY=VALUE are the task's "
        "(e.g. data.task_args.spec=my_robot.yaml)",
    )
    p.add_argument("--task", required=True, help="task whose group, fields and batches to check against")
    p.add_argument("--preset", default="tiny", help="data preset of the example batches (default tiny)")
    p.add_argument("--trials", type=int, default=2, help="random elements per factor of a continuous group")
    p.add_argument("--num-graphs", type=int, default=4, help="graphs (samples) per example batch")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the group elements")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")


def _builder_args(items: list[str]) -> dict:
    import yaml

    from symzoo.errors import SymzooError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SymzooError(f"builder argument {item!r} must look like key=value")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def run(args) -> int:
    import json
    from pathlib import Path

    import torch

    from symzoo.errors import SymzooError
    from symzoo.registry import create_model, get_task, model_entry
    from symzoo.testing import check_model

    if args.trials < 1 or args.num_graphs < 1:
        raise SymzooError("--trials and --num-graphs must be at least 1")
    if "+" in args.model:
        raise SymzooError(f"{args.model!r}: check-model checks a model itself, without a '+aug' suffix")
    entry = model_entry(args.model)
    from symzoo.commands.audit import _task_kwargs

    items = list(args.overrides or [])
    task_args = _task_kwargs([x for x in items if x.startswith("data.task_args.")])
    kwargs = _builder_args([x for x in items if not x.startswith("data.task_args.")])
    task = get_task(args.task, preset=args.preset, **task_args)
    train, _, _ = task.splits(args.preset, seed=0)
    build = {**task.model_defaults(entry.name, train), **kwargs}
    torch.manual_seed(args.seed)
    try:
        model = create_model(args.model, **build)
    except SymzooError:
        raise
    except (TypeError, ValueError) as e:
        raise SymzooError(f"cannot build {args.model!r}: {str(e).strip().splitlines()[0]}") from None
    origin = f" (plugin {entry.plugin.split(':')[0]})" if entry.plugin else ""
    print(f"check-model {entry.name}{origin} on {task.name} ({task.group!r}), preset {args.preset}")
    results = check_model(model, task, trials=args.trials, num_graphs=args.num_graphs, seed=args.seed)
    width = max(len(r.name) for r in results) + 1
    for r in results:
        print(r.line(width))
    failed = [r.name for r in results if r.failed]
    passed = sum(r.status == "PASS" for r in results)
    if failed:
        verdict = f"FAIL: {len(failed)} check(s) failed ({', '.join(failed)}), {passed} passed"
    else:
        verdict = f"PASS: all {passed} checks passed"
    print(f"verdict: {verdict}")
    if args.json:
        doc = {
            "model": entry.name,
            "plugin": entry.plugin,
            "builder_args": build,
            "task": task.name,
            "preset": args.preset,
            "passed": not failed,
            "checks": [r.as_dict() for r in results],
        }
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return 1 if failed else 0
