"""Fitting many stars: stars per second of minimize_many, of a loop of jitted single-star fits
and of radvel (minimize_many also on 8 host devices); minimize_many on 1 vs 8 devices and in
1 vs 2 processes. Writes a summary.

    python profiles/fit_many.py [--stars 300] [--out profiles/fit_many.txt]

The stars, model, optimizer and peers are those of ``benchmarks/test_fit_many.py`` (eccentric
Keplerian + offset + jitter, 20-300 points, L-BFGS and the Laplace Hessian, float64). Every
measurement runs in a fresh process (the device count and jax.distributed are fixed when JAX
starts): a cold call (compiles included), then a warm call, timed in wall and CPU seconds (all
threads of the process; the machine may be shared, so the load average is recorded too). The
device and process comparisons use stars of 60-80 points (one length bucket, fewer compiles);
the 8 devices are host devices forced on the CPU (``--xla_force_host_platform_device_count``)
and the 2 processes run on this machine through ``jax.distributed`` on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(call):
    """Cold wall seconds, warm wall seconds, warm CPU seconds, and the warm result."""
    t0 = time.perf_counter()
    call()
    t1, c1 = time.perf_counter(), time.process_time()
    out = call()
    return t1 - t0, time.perf_counter() - t1, time.process_time() - c1, out


def _worker(kind: str, n: int, *extra: str) -> dict:
    """One measurement in this (fresh) process; returns it as a dict."""
    import jax

    jax.config.update("jax_enable_x64", True)
    if kind == "process" and int(extra[0]) > 1:
        count, pid, port = (int(x) for x in extra)
        jax.distributed.initialize(f"127.0.0.1:{port}", count, pid, initialization_timeout=120,
                                   heartbeat_timeout_seconds=30)  # fmt: skip
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import benchmarks.test_fit_many as bench

    if kind not in ("throughput", "many"):
        bench.LENGTHS = (60, 80)
    stars, periods = bench.simulate(n)
    start, fields, _ = bench.problem(stars, periods)
    out = {"kind": kind, "stars": n, "devices": jax.local_device_count(),
           "processes": jax.process_count()}  # fmt: skip
    cold, warm, cpu, fit = _timed(lambda: bench.fit_many(start, fields))
    jax.block_until_ready(fit.value)
    out["minimize_many"] = dict(cold_s=cold, warm_s=warm, cpu_s=cpu,
                                converged=float(np.mean(fit.converged)),
                                median_steps=float(np.median(fit.steps)))  # fmt: skip
    if kind == "throughput":
        m = min(n, 50)
        sub = {k: v[:m] for k, v in start.items()}, tuple(f[:m] for f in fields)
        cold, warm, cpu, _ = _timed(lambda: bench.fit_loop(*sub))
        out["loop"] = dict(stars=m, cold_s=cold, warm_s=warm, cpu_s=cpu)
        r = min(n, 5)
        cold, warm, cpu, _ = _timed(lambda: bench.fit_radvel(stars[:r], periods[:r]))
        out["radvel"] = dict(stars=r, cold_s=cold, warm_s=warm, cpu_s=cpu)
    return out


def _spawn(args: list[str], env: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--worker", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _result(proc: subprocess.Popen) -> dict:
    stdout, _ = proc.communicate(timeout=3600)
    if proc.returncode:
        raise SystemExit(f"a measurement failed (status {proc.returncode})")
    return json.loads(stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rate(row: dict, stars: int) -> str:
    return (f"{stars / row['warm_s']:9.1f} stars/s  {row['cpu_s'] / stars * 1e3:8.2f} CPU ms/star"
            f"  (warm {row['warm_s']:.2f} s, cold {row['cold_s']:.1f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=300)
    parser.add_argument("--split-stars", type=int, default=256, help="stars of 60-80 points")
    parser.add_argument("--out", default=str(ROOT / "profiles" / "fit_many.txt"))
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, n, *extra = args.worker
        print(json.dumps(_worker(kind, int(n), *extra)))
        return
    load = [os.getloadavg()[0]]
    n, m = args.stars, args.split_stars
    eight = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    results = [_result(_spawn(["throughput", str(n)])), _result(_spawn(["many", str(n)], eight))]
    load.append(os.getloadavg()[0])
    one = _result(_spawn(["process", str(m), "1"]))
    results += [one, _result(_spawn(["devices", str(m)], env=eight))]
    port = _free_port()
    two = [_spawn(["process", str(m), "2", str(pid), str(port)]) for pid in (0, 1)]
    results += [_result(p) for p in two]
    load.append(os.getloadavg()[0])
    t, t8 = results[0], results[1]
    lines = [
        f"diffkern fit-many profile, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC,"
        f" {os.cpu_count()} CPU cores, load average {min(load):.1f}-{max(load):.1f}",
        "",
        f"throughput, {n} stars of 20-300 points (eccentric Keplerian + offset + jitter, "
        "L-BFGS <= 100 steps + Laplace, float64):",
        f"  (a) minimize_many      {_rate(t['minimize_many'], n)}"
        f"  converged {t['minimize_many']['converged']:.3f}",
        f"  (a) on 8 host devices  {_rate(t8['minimize_many'], n)}"
        f"  converged {t8['minimize_many']['converged']:.3f}",
        f"  (b) loop of jitted fits{_rate(t['loop'], t['loop']['stars'])}"
        f"  ({t['loop']['stars']} stars)",
        f"  (c) radvel (Powell)    {_rate(t['radvel'], t['radvel']['stars'])}"
        f"  ({t['radvel']['stars']} stars)",
        "",
        f"split, {m} stars of 60-80 points, minimize_many warm:",
    ]
    for r in results[2:]:
        lines.append(f"  {r['processes']} process(es) x {r['devices']} device(s)"
                     f"{'' if r['processes'] == 1 else ' (each)'}: "
                     f"{_rate(r['minimize_many'], m)}")  # fmt: skip
    lines.append("")
    lines.append("raw: " + json.dumps(results))
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:-1]))


if __name__ == "__main__":
    main()
