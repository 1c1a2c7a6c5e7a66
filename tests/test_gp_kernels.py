"""Kernels against float64 numpy formulas and celerite2; gradients at zero distance; bad input."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffkern.gp import (
    SHO,
    Constant,
    Cosine,
    Exp,
    ExpSineSquared,
    ExpSquared,
    GaussianProcess,
    Matern32,
    Matern52,
    Product,
    QuasiPeriodic,
    Sum,
)
from diffkern.testing import check_grads, tolerance

TAU = np.concatenate([[0.0], np.geomspace(1e-6, 30.0, 60)])

# A check that fails inside the caller's jit (or equinox.filter_jit): XLA wraps the CheckError
# its host callback raised (a ValueError once the program has run before: JAX's fast path).
CALLBACK_ERRORS = (jax.errors.JaxRuntimeError, ValueError)


def _sho_reference(tau, omega, quality, sigma):
    """celerite's SHO kernel in float64 numpy (three regimes of the damping)."""
    x, a = omega * tau, 1 / (2 * quality)
    if quality > 0.5:
        eta = math.sqrt(1 - a * a)
        g = np.cos(eta * x) + a * np.sin(eta * x) / eta
    elif quality < 0.5:  # e^{-a x} (cosh(b x) + a sinh(b x) / b), without overflow
        b = math.sqrt(a * a - 1)
        return (
            sigma**2
            * 0.5
            * ((1 + a / b) * np.exp((b - a) * x) + (1 - a / b) * np.exp(-(a + b) * x))
        )
    else:
        g = 1 + x
    return sigma**2 * np.exp(-a * x) * g


REFERENCES = [
    (lambda: Exp(1.7), lambda t: np.exp(-t / 1.7)),
    (
        lambda: Matern32(1.7),
        lambda t: (1 + math.sqrt(3) * t / 1.7) * np.exp(-math.sqrt(3) * t / 1.7),
    ),
    (
        lambda: Matern52(1.7),
        lambda t: (
            (1 + math.sqrt(5) * t / 1.7 + 5 * (t / 1.7) ** 2 / 3) * np.exp(-math.sqrt(5) * t / 1.7)
        ),
    ),
    (lambda: ExpSquared(1.7), lambda t: np.exp(-0.5 * (t / 1.7) ** 2)),
    (lambda: Cosine(2.3), lambda t: np.cos(2 * np.pi * t / 2.3)),
    (lambda: ExpSineSquared(2.3, 1.4), lambda t: np.exp(-1.4 * np.sin(np.pi * t / 2.3) ** 2)),
    (
        lambda: QuasiPeriodic(0.8, 5.0, 2.3, 1.4),
        lambda t: 0.64 * np.exp(-0.5 * (t / 5.0) ** 2 - 1.4 * np.sin(np.pi * t / 2.3) ** 2),
    ),
    (lambda: Constant(0.3), lambda t: np.full_like(t, 0.3)),
    (lambda: SHO(1.3, 3.0, 0.7), lambda t: _sho_reference(t, 1.3, 3.0, 0.7)),
    (lambda: SHO(1.3, 0.5, 0.7), lambda t: _sho_reference(t, 1.3, 0.5, 0.7)),
    (lambda: SHO(1.3, 0.2, 0.7), lambda t: _sho_reference(t, 1.3, 0.2, 0.7)),
    (
        lambda: Exp(1.0) + 2.0 * Matern32(3.0),
        lambda t: np.exp(-t) + 2 * (1 + math.sqrt(3) * t / 3) * np.exp(-math.sqrt(3) * t / 3),
    ),
    (lambda: Cosine(4.0) * Exp(2.0), lambda t: np.cos(2 * np.pi * t / 4) * np.exp(-t / 2)),
]


@pytest.mark.parametrize("make, reference", REFERENCES)
def test_values_match_numpy(make, reference, dtype):
    kernel = make()
    value = kernel.evaluate(jnp.asarray(TAU, dtype))
    assert value.dtype == dtype
    # float32 periodic kernels err by ~eps * (phase = 2 pi tau / period ~ 80 rad here).
    atol = tolerance(dtype, float32=2e-5, float64=1e-14)
    rtol = tolerance(dtype, float32=2e-6, float64=1e-13)
    np.testing.assert_allclose(value, reference(TAU), rtol=rtol, atol=atol)


