#!/usr/bin/env bash
# diffkern's test command: lint, the suite in float32 and float64 mode, a benchmark smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
ruff check .
echo "== pytest, JAX_ENABLE_X64=0"
JAX_ENABLE_X64=0 python -m pytest -q
echo "== pytest, JAX_ENABLE_X64=1"
JAX_ENABLE_X64=1 python -m pytest -q
echo "== benchmark smoke run (tiny sizes, one round)"
DIFFKERN_BENCH_SMOKE=1 python -m pytest benchmarks -q --benchmark-disable -p no:cacheprovider
