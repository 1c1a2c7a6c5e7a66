"""Compile time and program size of a parallel linear recurrence: diffkern's ``prefix_scan``
(through ``linear_recurrence(method="associative")``) against ``lax.associative_scan``.

    python profiles/scan_compile.py [--n 1000000] [--repeat 3] [--out profiles/scan_compile.txt]

Value and gradient of ``sum(h)`` for ``h_t = a_t h_{t-1} + b_t`` in float32, with respect to
``a`` and ``b``. Each round clears JAX's caches and times trace + lower + compile; the summary
gives the median and range over the rounds, the optimised HLO op count and one warm run time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from diffkern.scan import linear_recurrence


def _combine(left, right):
    (a1, b1), (a2, b2) = left, right
    return a1 * a2, a2 * b1 + b2


def _lax(a, b):
    return jax.lax.associative_scan(_combine, (a, b))[1]


def _ours(a, b):
    return linear_recurrence(a, b, method="associative")


def _measure(states, n: int, repeat: int) -> str:
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.uniform(0.5, 0.99, n), jnp.float32)
    b = jnp.asarray(rng.normal(size=n), jnp.float32)
    loss = jax.value_and_grad(lambda a, b: jnp.sum(states(a, b)), argnums=(0, 1))
    seconds = []
    for _ in range(repeat):
        jax.clear_caches()
        start = time.perf_counter()
        compiled = jax.jit(loss).lower(a, b).compile()
        seconds.append(time.perf_counter() - start)
    ops = compiled.as_text().count(" = ")
    jax.block_until_ready(compiled(a, b))
    start = time.perf_counter()
    jax.block_until_ready(compiled(a, b))
    run = time.perf_counter() - start
    return (
        f"compile median {statistics.median(seconds):.2f} s, range {min(seconds):.2f}-"
        f"{max(seconds):.2f} s over {repeat} rounds; {ops} optimised HLO ops; run {run:.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("scan_compile.txt"))
    args = parser.parse_args()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"value+grad of a linear recurrence, N = {args.n}, float32; {now}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    ]
    for name, states in [("diffkern prefix_scan", _ours), ("lax.associative_scan", _lax)]:
        lines.append(f"  {name:22s} {_measure(states, args.n, args.repeat)}")
        print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
