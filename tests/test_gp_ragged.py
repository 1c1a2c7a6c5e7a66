"""Ragged batches: per-series values, padding adds nothing, few compiles, sharding.

Compiles dominate the run time, so programs are shared: the series of most tests fall into the
same (rows, length) blocks, and the per-series references are the textbook formulas in numpy
float64, with the kernel's values from one program for every length.
"""

import os
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from _proc import run

import diffkern.gp._ragged as ragged
from diffkern.gp import GaussianProcess, Matern32, log_probability_padded, log_probability_ragged
from diffkern.jit import bucket_length, count_compiles


def _series(lengths, seed=0):
    rng = np.random.default_rng(seed)
    xs = [np.sort(rng.uniform(0, 20, n)) for n in lengths]
    ys = [np.sin(x) + 0.2 * rng.normal(size=x.size) for x in xs]
    diags = [rng.uniform(0.01, 0.1, x.size) for x in xs]
    return xs, ys, diags


_TAU = 2**16  # entries of the largest kernel matrix the references take (N <= 256)


@jax.jit
def _kernel_values(kernel, tau):
    """k(tau) and its derivative in the kernel's parameters along ones (``jvp``)."""
    ones = jax.tree.map(jnp.ones_like, kernel)
    return jax.jvp(lambda k: k.evaluate(tau), (kernel,), (ones,))


def _matrices(kernel, x):
    """K(x, x) and its derivative (``_kernel_values``) in float64: one program for any N."""
    tau = np.abs(x[:, None] - x[None, :]).ravel()
    values = _kernel_values(kernel, np.pad(tau, (0, _TAU - tau.size)))
    return [np.asarray(v[: tau.size], np.float64).reshape(x.size, x.size) for v in values]


def _unpadded(kernel, xs, ys, diags):
    """log N(y | 0, K(x) + diag(d)) of each series alone, by the textbook formula."""
    out = []
    for x, y, d in zip(xs, ys, diags, strict=True):
        L = np.linalg.cholesky(_matrices(kernel, x)[0] + np.diag(d))
        z = scipy.linalg.solve_triangular(L, y, lower=True)
        out.append(-0.5 * z @ z - np.sum(np.log(np.diag(L))) - 0.5 * x.size * np.log(2 * np.pi))
    return np.array(out)


def _unpadded_gradient(kernel, xs, ys, diags):
    """d/dtheta of the sum of ``_unpadded`` along ones in the kernel's parameters:
    sum 1/2 (alpha^T dK alpha - tr(C^-1 dK)), alpha = C^-1 y, C = K + D."""
    total = 0.0
    for x, y, d in zip(xs, ys, diags, strict=True):
        K, dK = _matrices(kernel, x)
        factor = scipy.linalg.cho_factor(K + np.diag(d), lower=True)
        alpha = scipy.linalg.cho_solve(factor, y)
        total += 0.5 * (alpha @ dK @ alpha - np.trace(scipy.linalg.cho_solve(factor, dK)))
    return total


# Single series as a user would compute them, one program per length and dtype.
_single = jax.jit(lambda k, x, y, d: GaussianProcess(k, x, diag=d).log_probability(y))
_single_quasisep = jax.jit(
    lambda k, x, y, d: GaussianProcess(k, x, diag=d, solver="quasisep").log_probability(y)
)


def test_equals_unpadded_per_series(x64):
    lengths = [50, 51, 70, 120, 121, 200]
    xs, ys, diags = _series(lengths)
    kernel = 1.4 * Matern32(2.0)
    out = log_probability_ragged(kernel, xs, ys, diags)
    assert out.shape == (len(lengths),)
    np.testing.assert_allclose(out, _unpadded(kernel, xs, ys, diags), rtol=1e-12)


def test_padding_contributes_nothing(dtype):
    x, y, d = (np.asarray(a[0], dtype) for a in _series([30], 1))
    X = np.full((2, 48), 5.0, dtype)
    Y = np.full((2, 48), 123.0, dtype)
    D = np.full((2, 48), 7.0, dtype)
    M = np.zeros((2, 48), bool)
    X[0, :30], Y[0, :30], D[0, :30], M[0, :30] = x, y, d, True
    X[1, 5:35], Y[1, 5:35], D[1, 5:35], M[1, 5:35] = x, y, d, True  # mask anywhere
    kernel = Matern32(jnp.asarray(2.0, dtype))
    padded = jax.jit(log_probability_padded)  # one program for both masks
    out = padded(kernel, X, Y, D, M)
    single = _single(kernel, x, y, d)
    rtol = 1e-5 if dtype == jnp.float32 else 1e-12
    np.testing.assert_allclose(out, [single, single], rtol=rtol)
    empty = padded(kernel, X, Y, D, np.zeros_like(M))
    np.testing.assert_array_equal(empty, [0, 0])


