HELP = (
    "fine-tune a pretrained zoo entry or your own run folder on a task "
    "(writes a normal run folder with base_model)"
)


def add_arguments(p):
    p.add_argument(
        "pretrained",
        help="pretrained name (see `symzoo zoo list`) or a run folder written by `symzoo train`",
    )
    p.add_argument("task", help="task to fine-tune on (see `symzoo list tasks`)")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="config overrides; also freeze=PREFIX[,PREFIX...] (parameter-name prefixes to keep "
        "fixed, e.g. freeze=embed,layers.0), refit_reference=false (force fields: keep the pretrained "
        "per-species reference energies instead of a least-squares shift on the fine-tuning frames), "
        "lr=, epochs=, batch_size=, weight_decay=",
    )
    p.add_argument("--train-size", type=int, help="use the first N training samples of the preset")
    p.add_argument("--preset", help="data preset (default: the one the entry was trained on)")
    p.add_argument("--out", help="run folder (default runs/<task>-<pretrained>-ft-<time>)")
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="same architecture and config, no pretrained weights (the comparison baseline)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    import json

    from symzoo.errors import SymzooError
    from symzoo.eval.evaluate import format_eval
    from symzoo.train.finetune import finetune

    freeze, refit, overrides = None, True, []
    for item in args.overrides:
        if item.startswith("freeze="):
            freeze = item.split("=", 1)[1]
        elif item.startswith("refit_reference="):
            value = item.split("=", 1)[1].strip().lower()
            if value not in ("true", "false", "1", "0", "yes", "no"):
                raise SymzooError(f"refit_reference={value!r}: use refit_reference=true or false")
            refit = value in ("true", "1", "yes")
        else:
            overrides.append(item)
    if args.quiet:
        overrides.append("trainer.progress_bar=false")
    run_dir = finetune(
        args.pretrained,
        args.task,
        train_size=args.train_size,
        preset=args.preset,
        freeze=freeze,
        overrides=overrides,
        out=args.out,
        from_scratch=args.from_scratch,
        quiet=args.quiet,
        refit_reference=refit,
    )
    if (run_dir / "eval.json").is_file():
        print(format_eval(json.loads((run_dir / "eval.json").read_text())))
    info = json.loads((run_dir / "finetune.json").read_text())
    if info.get("base_model"):
        extra = (
            f"; frozen {info.get('frozen_parameters')} parameters ({', '.join(info['freeze'])})"
            if info.get("freeze")
            else ""
        )
        reinit = info.get("reinitialised") or []
        print(
            f"fine-tuned from {info['base_model']}: copied {info.get('copied')} tensors"
            + (f", re-initialised {', '.join(reinit)}" if reinit else "")
            + extra
        )
    print(f"run folder: {run_dir}")
    return 0
