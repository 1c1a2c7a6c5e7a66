"""Shared benchmark machinery: sizes, warm-up, blocking, and the metadata every case records.

Run the suite with ``pytest benchmarks --benchmark-only`` (or ``diffkern bench``). With
``DIFFKERN_BENCH_SMOKE=1`` every case runs once at tiny sizes, untimed, so CI catches rot.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform

import jax
import pytest

SMOKE = os.environ.get("DIFFKERN_BENCH_SMOKE") == "1"


def sizes(full: list[int], smoke: int = 64) -> list[int]:
    """Problem sizes to benchmark: ``full`` normally, one tiny size in smoke mode."""
    return [smoke] if SMOKE else full


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _block(out):
    return jax.block_until_ready(out)


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
        benchmark.group = group
        result = _block(fn(*args))  # warm-up: compile time is excluded from the timing
        benchmark.extra_info.update(
            library=library,
            version=_version(library.split(":")[0]),
            device=str(jax.devices()[0].device_kind),
            backend=jax.default_backend(),
            jax=jax.__version__,
            cpu=platform.processor() or platform.machine(),
            **info,
        )
        if SMOKE:
            benchmark.pedantic(lambda: _block(fn(*args)), rounds=1, iterations=1)
        else:
            benchmark(lambda: _block(fn(*args)))
        return result

    return run
