"""GaussianProcess against scipy/numpy textbook formulas and tinygp; failure handling; compiles."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from diffkern._checks import CheckError
from diffkern.gp import (
    SHO,
    Dense,
    Exp,
    ExpSquared,
    GaussianProcess,
    Matern32,
    Matern52,
    QuasiPeriodic,
    Quasisep,
)
from diffkern.gp._dense import gaussian_log_density
from diffkern.jit import count_compiles
from diffkern.testing import check_grads, tolerance

# A check that fails inside the caller's jit (or equinox.filter_jit): XLA wraps the CheckError
# its host callback raised (a ValueError once the program has run before: JAX's fast path).
CALLBACK_ERRORS = (jax.errors.JaxRuntimeError, ValueError)


def _data(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 10, n))
    y = np.sin(x) + 0.3 * rng.normal(size=n)
    return x.astype(dtype), y.astype(dtype)


def _matern32(tau, scale):
    r = math.sqrt(3) * tau / scale
    return (1 + r) * np.exp(-r)


def _numpy_gp(x, y, amp, scale, noise, x_test):
    """Textbook GP formulas in float64 numpy/scipy."""
    K = amp * _matern32(np.abs(x[:, None] - x[None, :]), scale) + noise * np.eye(x.size)
    Ks = amp * _matern32(np.abs(x[:, None] - x_test[None, :]), scale)
    Kss = amp * _matern32(np.abs(x_test[:, None] - x_test[None, :]), scale)
    logp = scipy.stats.multivariate_normal(np.zeros(x.size), K).logpdf(y)
    mean = Ks.T @ np.linalg.solve(K, y)
    cov = Kss - Ks.T @ np.linalg.solve(K, Ks)
    return logp, mean, cov


def test_log_probability_matches_scipy(dtype):
    x, y = _data(60)
    value = GaussianProcess(1.7 * Matern32(1.3), jnp.asarray(x, dtype), diag=0.09).log_probability(
        jnp.asarray(y, dtype)
    )
    assert value.dtype == dtype
    reference = _numpy_gp(x, y, 1.7, 1.3, 0.09, x)[0]
    np.testing.assert_allclose(value, reference, rtol=tolerance(dtype, float32=1e-5, float64=1e-12))


@settings(max_examples=15, deadline=None)
@given(
    n=st.sampled_from([2, 9, 33]),
    amp=st.floats(0.1, 10.0),
    scale=st.floats(0.05, 20.0),
    noise=st.floats(1e-3, 1.0),
    seed=st.integers(0, 2**16),
)
def test_log_probability_and_prediction_hypothesis(n, amp, scale, noise, seed):
    x, y = _data(n, seed)
    x_test = np.linspace(-1, 11, 7)
    logp, mean, cov = _numpy_gp(x, y, amp, scale, noise, x_test)
    with jax.enable_x64(True):
        value, (mu, var) = _fit_and_predict(amp, scale, noise, x, y, x_test)
    np.testing.assert_allclose(value, logp, rtol=1e-9)
    np.testing.assert_allclose(mu, mean, rtol=1e-7, atol=1e-9 * amp)
    np.testing.assert_allclose(var, np.diag(cov), rtol=1e-6, atol=1e-9 * amp)


@jax.jit
def _fit_and_predict(amp, scale, noise, x, y, x_test):
    gp = GaussianProcess(amp * Matern32(scale), x, diag=noise, solver="cholesky")
    return gp.log_probability(y), gp.condition(y, x_test)


KERNELS = {
    "Matern32": (lambda p: p[0] * Matern32(p[1]), lambda tk, p: p[0] * tk.Matern32(p[1])),
    "Matern52": (lambda p: p[0] * Matern52(p[1]), lambda tk, p: p[0] * tk.Matern52(p[1])),
    "ExpSquared+Exp": (
        lambda p: p[0] * ExpSquared(p[1]) + Exp(p[2]),
        lambda tk, p: p[0] * tk.ExpSquared(p[1]) + tk.Exp(p[2]),
    ),
    "QuasiPeriodic": (
        lambda p: QuasiPeriodic(p[0], p[1], p[2], 1.5),
        lambda tk, p: p[0] ** 2 * tk.ExpSquared(p[1]) * tk.ExpSineSquared(scale=p[2], gamma=1.5),
    ),
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_agrees_with_tinygp(name, x64):
    tinygp = pytest.importorskip("tinygp")
    ours_kernel, their_kernel = KERNELS[name]
    x, y = (jnp.asarray(a) for a in _data(80, 1))
    x_test = jnp.linspace(0.5, 9.5, 9)
    params = jnp.asarray([1.3, 2.1, 0.7])

    @jax.jit
    def ours(p):
        return GaussianProcess(ours_kernel(p), x, diag=0.04).log_probability(y)

    @jax.jit
    def theirs(p):
        return tinygp.GaussianProcess(
            their_kernel(tinygp.kernels, p), x, diag=0.04
        ).log_probability(y)

    np.testing.assert_allclose(ours(params), theirs(params), rtol=1e-10)
    np.testing.assert_allclose(jax.grad(ours)(params), jax.grad(theirs)(params), rtol=1e-10)
    gp = GaussianProcess(ours_kernel(params), x, diag=0.04)
    tg = tinygp.GaussianProcess(their_kernel(tinygp.kernels, params), x, diag=0.04)
    cond = tg.condition(y, x_test, diag=0.0).gp
    mu, var = gp.condition(y, x_test)
    np.testing.assert_allclose(mu, cond.loc, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var, cond.variance, rtol=1e-10, atol=1e-12)
    _, cov = gp.condition(y, x_test, return_cov=True)
    np.testing.assert_allclose(cov, cond.covariance, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [129, 301])  # above the block size of the recursive inverse
def test_gradient_of_large_covariance(n, dtype):
    """d logL / dC = 1/2 (alpha alpha^T - C^{-1}) against numpy's inverse."""
    x, y = _data(n, 11)
    K = _matern32(np.abs(x[:, None] - x[None, :]), 1.3) + 0.1 * np.eye(n)
    C, r = jnp.asarray(K, dtype), jnp.asarray(y, dtype)
    value, grad = jax.jit(jax.value_and_grad(gaussian_log_density, has_aux=True))(
        C, r, jnp.diagonal(C)
    )
    value = value[0]
    alpha = np.linalg.solve(K, y)
    expected = 0.5 * (np.outer(alpha, alpha) - np.linalg.inv(K))
    logdet = np.linalg.slogdet(K)[1]
    rtol = tolerance(dtype, float32=1e-4, float64=1e-11)
    np.testing.assert_allclose(value, -0.5 * (y @ alpha + logdet), rtol=rtol)
    atol = tolerance(dtype, float32=1e-4, float64=1e-12) * np.max(np.abs(expected))
    np.testing.assert_allclose(grad, expected, atol=atol)


