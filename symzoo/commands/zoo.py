from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HELP = (
    "the pretrained zoo: list | info NAME | download NAME | verify NAME | cards [--check] | export NAME DIR"
)


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
    ver.add_argument(
        "--fresh-data",
        action="store_true",
        help="measure on data generated now, in a private empty SYMZOO_HOME, instead of the "
        "dataset cache (a cached file written by other code under the same key gives other numbers)",
    )
    cards = sub.add_parser(
        "cards",
        help="write MODEL_CARDS.md and model_cards/NAME.md (Hugging Face front matter) from the registry",
    )
    cards.add_argument("--out", default="MODEL_CARDS.md", help="where to write (default MODEL_CARDS.md)")
    cards.add_argument(
        "--check", action="store_true", help="do not write; exit 1 when a file differs from the registry"
    )
    ex = sub.add_parser(
        "export",
        help="write a hub-ready folder: README.md (model card with front matter), model.safetensors, config.json",
    )
    ex.add_argument("name", metavar="NAME")
    ex.add_argument("dir", metavar="DIR", help="a new (or empty) folder")


def run(args) -> int:
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
        import math
        import tempfile

        if not (math.isfinite(args.rtol) and args.rtol >= 0):
            raise SymzooError(f"--rtol must be a finite number >= 0 (a relative tolerance), got {args.rtol}")

        from symzoo.eval.evaluate import evaluate_run

        names = hub.list_pretrained() if args.all else args.names
        if not names:
            raise SymzooError("symzoo zoo verify NAME [NAME ...] | --all")
        bad = 0
        for name in names:
            entry = hub.get_entry(name)
            recorded = (entry.get("metrics") or {}).get("test") or {}
            folder = hub.pretrained_path(name)  # the verified files, from the real cache
            with tempfile.TemporaryDirectory() as tmp:
                with _symzoo_home(Path(tmp) / "home" if args.fresh_data else None):
                    report = evaluate_run(folder, out=Path(tmp) / "eval.json")
            missed = 0
            for k, want in recorded.items():
                got = report["metrics"].get(k)
                ok = got is not None and abs(got - want) <= args.rtol * abs(want) + 1e-12
                missed += not ok
                print(
                    f"{name:<24} {k:<20} registry {want:<12.6g} measured {got:<12.6g} "
                    f"{'ok' if ok else 'MISMATCH'}"
                )
            if missed and not args.fresh_data:
                from symzoo.paths import home

                print(
                    f"{name:<24} measured on the cached data under {home() / 'datasets' / entry['task']}; "
                    f"a file there written by other code under the same key gives other numbers: "
                    f"`symzoo zoo verify {name} --fresh-data` measures on data generated now"
                )
            bad += missed
        return 1 if bad else 0
    if action == "cards":
        from symzoo.cards import hub_card_files

        reg = hub.registry()
        out = Path(args.out)
        files = {out: render_cards(reg)}
        files.update({out.parent / rel: text for rel, text in hub_card_files(reg).items()})
        cards_dir = out.parent / "model_cards"
        if args.check:
            stale = [p for p, text in files.items() if not p.is_file() or p.read_text() != text]
            extra = sorted(set(cards_dir.glob("*.md")) - set(files)) if cards_dir.is_dir() else []
            for p in stale + extra:
                print(f"{p} is out of date: run `symzoo zoo cards`")
            if stale or extra:
                return 1
            print(f"{out} and {len(files) - 1} cards in {cards_dir} are up to date")
            return 0
        from symzoo.paths import atomic_write_text

        for p, text in files.items():
            atomic_write_text(p, text)
            p.chmod(0o644)
        for p in set(cards_dir.glob("*.md")) - set(files):  # entries no longer in the registry
            p.unlink()
        print(f"wrote {out} and {len(files) - 1} cards in {cards_dir}")
        return 0
    if action == "export":
        print(f"exported {args.name} to {export(args.name, args.dir)}")
        return 0
    raise SymzooError(f"unknown zoo action {action!r}")


@contextmanager
def _symzoo_home(path: Path | None) -> Iterator[None]:
    """``SYMZOO_HOME`` set to ``path`` inside the block (``None``: unchanged), restored after it."""
    import os

    if path is None:
        yield
        return
    before = os.environ.get("SYMZOO_HOME")
    os.environ["SYMZOO_HOME"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SYMZOO_HOME", None)
        else:
            os.environ["SYMZOO_HOME"] = before


def export(name: str, dest: str | Path) -> Path:
    """Write ``dest/README.md`` (the model card with Hugging Face front matter), ``model.safetensors``
    (the verified weights) and ``config.json`` (``model.json``: builder, arguments, task, symmetry,
    units, plus the registry's ``pretrained`` record).  ``dest`` must be new or empty; the folder is
    assembled beside it and renamed, so a failure leaves nothing half-written."""
    import json
    import shutil
    import tempfile

    from symzoo import hub
    from symzoo.cards import render_hub_card
    from symzoo.errors import SymzooError

    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise SymzooError(f"{dest} exists and is not an empty folder; give a new one")
    entry = hub.get_entry(name)
    folder = hub.pretrained_path(name)  # verified against the pinned sha256
    meta = json.loads((folder / "model.json").read_text())
    meta["pretrained"] = {
        k: entry[k] for k in ("task", "preset", "recipe", "command", "license", "source") if k in entry
    }
    meta["pretrained"]["name"] = name
    meta["pretrained"]["weights_sha256"] = entry["files"]["weights"]["sha256"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        shutil.copyfile(folder / "model.safetensors", tmp / "model.safetensors")
        (tmp / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
        (tmp / "README.md").write_text(render_hub_card(name, entry))
        for p in tmp.iterdir():
            p.chmod(0o644)
        tmp.chmod(0o755)
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
