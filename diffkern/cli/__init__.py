"""The ``diffkern`` command: ``diffkern demo | bench | profile | info``.

Each subcommand lives in its own module, imported only when it runs, exposing
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_SUBCOMMANDS = {
    "demo": ("diffkern.demo", "fit the K2-131 radial velocities (Keplerian + GP) end to end"),
    "bench": ("diffkern._bench", "run the benchmark suite against the peers and print a table"),
    "profile": ("diffkern.profile._cli", "run a workload under a Perfetto trace and summarise it"),
    "info": ("diffkern._info", "print versions, devices and precision settings"),
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diffkern`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="diffkern", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in _SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if argv[:1] == [name]:
            importlib.import_module(module).add_arguments(p)
    args = parser.parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
