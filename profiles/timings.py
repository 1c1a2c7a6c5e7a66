"""Wall time of the commands whose duration the README and the help quote.

    python profiles/timings.py [demo-quick demo bench-quick ...] [--repeat 3]
                               [--out profiles/timings.txt] [--bench-json PATH]

Each run is a fresh process in an empty temporary folder (the user's first run: imports,
tracing and compiling included, no persistent cache). The summary gives each command's median
and range, the median CPU seconds (user + system, every thread: what the command costs
whatever else runs), the date, the core count and the load average around the runs (the
machine may be shared: a load above the core count means other work competed for the CPU).
Lines for the commands measured replace those of earlier runs in ``--out``; the others stay.
``--bench-json PATH`` keeps the benchmark table of the last ``bench-quick`` run (for
``benchmarks/make_results.py``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "demo-quick": ["demo", "--quick", "--no-plot", "--out", "out"],
    "demo": ["demo", "--out", "out"],
    "bench-quick": ["bench", "--quick"],
    "transit-quick": ["demo", "--transit", "--quick", "--no-plot", "--out", "out"],
    "transit": ["demo", "--transit", "--no-plot", "--out", "out"],
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system, all threads and children) seconds of one run."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    with tempfile.TemporaryDirectory(prefix="diffkern-timing-") as cwd:
        start, cpu = time.perf_counter(), _cpu()
        argv = [sys.executable, "-m", "diffkern.cli", *command]
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr)[-3000:]
            raise SystemExit(f"{' '.join(command)} exited with {done.returncode}:\n{tail}")
        return time.perf_counter() - start, _cpu() - cpu


def _line(name: str, runs: list[tuple[float, float]], loads: list[float]) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    wall = [w for w, _ in runs]
    return (
        f"{name:12s} median {statistics.median(wall):6.1f} s, range "
        f"{min(wall):.1f}-{max(wall):.1f} s over {len(wall)} runs (CPU median "
        f"{statistics.median(c for _, c in runs):.0f} s); {now}, {os.cpu_count()} cores, "
        f"load average {min(loads):.1f}-{max(loads):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(COMMANDS), help=", ".join(COMMANDS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("timings.txt"))
    parser.add_argument("--bench-json", type=Path, help="where bench-quick writes its JSON")
    args = parser.parse_args()
    if unknown := set(args.names) - set(COMMANDS):
        parser.error(f"unknown command names {sorted(unknown)}; choose from {list(COMMANDS)}")
    lines = {}
    if args.out.exists():
        lines = {line.split()[0]: line for line in args.out.read_text().splitlines() if line}
    for name in args.names:
        command = COMMANDS[name]
        if name == "bench-quick" and args.bench_json:
            command = [*command, "--json", str(args.bench_json.resolve())]
        runs, loads = [], [os.getloadavg()[0]]
        for _ in range(args.repeat):
            runs.append(_run(command))
            loads.append(os.getloadavg()[0])
        lines[name] = _line(name, runs, loads)
        print(lines[name], flush=True)
    args.out.write_text("\n".join(lines[k] for k in COMMANDS if k in lines) + "\n")


if __name__ == "__main__":
    main()
