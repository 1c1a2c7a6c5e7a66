"""Kepler's contract at the edges: the range of |M| per dtype, E in [0, 2 pi), real inputs only."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kepler_accuracy import E_TOL
from test_kepler_reference import angle_error, reference

from diffkern import CheckError
from diffkern.kepler import KeplerSolver, eccentric_anomaly, kepler, true_anomaly
from diffkern.kepler._solve import MAX_MEAN_ANOMALY
from diffkern.precision import float64

# A check that fails inside the caller's jit (or equinox.filter_jit): XLA wraps the CheckError
# its host callback raised (a ValueError once the program has run before: JAX's fast path).
CALLBACK_ERRORS = (jax.errors.JaxRuntimeError, ValueError)


def _limit(dtype) -> float:
    return MAX_MEAN_ANOMALY[jnp.dtype(dtype).name]


def _beyond(dtype) -> np.ndarray:
    """The first values past the limit, and far past it (float32 1e30 was NaN without error)."""
    limit = np.asarray(_limit(dtype), dtype)
    return np.array([np.nextafter(limit, np.inf), -2 * limit, 1e30, -np.finfo(dtype).max], dtype)


def test_mean_anomaly_up_to_the_limit_is_exact(dtype):
    limit = np.asarray(_limit(dtype), dtype)
    cycles = np.round(limit / (2 * np.pi))
    near = 2 * np.pi * np.array([cycles - 1, cycles - 2, 1000, 7])  # M near 2 pi k: all digits kept
    near = np.concatenate([near, -near]).astype(dtype)
    up = np.nextafter(near, np.asarray(np.inf, dtype))
    M = np.concatenate([[limit, -limit, np.nextafter(limit, 0)], near, up]).astype(dtype)
    M, e = np.meshgrid(M, np.array([0.0, 0.5, 0.999, 1 - 2.0**-20], dtype))
    M, e = M.ravel(), e.ravel()
    E = jax.jit(eccentric_anomaly)(jnp.asarray(M), jnp.asarray(e))
    assert bool(jnp.all((E >= 0) & (E < 2 * np.pi)))
    assert angle_error(E, reference(M, e)["E"]).max() <= E_TOL[jnp.dtype(dtype).name]


def test_mean_anomaly_beyond_the_limit_raises(dtype):
    M = jnp.asarray(_beyond(dtype))
    e = jnp.full_like(M, 0.5)
    for i in range(M.size):
        with pytest.raises(CheckError, match=r"\|mean_anomaly\| <= "):
            eccentric_anomaly(M[i], e[i])
    with pytest.raises(CheckError, match="mean_anomaly"):
        kepler(jnp.concatenate([jnp.zeros(3, dtype), M]), 0.5)
    with pytest.raises(CheckError, match="mean_anomaly"):
        jax.grad(eccentric_anomaly)(M[0], e[0])


def test_mean_anomaly_beyond_the_limit_under_transformations(dtype):
    M = jnp.asarray(_beyond(dtype))
    e = jnp.full_like(M, 0.5)
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*mean_anomaly"):
        jax.block_until_ready(eqx.filter_jit(jax.vmap(jax.grad(eccentric_anomaly)))(M, e))
    # Unchecked, an out-of-range M gives NaN (never a wrong number), and so does its derivative.
    unchecked = KeplerSolver(check=False)
    M = M.at[0].set(1.0)
    E = jax.jit(jax.vmap(unchecked))(M, e)
    assert bool(jnp.isfinite(E[0])) and bool(jnp.all(jnp.isnan(E[1:])))
    grad = jax.jit(jax.vmap(jax.grad(unchecked)))(M, e)
    assert bool(jnp.isfinite(grad[0])) and bool(jnp.all(jnp.isnan(grad[1:])))


def test_eccentric_anomaly_stays_below_two_pi(dtype):
    # M -> 0 from below: 2 pi - E (and f + 2 pi) round to 2 pi; the result is the float below.
    tiny = np.array([-1e-30, -1e-12, -np.finfo(dtype).smallest_subnormal, -1e-7], dtype)
    M = jnp.asarray(np.concatenate([tiny, tiny + np.asarray(2 * np.pi, dtype)]))
    e = jnp.full_like(M, 0.3)
    for E in (
        eccentric_anomaly(M, e),
        jax.jit(jax.vmap(eccentric_anomaly))(M, e),
        KeplerSolver(check=False).solve(M, e).eccentric_anomaly,
        true_anomaly(M, e),
    ):
        assert bool(jnp.all((E >= 0) & (E < 2 * np.pi))), E
        assert angle_error(E, 0).max() <= 1e-6
    grad = jax.jit(jax.vmap(jax.grad(eccentric_anomaly)))(M, e)
    np.testing.assert_allclose(grad, 1 / 0.7, rtol=1e-5)  # the clamp leaves dE/dM alone


@pytest.mark.parametrize("name", ["mean_anomaly", "ecc"])
def test_complex_input_is_rejected(name):
    args = {"mean_anomaly": jnp.asarray([1.0, 2.0]), "ecc": jnp.asarray(0.5)}
    args[name] = args[name].astype(jnp.complex64)
    for fn in (eccentric_anomaly, kepler, jax.jit(eccentric_anomaly)):
        with pytest.raises(TypeError, match=name):
            fn(**args)
    with pytest.raises(TypeError, match=name):
        eccentric_anomaly(**{**args, name: 1 + 0j})  # a Python complex scalar too


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@settings(max_examples=40, deadline=None)
@given(
    exponent=st.floats(-30, 40),
    sign=st.sampled_from([-1.0, 1.0]),
    e=st.floats(0, 1, exclude_max=True),
)
def test_contract_holds_for_every_finite_mean_anomaly(dtype_name, exponent, sign, e):
    """Either CheckError (exactly when |M| is past the limit) or E within tolerance of mpmath."""
    with float64(dtype_name == "float64"):
        dtype = np.dtype(dtype_name)
        with np.errstate(over="ignore"):  # may round to +-inf in float32
            M = np.asarray(sign * 10.0**exponent).astype(dtype)
        e = np.asarray(e, dtype)
        if e >= 1 or not np.isfinite(M):  # rounding to the dtype: outside the property
            return
        if abs(M) > _limit(dtype):
            with pytest.raises(CheckError, match="mean_anomaly"):
                eccentric_anomaly(jnp.asarray(M), jnp.asarray(e))
            return
        E = eccentric_anomaly(jnp.asarray(M), jnp.asarray(e))
        assert 0 <= E < 2 * np.pi
        assert angle_error(E, reference(M, e)["E"]) <= E_TOL[dtype_name]
