#!/usr/bin/env bash
# diffkern's test command: lint, the suite in float32 and float64 mode, a benchmark smoke run.
#
# Both passes share one persistent compilation cache (a fresh folder per run) and run on
# pytest-xdist workers (DIFFKERN_TEST_WORKERS, default: one per CPU core); the float64 pass skips
# the tests that would run exactly as in the first one (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=$(mktemp -d "${TMPDIR:-/tmp}/diffkern-test-cache.XXXXXX")
trap 'rm -rf "$CACHE"' EXIT
export JAX_COMPILATION_CACHE_DIR="$CACHE" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
export JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=-1
WORKERS=(-n "${DIFFKERN_TEST_WORKERS:-auto}" --dist loadfile)
echo "== ruff"
ruff check .
echo "== pytest, JAX_ENABLE_X64=0"
JAX_ENABLE_X64=0 python -m pytest -q "${WORKERS[@]}"
echo "== pytest, JAX_ENABLE_X64=1"
JAX_ENABLE_X64=1 DIFFKERN_TESTS_DEDUPE=1 python -m pytest -q "${WORKERS[@]}"
echo "== benchmark smoke run (tiny sizes, one round)"
DIFFKERN_BENCH_SMOKE=1 python -m pytest benchmarks -q --benchmark-disable -p no:cacheprovider
