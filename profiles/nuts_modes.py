"""NUTS in reverse mode (numpyro's default) against forward mode, on the README's model.

    python profiles/nuts_modes.py [--repeat 3] [--out profiles/nuts_modes.txt]

The README's NumPyro model (a Keplerian mean with free K and e, a Matern-3/2 GP) on 40
simulated velocities, float64; 300 warm-up and 300 samples per run, one chain. Each run builds a
new MCMC object, so its wall time includes tracing and compiling, as a user's first run does.
Runs alternate between the modes; the summary gives each mode's median and range.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402

from diffkern.gp import GaussianProcess, Matern32  # noqa: E402
from diffkern.orbits import radial_velocity  # noqa: E402


def model(t, yerr, y=None):
    K = numpyro.sample("K", dist.Uniform(1.0, 20.0))
    ecc = numpyro.sample("ecc", dist.Uniform(0.0, 0.9))
    keplerian = lambda x: radial_velocity(x, 4.0, 0.7, ecc, 1.2, K)
    gp = GaussianProcess(4.0 * Matern32(2.0), t, diag=yerr**2, mean=keplerian)
    numpyro.sample("y", gp.numpyro_dist(), obs=y)


def _data():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0.0, 30.0, 40))
    yerr = np.full(t.size, 1.5)
    y = np.asarray(radial_velocity(t, 4.0, 0.7, 0.3, 1.2, 8.0)) + rng.normal(0.0, 1.5, t.size)
    return t, yerr, y


def _run(forward: bool, t, yerr, y) -> tuple[float, float]:
    """Wall seconds of one MCMC run and the posterior mean of K."""
    kernel = numpyro.infer.NUTS(model, forward_mode_differentiation=forward)
    mcmc = numpyro.infer.MCMC(kernel, num_warmup=300, num_samples=300, progress_bar=False)
    start = time.perf_counter()
    mcmc.run(jax.random.key(0), t, yerr, y=y)
    k = mcmc.get_samples()["K"].block_until_ready()
    return time.perf_counter() - start, float(k.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("nuts_modes.txt"))
    args = parser.parse_args()
    data = _data()
    seconds: dict[str, list[float]] = {"reverse": [], "forward": []}
    means = {}
    with jax.numpy_dtype_promotion("standard"):  # numpyro's internals mix dtypes
        for _ in range(args.repeat):
            for mode in seconds:
                wall, means[mode] = _run(mode == "forward", *data)
                seconds[mode].append(wall)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"NUTS on the README's model, 300 + 300 steps, {now}, {os.cpu_count()} cores "
        f"({platform.machine()}), load average {os.getloadavg()[0]:.1f} at the end",
    ]
    for mode, s in seconds.items():
        lines.append(
            f"{mode:8s} median {statistics.median(s):6.1f} s, range {min(s):.1f}-{max(s):.1f} s "
            f"over {len(s)} runs (posterior mean K {means[mode]:.2f})"
        )
    ratio = statistics.median(seconds["forward"]) / statistics.median(seconds["reverse"])
    lines.append(f"forward / reverse: {ratio:.2f}x")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
