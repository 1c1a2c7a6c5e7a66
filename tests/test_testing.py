"""diffkern.testing: per-dtype tolerances and finite-difference gradient checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.testing import central_difference, check_grads, fd_step, tolerance


def test_tolerance_picks_by_dtype():
    assert tolerance(jnp.float32, float32=1e-5, float64=1e-12) == 1e-5
    assert tolerance(np.float64, float32=1e-5, float64=1e-12) == 1e-12
    with pytest.raises(ValueError, match="dtype must be a floating dtype"):
        tolerance(jnp.int32, float32=1e-5, float64=1e-12)


def test_fd_step_is_cube_root_of_eps():
    assert fd_step(np.float64) == pytest.approx(np.finfo(np.float64).eps ** (1 / 3))
    assert fd_step(np.float32) == pytest.approx(np.finfo(np.float32).eps ** (1 / 3))


def test_check_grads_accepts_exact_and_rejects_wrong_derivative(x64):
    x = jnp.linspace(0.1, 2.0, 5)
    check_grads(jnp.sin, (x,), order=2)

    @jax.custom_jvp
    def wrong_sin(x):
        return jnp.sin(x)

    wrong_sin.defjvp(lambda p, t: (jnp.sin(p[0]), 2.0 * jnp.cos(p[0]) * t[0]))
    with pytest.raises(AssertionError):
        check_grads(wrong_sin, (x,), order=1)


def test_central_difference_matches_analytic(x64):
    x = jnp.linspace(-3.0, 3.0, 7)
    np.testing.assert_allclose(central_difference(jnp.exp, x), jnp.exp(x), rtol=1e-9)
