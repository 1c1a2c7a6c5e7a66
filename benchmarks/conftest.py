"""Shared benchmark machinery: sizes, warm-up, blocking, and the metadata every case records.

Run the suite with ``pytest benchmarks --benchmark-only -o addopts=""`` (or ``diffkern bench``);
``-o addopts=""`` drops the test suite's run-time type checking, which would otherwise be timed.

Each case repeats its timed rounds until their relative spread, IQR / median, is at most
``diffkern.cli.bench.STABLE_SPREAD`` (after at least ``ROUNDS[MODE].min`` rounds), or until the
mode's round or time budget is spent; the table marks a case whose spread is still larger as
unstable and gives it no speedup.

Modes, chosen by environment variables:

- ``DIFFKERN_BENCH_QUICK=1``: the smallest size of each case (or a size given for quick mode)
  and a smaller round budget (``diffkern bench --quick``).
- ``DIFFKERN_BENCH_SMOKE=1``: every case runs once at tiny sizes, one round, so CI catches rot.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import jax
import pytest
from pytest_benchmark.stats import Stats

from diffkern.cli.bench import STABLE_SPREAD
from diffkern.cli.info import version
from diffkern.jit import count_compiles

SMOKE = os.environ.get("DIFFKERN_BENCH_SMOKE") == "1"
QUICK = os.environ.get("DIFFKERN_BENCH_QUICK") == "1"
T = TypeVar("T")
MODE = "smoke" if SMOKE else "quick" if QUICK else "full"


class Budget(NamedTuple):
    """Rounds of one case: at least ``min``, then until stable or ``max`` rounds or ``seconds``."""

    min: int
    max: int
    seconds: float


#: Run-time cases (``bench``) and cold-call cases (``bench_compile``), per mode.
ROUNDS = {
    "full": Budget(7, 2000, 10.0),
    "quick": Budget(5, 200, 0.6),
    "smoke": Budget(1, 1, 0.0),
}
COMPILE_ROUNDS = {
    "full": Budget(5, 15, 30.0),
    "quick": Budget(1, 1, 0.0),
    "smoke": Budget(1, 1, 0.0),
}
#: A round of a run-time case repeats a fast call until it lasts this long (timer resolution).
MIN_ROUND_SECONDS = 2e-3


def sizes(full: list[T], smoke: T = 64, quick: list[T] | None = None) -> list[T]:
    """Problem sizes (or other parameter values) to benchmark.

    ``full`` normally; in quick mode ``quick`` (default: the smallest of ``full``); the single
    value ``smoke`` in smoke mode.
    """
    if SMOKE:
        return [smoke]
    if QUICK:
        return [min(full)] if quick is None else list(quick)
    return list(full)


def relative_spread(times: list[float]) -> float:
    """IQR / median of round times (pytest-benchmark's quartiles, as in its JSON)."""
    stats = Stats()
    for t in times:
        stats.update(t)
    return stats.iqr / stats.median


def time_rounds(
    call: Callable[[], object], budget: Budget, *, setup: Callable[[], object] | None = None
) -> list[float]:
    """Seconds of successive ``call()`` rounds (``setup()`` before each, untimed), repeated until
    the spread is at most ``STABLE_SPREAD`` or the budget is spent."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < budget.max:
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
        if len(times) >= budget.min and (
            relative_spread(times) <= STABLE_SPREAD or time.perf_counter() - start >= budget.seconds
        ):
            break
    return times


def _measure(benchmark, call: Callable[[], object], budget: Budget, **kwargs) -> None:
    """Time ``call`` in rounds (:func:`time_rounds`) and hand the times to pytest-benchmark as
    its ``pedantic`` mode records them; with ``--benchmark-disable``, call it once."""
    if not benchmark.enabled:  # runs ``call`` once, and the fixture counts as used
        benchmark.pedantic(call, rounds=1, iterations=1)
        return
    iterations = kwargs.pop("iterations", 1)
    times = time_rounds(call, budget, **kwargs)
    benchmark._mode = "diffkern adaptive rounds"  # the fixture is used once, like pedantic
    stats = benchmark._make_stats(iterations)
    for t in times:
        stats.update(t)
    benchmark.extra_info.update(
        spread=round(relative_spread(times), 4), stable_spread=STABLE_SPREAD
    )


# Peers whose distribution is not named as they are imported.
_DISTRIBUTIONS = {"batman": "batman-package"}


def _block(out):
    return jax.block_until_ready(out)


def _record(benchmark, group: str, library: str, info: dict) -> None:
    benchmark.group = group
    benchmark.extra_info.update(
        library=library,
        version=version(_DISTRIBUTIONS.get(name := library.split(":")[0], name)),
        device=str(jax.devices()[0].device_kind),
        backend=jax.default_backend(),
        jax=jax.__version__,
        cpu=platform.processor() or platform.machine(),
        mode=MODE,
        **info,
    )


@pytest.fixture
def bench(benchmark):
    """Time ``fn(*args)`` after a warm-up call, blocking until results are ready.

    Usage: ``bench(fn, *args, group="kepler value float64 N=1000", library="tinygp", n=1000)``.
    Cases of one ``group`` run the same computation on the same inputs with different
    ``library`` values, so their times compare directly. Other keyword arguments are stored in
    ``benchmark.extra_info`` with the device and library versions. Returns the (blocked) result
    of the warm-up call so the case can check it against a peer before it counts.
    """

    def run(fn, *args, group: str, library: str = "diffkern", **info):
        result = _block(fn(*args))  # warm-up: compile time is excluded from the timing
        _record(benchmark, group, library, info)
        t0 = time.perf_counter()
        _block(fn(*args))
        iterations = max(1, min(1000, math.ceil(MIN_ROUND_SECONDS / (time.perf_counter() - t0))))

        def call():
            for _ in range(iterations):
                _block(fn(*args))

        _measure(benchmark, call, ROUNDS[MODE], iterations=iterations)
        return result

    return run


@pytest.fixture
def bench_compile(benchmark):
    """Time a cold call of ``fn(*args)``: trace, compile and run, from empty JAX caches.

    Usage: ``bench_compile(fn, *args, group="compile ...", library="tinygp", rounds=3)``.
    Every round starts with :func:`jax.clear_caches`, so each timed call compiles as it would in
    a fresh process; it fails if a round did not compile (a warm call would be a wrong
    measurement). Records the backend compiles and compile seconds of the last round in
    ``extra_info`` and returns that :class:`diffkern.jit.CompileCounts`. Quick mode times one
    round; smoke mode one warm round after a warm-up call, so it only checks that the case runs.
    """

    def run(fn, *args, group: str, library: str = "diffkern", **info):
        counts = []

        def cold_call():
            with count_compiles() as c:
                _block(fn(*args))
            counts.append(c)

        _record(benchmark, group, library, info)
        if SMOKE:
            _block(fn(*args))  # every library gets a warm round, so smoke numbers stay alike
            _measure(benchmark, cold_call, COMPILE_ROUNDS[MODE])
            return counts[-1]
        _measure(benchmark, cold_call, COMPILE_ROUNDS[MODE], setup=jax.clear_caches)
        if min(c.compiles for c in counts) == 0:
            raise AssertionError(f"{group} [{library}]: a timed round did not compile")
        benchmark.extra_info.update(
            compiles=counts[-1].compiles, compile_seconds=round(counts[-1].compile_seconds, 4)
        )
        return counts[-1]

    return run