def test_large_dense_agrees_with_tinygp(x64):
    tinygp = pytest.importorskip("tinygp")
    x, y = (jnp.asarray(a) for a in _data(300, 12))

    def ours(p):
        return GaussianProcess(p[0] * Matern32(p[1]), x, diag=p[2]).log_probability(y)

    def theirs(p):
        kernel = p[0] * tinygp.kernels.Matern32(p[1])
        return tinygp.GaussianProcess(kernel, x, diag=p[2]).log_probability(y)

    p = jnp.asarray([1.3, 0.9, 0.05])
    (v1, g1), (v2, g2) = (jax.jit(jax.value_and_grad(f))(p) for f in (ours, theirs))
    np.testing.assert_allclose(v1, v2, rtol=1e-10)
    np.testing.assert_allclose(g1, g2, rtol=1e-10)


def test_check_grads_second_order(x64):
    x, y = (jnp.asarray(a) for a in _data(12, 2))

    def f(amp, scale, noise, y):
        return GaussianProcess(amp * Matern52(scale), x, diag=noise).log_probability(y)

    check_grads(jax.jit(f), (jnp.asarray(1.2), jnp.asarray(0.8), jnp.asarray(0.05), y), order=2)


def test_forward_equals_reverse(dtype):
    x, y = (jnp.asarray(a, dtype) for a in _data(30, 3))

    def f(scale):
        return GaussianProcess(SHO(2.0, 3.0, 1.0) + Matern32(scale), x, diag=0.1).log_probability(y)

    scale = jnp.asarray(1.5, dtype)
    _, forward = jax.jvp(f, (scale,), (jnp.ones_like(scale),))
    np.testing.assert_allclose(
        forward, jax.grad(f)(scale), rtol=tolerance(dtype, float32=1e-4, float64=1e-12)
    )


