#!/usr/bin/env bash
# Fresh virtual environment + the README's two quick-start commands (tests first, then the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
echo "== $(date -u +%H:%M:%S) install"
"$PYTHON" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# README quick start, command 2: install and run the tests.
pip install -e ".[dev]" && bash ci/test.sh
# README quick start, command 1 (quick variant): install and run the main job.
echo "== $(date -u +%H:%M:%S) demo"
pip install -e ".[demo]" && diffkern demo --quick --no-plot --out "${TMPDIR:-/tmp}/diffkern-ci-demo"