@pytest.mark.parametrize("make, reference", REFERENCES)
def test_matrix_matches_numpy_far_from_zero(make, reference, dtype):
    """kernel(X1, X2) on inputs far from 0 (periodic kernels take sines of phases from an
    origin inside the data, not per element: tau is never formed for them)."""
    x1 = jnp.asarray(1000 + np.linspace(0, 30, 9), dtype)
    x2 = jnp.asarray(1000 + np.geomspace(1e-3, 30, 7)[::-1], dtype)
    K = make()(x1, x2)
    assert K.shape == (9, 7) and K.dtype == dtype
    tau = np.abs(np.asarray(x1, np.float64)[:, None] - np.asarray(x2, np.float64)[None, :])
    atol = tolerance(dtype, float32=2e-5, float64=1e-13)
    np.testing.assert_allclose(
        K, reference(tau), rtol=tolerance(dtype, float32=2e-6, float64=1e-13), atol=atol
    )


@pytest.mark.parametrize("cls", [Cosine, ExpSineSquared, QuasiPeriodic])
def test_periodic_matrix_derivatives(cls, x64):
    """The grid form's derivatives in the inputs and the parameters (the phases' origin is
    a stop_gradient: the kernel depends on differences only)."""
    x = jnp.asarray([3.0, 4.1, 7.7, 9.2])
    params = {Cosine: (2.3,), ExpSineSquared: (2.3, 1.4), QuasiPeriodic: (0.8, 5.0, 2.3, 1.4)}
    p = jnp.asarray(params[cls])
    check_grads(lambda x, p: cls(*p)(x, x + 0.3), (x, p), order=2, modes=("fwd", "rev"))


def test_matrix_from_inputs(dtype):
    x1 = jnp.linspace(0, 3, 5, dtype=dtype)
    x2 = jnp.linspace(-1, 2, 4, dtype=dtype)
    K = Matern52(1.2)(x1, x2)
    assert K.shape == (5, 4) and K.dtype == dtype
    tau = np.abs(np.asarray(x1, np.float64)[:, None] - np.asarray(x2, np.float64)[None, :])
    np.testing.assert_allclose(K, Matern52(1.2).evaluate(jnp.asarray(tau, dtype)), rtol=1e-6)
    np.testing.assert_array_equal(Matern52(1.2)(x1), Matern52(1.2)(x1, x1))


def test_algebra():
    k1, k2 = Exp(1.0), Matern32(2.0)
    assert isinstance(k1 + k2, Sum) and isinstance(k1 * k2, Product)
    scaled = 3.0 * k1
    assert isinstance(scaled, Product) and isinstance(scaled.left, Constant)
    assert isinstance(k1 * 3.0, Product) and isinstance(k1 + 1.0, Sum)
    tau = jnp.linspace(0, 4, 9)
    np.testing.assert_allclose(scaled.evaluate(tau), 3 * k1.evaluate(tau), rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    omega=st.floats(0.05, 20.0),
    quality=st.floats(0.05, 50.0),
    sigma=st.floats(0.01, 10.0),
)
def test_sho_matches_celerite2(omega, quality, sigma):
    terms = pytest.importorskip("celerite2.terms")
    tau = np.linspace(0, 10, 40)
    with jax.enable_x64(True):
        value = SHO(omega, quality, sigma).evaluate(jnp.asarray(tau))
    # celerite2 regularises quality = 1/2 with a 1e-5 offset, so stay clear of it by 1e-3.
    if abs(quality - 0.5) > 1e-3:
        reference = terms.SHOTerm(w0=omega, Q=quality, sigma=sigma).get_value(tau)
        np.testing.assert_allclose(value, reference, rtol=1e-10, atol=1e-12 * sigma**2)
    np.testing.assert_allclose(
        value, _sho_reference(tau, omega, quality, sigma), rtol=1e-9, atol=1e-12 * sigma**2
    )


def test_sho_smooth_through_critical_damping(x64):
    tau = jnp.linspace(0, 5, 30)

    def total(q):
        return jnp.sum(SHO(1.1, q, 0.9).evaluate(tau))

    grads = [jax.grad(total)(q) for q in (0.5 - 1e-7, 0.5, 0.5 + 1e-7)]
    assert all(np.isfinite(g) for g in grads)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5)
    np.testing.assert_allclose(grads[2], grads[1], rtol=1e-5)