def test_condition_at_data_with_noise(x64):
    x, y = _data(30, 4)
    _, mean, cov = _numpy_gp(x, y, 1.0, 1.3, 0.09, x)
    gp = GaussianProcess(Matern32(1.3), x, diag=0.09)
    mu, var = gp.condition(y)
    np.testing.assert_allclose(mu, mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var, np.diag(cov), rtol=1e-8, atol=1e-12)
    _, var_noisy = gp.condition(y, include_noise=True)
    np.testing.assert_allclose(var_noisy, np.diag(cov) + 0.09, rtol=1e-9)
    _, cov_noisy = gp.condition(y, jnp.asarray([0.5, 2.5]), include_noise=True, return_cov=True)
    reference = _numpy_gp(x, y, 1.0, 1.3, 0.09, np.asarray([0.5, 2.5]))[2] + 0.09 * np.eye(2)
    np.testing.assert_allclose(cov_noisy, reference, rtol=1e-8)
    heteroscedastic = GaussianProcess(Matern32(1.3), x, diag=jnp.full(30, 0.09))
    with pytest.raises(ValueError, match="scalar diag"):
        heteroscedastic.condition(y, jnp.asarray([0.5]), include_noise=True)
    # Without the noise at X_test, a per-point diag predicts anywhere.
    test_points = np.asarray([0.5, 2.5, 7.0])
    _, mean, cov = _numpy_gp(x, y, 1.0, 1.3, 0.09, test_points)
    mu, var = heteroscedastic.condition(y, jnp.asarray(test_points))
    np.testing.assert_allclose(mu, mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var, np.diag(cov), rtol=1e-8, atol=1e-12)


class _Line(eqx.Module):
    slope: jax.Array
    offset: jax.Array

    def __call__(self, t):
        return self.slope * t + self.offset


@pytest.mark.parametrize("kind", ["array", "callable", "module"])
def test_mean_models_the_residual(kind, x64):
    x, y = (jnp.asarray(a) for a in _data(40, 5))
    line = _Line(jnp.asarray(0.3), jnp.asarray(-1.0))
    mean = {"array": line(x), "callable": lambda t: 0.3 * t - 1.0, "module": line}[kind]
    gp = GaussianProcess(Matern32(1.3), x, diag=0.1, mean=mean)
    zero = GaussianProcess(Matern32(1.3), x, diag=0.1)
    np.testing.assert_allclose(gp.log_probability(y), zero.log_probability(y - line(x)), rtol=1e-13)
    mu, _ = gp.condition(y)
    np.testing.assert_allclose(mu, zero.condition(y - line(x))[0] + line(x), rtol=1e-12)
    if kind == "array":
        with pytest.raises(ValueError, match="callable mean"):
            gp.condition(y, jnp.asarray([1.0]))
    else:
        x_test = jnp.asarray([1.0, 20.0])
        mu, _ = gp.condition(y, x_test)
        np.testing.assert_allclose(
            mu, zero.condition(y - line(x), x_test)[0] + line(x_test), rtol=1e-12
        )
    if kind == "module":  # gradients reach the mean model's parameters
        grad = jax.grad(
            lambda m: GaussianProcess(Matern32(1.3), x, diag=0.1, mean=m).log_probability(y)
        )(line)
        assert np.isfinite(grad.slope) and grad.slope != 0


def test_sample_is_mean_plus_cholesky_draws(x64):
    x, _ = _data(20, 6)
    gp = GaussianProcess(Matern32(1.3), x, diag=0.1, mean=2.0)
    key = jax.random.key(3)
    draws = gp.sample(key, (4,))
    assert draws.shape == (4, 20)
    K = _matern32(np.abs(x[:, None] - x[None, :]), 1.3) + 0.1 * np.eye(20)
    z = np.asarray(jax.random.normal(key, (4, 20), jnp.float64))
    np.testing.assert_allclose(draws, 2.0 + z @ scipy.linalg.cholesky(K, lower=True).T, rtol=1e-10)


def test_numpyro_distribution(x64):
    pytest.importorskip("numpyro")
    x, y = (jnp.asarray(a) for a in _data(20, 7))
    gp = GaussianProcess(Matern32(1.3), x, diag=0.1)
    dist = gp.numpyro_dist()
    np.testing.assert_allclose(dist.log_prob(y), gp.log_probability(y), rtol=1e-14)
    assert dist.sample(jax.random.key(0), (3,)).shape == (3, 20)
    assert dist.event_shape == (20,)


