"""``diffkern profile [WORKLOAD] --out PATH``: run a workload under a trace, print its summary.

A built-in workload is prepared first (imports, data) and returns the zero-argument callable
that runs under the trace, so that import time stays out of the profile. Kernels are looked up
on their package at call time, so the trace sees (and explains) the watched entry points.
"""

from __future__ import annotations

import argparse
import runpy
import tempfile
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from diffkern.jit import enable_persistent_cache, set_value_checks
from diffkern.profile import summarize, trace

__all__ = ["WORKLOADS", "add_arguments", "prepare", "run"]

#: Kepler batch lengths: a mix across [100, 10^4].
KEPLER_LENGTHS = (100, 180, 333, 700, 1500, 3000, 10000)
#: GP batch: this many light curves with lengths drawn from this range.
GP_SERIES, GP_LENGTHS = 20, (100, 1000)


def _demo() -> Callable[[], object]:
    import diffkern.cli.demo as demo

    out = tempfile.mkdtemp(prefix="diffkern-profile-demo-")
    return lambda: demo.run_demo(quick=True, plot=False, out=out)


def _kepler() -> Callable[[], object]:
    import diffkern.kepler as kepler

    rng = np.random.default_rng(0)
    inputs = [(rng.uniform(-np.pi, np.pi, n), rng.uniform(0, 0.9)) for n in KEPLER_LENGTHS]
    inputs = jax.device_put(inputs)

    def run():
        for _ in range(2):  # the second pass is the steady state: it should not compile
            for mean_anomaly, ecc in inputs:
                jax.block_until_ready(kepler.eccentric_anomaly(mean_anomaly, ecc))

    return run


def _gp_batch() -> Callable[[], object]:
    import diffkern.gp as gp

    rng = np.random.default_rng(1)
    lengths = rng.integers(*GP_LENGTHS, GP_SERIES)
    xs = [np.sort(rng.uniform(0, 100, n)) for n in lengths]
    ys = [rng.normal(size=x.shape) for x in xs]
    diags = [np.full(x.shape, 0.1) for x in xs]
    kernel = gp.Matern32(scale=5.0)

    def run():
        for _ in range(2):  # the second pass is the steady state: it should not compile
            jax.block_until_ready(gp.log_probability_ragged(kernel, xs, ys, diags))

    return run


def _gp_kepler() -> Callable[[], object]:
    """An RV fit's objective as a user script calls it: value and gradient of a Keplerian plus
    a GP likelihood, eagerly (outside ``jit``), for two sets of parameters."""
    import diffkern.gp as gp
    import diffkern.orbits as orbits

    rng = np.random.default_rng(2)
    t = np.sort(rng.uniform(0.0, 60.0, 300))
    y = 8.0 * np.sin(2 * np.pi * t / 7.3) + rng.normal(0.0, 2.0, t.size)

    def loss(p):
        rv = orbits.radial_velocity(t, p[0], 0.5, p[1], 1.0, p[2])
        process = gp.GaussianProcess(p[3] * gp.Matern32(5.0), t, diag=4.0)
        return -process.log_probability(y - rv)

    value_and_grad = jax.value_and_grad(loss)
    starts = [np.array([7.3, 0.1, 8.0, 2.0]), np.array([7.2, 0.3, 7.0, 3.0])]

    def run():
        for p in starts:  # the second point is the steady state: it should not compile
            jax.block_until_ready(value_and_grad(jax.device_put(p)))

    return run


def _script(path: Path) -> Callable[[], object]:
    if not path.is_file():
        raise ValueError(
            f"WORKLOAD must be one of {sorted(WORKLOADS)} or a Python script path, got {path}"
        )
    return lambda: runpy.run_path(str(path), run_name="__main__")


WORKLOADS: dict[str, Callable[[], Callable[[], object]]] = {
    "demo": _demo,
    "gp-batch": _gp_batch,
    "gp-kepler": _gp_kepler,
    "kepler": _kepler,
}


def prepare(workload: str) -> Callable[[], object]:
    """The runnable for a built-in workload name or a script path."""
    if workload in WORKLOADS:
        return WORKLOADS[workload]()
    return _script(Path(workload))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``profile`` subcommand's arguments."""
    parser.add_argument(
        "workload",
        nargs="?",
        default="demo",
        metavar="WORKLOAD",
        help="demo (default), gp-batch, gp-kepler, kepler, or the path of a Python script to run",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="trace file (default: WORKLOAD.pftrace, here)"
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
    if args.checks is not None:
        set_value_checks(args.checks)
    if args.cache:
        print(f"persistent cache: {enable_persistent_cache()}")
    out = args.out or Path(f"{Path(args.workload).stem}.pftrace")
    workload = prepare(args.workload)
    with trace(out, device_trace=args.device_trace) as recorder:
        workload()
    print(summarize(out).table(top=args.top))
    print(f"\ntrace written to {out} (open it in https://ui.perfetto.dev)")
    if recorder.device_trace_dir is not None:
        print(f"jax.profiler device trace in {recorder.device_trace_dir}")
    return 0
