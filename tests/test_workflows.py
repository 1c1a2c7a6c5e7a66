"""The reference workflows of ``profiles/`` at small sizes: their compile counts (never times).

Each workflow is the script a user writes; a regression that compiles per step, per series
length, per star or per optimizer object fails here. Counts are exact where the programs are
known, so this module runs without the persistent cache (``FRESH_COMPILES`` in conftest).
"""

import runpy
from pathlib import Path

import jax
import numpy as np

from diffkern.gp._ragged import _LINEAR_GROWTH
from diffkern.jit import bucket_length, count_compiles

PROFILES = Path(__file__).parent.parent / "profiles"


def _script(name):
    return runpy.run_path(str(PROFILES / name))


def test_planets_and_gp_fit_compiles_each_loop_once(x64):
    """Adam then L-BFGS, a refit with optimizers built anew and new data: no new fit program."""
    fit = _script("fit_planets_gp.py")
    first, second = fit["simulate"](0, 40), fit["simulate"](1, 40)
    starts = fit["start"](0), fit["start"](1)
    with count_compiles() as counts:
        fit["fit"](first, starts[0], adam_steps=3, lbfgs_steps=2)
    assert counts.by_function["_run_chunk"] == 2, counts.by_function  # Adam, L-BFGS
    with count_compiles() as counts:
        result = fit["fit"](second, starts[1], adam_steps=3, lbfgs_steps=2)
    assert counts.compiles == 0, counts.by_function
    assert np.isfinite(float(result.value))


def test_ragged_rv_chi_square_and_gradient_one_program_per_bucket(x64):
    """Eagerly: a forward and a backward program for the one flat bucket (buckets + 1), plus
    the three of the caller's own ``sum`` and its gradient, however many lengths; under jit:
    1."""
    rv = _script("rv_ragged.py")
    data, params = rv["stars"](24)
    assert len({t.size for t in data[0]}) > 20  # many distinct lengths
    value_and_grad = jax.value_and_grad(rv["chi2"])
    with count_compiles() as counts:
        jax.block_until_ready(value_and_grad(params, data))
    assert counts.by_function["_chi_square_flat"] == 2, counts.by_function
    assert counts.compiles - 2 <= 3, counts.by_function  # _reduce_sum and its transpose
    other, _ = rv["stars"](24, seed=1)  # new lengths, same buckets
    assert bucket_length(sum(t.size for t in other[0])) == bucket_length(
        sum(t.size for t in data[0])
    )
    with count_compiles() as counts:
        jax.block_until_ready(value_and_grad(params, other))
    assert counts.compiles == 0, counts.by_function
    with count_compiles() as counts:
        jax.block_until_ready(jax.jit(jax.value_and_grad(lambda p: rv["chi2"](p, data)))(params))
    assert counts.compiles == 1, counts.by_function


def test_ragged_gp_likelihood_and_gradient_two_programs_per_length_bucket(x64):
    """Eagerly: a forward and a backward program per length bucket and a fixed few more; new
    kernel values compile nothing."""
    gp = _script("gp_ragged.py")
    data = gp["stars"](12, lengths=(8, 41))  # two length buckets: 16 and 40
    f = jax.value_and_grad(gp["neg_log_likelihood"])
    p, q = jax.device_put(np.array([0.0, 2.0])), jax.device_put(np.array([0.1, 2.2]))
    with count_compiles() as counts:
        jax.block_until_ready(f(p, data))
    buckets = len({bucket_length(x.size, growth=_LINEAR_GROWTH) for x in data[0]})
    assert counts.by_function["log_probability_padded"] == 2 * buckets, counts
    with count_compiles() as counts:
        jax.block_until_ready(f(q, data))
    assert counts.compiles == 0, counts.by_function
