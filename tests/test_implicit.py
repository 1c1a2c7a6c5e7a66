"""diffkern.implicit.argmin: derivatives of a minimiser by the implicit function theorem."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffkern.implicit import argmin
from diffkern.testing import check_grads, tolerance


def _objective(x, a):
    return (x - jnp.sin(a)) ** 2


def _xstar(a):
    return argmin(_objective, jnp.zeros((), a.dtype), a)


_value = jax.jit(_xstar)
_grad = jax.jit(jax.grad(_xstar))
_tangent = jax.jit(lambda a: jax.jvp(_xstar, (a,), (jnp.ones_like(a),))[1])
_second = jax.jit(jax.jacfwd(jax.grad(_xstar)))


@settings(max_examples=25, deadline=None)
@given(a=st.floats(-3.0, 3.0))
def test_sin_minimiser_and_its_derivatives(a):
    """x*(a) = sin a, dx*/da = cos a, d2x*/da2 = -sin a, in forward and reverse mode."""
    a = jnp.float32(a)
    atol = 2e-5  # float32
    np.testing.assert_allclose(_value(a), np.sin(a), atol=atol)
    np.testing.assert_allclose(_grad(a), np.cos(a), atol=atol)
    np.testing.assert_allclose(_tangent(a), np.cos(a), atol=atol)
    np.testing.assert_allclose(_second(a), -np.sin(a), atol=atol)


def test_dtypes_jit_vmap(dtype):
    a = jnp.linspace(-2.0, 2.0, 7, dtype=dtype)
    grads = jax.jit(jax.vmap(jax.grad(_xstar)))(a)
    assert grads.dtype == dtype
    atol = tolerance(dtype, float32=2e-5, float64=1e-12)
    np.testing.assert_allclose(grads, np.cos(np.asarray(a, np.float64)), atol=atol)


def test_check_grads_pytree_problem(x64):
    """A coupled, non-quadratic problem with pytree x and theta, checked against differences."""

    def objective(x, theta):
        u, v = x["u"], x["v"]
        return (
            (u - theta["c"][0]) ** 2
            + 2 * (v - theta["c"][1]) ** 2
            + theta["w"] * (u * v) ** 2
            + 0.1 * u**4
        )

    def solve(c, w):
        x = argmin(objective, {"u": jnp.array(0.0), "v": jnp.array(0.0)}, {"c": c, "w": w})
        return jnp.stack([x["u"], x["v"]])

    solve = jax.jit(solve)
    args = (jnp.array([1.0, -0.5]), jnp.array(0.3))
    grad = jax.grad(objective)(
        dict(zip("uv", solve(*args), strict=True)), {"c": args[0], "w": args[1]}
    )
    assert max(abs(float(g)) for g in jax.tree_util.tree_leaves(grad)) < 1e-10
    check_grads(solve, args, order=1, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        argmin(_objective, jnp.zeros(()), jnp.ones(()), max_steps=0)
    with pytest.raises(TypeError, match="x0 must be a non-empty pytree of floating arrays"):
        argmin(_objective, jnp.zeros((), jnp.int32), jnp.ones(()))