def _classic_failure():
    """RBF, N = 1200 on [-5, 5], scale 1.5, nugget 1e-6, float32 (NaN with a naive Cholesky)."""
    x = jnp.linspace(-5, 5, 1200, dtype=jnp.float32)
    y = jnp.sin(x)
    return x, y


def test_classic_float32_failure_is_reported():
    x, y = _classic_failure()
    K = ExpSquared(jnp.float32(1.5))(x) + 1e-6 * jnp.eye(1200, dtype=jnp.float32)
    naive = -0.5 * y @ jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(K), True), y)
    assert np.isnan(naive)  # what other libraries return silently
    gp = GaussianProcess(ExpSquared(jnp.float32(1.5)), x, diag=jnp.float32(1e-6))
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*not positive definite"):
        eqx.filter_jit(gp.log_probability)(y)
    with pytest.raises(CheckError, match="not positive definite"):  # eager: raised on the host
        gp.log_probability(y)
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*not positive definite"):
        eqx.filter_jit(gp.condition)(y)

    def flagged(scale):
        gp = GaussianProcess(ExpSquared(scale), x, diag=jnp.float32(1e-6), on_failure="-inf")
        return gp.log_probability(y)

    value, grad = jax.value_and_grad(flagged)(jnp.float32(1.5))
    assert value == -np.inf and grad == 0


