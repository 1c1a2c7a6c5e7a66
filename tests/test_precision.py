"""diffkern.precision: float64 on demand, dtype policy, and the same code in both precisions."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from diffkern import precision
from diffkern.fit import minimize
from diffkern.testing import tolerance


def test_float64_block_and_restore():
    outer = precision.x64_enabled()
    with precision.float64():
        assert precision.x64_enabled()
        assert jnp.ones(3).dtype == jnp.float64
        assert precision.default_float() == np.float64
        with precision.float64(False):
            assert jnp.ones(3).dtype == jnp.float32
            assert precision.default_float() == np.float32
    assert precision.x64_enabled() == outer


def test_dtype_policy(x64):
    f32, f64 = jnp.ones(2, jnp.float32), jnp.ones(2, jnp.float64)
    assert precision.result_dtype(f32, jnp.arange(2)) == np.float32  # integers never widen
    with jax.numpy_dtype_promotion("standard"):  # mixed floats need standard promotion
        assert precision.result_dtype(f32, f64) == np.float64
    assert precision.result_dtype(jnp.arange(2)) == np.float64  # the default float under x64
    assert precision.as_float(jnp.arange(3)).dtype == jnp.float64
    assert precision.as_float(f32).dtype == jnp.float32
    assert precision.eps(jnp.float32) == pytest.approx(2.0**-23)
    assert precision.eps(jnp.float64) == pytest.approx(2.0**-52)


def _damped_oscillator_fit(dtype):
    """A small least-squares fit written once, run in whatever precision ``dtype`` selects."""
    t = jnp.linspace(0.0, 10.0, 50, dtype=dtype)
    y = jnp.exp(-0.3 * t) * jnp.cos(1.7 * t)

    def loss(p):
        return jnp.mean((jnp.exp(-p[0] * t) * jnp.cos(p[1] * t) - y) ** 2)

    start = jnp.array([0.2, 1.6], dtype)
    return minimize(loss, start, optax.adam(0.01), steps=1500, progress=False)


def test_same_code_in_float32_and_float64():
    with precision.float64(False):
        single = _damped_oscillator_fit(jnp.float32)
    with precision.float64():
        double = _damped_oscillator_fit(jnp.float64)
    assert single.params.dtype == jnp.float32 and double.params.dtype == jnp.float64
    np.testing.assert_allclose(double.params, [0.3, 1.7], atol=1e-6)
    np.testing.assert_allclose(single.params, double.params, atol=1e-4)


def test_float32_is_not_enough_for_absolute_julian_dates(dtype):
    """BJD ~ 2.46e6 d: float32 spacing there is 0.25 d, so subtract an epoch first."""
    bjd = 2457782.65615
    error = abs(float(jnp.asarray(bjd, dtype)) - bjd)
    assert error < tolerance(dtype, float32=0.25, float64=1e-9)
    relative = jnp.asarray(bjd - 2457782.0, dtype)
    assert abs(float(relative) - (bjd - 2457782.0)) < tolerance(dtype, float32=1e-7, float64=1e-12)
    if dtype == jnp.float32:
        assert error > 0.01