def test_few_compiles_for_any_mix(x64):
    rng = np.random.default_rng(2)
    first = _series(rng.integers(50, 130, 24), 3)
    second = _series(rng.integers(50, 130, 17), 4)
    kernel = 1.4 * Matern32(2.0)
    n_buckets = len({bucket_length(n) for n in range(50, 130)})
    with count_compiles() as counts:
        jax.block_until_ready(log_probability_ragged(kernel, *first))
    assert counts.compiles <= n_buckets + 1  # one per length bucket, one gather
    with count_compiles() as counts:
        out = log_probability_ragged(1.1 * Matern32(3.0), *second)
    assert counts.by_function["log_probability_padded"] <= 1  # a new series-count bucket at most
    assert counts.compiles <= 2
    np.testing.assert_allclose(out, _unpadded(1.1 * Matern32(3.0), *second), rtol=1e-12)


def test_bucket_growth_trades_programs_for_padding(x64, monkeypatch):
    """The O(N) solver's buckets grow by 4 unless ``bucket_growth`` says otherwise: a finer
    growth pads to more, shorter lengths (one program each) and gives the same values."""
    xs, ys, diags = _series([20, 30, 45, 70], 6)
    kernel = 1.2 * Matern32(2.5)
    padded, lengths = ragged.log_probability_padded, []

    def spy(kernel, X, *args, **kwargs):
        lengths.append(X.shape[1])
        return padded(kernel, X, *args, **kwargs)

    monkeypatch.setattr(ragged, "log_probability_padded", spy)
    values = {}
    for growth in (None, 1.5):
        lengths.clear()
        values[growth] = log_probability_ragged(kernel, xs, ys, diags, bucket_growth=growth)
        want = {bucket_length(x.size, growth=growth or 4.0) for x in xs}
        assert sorted(lengths) == sorted(want) and len(want) == (2 if growth is None else 4)
    np.testing.assert_allclose(values[1.5], values[None], rtol=1e-12)
    np.testing.assert_allclose(values[None], _unpadded(kernel, xs, ys, diags), rtol=1e-12)
    for bad in (1.0, 0.5, float("nan"), float("inf"), 1e300, 17):
        with pytest.raises(ValueError, match=r"bucket_growth must be in \(1, 16\]"):
            log_probability_ragged(kernel, xs, ys, diags, bucket_growth=bad)
    for bad in (True, "2"):  # TypeError, also from the suite's type checker
        with pytest.raises(TypeError, match="bucket_growth"):
            log_probability_ragged(kernel, xs, ys, diags, bucket_growth=bad)


def test_gradient_matches_unpadded(x64):
    xs, ys, diags = _series([40, 90], 5)  # two blocks
    g = jax.grad(lambda s: log_probability_ragged(Matern32(s), xs, ys, diags).sum())(2.0)
    ref = _unpadded_gradient(Matern32(2.0), xs, ys, diags)
    np.testing.assert_allclose(g, ref, rtol=1e-11)


def test_vmap_over_kernel_parameters(x64):
    xs, ys, diags = _series([30, 30, 30], 6)
    X, Y, D = (np.stack(a) for a in (xs, ys, diags))
    M = np.ones(X.shape, bool)
    scales = jnp.asarray([1.0, 2.0])
    out = jax.jit(jax.vmap(lambda s: log_probability_padded(Matern32(s), X, Y, D, M)))(scales)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out[1], _unpadded(Matern32(2.0), xs, ys, diags), rtol=1e-12)


def test_bad_input():
    xs, ys, diags = _series([10, 12])
    with pytest.raises(ValueError, match="same number of series"):
        log_probability_ragged(Matern32(1.0), xs, ys[:1])
    with pytest.raises(ValueError, match=r"xs\[1\] and ys\[1\]"):
        log_probability_ragged(Matern32(1.0), xs, [ys[0], ys[1][:5]])


