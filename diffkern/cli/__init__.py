"""The ``diffkern`` command: ``diffkern demo | bench | profile | info | fit-many``.

The application on top of the library: each subcommand is a module of this package, imported
only when it runs, exposing ``add_arguments(parser)`` and ``run(args) -> int``. The library
never imports this package. Bad input (a ``ValueError`` or ``OSError`` from a subcommand) is
one line on stderr, ``diffkern: error: ...``, and exit status 2; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from diffkern.cli.info import version

__all__ = ["main"]

_SUBCOMMANDS = {
    "demo": "fit the K2-131 radial velocities (Keplerian + GP) end to end",
    "bench": "run the benchmark suite against the peers and print a table",
    "profile": "run a workload under a Perfetto trace and summarise it",
    "info": "print versions, devices and precision settings",
    "fit-many": "fit a Keplerian (+ GP) to every star of a folder or table, resumably",
}
_DESCRIPTION = "diffkern: differentiable numerical kernels for astronomy, from the command line."
_DEBUG_HELP = "on an error, print the Python traceback as well"


def _parser(command: str | None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s own options are imported (the others stay unloaded)."""
    parser = argparse.ArgumentParser(prog="diffkern", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"diffkern {version('diffkern')}")
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in _SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        # Also accepted after the command; SUPPRESS keeps it from resetting the top-level flag.
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP)
        if name == command:
            importlib.import_module(f"{__name__}.{name.replace('-', '_')}").add_arguments(p)
    return parser


def _message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diffkern`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(command).parse_args(argv)
    try:
        return int(
            importlib.import_module(f"{__name__}.{args.command.replace('-', '_')}").run(args) or 0
        )
    except (ValueError, OSError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"diffkern: error: {_message(error)}", file=sys.stderr)
        return 2
