#!/usr/bin/env bash
# diffkern's test command: lint, the suite in float32 and float64 mode, a benchmark smoke run.
#
# Both passes share one persistent compilation cache (a fresh folder per run) and run on
# pytest-xdist workers (DIFFKERN_TEST_WORKERS, default: one per CPU core); the float64 pass skips
# the tests that would run exactly as in the first one. Tests that count backend compiles
# (marked counts_compiles, see tests/conftest.py) switch the cache off for their own duration.
# The benchmark smoke run uses the same workers (one benchmark file per worker at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=$(mktemp -d "${TMPDIR:-/tmp}/diffkern-test-cache.XXXXXX")
trap 'rm -rf "$CACHE"' EXIT
# A test still running after 10 minutes fails with every thread's stack (pytest-timeout).
WORKERS=(-n "${DIFFKERN_TEST_WORKERS:-auto}" --dist loadfile --durations=25 --timeout=600
         --timeout-method=thread)
stage() { echo "== $(date -u +%H:%M:%S) $*"; }
stage ruff
ruff check .
for x64 in 0 1; do
    stage "pytest, JAX_ENABLE_X64=$x64"
    JAX_ENABLE_X64=$x64 DIFFKERN_TESTS_DEDUPE=$x64 JAX_COMPILATION_CACHE_DIR="$CACHE" \
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=-1 \
        python -m pytest -q "${WORKERS[@]}"
done
stage "benchmark smoke run (tiny sizes, one round)"
DIFFKERN_BENCH_SMOKE=1 python -m pytest benchmarks -q --benchmark-disable -p no:cacheprovider \
    "${WORKERS[@]}"
stage done
