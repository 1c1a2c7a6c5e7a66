"""checkpointed_scan: lax.scan semantics, identical gradients, O(sqrt N) residual memory."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from diffkern.jit import count_compiles
from diffkern.scan import checkpointed_scan
from diffkern.testing import check_grads, tolerance


def _step(carry, x):
    """A nonlinear step with a pytree carry and pytree input."""
    h, s = carry
    h = jnp.tanh(h * x["w"] + x["u"])
    return (h, s + jnp.sum(h**2)), h[0] * s


def _problem(n, dtype):
    rng = np.random.default_rng(0)
    xs = {
        "w": jnp.asarray(rng.uniform(0.5, 1.5, (n, 4)), dtype),
        "u": jnp.asarray(rng.normal(size=(n, 4)), dtype),
    }
    return (jnp.asarray(rng.normal(size=4), dtype), jnp.zeros((), dtype)), xs


@pytest.mark.parametrize(
    "checkpoint, reverse", [("sqrt", False), (7, True), (None, False)]
)
def test_matches_lax_scan(checkpoint, reverse, dtype):
    # 50 = 7 * 7 + 1 = 6 * 8 + 2: a remainder segment for k = 7 and for "sqrt" (k = 8).
    init, xs = _problem(50, dtype)

    def loss(scan, init, xs):
        (h, s), ys = scan(_step, init, xs)
        return jnp.sum(h) + s + jnp.sum(ys)

    ours = lambda f, c, x: checkpointed_scan(f, c, x, checkpoint=checkpoint, reverse=reverse)
    ref = lambda f, c, x: lax.scan(f, c, x, reverse=reverse)
    out, ref_out = jax.jit(lambda c, x: (ours(_step, c, x), ref(_step, c, x)))(init, xs)
    for o, r in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref_out)):
        np.testing.assert_allclose(o, r, rtol=tolerance(dtype, float32=1e-6, float64=1e-14))
    grads = jax.jit(jax.grad(lambda c, x: loss(ours, c, x), (0, 1)))(init, xs)
    ref_grads = jax.jit(jax.grad(lambda c, x: loss(ref, c, x), (0, 1)))(init, xs)
    for g, r in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(ref_grads)):
        np.testing.assert_allclose(g, r, rtol=tolerance(dtype, float32=1e-5, float64=1e-12))


def test_check_grads_and_no_xs(x64):
    f = lambda c, _: (jnp.sin(c) * c + 0.5, c)
    scan = jax.jit(lambda c: checkpointed_scan(f, c, None, length=10, checkpoint=3)[0])
    check_grads(scan, (jnp.linspace(0.1, 1.0, 3),), order=1)


def test_repeated_map_derivative_closed_form(x64):
    r"""g(x) = f^n(x), f(x) = 1/(1+x): g = (F_n + F_{n-1} x)/(F_{n+1} + F_n x) and
    g'(x) = (-1)^n / (F_{n+1} + F_n x)^2 with Fibonacci numbers F."""
    n = 30
    fib = [0, 1]
    while len(fib) < n + 2:
        fib.append(fib[-1] + fib[-2])
    x = jnp.linspace(0.0, 3.0, 7)
    g = lambda x: checkpointed_scan(lambda c, _: (1 / (1 + c), None), x, None, length=n)[0]
    value, tangent = jax.jvp(g, (x,), (jnp.ones_like(x),))
    np.testing.assert_allclose(value, (fib[n] + fib[n - 1] * x) / (fib[n + 1] + fib[n] * x))
    expected = (-1) ** n / (fib[n + 1] + fib[n] * x) ** 2
    np.testing.assert_allclose(tangent, expected, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(jax.grad(g))(x), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "x, expected",
    [
        ([1.0, 2.0, 4.0, 5.0], [0.0, 35.0, 22.1875, 18.21]),
        (np.arange(1.0, 9.0), [0.0, 35280.0, 29493.332, 23135.0]),
    ],
)
def test_seed_recurrence_gradient(x, expected, dtype):
    """y_i = y_{i-1} x_i + 1/x_i from y_0 = 1; gradient of the last y."""
    step = lambda y, xi: (y * xi + 1 / xi, None)
    last = lambda x: checkpointed_scan(step, jnp.ones((), dtype), x, checkpoint=2)[0]
    grad = jax.grad(last)(jnp.asarray(x, dtype))
    tol = tolerance(dtype, float32=1e-5, float64=1e-7)  # the seed's figures carry 8 digits
    np.testing.assert_allclose(grad[: len(expected)], expected, rtol=tol, atol=tol)


def _grad_memory(checkpoint, n=10**6, state=256):
    """Compiled memory of grad through n steps of a float32 state of size ``state``."""
    w = jnp.linspace(0.5, 1.5, state, dtype=jnp.float32)

    def loss(init, xs):
        step = lambda c, x: (jnp.tanh(c * w + x), None)
        return jnp.sum(checkpointed_scan(step, init, xs, checkpoint=checkpoint)[0])

    args = (jax.ShapeDtypeStruct((state,), jnp.float32), jax.ShapeDtypeStruct((n,), jnp.float32))
    return jax.jit(jax.grad(loss, (0, 1))).lower(*args).compile().memory_analysis()


def test_sqrt_checkpointing_memory_at_a_million_steps():
    """Residuals of 10^6 steps x 256 float32 (1 GB per stored array) shrink >= 20x."""
    plain, sqrt = _grad_memory(None), _grad_memory("sqrt")
    assert plain.temp_size_in_bytes >= 10**6 * 256 * 4
    assert sqrt.temp_size_in_bytes * 20 <= plain.temp_size_in_bytes


def test_no_recompile_on_new_data():
    init, xs = _problem(64, jnp.float32)
    xs2 = jax.tree_util.tree_map(lambda x: x * 0.5, xs)
    f = jax.jit(jax.grad(lambda c, x: checkpointed_scan(_step, c, x)[0][1], (0, 1)))
    f(init, xs)
    with count_compiles() as counts:
        jax.block_until_ready(f(init, xs2))
    assert counts.compiles == 0


@pytest.mark.parametrize("checkpoint", ["log", 0, -3, True, 2.5])
def test_bad_checkpoint(checkpoint):
    # Wrong types fail the run-time annotation check (TypeError) when it is on.
    with pytest.raises((ValueError, TypeError), match="checkpoint"):
        checkpointed_scan(lambda c, x: (c, x), 0.0, jnp.ones(10), checkpoint=checkpoint)


def test_inconsistent_lengths():
    with pytest.raises(ValueError, match="length"):
        checkpointed_scan(lambda c, x: (c, x), 0.0, jnp.ones(10), length=5)
    with pytest.raises(ValueError, match="length"):
        checkpointed_scan(lambda c, x: (c, x), 0.0, None)
