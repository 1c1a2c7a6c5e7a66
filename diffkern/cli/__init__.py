"""The ``diffkern`` command: ``diffkern demo | bench | profile | info``.

The application on top of the library: each subcommand is a module of this package, imported
only when it runs, exposing ``add_arguments(parser)`` and ``run(args) -> int``. The library
never imports this package.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main"]

_SUBCOMMANDS = {
    "demo": "fit the K2-131 radial velocities (Keplerian + GP) end to end",
    "bench": "run the benchmark suite against the peers and print a table",
    "profile": "run a workload under a Perfetto trace and summarise it",
    "info": "print versions, devices and precision settings",
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diffkern`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="diffkern", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in _SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if argv[:1] == [name]:
            importlib.import_module(f"{__name__}.{name}").add_arguments(p)
    args = parser.parse_args(argv)
    return int(importlib.import_module(f"{__name__}.{args.command}").run(args) or 0)