@pytest.mark.parametrize("cls", [Exp, Matern32, Matern52, ExpSquared])
def test_gradients_finite_at_zero_distance(cls, dtype):
    x = jnp.asarray([0.5, 0.5, 1.0], dtype)

    def total(scale, x):
        return jnp.sum(cls(scale)(x))

    g_scale, g_x = jax.grad(total, argnums=(0, 1))(jnp.asarray(1.3, dtype), x)
    assert np.isfinite(g_scale) and np.all(np.isfinite(g_x))
    h = jax.hessian(total)(jnp.asarray(1.3, dtype), x)
    assert np.isfinite(h)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: Exp(-1.0), "scale"),
        (lambda: Matern32(0.0), "scale"),
        (lambda: Cosine(-2.0), "period"),
        (lambda: ExpSineSquared(1.0, -0.1), "gamma"),
        (lambda: SHO(1.0, -1.0, 1.0), "quality"),
        (lambda: QuasiPeriodic(1.0, -1.0, 1.0, 1.0), "scale"),
        (lambda: Constant(-1.0), "value"),
        (lambda: Exp(jnp.ones(3)), "scale"),
    ],
)
def test_bad_parameters_name_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize(
    "scale, diag, message",
    [(np.nan, 0.1, "scale must be finite"), (1.0, np.inf, "diag must be finite")],
)
def test_non_finite_values_under_eager_grad_say_so(scale, diag, message):
    """Under eager grad the values are known: non-finite ones are named as such (not as out of
    their bounds), at once."""
    x = jnp.linspace(0.0, 1.0, 5)
    log_probability = lambda s, d: GaussianProcess(Matern32(s), x, diag=d).log_probability(x)
    with pytest.raises(ValueError, match=message):
        jax.grad(log_probability)(jnp.asarray(scale), jnp.asarray(diag))


def test_traced_bad_parameter_raises_where_the_kernel_is_used():
    """Inside jit a bound is checked by kernel(X) and by the solvers, not when the kernel is
    built: a GP call compiles one host callback for its kernel, data and factorisation."""
    x = jnp.linspace(0.0, 1.0, 5)
    matrix = eqx.filter_jit(lambda s: Matern32(s)(x))
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*scale must be > 0"):
        matrix(-1.0)
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*scale must be finite"):
        matrix(float("nan"))
    assert np.isfinite(matrix(1.0)).all()

    def log_probability(amplitude, scale, diag):
        kernel = amplitude * Matern32(scale) + SHO(1.0, 2.0, 0.5)
        return GaussianProcess(kernel, x, diag=diag).log_probability(jnp.sin(x))

    good = (jnp.asarray(1.0), jnp.asarray(0.5), jnp.asarray(0.1))
    assert jax.jit(log_probability).lower(*good).as_text().count("callback") == 1
    for bad, message in [
        ((-1.0, 0.5, 0.1), "Constant value must be >= 0"),
        ((1.0, -0.5, 0.1), "scale must be > 0"),
        ((1.0, 0.5, -0.1), "diag must be >= 0"),
    ]:
        with pytest.raises(CALLBACK_ERRORS, match=f"CheckError: .*{message}"):
            jax.jit(log_probability)(*map(jnp.asarray, bad))
    assert np.isfinite(jax.jit(log_probability)(*good))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_kernel_matrix_of_non_finite_inputs_raises(bad):
    """kernel(X1, X2) names the non-finite input: at once when its values are known (also
    under eager grad), in the run-time check under jit (never a silent NaN matrix)."""
    kernel, x = QuasiPeriodic(1.0, 2.0, 3.0, 0.5), np.array([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="X1 must be finite"):
        kernel(np.array([0.0, bad]))
    with pytest.raises(ValueError, match="X2 must be finite"):
        kernel(x, np.array([bad]))
    with pytest.raises(ValueError, match="X1 must be finite"):
        jax.grad(lambda X: kernel(X).sum())(jnp.array([0.0, bad]))
    matrix = jax.jit(lambda X1, X2: kernel(X1, X2))
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*X2 must be finite"):
        matrix(jnp.asarray(x), jnp.array([1.0, bad]))
    assert np.isfinite(matrix(jnp.asarray(x), jnp.asarray(x))).all()


def test_inputs_must_be_1d():
    with pytest.raises(ValueError, match="X1 must be 1-D"):
        Exp(1.0)(jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="X2 must be 1-D"):
        Exp(1.0)(jnp.ones(3), jnp.ones((2, 2)))
