"""Nadaraya-Watson against a dense float64 reference; UKR on the hyperbolic paraboloid."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from diffkern import CheckError
from diffkern.jit import count_compiles
from diffkern.regression import fit_ukr, nadaraya_watson, ukr_loss
from diffkern.testing import check_grads, tolerance


def _dense_reference(zq, z, x, h):
    zq, z, x = (np.asarray(v, np.float64) for v in (zq, z, x))
    logw = -((zq[:, None, :] - z[None]) ** 2).sum(-1) / (2 * float(h) ** 2)
    w = np.exp(logw - logw.max(1, keepdims=True))
    return (w / w.sum(1, keepdims=True)) @ x


def _data(m, n, q=2, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, q)), rng.normal(size=(n, q)), rng.normal(size=(n, d))


@pytest.mark.parametrize("block_size", [1, 7, 256])
@pytest.mark.parametrize("bandwidth", [0.05, 0.5, 5.0])
def test_matches_dense_reference(block_size, bandwidth, dtype):
    zq, z, x = _data(23, 40)
    args = (jnp.asarray(v, dtype) for v in (zq, z, x, bandwidth))
    f = nadaraya_watson(*args, block_size=block_size)
    assert f.dtype == dtype and f.shape == (23, 3)
    tol = tolerance(dtype, float32=1e-5, float64=1e-12)
    np.testing.assert_allclose(f, _dense_reference(zq, z, x, bandwidth), rtol=tol, atol=tol)


def test_far_queries_stay_finite_in_float32():
    """exp(-d^2/2h^2) underflows for every point; normalising the log-weights keeps it exact."""
    z = jnp.array([[0.0], [1.0]], jnp.float32)
    x = jnp.array([[1.0], [2.0]], jnp.float32)
    f = nadaraya_watson(jnp.array([[100.0]], jnp.float32), z, x, jnp.asarray(0.01, jnp.float32))
    np.testing.assert_allclose(f, [[2.0]])


def test_gradients(x64):
    zq, z, x = (jnp.asarray(v) for v in _data(5, 9))
    f = jax.jit(lambda zq, z, x, h: nadaraya_watson(zq, z, x, h, block_size=2))
    check_grads(f, (zq, z, x, jnp.asarray(0.7)), order=1, modes=("rev",))
    g = jax.grad(lambda *a: jnp.sum(f(*a) ** 2), (0, 1, 2, 3))(zq, z, x, jnp.asarray(0.7))

    def dense(zq, z, x, h):
        w = jax.nn.softmax(-jnp.sum((zq[:, None] - z[None]) ** 2, -1) / (2 * h**2), axis=-1)
        return jnp.sum((w @ x) ** 2)

    for ours, ref in zip(g, jax.grad(dense, (0, 1, 2, 3))(zq, z, x, jnp.asarray(0.7))):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-13)


def test_memory_never_n_by_n():
    """N = 20000: value and gradient stay far below one N x N float32 matrix (1.6 GB)."""
    n = 20000
    spec = jax.ShapeDtypeStruct
    z, x, h = spec((n, 2), jnp.float32), spec((n, 3), jnp.float32), spec((), jnp.float32)
    value = lambda z, x, h: nadaraya_watson(z, z, x, h)
    grad = jax.grad(lambda z, x, h: jnp.sum(value(z, x, h) ** 2), (0, 1, 2))
    for fn in (value, grad):
        stats = jax.jit(fn).lower(z, x, h).compile().memory_analysis()
        assert stats.temp_size_in_bytes * 10 < n * n * 4


def _paraboloid(n=200, seed=0):
    z = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    return z, np.stack([z[:, 0], z[:, 1], z[:, 0] ** 2 - z[:, 1] ** 2], 1)


def _knn_overlap(a, b, k=10):
    """Mean fraction of each point's k nearest neighbours in ``a`` that are also so in ``b``."""

    def knn(p):
        d = ((p[:, None] - p[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        return np.argsort(d, 1)[:, :k]

    na, nb = knn(np.asarray(a)), knn(np.asarray(b))
    return np.mean([len(set(i) & set(j)) / k for i, j in zip(na, nb)])


def test_fit_ukr_hyperbolic_paraboloid():
    """Reconstruction error falls >= 10x (measured: 99x) and the 10-NN overlap with the true
    latents is >= 0.5 (measured: 0.80; 0.05 at random for 200 points)."""
    z_true, x = _paraboloid()
    x = jnp.asarray(x, jnp.float32)
    model = fit_ukr(x, 2, steps=300, optimizer=optax.adam(0.05), init_scale=1e-5)
    losses = np.asarray(model.losses)
    final = float(ukr_loss(model.z, model.x, model.bandwidth))
    assert losses[0] >= 10 * final
    assert _knn_overlap(z_true, model.z) >= 0.5
    np.testing.assert_allclose(model(model.z[:3]), model.x[:3], atol=0.3)


def test_nadaraya_watson_no_recompile():
    zq, z, x = (jnp.asarray(v, jnp.float32) for v in _data(10, 30))
    h = jnp.asarray(0.5, jnp.float32)
    f = jax.jit(nadaraya_watson)
    f(zq, z, x, h)
    zq2, h2 = zq + 1.0, h * 2.0
    with count_compiles() as counts:
        f(zq2, z, x, h2).block_until_ready()
    assert counts.compiles == 0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nadaraya_watson(jnp.ones((2, 3)), jnp.ones((4, 2)), jnp.ones((4, 1)), 1.0), "q"),
        (lambda: nadaraya_watson(jnp.ones((2, 2)), jnp.ones((4, 2)), jnp.ones((5, 1)), 1.0), "N"),
        (lambda: fit_ukr(jnp.ones((5, 2)), 0, steps=1, optimizer=optax.sgd(0.1)), "latent_dim"),
        (lambda: fit_ukr(jnp.ones((5, 2)), 1, steps=0, optimizer=optax.sgd(0.1)), "steps"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.parametrize("bandwidth", [0.0, -1.0, float("nan")])
def test_bad_bandwidth_raises_inside_jit(bandwidth):
    zq, z, x = (jnp.asarray(v, jnp.float32) for v in _data(3, 5))
    f = jax.jit(nadaraya_watson)
    with pytest.raises(Exception, match="nadaraya_watson: bandwidth must be finite and > 0"):
        jax.block_until_ready(f(zq, z, x, jnp.asarray(bandwidth, jnp.float32)))


def _nearest_values(zq, z, x):
    d2 = ((np.asarray(zq, np.float64)[:, None] - np.asarray(z, np.float64)[None]) ** 2).sum(-1)
    return np.asarray(x, np.float64)[d2.argmin(1)]


@pytest.mark.parametrize("scale", [1e-3, 1e-12, 1e-25, 1e-40, 1e-160, 1e-300])
def test_tiny_bandwidths_give_the_nearest_sample(dtype, scale):
    """h^2 underflows from h ~ 1e-19 (float32) and ~1e-154 (float64): the h -> 0 limit."""
    tiny = float(np.finfo(dtype).smallest_normal)
    h = max(scale, tiny)
    zq, z, x = (jnp.asarray(v, dtype) for v in _data(7, 11))
    f = nadaraya_watson(zq, z, x, jnp.asarray(h, dtype))
    tol = tolerance(dtype, float32=1e-6, float64=1e-15)
    np.testing.assert_allclose(f, _nearest_values(zq, z, x), rtol=tol, atol=tol)


@pytest.mark.parametrize("offset", [1e3, 1e6, 1e15])
def test_far_queries_give_the_nearest_sample(dtype, offset):
    """Finite and a mean of samples always; the nearest sample's value while the dtype still
    resolves the distances (|d2_j - d2_k| above the rounding of d2 ~ offset^2)."""
    zq, z, x = (jnp.asarray(v, dtype) for v in _data(7, 11))
    far = zq.at[:, 0].add(jnp.asarray(offset, dtype))
    f = np.asarray(nadaraya_watson(far, z, x, jnp.asarray(0.3, dtype)))
    assert np.all(np.isfinite(f))
    x = np.asarray(x)
    assert np.all((f >= x.min(0) - 1e-6) & (f <= x.max(0) + 1e-6))
    if offset * np.finfo(dtype).eps < 1e-3:
        tol = tolerance(dtype, float32=1e-6, float64=1e-15)
        np.testing.assert_allclose(f, _nearest_values(far, z, x), rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "position, match",
    [
        (0, "z_query must be finite"),
        (1, "z must be finite"),
        (2, "x must be finite"),
        (3, "bandwidth must be finite and > 0"),
    ],
)
def test_non_finite_input_names_the_argument(position, match):
    args = [jnp.asarray(v, jnp.float32) for v in (*_data(3, 5), 0.5)]
    args[position] = args[position].at[(0,) * args[position].ndim].set(jnp.inf)
    with pytest.raises(CheckError, match=f"^nadaraya_watson: {match}$"):
        nadaraya_watson(*args)


def test_squared_distance_overflow_raises(dtype):
    zq, z, x = (jnp.asarray(v, dtype) for v in _data(3, 5))
    huge = jnp.asarray(np.sqrt(np.finfo(dtype).max) * 4, dtype)
    with pytest.raises(CheckError, match="each query must be nearer than"):
        nadaraya_watson(zq.at[1, 0].set(huge), z, x, jnp.asarray(0.5, dtype))
