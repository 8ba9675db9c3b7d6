HELP = "list models, tasks or pretrained entries"


def add_arguments(p):
    p.add_argument("what", nargs="?", default="all", choices=["all", "models", "tasks", "pretrained"])


def run(args) -> int:
    import symzoo
    from symzoo.registry import _MODELS, _TASK_FAMILIES, _TASKS, list_models, list_tasks

    if args.what in ("all", "models"):
        print("models:")
        for n in list_models():
            e = _MODELS[n]
            print(f"  {n:<16} {e.description}")
    if args.what in ("all", "tasks"):
        print("tasks:")
        names = list_tasks()  # loads the registries first, so that task families are known
        fam = {f.example: f for f in _TASK_FAMILIES}
        for n in names:
            e = _TASKS.get(n) or fam[n]
            extra = f" (family {e.name})" if n in fam else ""
            print(f"  {n:<22} {e.description}{extra}")
    if args.what in ("all", "pretrained"):
        lister = getattr(symzoo, "list_pretrained", None)
        names = lister() if lister else []
        print("pretrained:")
        for n in names:
            print(f"  {n}")
        if not names:
            print("  (none)")
    return 0
