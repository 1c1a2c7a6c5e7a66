"""Compile seconds of a workload in fresh processes: no cache, cache being filled, cache warm.

    python profiles/cache_speedup.py [demo|kepler|gp-batch|SCRIPT] [--checks nan] [--out FILE]

Each run is a new Python process that runs the workload under ``count_compiles`` and reports
backend compile seconds (persistent-cache loads excluded), cache hits and wall time.
``--checks nan`` runs all three with :func:`diffkern.jit.set_value_checks` ``("nan")``: value
checks without host callbacks, so that every program can be cached.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import json, sys, time
from diffkern.jit import count_compiles, enable_persistent_cache, set_value_checks
from diffkern.cli.profile import prepare
set_value_checks(sys.argv[3])
if sys.argv[2]:
    enable_persistent_cache(sys.argv[2])
run = prepare(sys.argv[1])
start = time.perf_counter()
with count_compiles(watch_entry_points=False) as c:
    run()
print(json.dumps({"compile_s": c.compile_seconds, "compiles": c.compiles,
                  "hits": c.cache_hits, "wall_s": time.perf_counter() - start,
                  "by_function": dict(c.by_function)}))
"""


def _run(workload: str, cache: str, checks: str) -> dict:
    cmd = [sys.executable, "-c", _CHILD, workload, cache, checks]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="demo")
    parser.add_argument("--checks", choices=("raise", "nan"), default="raise")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diffkern-cache-") as cache:
        rows = {
            "no cache": _run(args.workload, "", args.checks),
            "cache, first process (fills it)": _run(args.workload, cache, args.checks),
            "cache, second process": _run(args.workload, cache, args.checks),
        }
    base, warm = rows["no cache"], rows["cache, second process"]
    lines = [f"workload: {args.workload}, value checks: {args.checks}"]
    for name, r in rows.items():
        lines.append(
            f"{name:32s} compile {r['compile_s']:8.2f} s  compiles {r['compiles']:5d}  "
            f"cache hits {r['hits']:5d}  wall {r['wall_s']:8.2f} s"
        )
    lines.append(f"still compiled in the second process: {warm['by_function']}")
    if warm["compile_s"] > 0:
        speedup = f"{base['compile_s'] / warm['compile_s']:.1f}x less"
    else:
        speedup = f"{base['compile_s']:.2f} s -> 0 s"
    lines.append(f"compile seconds, second process with cache vs without: {speedup}")
    wall = base["wall_s"] / warm["wall_s"]
    lines.append(f"wall, second process with cache vs without: {wall:.2f}x")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
