"""Compile time as its own benchmark: the first call of each kernel, and ragged-length sequences.

Every round starts from empty JAX caches (the ``bench_compile`` fixture), so its time is what a
fresh process pays for one call: trace, compile and run. Compile counts come from
``diffkern.jit.count_compiles`` and are stored with each case. Before timing, each case checks
that diffkern and the peer agree on the answer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SMOKE, sizes

from diffkern.precision import float64

KEPLER_N = sizes([1000], smoke=64)
GP_N = sizes([500], smoke=64)
QUASISEP_N = sizes([2000], smoke=64)
SCAN_N = sizes([10_000], smoke=64)
RAGGED_COUNT = sizes([20], smoke=3, quick=[3])
RAGGED_RANGE = (20, 60) if SMOKE else (50, 400)
WHAT = sizes(["value", "value+grad"], smoke="value+grad", quick=["value+grad"])
GP_SOLVERS = sizes(["cholesky", "quasisep"], smoke="cholesky", quick=["cholesky"])


@pytest.fixture(params=sizes(["float32", "float64"], smoke="float32", quick=["float32"]))
def dtype(request):
    with float64(request.param == "float64"):
        yield request.param


def _check_against_peer(library: str, fn, peer_fn, *args, **tol) -> None:
    """diffkern's answer must match the peer's before its time counts."""
    if library.split(":")[0] != "diffkern":
        return
    actual, expected = fn(*args), peer_fn(*args)
    for a, b in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **tol)


# --- Kepler: (sin f, cos f) for a batch of (M, e) -------------------------------------------------


def _kepler_fn(library: str):
    """``kepler(M, e) -> (sin f, cos f)``, the entry point diffkern and jaxoplanet share."""
    module = "diffkern.kepler" if library == "diffkern" else "jaxoplanet.core"
    return pytest.importorskip(module).kepler


def _with_grad(kepler):
    def loss(mean_anomaly, ecc):
        sin_f, cos_f = kepler(mean_anomaly, ecc)
        return jnp.sum(sin_f) + jnp.sum(cos_f)

    return jax.value_and_grad(loss, argnums=(0, 1))


@pytest.mark.parametrize("n", KEPLER_N)
@pytest.mark.parametrize("what", WHAT)
@pytest.mark.parametrize("library", ["diffkern", "jaxoplanet"])
def test_kepler_first_call(bench_compile, library, what, n, dtype):
    rng = np.random.default_rng(0)
    mean_anomaly = jnp.asarray(rng.uniform(0.0, 2 * np.pi, n), dtype=dtype)
    ecc = jnp.asarray(rng.uniform(0.0, 0.9, n), dtype=dtype)
    wrap = _with_grad if what == "value+grad" else (lambda f: f)
    fn = jax.jit(wrap(_kepler_fn(library)))
    scale = 1e-3 if dtype == "float32" else 1e-9
    peer = jax.jit(wrap(_kepler_fn("jaxoplanet")))
    _check_against_peer(library, fn, peer, mean_anomaly, ecc, rtol=scale, atol=scale * n)
    bench_compile(
        fn,
        mean_anomaly,
        ecc,
        group=f"compile kepler {what} {dtype} N={n}",
        library=library,
        n=n,
        dtype=dtype,
    )


# --- Gaussian processes: Matern-3/2 + white noise log-likelihood ----------------------------------


def _series(n: int, rng: np.random.Generator):
    x = np.sort(rng.uniform(0.0, n / 10, n))
    y = np.sin(x) + 0.3 * rng.normal(size=n)
    return jnp.asarray(x), jnp.asarray(y), jnp.full(n, 0.1)


def _gp_log_likelihood(library: str, solver: str):
    """``f(params, x, y, diag)`` with ``params = (variance, scale)``."""
    if library == "diffkern":
        gp = pytest.importorskip("diffkern.gp")

        def log_likelihood(params, x, y, diag):
            kernel = params[0] * gp.Matern32(params[1])
            return gp.GaussianProcess(kernel, x, diag=diag, solver=solver).log_probability(y)

    else:
        tinygp = pytest.importorskip("tinygp")

        def log_likelihood(params, x, y, diag):
            if solver == "quasisep":
                sigma = jnp.sqrt(params[0])
                kernel = tinygp.kernels.quasisep.Matern32(scale=params[1], sigma=sigma)
            else:
                kernel = params[0] * tinygp.kernels.Matern32(params[1])
            return tinygp.GaussianProcess(kernel, x, diag=diag).log_probability(y)

    return log_likelihood


@pytest.mark.parametrize("solver", GP_SOLVERS)
@pytest.mark.parametrize("what", WHAT)
@pytest.mark.parametrize("library", ["diffkern", "tinygp"])
def test_gp_first_call(bench_compile, library, what, solver):
    n = {"cholesky": GP_N, "quasisep": QUASISEP_N}[solver][0]
    with float64():
        x, y, diag = _series(n, np.random.default_rng(1))
        params = jnp.asarray([1.5, 2.0])
        wrap = jax.value_and_grad if what == "value+grad" else (lambda f: f)
        fn = jax.jit(wrap(_gp_log_likelihood(library, solver)))
        peer = jax.jit(wrap(_gp_log_likelihood("tinygp", solver)))
        _check_against_peer(library, fn, peer, params, x, y, diag, rtol=1e-9)
        bench_compile(
            fn,
            params,
            x,
            y,
            diag,
            group=f"compile gp {solver} {what} float64 N={n}",
            library=library,
            n=n,
            dtype="float64",
        )


@pytest.mark.parametrize("count", RAGGED_COUNT)
@pytest.mark.parametrize("library", ["diffkern", "tinygp"])
def test_gp_ragged_sequence(bench_compile, library, count):
    """Log-likelihoods of ``count`` series of different lengths, from a cold start."""
    with float64():
        rng = np.random.default_rng(2)
        lengths = sorted(rng.choice(np.arange(*RAGGED_RANGE), size=count, replace=False).tolist())
        xs, ys, diags = zip(*(_series(n, rng) for n in lengths), strict=True)
        params = jnp.asarray([1.5, 2.0])
        tinygp_log_likelihood = jax.jit(_gp_log_likelihood("tinygp", "cholesky"))

        def tinygp_sequence():
            return jnp.stack([tinygp_log_likelihood(params, *s) for s in zip(xs, ys, diags)])

        gp = pytest.importorskip("diffkern.gp")

        def diffkern_sequence():
            kernel = params[0] * gp.Matern32(params[1])
            return gp.log_probability_ragged(kernel, list(xs), list(ys), list(diags))

        _check_against_peer(library, diffkern_sequence, tinygp_sequence, rtol=1e-9)
        fn = diffkern_sequence if library == "diffkern" else tinygp_sequence
        counts = bench_compile(
            fn,
            group=f"compile gp ragged sequence {count} lengths float64",
            library=library,
            lengths=lengths,
            dtype="float64",
        )
        if library == "tinygp" and not SMOKE:  # one program per length
            assert counts.by_function["log_likelihood"] == count


# --- Linear recurrence h_t = a_t h_{t-1} + b_t: diffkern's two methods vs a plain lax.scan --------


def _recurrence_loss(library: str):
    if library == "jax":

        def states(a, b):
            def step(h, ab):
                h = ab[0] * h + ab[1]
                return h, h

            return jax.lax.scan(step, jnp.zeros((), b.dtype), (a, b))[1]

    else:
        scan = pytest.importorskip("diffkern.scan")

        def states(a, b):
            return scan.linear_recurrence(a, b, method=library.partition(":")[2])

    return jax.value_and_grad(lambda a, b: jnp.sum(states(a, b) ** 2), argnums=(0, 1))


@pytest.mark.parametrize("n", SCAN_N)
@pytest.mark.parametrize("library", ["diffkern:sequential", "diffkern:associative", "jax"])
def test_linear_recurrence_first_call(bench_compile, library, n):
    rng = np.random.default_rng(3)
    a = jnp.asarray(rng.uniform(0.5, 0.99, n), dtype=jnp.float32)
    b = jnp.asarray(rng.normal(size=n), dtype=jnp.float32)
    fn = jax.jit(_recurrence_loss(library))
    peer = jax.jit(_recurrence_loss("jax"))
    _check_against_peer(library, fn, peer, a, b, rtol=1e-3)
    bench_compile(
        fn,
        a,
        b,
        group=f"compile scan value+grad float32 N={n}",
        library=library,
        n=n,
        dtype="float32",
    )
