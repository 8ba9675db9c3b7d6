HELP = "a robot's symmetry spec: infer MODEL_FILE [--out SPEC.yaml] | check SPEC.yaml"


def add_arguments(p):
    sub = p.add_subparsers(dest="robots_command", metavar="ACTION")
    inf = sub.add_parser(
        "infer",
        help="find the morphological symmetry group of a robot from its MJCF/URDF file, verify it "
        "against the simulator and write the spec",
    )
    inf.add_argument("model_file", metavar="MODEL_FILE", help="the robot's MJCF (.xml) or URDF (.urdf) file")
    inf.add_argument("--out", metavar="SPEC.yaml", help="write the spec here (default: print it)")
    inf.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    inf.add_argument("--name", help="the spec's name (default: the model file's stem)")
    inf.add_argument(
        "--base",
        metavar="JOINT[,JOINT]",
        help="joints held fixed (default: the root body's free joint or planar base)",
    )
    inf.add_argument("--com-body", help="body whose subtree's momentum is checked (default: the root body)")
    inf.add_argument("--quiet", action="store_true", help="do not print the candidates tried")
    chk = sub.add_parser("check", help="check a spec against its simulator (what every command does first)")
    chk.add_argument("spec", metavar="SPEC.yaml")


def run(args) -> int:
    from pathlib import Path

    from symzoo.errors import SymzooError

    action = getattr(args, "robots_command", None)
    if action == "check":
        from symzoo.datasets.robots import check_spec, load_spec

        spec = load_spec(args.spec)
        worst = check_spec(spec)
        print(f"{spec.name}: {spec.group.name}, {spec.n_joints} joints; agrees with its simulator")
        for g, v in worst.items():
            print(f"  {g:<16} worst relative mismatch {v:.1e}")
        return 0
    if action != "infer":
        raise SymzooError("usage: symzoo robots infer MODEL_FILE [--out SPEC.yaml] | check SPEC.yaml")

    from symzoo.datasets.robots.infer import infer_spec, spec_yaml
    from symzoo.paths import atomic_write_text

    out = Path(args.out) if args.out else None
    if out is not None:
        if out.suffix not in (".yaml", ".yml"):
            raise SymzooError(f"--out {out}: a spec file ends in .yaml")
        if out.exists() and not args.force:
            raise SymzooError(f"{out} exists; pass --force to overwrite it")
        if not out.parent.is_dir():
            raise SymzooError(f"--out {out}: folder {out.parent} does not exist")
    base = [b.strip() for b in args.base.split(",") if b.strip()] if args.base else None
    res = infer_spec(
        args.model_file,
        name=args.name,
        base=base,
        com_body=args.com_body,
        spec_dir=out.parent if out is not None else None,
    )
    text = spec_yaml(res.spec)
    if out is None:
        print(text, end="")
        return 0
    if not args.quiet:
        print(res.summary())
    atomic_write_text(out, text)
    print(f"wrote {out}")
    return 0
