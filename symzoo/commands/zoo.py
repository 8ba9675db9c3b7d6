HELP = "the pretrained zoo: list | info NAME | download NAME | verify NAME | cards [--check]"


def add_arguments(p):
    sub = p.add_subparsers(dest="zoo_command", metavar="ACTION")
    ls = sub.add_parser("list", help="table of the pretrained entries")
    ls.add_argument("filter", nargs="?", default="", help="only names containing this")
    info = sub.add_parser("info", help="the model card of an entry")
    info.add_argument("name")
    dl = sub.add_parser(
        "download", help="fetch (or copy) and verify an entry into the cache; print its folder"
    )
    dl.add_argument("names", nargs="*", metavar="NAME")
    dl.add_argument("--all", action="store_true", help="every entry")
    dl.add_argument("--force", action="store_true", help="fetch again even when cached")
    ver = sub.add_parser(
        "verify", help="re-measure an entry with `symzoo eval` and compare with the registry"
    )
    ver.add_argument("names", nargs="*", metavar="NAME")
    ver.add_argument("--all", action="store_true", help="every entry")
    ver.add_argument("--rtol", type=float, default=0.02, help="relative tolerance (default 0.02)")
    cards = sub.add_parser("cards", help="write MODEL_CARDS.md from the registry")
    cards.add_argument("--out", default="MODEL_CARDS.md", help="where to write (default MODEL_CARDS.md)")
    cards.add_argument(
        "--check", action="store_true", help="do not write; exit 1 when the file differs from the registry"
    )


def run(args) -> int:
    from pathlib import Path

    from symzoo import hub
    from symzoo.cards import render_card, render_cards, summary_rows
    from symzoo.errors import SymzooError

    action = getattr(args, "zoo_command", None)
    if action is None:
        raise SymzooError("usage: symzoo zoo list | info NAME | download NAME | cards [--check]")
    if action == "list":
        reg = {n: e for n, e in hub.registry().items() if args.filter in n}
        rows = [("name", "task", "symmetry", "key metric (test)", "size")] + summary_rows(reg)
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if not reg:
            print("(no pretrained entries)")
        return 0
    if action == "info":
        print(render_card(args.name, hub.get_entry(args.name), level=1))
        return 0
    if action == "download":
        names = hub.list_pretrained() if args.all else args.names
        if not names:
            raise SymzooError("symzoo zoo download NAME [NAME ...] | --all")
        for name in names:
            print(f"{name}: {hub.pretrained_path(name, force=args.force)}")
        return 0
    if action == "verify":
        import tempfile

        from symzoo.eval.evaluate import evaluate_run

        names = hub.list_pretrained() if args.all else args.names
        if not names:
            raise SymzooError("symzoo zoo verify NAME [NAME ...] | --all")
        bad = 0
        for name in names:
            recorded = (hub.get_entry(name).get("metrics") or {}).get("test") or {}
            with tempfile.TemporaryDirectory() as tmp:
                report = evaluate_run(hub.pretrained_path(name), out=Path(tmp) / "eval.json")
            for k, want in recorded.items():
                got = report["metrics"].get(k)
                ok = got is not None and abs(got - want) <= args.rtol * abs(want) + 1e-12
                bad += not ok
                print(
                    f"{name:<24} {k:<20} registry {want:<12.6g} measured {got:<12.6g} "
                    f"{'ok' if ok else 'MISMATCH'}"
                )
        return 1 if bad else 0
    if action == "cards":
        text = render_cards(hub.registry())
        out = Path(args.out)
        if args.check:
            if not out.is_file() or out.read_text() != text:
                print(f"{out} is out of date: run `symzoo zoo cards`")
                return 1
            print(f"{out} is up to date")
            return 0
        from symzoo.paths import atomic_write_text

        atomic_write_text(out, text)
        out.chmod(0o644)
        print(f"wrote {out} ({len(hub.registry())} cards)")
        return 0
    raise SymzooError(f"unknown zoo action {action!r}")
