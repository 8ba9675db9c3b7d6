import re

HELP = "list models, tasks or pretrained entries"


def add_arguments(p):
    p.add_argument("what", nargs="?", default="all", choices=["all", "models", "tasks", "pretrained"])
    p.add_argument(
        "--task",
        metavar="TASK",
        help="only the models that can be built on TASK (judged from their declared fields and group)",
    )


def run(args) -> int:
    import symzoo
    from symzoo.registry import _MODELS, _TASK_FAMILIES, _TASKS, list_models, list_tasks

    task = getattr(args, "task", None)
    if task is not None:
        args.what = "models" if args.what == "all" else args.what
    if args.what in ("all", "models"):
        models = list_models(task=task)  # an unknown task is one line before anything is printed
        print(f"models for task {task}:" if task is not None else "models:")
        for n in models:
            e = _MODELS[n]
            mark = f" [plugin {e.plugin.split(':')[0]}]" if e.plugin else ""
            print(f"  {n:<16} {e.description}{mark}")
    if args.what in ("all", "tasks"):
        print("tasks:")
        names = list_tasks()  # loads the registries first, so that task families are known
        family_of = {m: f for f in _TASK_FAMILIES for m in (f.members or (f.example,))}
        for n in names:
            if n in _TASKS:
                src = _TASKS[n].plugin
                mark = f" [plugin {src.split(':')[0]}]" if src else ""
                print(f"  {n:<22} {_TASKS[n].description}{mark}")
                continue
            fam = family_of[n]
            pattern = fam.pattern.pattern.strip("^$") if fam.pattern is not None else fam.name
            print(f"  {n:<22} {fam.description} (family {re.sub(r'[(][^)]*[)]', '*', pattern)})")
    if args.what in ("all", "pretrained"):
        lister = getattr(symzoo, "list_pretrained", None)
        names = lister() if lister else []
        print("pretrained:")
        for n in names:
            print(f"  {n}")
        if not names:
            print("  (none)")
    return 0
