"""``diffkern profile [WORKLOAD] --out PATH``: run a workload under a trace, print its summary."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``profile`` subcommand's arguments."""
    parser.add_argument(
        "workload",
        nargs="?",
        default="demo",
        metavar="WORKLOAD",
        help="demo (default), gp-batch, kepler, or the path of a Python script to run",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="trace file (default: profiles/WORKLOAD.pftrace)"
    )
    parser.add_argument(
        "--device-trace",
        action="store_true",
        help="also record jax.profiler's device trace next to --out",
    )
    parser.add_argument(
        "--cache",
        action="store_true",
        help="enable diffkern's persistent compilation cache (DIFFKERN_CACHE_DIR) first",
    )
    parser.add_argument(
        "--checks",
        choices=("raise", "nan"),
        default=None,
        help="value checks raise (default) or give NaN; only NaN-mode programs are cacheable",
    )
    parser.add_argument("--top", type=int, default=10, help="rows per table (default 10)")


def run(args: argparse.Namespace) -> int:
    """Run the workload under :func:`diffkern.profile.trace` and print the summary."""
    from diffkern.jit import enable_persistent_cache, set_value_checks
    from diffkern.profile._summary import summarize
    from diffkern.profile._trace import trace
    from diffkern.profile._workloads import prepare

    if args.checks is not None:
        set_value_checks(args.checks)
    if args.cache:
        print(f"persistent cache: {enable_persistent_cache()}")
    out = args.out or Path("profiles") / f"{Path(args.workload).stem}.pftrace"
    workload = prepare(args.workload)
    with trace(out, device_trace=args.device_trace) as recorder:
        workload()
    print(summarize(out).table(top=args.top))
    print(f"\ntrace written to {out} (open it in https://ui.perfetto.dev)")
    if recorder.device_trace_dir is not None:
        print(f"jax.profiler device trace in {recorder.device_trace_dir}")
    return 0
