HELP = "export a trained force field (run folder or pretrained name) as a standalone .pt2 program"


def add_arguments(p):
    p.add_argument("target", help="run folder, or a pretrained name (e.g. nequip.rmd17-ethanol)")
    p.add_argument("out", help="output file, ending in .pt2")
    p.add_argument("--float32", action="store_true", help="export in float32 (default float64)")


def run(args) -> int:
    from pathlib import Path

    import torch

    from symzoo.errors import SymzooError

    target, out = Path(args.target), Path(args.out)
    if out.suffix != ".pt2":
        raise SymzooError(f"the exported file must end in .pt2 (torch.export's format), got {out.name}")
    if out.exists():
        raise SymzooError(f"{out} exists; choose another name or remove it first")
    if not out.parent.is_dir():
        raise SymzooError(f"folder {out.parent} does not exist")
    from symzoo.export import export_forcefield
    from symzoo.modelio import load_model, read_model_meta

    if target.exists():
        model, meta = load_model(target), read_model_meta(target)
        source = str(target)
    elif "/" in args.target or args.target.startswith("."):
        raise SymzooError(f"{args.target} does not exist (expected a run folder or a pretrained name)")
    else:
        import symzoo

        folder = symzoo.pretrained_path(args.target)
        model, meta = load_model(folder), read_model_meta(folder)
        source = args.target
    dtype = torch.float32 if args.float32 else torch.float64
    export_forcefield(model, out, dtype=dtype, meta={"source": source, "task": meta.get("task")})
    print(f"wrote {out} (load with torch.export.load; signature in its symzoo.json)")
    return 0
