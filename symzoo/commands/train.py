HELP = "train MODEL on TASK with the harness and write a run folder"


def add_arguments(p):
    p.add_argument("task", nargs="?", help="task name (see `symzoo list tasks`)")
    p.add_argument("model", nargs="?", help="model name; NAME+aug trains with random group augmentation")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. optim.lr=1e-3")
    p.add_argument("-c", "--config", dest="recipe", help="recipe YAML (default: the task's or its family's)")
    p.add_argument("--preset", help="data preset: tiny | small | paper")
    p.add_argument("--out", help="run folder (default runs/<task>-<model>-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--devices", help="number of devices (shortcut for trainer.devices)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-eval-print", action="store_true", help=argparse_suppress())


def help_epilog(argv: list[str]) -> str:
    """``symzoo train [TASK MODEL] --help``: every config key a ``key=value`` override may set, with
    its value for this TASK and MODEL (schema < recipe < preset), or the schema defaults."""
    from omegaconf import OmegaConf

    from symzoo.errors import SymzooError

    pos = [a for a in argv if not a.startswith("-") and "=" not in a]
    preset = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--preset"), None)
    title = "config keys (key=value overrides) and their schema defaults:"
    try:
        from symzoo.train.config import RunConfig, load_config

        if len(pos) >= 2:
            cfg = load_config(pos[0], pos[1], preset=preset)
            title = f"config keys (key=value overrides) and their values for {pos[0]} {pos[1]}:"
        else:
            cfg = OmegaConf.structured(RunConfig)
    except SymzooError as e:
        return f"(cannot resolve the config: {e})"
    lines = [title]

    def walk(node, prefix: str) -> None:
        for k, v in node.items():
            key = f"{prefix}{k}"
            if k == "presets":
                continue
            if OmegaConf.is_dict(v) and (len(v) or k not in ("args", "task_args")):
                walk(v, key + ".")
            else:
                lines.append(f"  {key} = {OmegaConf.to_yaml(v).strip() if OmegaConf.is_config(v) else v}")

    walk(cfg, "")
    if pos:
        lines += _task_argument_lines(pos[0])
    return "\n".join(lines)


def _task_argument_lines(task: str) -> list[str]:
    """``data.task_args.KEY = default`` for the keyword arguments of TASK's class (its factory's
    declared return type and the classes it inherits from), so that a user's own data tasks
    (``xyz``, ``ode``, ``flow``, ...) show their keys in ``symzoo train TASK MODEL --help``."""
    import inspect
    import typing

    from symzoo.registry import _TASK_FAMILIES, _TASKS, _load_all

    _load_all()
    entry = _TASKS.get(task) or next((f for f in _TASK_FAMILIES if f.pattern and f.pattern.match(task)), None)
    if entry is None:
        return []
    cls = getattr(entry.factory, "task_class", None)  # a factory that may return a placeholder
    if cls is None:
        try:
            cls = typing.get_type_hints(entry.factory).get("return")
        except Exception:  # noqa: BLE001 (an unresolvable annotation: nothing to list)
            return []
    seen: dict[str, object] = {}
    for klass in getattr(cls, "__mro__", ()):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        for name, prm in params.items():
            if name in ("self", "name", "molecule", "system") or prm.kind in (
                prm.VAR_KEYWORD,
                prm.VAR_POSITIONAL,
            ):
                continue
            seen.setdefault(name, prm.default)
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break  # the base classes' arguments are not passed through
    if not seen:
        return []
    out = [f"task arguments of {task} (data.task_args.KEY=VALUE):"]
    for name, default in seen.items():
        shown = "(required)" if default is inspect.Parameter.empty else default
        out.append(f"  data.task_args.{name} = {shown}")
    return out


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def run(args) -> int:
    from pathlib import Path

    from omegaconf import OmegaConf

    from symzoo.errors import SymzooError
    from symzoo.registry import get_task, model_entry

    overrides = list(args.overrides)
    # `symzoo train --resume DIR [TASK MODEL] [key=value ...]`: positionals may hold overrides
    positional = [x for x in (args.task, args.model) if x is not None]
    if args.resume:
        from symzoo.train.config import apply_resume_overrides
        from symzoo.train.run import train

        cfg_path = Path(args.resume) / "config.yaml"
        if not cfg_path.is_file():
            raise SymzooError(f"{args.resume} is not a run folder (no config.yaml)")
        try:
            stored = OmegaConf.load(cfg_path)
        except Exception:  # noqa: BLE001 -- yaml's text varies; the file is what matters
            raise SymzooError(f"{cfg_path} is not valid YAML") from None
        from omegaconf import DictConfig

        if not isinstance(stored, DictConfig):
            raise SymzooError(f"{cfg_path} is not a run configuration (not a mapping)")
        from symzoo.train.config import refuse_interpolations

        refuse_interpolations(stored, str(cfg_path))  # before any value of it is read
        overrides = [x for x in positional if "=" in x] + overrides
        names = [x for x in positional if "=" not in x]
        recorded = [str(stored.get("task", "")), str(stored.get("model", {}).get("name", ""))]
        if stored.get("augment"):
            recorded[1] += "+aug"
        for given, have, what in zip(names, recorded, ("task", "model")):
            if given != have:
                raise SymzooError(
                    f"--resume {args.resume}: the run's {what} is {have!r}, not {given!r} "
                    "(omit TASK MODEL when resuming)"
                )
        for flag, key in ((args.devices, "trainer.devices"), (args.preset, "data.preset")):
            if flag:
                overrides.append(f"{key}={flag}")
        if args.recipe:
            raise SymzooError("-c/--config cannot be combined with --resume (the run keeps its config.yaml)")
        if args.quiet:
            overrides.append("trainer.progress_bar=false")
        cfg = apply_resume_overrides(stored, overrides)
        run_dir = train(cfg, resume=args.resume, quiet=args.quiet)
    else:
        if args.task is None or args.model is None:
            raise SymzooError("usage: symzoo train TASK MODEL [key=value ...] (see symzoo train --help)")
        get_task(args.task)  # fail early on unknown names
        model_entry(args.model)
        from symzoo.train.config import load_config
        from symzoo.train.run import train

        if args.devices:
            overrides.append(f"trainer.devices={args.devices}")
        if args.quiet:
            overrides.append("trainer.progress_bar=false")
        cfg = load_config(args.task, args.model, recipe=args.recipe, preset=args.preset, overrides=overrides)
        run_dir = train(cfg, args.out, quiet=args.quiet)
    from symzoo.train.module import global_rank_from_env

    if global_rank_from_env() == 0 and (run_dir / "eval.json").is_file():
        import json

        from symzoo.eval.evaluate import format_eval

        print(format_eval(json.loads((run_dir / "eval.json").read_text())))
        print(f"run folder: {run_dir}")
    return 0