def test_value_checks_come_back_as_outputs():
    """Every check of a block's program (also those inside its vmap over series) is an output:
    no host callback, so the persistent cache keeps the program; a bad value still raises.
    Inside the caller's jit, all of them share one host callback."""
    X = np.tile(np.linspace(0.0, 1.0, 8), (2, 1))
    args = (Matern32(1.0), X, np.sin(X), np.full(X.shape, 0.1), np.ones(X.shape, bool))
    assert "callback" not in log_probability_padded.lower(*args).as_text()
    assert jax.jit(log_probability_padded).lower(*args).as_text().count("callback") == 1
    f = lambda scale: log_probability_ragged(Matern32(scale), list(X), list(np.sin(X))).sum()
    assert np.isfinite(jax.grad(f)(1.0))
    with pytest.raises(ValueError, match="scale must be"):
        jax.grad(f)(jnp.nan)


_SHARDED = textwrap.dedent(
    """
    import jax, numpy as np, equinox as eqx
    jax.config.update("jax_enable_x64", True)
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from diffkern.gp import Matern32, log_probability_padded
    assert len(jax.devices()) == 8
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(0, 10, (16, 40)), axis=1)
    Y, D = np.sin(X), np.full(X.shape, 0.05)
    M = np.arange(40)[None, :] < rng.integers(5, 41, 16)[:, None]
    f = eqx.filter_jit(log_probability_padded)
    single = f(Matern32(2.0), X, Y, D, M)
    sharding = NamedSharding(Mesh(np.array(jax.devices()), ("series",)), P("series", None))
    args = [jax.device_put(a, sharding) for a in (X, Y, D, M)]
    out = f(Matern32(2.0), *args)
    assert not out.sharding.is_fully_replicated, out.sharding
    assert len(out.sharding.device_set) == 8
    np.testing.assert_allclose(out, single, rtol=1e-12)
    print("ok")
    """
)


def test_sharded_batch_matches_single_device():
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu"
    )
    result = run([sys.executable, "-c", _SHARDED], env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_auto_uses_quasisep_and_matches_unpadded(x64):
    xs, ys, diags = _series([50, 51, 120, 121], 7)  # two blocks each way
    kernel = 1.4 * Matern32(2.0)
    auto = log_probability_ragged(kernel, xs, ys, diags)
    dense = log_probability_ragged(kernel, xs, ys, diags, solver="cholesky")
    np.testing.assert_allclose(auto, _unpadded(kernel, xs, ys, diags), rtol=1e-12)
    np.testing.assert_allclose(auto, dense, rtol=1e-12)
    exact = [_single_quasisep(kernel, x, y, d) for x, y, d in zip(xs, ys, diags, strict=True)]
    np.testing.assert_allclose(auto, exact, rtol=1e-13)


def test_unsorted_series(x64):
    xs, ys, diags = _series([20, 30], 8)
    xs[1] = xs[1][::-1].copy()
    kernel = Matern32(2.0)
    with pytest.raises(ValueError, match=r"xs\[1\] must be sorted"):
        log_probability_ragged(kernel, xs, ys, diags, solver="quasisep")
    # "auto" falls back to the dense solver, which takes any order.
    out = log_probability_ragged(kernel, xs, ys, diags)
    np.testing.assert_allclose(out, _unpadded(kernel, xs, ys, diags), rtol=1e-12)


def test_many_series_one_call_few_compiles(x64):
    """200 series with N in [20, 100] (two length buckets) in one call: the compiles are bounded
    by the buckets, whatever the number of series (which costs host time per series)."""
    rng = np.random.default_rng(9)
    lengths = rng.integers(20, 101, 200).tolist()
    xs, ys, diags = _series(lengths, 10)
    kernel = 1.4 * Matern32(2.0)
    n_buckets = len({bucket_length(n) for n in lengths})
    with count_compiles() as counts:
        out = jax.block_until_ready(log_probability_ragged(kernel, xs, ys, diags))
    assert out.shape == (200,) and np.all(np.isfinite(out))
    assert counts.compiles <= n_buckets + 1
    picks = [int(np.argmax(lengths)), int(np.argmin(lengths))]
    exact = _unpadded(kernel, *([a[i] for i in picks] for a in (xs, ys, diags)))
    np.testing.assert_allclose(out[np.asarray(picks)], exact, rtol=1e-12)
