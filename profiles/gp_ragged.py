"""The GP likelihood of 500 stars' RVs (8 to 199 each) and its gradient, cold then warm.

    diffkern profile profiles/gp_ragged.py       (or: python profiles/gp_ragged.py)

A Matern-3/2 GP per star with a shared amplitude and timescale, through
:func:`diffkern.gp.log_probability_ragged` (quasiseparable, O(N) per star): one compiled
program per length bucket, and one more for the gradient. ``tests/test_workflows.py`` runs
it with fewer stars and counts its compiles.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from diffkern.gp import Matern32, log_probability_ragged


def stars(n_stars=500, seed=0, lengths=(8, 200)):
    """Times, activity signals and noise variances of ``n_stars`` stars, with numbers of points
    drawn from ``[lengths[0], lengths[1])``."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(*lengths, n_stars)
    xs = [np.sort(rng.uniform(0.0, 300.0, n)) for n in lengths]
    ys = [np.sin(x / 7.0) + rng.normal(0.0, 0.3, x.size) for x in xs]
    diags = [np.full(x.size, 0.09) for x in xs]
    return xs, ys, diags


def neg_log_likelihood(p, data):
    """-sum over stars of log N(y | 0, K + diag)."""
    kernel = jnp.exp(p[0]) * Matern32(jnp.exp(p[1]))
    return -log_probability_ragged(kernel, *data).sum()


def main(n_stars=500):
    """Value, then value and gradient, each cold then warm (new kernel values)."""
    data = stars(n_stars)
    value_and_grad = jax.value_and_grad(neg_log_likelihood)
    seconds = {}
    for name, f in [("value", neg_log_likelihood), ("value+grad", value_and_grad)]:
        for when, p in [("cold", jnp.asarray([0.0, 2.0])), ("warm", jnp.asarray([0.1, 2.2]))]:
            clock = time.perf_counter()
            jax.block_until_ready(f(p, data))
            seconds[f"{name} {when}"] = time.perf_counter() - clock
    print(" | ".join(f"{k} {v:.2f} s" for k, v in seconds.items()), file=sys.stderr)
    return seconds


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    main()
