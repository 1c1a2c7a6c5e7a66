"""The chi-square of 500 stars' RVs (8 to 199 each) and its gradient, outside and inside jit.

    diffkern profile profiles/rv_ragged.py       (or: python profiles/rv_ragged.py)

One Keplerian per star, with a systemic velocity each, through
:func:`diffkern.orbits.chi_square_ragged`: one compiled program per bucket (and one for its
gradient), whatever the mix of lengths. ``tests/test_workflows.py`` runs it with fewer stars
and counts its compiles.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from diffkern.orbits import chi_square_ragged


def stars(n_stars=500, seed=0):
    """Times, velocities and errors of ``n_stars`` stars, and their true parameters."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 200, n_stars)
    truth = {
        "period": rng.uniform(2.0, 50.0, n_stars),
        "tp": rng.uniform(0.0, 2.0, n_stars),
        "ecc": rng.uniform(0.0, 0.6, n_stars),
        "omega": rng.uniform(-np.pi, np.pi, n_stars),
        "K": rng.uniform(2.0, 30.0, n_stars),
        "gamma": rng.normal(0.0, 10.0, n_stars),
    }
    ts = [np.sort(rng.uniform(0.0, 300.0, n)) for n in lengths]
    errs = [rng.uniform(1.0, 3.0, n) for n in lengths]
    rvs = [e * rng.normal(size=e.size) for e in errs]  # noise only: the values do not matter
    return (ts, rvs, errs), jax.tree_util.tree_map(jnp.asarray, truth)


def chi2(p, data):
    """The total chi-square of all stars."""
    ts, rvs, errs = data
    per_star = chi_square_ragged(
        ts, rvs, errs, p["period"], p["tp"], p["ecc"], p["omega"], p["K"], offset=p["gamma"]
    )
    return per_star.sum()


def main(n_stars=500):
    """Value and gradient, eagerly (cold, then warm with new values) then under jit; returns
    the seconds of each."""
    data, params = stars(n_stars)
    moved = jax.tree_util.tree_map(lambda x: x * 1.01, params)  # new values: warm
    seconds, clock = {}, time.perf_counter()
    jax.block_until_ready(jax.value_and_grad(chi2)(params, data))
    seconds["eager value+grad"], clock = time.perf_counter() - clock, time.perf_counter()
    jax.block_until_ready(jax.value_and_grad(chi2)(moved, data))
    seconds["eager value+grad warm"], clock = time.perf_counter() - clock, time.perf_counter()
    jitted = jax.jit(jax.value_and_grad(lambda p: chi2(p, data)))  # the data: concrete
    jax.block_until_ready(jitted(params))
    seconds["jit value+grad"] = time.perf_counter() - clock
    print(" | ".join(f"{k} {v:.2f} s" for k, v in seconds.items()), file=sys.stderr)
    return seconds


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    main()
