"""Dense GP log-likelihood and value+gradient, and ragged batches, diffkern vs tinygp."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.conftest import sizes
from diffkern.gp import GaussianProcess, Matern32, log_probability_ragged
from diffkern.precision import float64

tinygp = pytest.importorskip("tinygp")


def _data(n):
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 100, n))
    return jnp.asarray(x), jnp.asarray(np.sin(x) + 0.1 * rng.normal(size=n))


def _ours(x, y):
    def f(p):
        return GaussianProcess(
            p[0] * Matern32(p[1]), x, diag=p[2], solver="cholesky"
        ).log_probability(y)

    return f


def _theirs(x, y):
    def f(p):
        kernel = p[0] * tinygp.kernels.Matern32(p[1])
        return tinygp.GaussianProcess(kernel, x, diag=p[2]).log_probability(y)

    return f


@pytest.mark.parametrize("what", ["logL", "value+grad"])
@pytest.mark.parametrize("n", sizes([500, 2000]))
@pytest.mark.parametrize("library", ["diffkern", "tinygp"])
def test_dense(bench, library, n, what):
    with float64():
        x, y = _data(n)
        params = jnp.asarray([1.5, 2.0, 0.01])
        make = _ours if library == "diffkern" else _theirs
        f = make(x, y) if what == "logL" else jax.value_and_grad(make(x, y))
        reference = jax.jit(jax.value_and_grad(_theirs(x, y)))(params)
        out = bench(
            jax.jit(f),
            params,
            group=f"gp dense {what} float64 N={n}",
            library=library,
            n=n,
            dtype="float64",
        )
        value = out if what == "logL" else out[0]
        np.testing.assert_allclose(value, reference[0], rtol=1e-10)
        if what != "logL":
            np.testing.assert_allclose(out[1], reference[1], rtol=1e-8)


RAGGED_SERIES = sizes([40], smoke=8, quick=[6])[0]


def _ragged_data():
    rng = np.random.default_rng(1)
    lengths = rng.integers(50, 500, RAGGED_SERIES)
    xs = [np.sort(rng.uniform(0, 50, n)) for n in lengths]
    ys = [np.sin(x) + 0.1 * rng.normal(size=x.size) for x in xs]
    return xs, ys


@jax.jit  # one program per length, shared by the cases below (each checks against it)
def _tinygp_single(x, y):
    kernel = 1.5 * tinygp.kernels.Matern32(2.0)
    return tinygp.GaussianProcess(kernel, x, diag=0.01).log_probability(y)


@pytest.mark.parametrize("library", ["diffkern", "diffkern:cholesky", "tinygp"])
def test_ragged(bench, library):
    with float64():
        xs, ys = _ragged_data()
        kernel = 1.5 * Matern32(2.0)

        solver = "cholesky" if library == "diffkern:cholesky" else "auto"  # auto: quasisep

        def ours():
            return log_probability_ragged(kernel, xs, ys, [0.01] * len(xs), solver=solver)

        def theirs():
            return jnp.stack([_tinygp_single(x, y) for x, y in zip(xs, ys, strict=True)])

        reference = theirs()
        out = bench(
            theirs if library == "tinygp" else ours,
            group=f"gp ragged logL float64 S={len(xs)} N=50..500",
            library=library,
            n=len(xs),
            dtype="float64",
        )
        np.testing.assert_allclose(out, reference, rtol=1e-10)
