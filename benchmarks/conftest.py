"""Shared benchmark machinery: sizes, warm-up, blocking, and the metadata every case records.

Run the suite with ``pytest benchmarks --benchmark-only -o addopts=""`` (or ``diffkern bench``);
``-o addopts=""`` drops the test suite's run-time type checking, which would otherwise be timed.

Modes, chosen by environment variables:

- ``DIFFKERN_BENCH_QUICK=1``: the smallest size of each case, at most ``QUICK_MAX_TIME`` seconds
  of timed rounds (and at least ``QUICK_MIN_ROUNDS``) per case (``diffkern bench --quick``).
- ``DIFFKERN_BENCH_SMOKE=1``: every case runs once at tiny sizes, one round, so CI catches rot.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import TypeVar

import jax
import pytest

from diffkern.jit import count_compiles

SMOKE = os.environ.get("DIFFKERN_BENCH_SMOKE") == "1"
QUICK = os.environ.get("DIFFKERN_BENCH_QUICK") == "1"
QUICK_MAX_TIME = "0.2"
QUICK_MIN_ROUNDS = 3
T = TypeVar("T")
MODE = "smoke" if SMOKE else "quick" if QUICK else "full"


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


def pytest_configure(config):
    # Runs before pytest-benchmark reads its options (its own hook is trylast).
    if QUICK and not SMOKE:
        config.option.benchmark_max_time = QUICK_MAX_TIME
        config.option.benchmark_min_rounds = QUICK_MIN_ROUNDS


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _block(out):
    return jax.block_until_ready(out)


def _record(benchmark, group: str, library: str, info: dict) -> None:
    benchmark.group = group
    benchmark.extra_info.update(
        library=library,
        version=_version(library.split(":")[0]),
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
        if SMOKE:
            benchmark.pedantic(lambda: _block(fn(*args)), rounds=1, iterations=1)
        else:
            benchmark(lambda: _block(fn(*args)))
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

    def run(fn, *args, group: str, library: str = "diffkern", rounds: int = 3, **info):
        counts = []

        def cold_call():
            with count_compiles() as c:
                _block(fn(*args))
            counts.append(c)

        _record(benchmark, group, library, info)
        if SMOKE:
            _block(fn(*args))  # every library gets a warm round, so smoke numbers stay alike
            benchmark.pedantic(cold_call, rounds=1, iterations=1)
            return counts[-1]
        benchmark.pedantic(
            cold_call, setup=jax.clear_caches, rounds=1 if QUICK else rounds, iterations=1
        )
        if min(c.compiles for c in counts) == 0:
            raise AssertionError(f"{group} [{library}]: a timed round did not compile")
        benchmark.extra_info.update(
            compiles=counts[-1].compiles, compile_seconds=round(counts[-1].compile_seconds, 4)
        )
        return counts[-1]

    return run
