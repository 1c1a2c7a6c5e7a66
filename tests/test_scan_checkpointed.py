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


@pytest.mark.parametrize("checkpoint, reverse", [("sqrt", False), (7, True), (None, False)])
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


def _recurrence_gradient(x):
    """Closed form: y_n = prod(x) + sum_i prod_{j>i} x_j / x_i, so dy_n/dx_k =
    prod_{j!=k} x_j + sum_{i<k} prod_{j>i, j!=k} x_j / x_i - prod_{j>k} x_j / x_k^2."""
    x = np.asarray(x, np.float64)
    grad = []
    for k in range(len(x)):
        others = np.prod(np.delete(x, k))
        earlier = sum(np.prod(np.delete(x[i + 1 :], k - i - 1)) / x[i] for i in range(k))
        grad.append(others + earlier - np.prod(x[k + 1 :]) / x[k] ** 2)
    return np.array(grad)


@pytest.mark.parametrize(
    "x, published",
    [
        ([1.0, 2.0, 4.0, 5.0], [0.0, 35.0, 22.1875, 18.21]),
        (np.arange(1.0, 9.0), [0.0, 35280.0, 29493.332, 23135.0]),
    ],
)
def test_recurrence_gradient_matches_published_values(x, published, dtype):
    """y_i = y_{i-1} x_i + 1/x_i from y_0 = 1; gradient of the last y (y_0 = 0 would give
    dy/dx_1 = -prod(x[1:]), not the published 0)."""
    step = lambda y, xi: (y * xi + 1 / xi, None)
    last = lambda x: checkpointed_scan(step, jnp.ones((), dtype), x, checkpoint=2)[0]
    grad = jax.grad(last)(jnp.asarray(x, dtype))
    tol = tolerance(dtype, float32=1e-5, float64=1e-12)
    np.testing.assert_allclose(grad, _recurrence_gradient(x), rtol=tol, atol=tol)
    # The published figures carry 8 significant digits.
    np.testing.assert_allclose(grad[: len(published)], published, rtol=max(tol, 1e-7), atol=tol)


def _grad_memory(checkpoint, n, state=256, xs_shape=(), reverse=False):
    """Compiled memory of grad (w.r.t. the initial state and xs of shape ``(n, *xs_shape)``)
    through n steps of a float32 state of size ``state``: an upper bound of the peak,
    arguments + outputs + temporaries, and the temporaries alone."""
    w = jnp.linspace(0.5, 1.5, state, dtype=jnp.float32)

    def loss(init, xs):
        step = lambda c, x: (jnp.tanh(c * w + x), None)
        return jnp.sum(checkpointed_scan(step, init, xs, checkpoint=checkpoint, reverse=reverse)[0])

    args = (
        jax.ShapeDtypeStruct((state,), jnp.float32),
        jax.ShapeDtypeStruct((n, *xs_shape), jnp.float32),
    )
    stats = jax.jit(jax.grad(loss, (0, 1))).lower(*args).compile().memory_analysis()
    if stats is None:
        pytest.skip(f"no compiled memory analysis on the {jax.default_backend()} backend")
    total = stats.argument_size_in_bytes + stats.output_size_in_bytes - stats.alias_size_in_bytes
    return total + stats.temp_size_in_bytes, stats.temp_size_in_bytes


def test_sqrt_checkpointing_memory_at_a_million_steps():
    """10^6 steps x 256 float32: plain lax.scan keeps 2 GB of residuals (two arrays of 1 GB),
    checkpoint="sqrt" about 3 MB. Measured on CPU (jax 0.10): total 2.06 GB vs 11.1 MB (185x),
    temporaries 2.05 GB vs 3.1 MB (660x). The target is >= 20x."""
    plain, plain_temp = _grad_memory(None, 10**6)
    sqrt, sqrt_temp = _grad_memory("sqrt", 10**6)
    assert plain_temp >= 10**6 * 256 * 4
    assert sqrt * 20 <= plain
    assert sqrt_temp * 20 <= plain_temp


@pytest.mark.parametrize(
    "checkpoint, reverse",
    # 317 = ceil(sqrt(10^5)) leaves a remainder of 145 steps; 400 divides 10^5.
    [("sqrt", False), ("sqrt", True), (400, False)],
)
def test_checkpointing_memory_with_a_vector_per_step(checkpoint, reverse):
    """xs of shape (10^5, 256) float32, gradient w.r.t. xs too (an output, not a temporary):
    segments read xs in place, so neither xs nor its gradient is copied. Measured on CPU
    (jax 0.10): temporaries 1.7 MB vs 195 MB for plain lax.scan (99 MB when a remainder
    segment sliced xs). The target is <= 5%."""
    n, width = 10**5, 256
    _, plain_temp = _grad_memory(None, n, xs_shape=(width,), reverse=reverse)
    _, temp = _grad_memory(checkpoint, n, xs_shape=(width,), reverse=reverse)
    assert plain_temp >= 2 * n * width * 4  # two residuals per step: x and tanh
    assert temp * 20 <= plain_temp


@pytest.mark.parametrize("n, xs_shape, reverse", [(10**4 + 7, (), False), (10**3 + 7, (64,), True)])
def test_sqrt_checkpointing_gradient_is_identical(n, xs_shape, reverse):
    """Recomputing a segment repeats the same float operations: the gradient is bit for bit
    that of lax.scan (checked on CPU up to 10^6 steps; here with a remainder segment)."""
    state = 256 if xs_shape == () else xs_shape[0]
    rng = np.random.default_rng(0)
    w = jnp.linspace(0.5, 1.5, state, dtype=jnp.float32)
    xs = jnp.asarray(rng.normal(size=(n, *xs_shape)), jnp.float32)
    init = jnp.asarray(rng.normal(size=state), jnp.float32)

    def loss(init, xs, checkpoint):
        step = lambda c, x: (jnp.tanh(c * w + x), c[0])
        carry, ys = checkpointed_scan(step, init, xs, checkpoint=checkpoint, reverse=reverse)
        return jnp.sum(carry) + jnp.sum(jnp.sin(ys))

    grad = jax.jit(jax.grad(loss, (0, 1)), static_argnums=2)
    for ours, ref in zip(grad(init, xs, "sqrt"), grad(init, xs, None)):
        np.testing.assert_array_equal(ours, ref)


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