def test_classic_problem_works_in_float64(x64):
    x, y = (a.astype(jnp.float64) for a in _classic_failure())
    value = GaussianProcess(ExpSquared(1.5), x, diag=1e-6).log_probability(y)
    assert np.isfinite(value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"diag": -0.1}, "diag must be >= 0"),
        ({"diag": jnp.ones(3)}, "diag must be a scalar or of shape"),
        ({"mean": jnp.ones(3)}, "mean must be"),
        ({"solver": "lu"}, "solver must be one of"),
        ({"on_failure": "nan"}, "on_failure must be one of"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianProcess(Matern32(1.0), jnp.linspace(0, 1, 5), **kwargs)


def test_bad_shapes():
    gp = GaussianProcess(Matern32(1.0), jnp.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="y must have shape"):
        gp.log_probability(jnp.ones(4))
    with pytest.raises(ValueError, match="X must be 1-D"):
        GaussianProcess(Matern32(1.0), jnp.ones((5, 1)))
    with pytest.raises(ValueError, match=r"X must hold at least one point, got shape \(0,\)"):
        GaussianProcess(Matern32(1.0), jnp.zeros(0))
    with pytest.raises(ValueError, match="X_test must be 1-D"):
        gp.condition(jnp.ones(5), jnp.ones((2, 2)))
    with pytest.raises(TypeError, match="kernel"):
        GaussianProcess(lambda a, b: a, jnp.linspace(0, 1, 5))


def test_traced_negative_noise_raises():
    x = jnp.linspace(0, 1, 5)
    f = eqx.filter_jit(lambda d: GaussianProcess(Matern32(1.0), x, diag=d).log_probability(x))
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*diag must be >= 0"):
        f(jnp.asarray(-1.0))


def test_new_parameters_never_recompile(dtype):
    x, y = (jnp.asarray(a, dtype) for a in _data(50, 8))

    @eqx.filter_jit
    def loss(kernel, noise):
        return jax.value_and_grad(lambda k: GaussianProcess(k, x, diag=noise).log_probability(y))(
            kernel
        )

    params = [
        (jnp.asarray(s, dtype), jnp.asarray(n, dtype))
        for s, n in [(1.0, 0.1), (2.0, 0.3), (0.5, 0.01)]
    ]
    kernels = [Matern32(s) + SHO(jnp.asarray(2.0, dtype), s, s) for s, _ in params]
    jax.block_until_ready(loss(kernels[0], params[0][1]))
    with count_compiles() as counts:
        for kernel, (_, noise) in zip(kernels[1:], params[1:], strict=True):
            jax.block_until_ready(loss(kernel, noise))
    assert counts.compiles == 0


def test_vmap_over_parameters(x64):
    x, y = (jnp.asarray(a) for a in _data(30, 9))
    scales = jnp.asarray([0.5, 1.0, 2.0])
    batched = jax.vmap(lambda s: GaussianProcess(Matern32(s), x, diag=0.1).log_probability(y))(
        scales
    )
    single = [GaussianProcess(Matern32(s), x, diag=0.1).log_probability(y) for s in scales]
    np.testing.assert_allclose(batched, single, rtol=1e-13)


@pytest.mark.parametrize(
    "make", [lambda: 1.3 * Matern32(1.5), lambda: SHO(2.0, 3.0, 0.7) + Exp(4.0)]
)
def test_quasisep_equals_dense(make, x64):
    x, y = (jnp.asarray(a) for a in _data(40, 10))
    x_test = jnp.asarray([0.3, 4.4, 12.0])

    @eqx.filter_jit
    def run(kernel, solver):
        def gp(k):
            return GaussianProcess(k, x, diag=0.05, solver=solver)

        value, grad = jax.value_and_grad(lambda k: gp(k).log_probability(y))(kernel)
        return value, grad, gp(kernel).condition(y, x_test)

    dense, quasi = run(make(), "cholesky"), run(make(), "quasisep")
    for a, b in zip(
        jax.tree_util.tree_leaves(dense), jax.tree_util.tree_leaves(quasi), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert isinstance(GaussianProcess(make(), jnp.linspace(0, 1, 600)).solver, Quasisep)
    assert isinstance(GaussianProcess(make(), jnp.linspace(1, 0, 600)).solver, Dense)
    assert isinstance(GaussianProcess(ExpSquared(1.0), jnp.linspace(0, 1, 600)).solver, Dense)
    with pytest.raises(ValueError, match="does not support"):
        GaussianProcess(ExpSquared(1.0), x, solver="quasisep")
    with pytest.raises(ValueError, match="X must be sorted"):
        GaussianProcess(make(), x[::-1], solver="quasisep")


@pytest.mark.parametrize(
    "solver",
    ["cholesky", Quasisep(method="sequential"), Quasisep(method="parallel")],
    ids=["cholesky", "sequential", "parallel"],
)
def test_eager_calls_run_checked_programs_without_callbacks(solver, x64, monkeypatch):
    """Called outside jit (also under eager grad), a GP runs one program whose checks are
    outputs: no host callback (JAX's persistent cache keeps it), bad values still raise."""
    from diffkern import _checks
    from diffkern.gp._gp import _log_probability

    x, y = (jnp.asarray(a) for a in _data(20, 13))
    kernel = Matern32(1.3) + SHO(2.0, 3.0, 0.7)
    gp = GaussianProcess(kernel, x, diag=0.1, solver=solver)
    assert "callback" not in _log_probability.lower(gp, y).as_text()
    callbacks = []
    error_if = _checks.eqx.error_if
    monkeypatch.setattr(
        _checks.eqx, "error_if", lambda *args: callbacks.append(args) or error_if(*args)
    )
    value, grad = jax.value_and_grad(
        lambda k: GaussianProcess(k, x, diag=0.1, solver=solver).log_probability(y)
    )(kernel)
    assert np.isfinite(value) and all(np.isfinite(g) for g in jax.tree.leaves(grad))
    assert callbacks == []  # no check fell back to equinox.error_if
    if solver == "cholesky":  # jitter makes the example below definite: see the float32 case
        return
    repeated = jnp.asarray([0.0, 1.0, 1.0, 2.0])  # a repeated point, no noise: singular
    singular = GaussianProcess(Exp(1.0), repeated, solver=solver)
    with pytest.raises(CheckError, match="not positive definite"):
        singular.log_probability(jnp.ones(4))
    with pytest.raises(CheckError, match="not positive definite"):
        jax.grad(lambda k: GaussianProcess(k, repeated, solver=solver).log_probability(y[:4]))(
            Exp(1.0)
        )
    with pytest.raises(CheckError, match="not positive definite"):
        singular.condition(jnp.ones(4), jnp.asarray([0.5]))


def test_non_finite_data_and_test_points_raise():
    t = jnp.linspace(0.0, 10.0, 20)
    y = jnp.sin(t)
    for solver in ("cholesky", "quasisep"):
        gp = GaussianProcess(Matern32(1.0), t, diag=0.1, solver=solver)
        with pytest.raises(CheckError, match="y - mean"):
            gp.log_probability(y.at[3].set(jnp.nan))
        with pytest.raises(CheckError, match="X_test must be finite"):
            gp.condition(y, jnp.asarray([1.0, jnp.inf]))
