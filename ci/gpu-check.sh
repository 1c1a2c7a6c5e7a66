#!/usr/bin/env bash
# diffkern's GPU check: the device-sensitive tests, then the benchmark suite on the default JAX
# device, written to benchmarks/RESULTS-gpu.md with the device name and the jax/CUDA versions.
#
#   bash ci/gpu-check.sh            # quick benchmark mode (fits a 10-minute slot on one GPU)
#   FULL=1 bash ci/gpu-check.sh     # every size of every case
#
# It needs diffkern importable (an install, or this checkout on PYTHONPATH) with jax's CUDA
# wheels (`pip install -e ".[cuda,dev]"`). On a machine without a GPU the same code runs on the
# CPU, the report says that no GPU was found and goes to $OUT/RESULTS-gpu.md instead (the
# committed file holds GPU figures only). Logs and the raw JSON go to $OUT (default a
# temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/diffkern-gpu-check.XXXXXX")}
mkdir -p "$OUT"

BACKEND=$(python -c "import jax; print(jax.default_backend())")
if [ "$BACKEND" = "gpu" ]; then
    echo "== GPU found"
    REPORT=benchmarks/RESULTS-gpu.md
else
    echo "== no GPU found: running the same checks on the $BACKEND backend"
    REPORT="$OUT/RESULTS-gpu.md"
fi
python -m diffkern.cli info | tee "$OUT/info.txt"

# Tests whose numbers depend on the device: kernels with device-specific choices (Kepler's
# blocking, parallel-in-time scans, the dense GP's blocks) and their accuracy bounds.
echo "== device-sensitive tests (float32 and float64)"
TESTS=(tests/test_kepler_accuracy.py tests/test_kepler_grad.py tests/test_scan_linear.py
       tests/test_scan_checkpointed.py tests/test_gp_parallel.py tests/test_gp_quasisep.py
       tests/test_gp_matrix.py tests/test_gp_process.py tests/test_checks.py)
for x64 in 0 1; do
    JAX_ENABLE_X64=$x64 python -m pytest -q -p no:cacheprovider "${TESTS[@]}" 2>&1 \
        | tee "$OUT/tests-x64-$x64.log"
done

echo "== benchmarks on the default device"
QUICK=(--quick)
[ "${FULL:-0}" = "1" ] && QUICK=()
python -m diffkern.cli bench "${QUICK[@]}" --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"
python benchmarks/make_results.py "$OUT/bench.json" -o "$REPORT"
python - "$BACKEND" "$REPORT" <<'PY'
import sys
from pathlib import Path

import jax

backend, path = sys.argv[1], Path(sys.argv[2])
device = jax.devices()[0]
cuda = "none"
try:
    from jax._src.lib import cuda_versions  # present in jax's CUDA wheels

    if cuda_versions is not None:
        cuda = f"runtime {cuda_versions.cuda_runtime_get_version()}, driver " \
            f"{cuda_versions.cuda_driver_get_version()}"
except ImportError:
    pass
found = "" if backend == "gpu" else "\n**No GPU was found: these figures are from the CPU.**\n"
header = (
    f"# diffkern on {device.device_kind} ({backend})\n{found}\n"
    f"- device: {device.device_kind}, {jax.device_count()} device(s)\n"
    f"- jax {jax.__version__}, CUDA {cuda}\n"
    "- made by `bash ci/gpu-check.sh` (quick mode unless FULL=1)\n\n"
)
text = path.read_text().replace("# diffkern benchmark results", "## Benchmark results", 1)
path.write_text(header + text)
print(f"wrote {path}")
PY
echo "== logs and JSON in $OUT"
