"""The ``symzoo`` command line (also ``python -m symzoo``).

Each subcommand lives in ``symzoo/commands/<name>.py`` with ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; modules import heavy dependencies inside ``run`` so that
``symzoo --help`` and ``symzoo list`` stay fast.  Errors a user can cause print one line
(``symzoo: error: ...``) and exit with status 2; set ``SYMZOO_DEBUG=1`` for tracebacks.
A command module may define ``help_epilog(argv) -> str``: text appended to its ``--help`` (``symzoo
train TASK MODEL --help`` lists the run's config keys that way).  Output into a closed pipe
(``symzoo list | head -1``) ends quietly with status 141, as a command killed by SIGPIPE.

Plugins (:mod:`symzoo.plugins`): ``--import MODULE`` (before or after the command, repeatable,
comma-separated) and ``SYMZOO_PLUGINS`` import a user's modules that register models and tasks;
the modules are passed on to worker processes.  A plugin that fails to import is one error line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from typing import NoReturn

from ._logging import quiet_third_party

__all__ = ["main", "build_parser", "quiet_third_party"]

ORDER = ["list", "train", "eval", "compare", "report", "finetune", "check-model", "zoo"]
IMPORT_HELP = (
    "import MODULE first: a plugin that registers models or tasks (repeatable, or comma-separated; "
    "also $SYMZOO_PLUGINS)"
)


def _command_modules():
    import symzoo.commands as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    # a module check_model.py is the command check-model
    names = [n.replace("_", "-") for n in names]
    names.sort(key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    return {n: importlib.import_module(f"symzoo.commands.{n.replace('-', '_')}") for n in names}


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line (``symzoo: error: ...``, exit 2) without the usage block, like every
    other refusal; ``--help`` shows the usage.  Sub-command parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"symzoo: error: {message} (see `{self.prog} --help`)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    import symzoo

    p = _Parser(prog="symzoo", description="symzoo: physics-informed equivariant model zoo")
    p.add_argument("--version", action="version", version=f"symzoo {symzoo.__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE", help=IMPORT_HELP)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    argv = list(sys.argv[1:] if argv is None else argv)
    asks_help = bool({"-h", "--help"} & set(argv))
    for name, mod in _command_modules().items():
        epilog = None
        if asks_help and name in argv and hasattr(mod, "help_epilog"):
            rest = argv[argv.index(name) + 1 :]
            epilog = mod.help_epilog([a for a in rest if a not in ("-h", "--help")])
        sp = sub.add_parser(
            name,
            help=mod.HELP,
            description=mod.HELP,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter if epilog else argparse.HelpFormatter,
        )
        mod.add_arguments(sp)
        sp.add_argument("--import", dest="sub_imports", action="append", metavar="MODULE", help=IMPORT_HELP)
        sp.set_defaults(_run=mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    from symzoo.errors import SymzooError

    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        # key=value overrides may come after options (`train T M --out D lr=1`)
        bad = [x for x in extra if x.startswith("-") or "=" not in x]
        if bad or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
        args.overrides = list(args.overrides or []) + extra
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        quiet_third_party()
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        modules = list(args.imports or []) + list(getattr(args, "sub_imports", None) or [])
        if modules:  # imported now: a broken plugin is one line before the command starts
            from symzoo.plugins import add_plugin_modules
            from symzoo.registry import _load_all

            add_plugin_modules(modules)
            _load_all()
            from symzoo.plugins import load_plugins

            load_plugins()  # the registries may have been loaded before (in-process callers)
        rc = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return rc
    except BrokenPipeError:
        return _broken_pipe()
    except SymzooError as e:
        print(f"symzoo: error: {e}", file=sys.stderr)
        return int(getattr(e, "exit_code", 2))
    except KeyboardInterrupt:
        print("symzoo: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # an unexpected failure: still one line unless debugging
        from symzoo.extras import extra_for_module, missing_extra_message

        missing = e.name if isinstance(e, ModuleNotFoundError) else None
        known = extra_for_module(missing)
        if known is not None:  # an optional dependency of a domain: name its extra
            msg = missing_extra_message(str(missing).split(".")[0], *known)
            print(f"symzoo: error: {msg}", file=sys.stderr)
            return 2
        if os.environ.get("SYMZOO_DEBUG"):
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(
            f"symzoo: error: {type(e).__name__}: {msg} (set SYMZOO_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


def _broken_pipe() -> int:
    """The reader of stdout went away (``| head``): point stdout at /dev/null so that the final
    flush at exit does not raise again, and exit as a SIGPIPE-killed command would."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (tests)
        pass
    return 141


if __name__ == "__main__":
    raise SystemExit(main())
