"""``diffkern demo``: fit the K2-131 radial velocities with a Keplerian and a GP, end to end.

Application code (formerly ``diffkern.demo``): ``run_demo``, ``load_rv`` and ``RVData``
are importable from here but are not part of the library's API.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from diffkern.cli.demo._data import RVData as RVData
from diffkern.cli.demo._data import load_rv as load_rv
from diffkern.cli.demo._run import run_demo as run_demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``diffkern demo``."""
    parser.add_argument("--out", default="demo_output", help="output folder (default demo_output)")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    parser.add_argument("--data", default=None, help="RV table with columns time mnvel errvel tel")
    parser.add_argument("--quick", action="store_true", help="short fit, no NUTS (for CI)")
    parser.add_argument("--transit", action="store_true", help="simulated joint transit + RV fit")


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when the fit recovers K within the published range, else 1 (with
    ``--transit``: 0 when the simulated transit + RV fit recovers its injected parameters).

    ``--out`` and ``--data`` are checked before the fit starts (a ``ValueError`` naming them).
    """
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out {args.out}: is a file; give a folder (created if missing)")
    if args.transit:
        from diffkern.cli.demo._transit import run_transit

        return run_transit(quick=args.quick, out=args.out, plot=not args.no_plot)
    load_rv(args.data)
    results = run_demo(quick=args.quick, out=args.out, plot=not args.no_plot, data=args.data)
    return 0 if results["K_within_published"] or args.data is not None else 1
