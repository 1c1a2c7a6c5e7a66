"""Small batched solves without LAPACK (the parallel filter's combination step)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.gp._small_solve import solve_small
from diffkern.testing import check_grads

RTOL = {"float32": 1e-4, "float64": 1e-12}  # times cond(a) ~ 10-100 below

_solve = jax.jit(solve_small)  # one program per shape, shared by the tests


def _systems(rng, batch, n, k):
    a = rng.normal(size=(*batch, n, n)) + 3 * np.eye(n)
    return a, rng.normal(size=(*batch, n, k))


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_matches_numpy(n, dtype):
    a, b = _systems(np.random.default_rng(n), (4, 5), n, 3)
    got = _solve(jnp.asarray(a, dtype), jnp.asarray(b, dtype))
    assert got.dtype == dtype and got.shape == b.shape
    np.testing.assert_allclose(
        got,
        np.linalg.solve(a, b),
        rtol=RTOL[jnp.dtype(dtype).name],
        atol=RTOL[jnp.dtype(dtype).name],
    )


def test_pivots_past_a_zero_diagonal(x64):
    """Leading zeros on the diagonal (no elimination without row swaps)."""
    a = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    b = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(
        _solve(jnp.asarray(a), jnp.asarray(b)), np.linalg.solve(a, b), rtol=1e-14
    )


def test_gradients(x64):
    """First order in both modes; second order in reverse over reverse mode, which JAX computes
    by differentiating the first-order reverse pass in forward mode and transposing that. Each
    derivative runs as one compiled program, not operation by operation."""
    a, b = _systems(np.random.default_rng(0), (2,), 3, 2)
    args = (jnp.asarray(a), jnp.asarray(b))
    check_grads(_solve, args, order=1, modes=("fwd",))
    check_grads(_solve, args, order=2, modes=("rev",))  # first order in reverse mode, then second
