"""linear_recurrence against a float64 numpy loop, across kinds, methods, directions and dtypes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffkern.jit import count_compiles
from diffkern.scan import linear_recurrence
from diffkern.testing import check_grads, tolerance

METHODS = ["sequential", "associative"]

# (a shape, b shape): scalar, diagonal, batched diagonal, dense, batched dense.
KINDS = {
    "scalar": ((40,), (40, 3)),
    "diagonal": ((40, 3), (40, 3)),
    "batched-diagonal": ((40, 3), (40, 2, 3)),
    "dense": ((40, 3, 3), (40, 3)),
    "batched-dense": ((40, 2, 3, 3), (40, 2, 3)),
}


def _reference(a, b, h0, reverse=False):
    """float64 loop; dense when a has one more axis than b."""
    a, b, h0 = (np.asarray(v, np.float64) for v in (a, b, h0))
    dense = a.ndim == b.ndim + 1
    if not dense:
        a = a.reshape(a.shape[:1] + (1,) * (b.ndim - a.ndim) + a.shape[1:])
    order = range(len(b) - 1, -1, -1) if reverse else range(len(b))
    h, out = h0, np.zeros(b.shape)
    for t in order:
        h = (np.einsum("...ij,...j->...i", a[t], h) if dense else a[t] * h) + b[t]
        out[t] = h
    return out


def _inputs(a_shape, b_shape, seed=0):
    rng = np.random.default_rng(seed)
    dense = len(a_shape) == len(b_shape) + 1
    scale = 0.9 / np.sqrt(a_shape[-1]) if dense else 1.0
    a = rng.uniform(-1, 1, a_shape) * scale
    return a, rng.normal(size=b_shape), rng.normal(size=b_shape[1:])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind, reverse", [(k, k == "diagonal") for k in KINDS])
def test_matches_reference(kind, method, reverse, dtype):
    a, b, h0 = _inputs(*KINDS[kind])
    h = linear_recurrence(
        jnp.asarray(a, dtype),
        jnp.asarray(b, dtype),
        jnp.asarray(h0, dtype),
        method=method,
        reverse=reverse,
    )
    assert h.dtype == dtype and h.shape == b.shape
    tol = tolerance(dtype, float32=2e-5, float64=1e-12)
    np.testing.assert_allclose(h, _reference(a, b, h0, reverse), rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", list(KINDS))
def test_methods_agree_float64(kind, x64):
    a_shape, b_shape = KINDS[kind]
    a, b, h0 = _inputs((1000, *a_shape[1:]), (1000, *b_shape[1:]), seed=1)
    seq = linear_recurrence(a, b, h0, method="sequential")
    par = linear_recurrence(a, b, h0, method="associative")
    np.testing.assert_allclose(seq, par, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(amax=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1))
def test_random_coefficients_up_to_marginal(amax, seed):
    """|a_t| <= amax <= 1 over 64 steps, float32: error relative to the state's scale."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-amax, amax, (64, 3)).astype(np.float32)
    b = rng.normal(size=(64, 3)).astype(np.float32)
    ref = _reference(a, b, np.zeros(3))
    scale = 1 + np.abs(ref).max()
    for method in METHODS:
        h = linear_recurrence(a, b, method=method)
        np.testing.assert_allclose(h, ref, atol=1e-5 * scale, rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_constant_coefficients_match_lfilter(method, x64):
    signal = pytest.importorskip("scipy.signal")
    x = np.random.default_rng(2).normal(size=500)
    c = 0.97
    h = jax.jit(lambda x: linear_recurrence(jnp.full(500, c), x, method=method))(x)
    np.testing.assert_allclose(h, signal.lfilter([1.0], [1.0, -c], x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["scalar", "dense"])
def test_check_grads(kind, method, x64):
    a_shape, b_shape = KINDS[kind]
    a, b, h0 = _inputs((6, *a_shape[1:]), (6, *b_shape[1:]), seed=3)
    f = jax.jit(lambda a, b, h0: linear_recurrence(a, b, h0, method=method))
    # Both methods and kinds share the derivative rule; second order is checked once.
    order = 2 if (method, kind) == ("sequential", "scalar") else 1
    check_grads(f, (a, b, h0), order=order, modes=("fwd", "rev"))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind, reverse", [("diagonal", True), ("batched-dense", False)])
def test_grad_matches_naive_autodiff(kind, method, reverse, x64):
    a_shape, b_shape = KINDS[kind]
    a, b, h0 = _inputs((12, *a_shape[1:]), (12, *b_shape[1:]), seed=4)
    dense = kind.endswith("dense")
    weights = jnp.asarray(np.random.default_rng(5).normal(size=b.shape))

    def naive(a, b, h0):
        steps = range(len(b) - 1, -1, -1) if reverse else range(len(b))
        h, out = h0, [None] * len(b)
        for t in steps:
            h = (jnp.einsum("...ij,...j->...i", a[t], h) if dense else a[t] * h) + b[t]
            out[t] = h
        return jnp.sum(jnp.stack(out) * weights)

    def ours(a, b, h0):
        return jnp.sum(linear_recurrence(a, b, h0, method=method, reverse=reverse) * weights)

    grads = jax.jit(jax.grad(ours, (0, 1, 2)))(a, b, h0)
    for g, r in zip(grads, jax.jit(jax.grad(naive, (0, 1, 2)))(a, b, h0)):
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("a_shape, b_shape", [((1000, 16), (1000, 16)), ((1000,), (1000, 16))])
def test_reverse_mode_keeps_no_tape(a_shape, b_shape, method):
    """The VJP closes over a, h0 and the states only, whatever the method (the adjoint runs its
    own recurrence, never the transpose of the forward's steps or prefix tree), and scalar a_t
    stays one number per step however wide the state."""
    a, b, h0 = (jnp.asarray(v, jnp.float32) for v in _inputs(a_shape, b_shape))
    _, vjp = jax.vjp(lambda a, b: linear_recurrence(a, b, h0, method=method), a, b)
    stored = sum(leaf.size for leaf in jax.tree_util.tree_leaves(vjp))
    assert stored <= a.size + b.size + h0.size  # a, the states h, h0


def test_transforms_and_no_recompile():
    a, b, _ = _inputs((32, 4), (32, 4))
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    a2, b2 = a * 0.5, b + 1.0
    f = jax.jit(lambda a, b: linear_recurrence(a, b, method="associative"))
    batched = jax.vmap(lambda a, b: linear_recurrence(a, b), in_axes=1, out_axes=1)(a, b)
    np.testing.assert_allclose(batched, linear_recurrence(a, b), rtol=1e-6, atol=1e-6)
    _, tangent = jax.jvp(f, (a, b), (jnp.zeros_like(a), jnp.ones_like(b)))
    np.testing.assert_allclose(
        tangent, linear_recurrence(a, jnp.ones_like(b)), rtol=1e-5, atol=1e-6
    )
    f(a, b)
    with count_compiles() as counts:
        f(a2, b2).block_until_ready()
    assert counts.compiles == 0


def test_auto_is_sequential_on_cpu_and_static():
    """ "auto" is decided by where the inputs live (here the CPU), never by their values: the
    same program as "sequential", and new data compiles nothing."""
    if jax.default_backend() != "cpu":
        pytest.skip("checks the CPU choice")
    a, b, h0 = (jnp.asarray(v, jnp.float32) for v in _inputs((64, 3), (64, 3)))
    traced = lambda method: str(
        jax.make_jaxpr(lambda a, b: linear_recurrence(a, b, h0, method=method))(a, b)
    )
    assert traced("auto") == traced("sequential") != traced("associative")
    np.testing.assert_array_equal(
        linear_recurrence(a, b, h0), linear_recurrence(a, b, h0, method="sequential")
    )
    a2, b2 = a * 0.5, b + 1.0
    with count_compiles() as counts:
        jax.block_until_ready(linear_recurrence(a2, b2, h0))
    assert counts.compiles == 0


def test_h0_default_and_reverse():
    h = linear_recurrence(jnp.full(3, 2.0), jnp.ones(3), reverse=True)
    np.testing.assert_allclose(h, [7.0, 3.0, 1.0])
    h = linear_recurrence(jnp.full(3, 2.0), jnp.ones(3), jnp.ones(()))
    np.testing.assert_allclose(h, [3.0, 7.0, 15.0])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("where", ["a", "b"])
def test_a_nan_propagates_from_its_step_on(method, reverse, where, dtype):
    """Values are not checked: a NaN at step 3 makes that state and every later one NaN
    (earlier ones with ``reverse``), and leaves the others as they were."""
    a, b = jnp.full(8, 0.5, dtype), jnp.ones(8, dtype)
    clean = linear_recurrence(a, b, method=method, reverse=reverse)
    a, b = (a.at[3].set(jnp.nan), b) if where == "a" else (a, b.at[3].set(jnp.nan))
    h = np.asarray(linear_recurrence(a, b, method=method, reverse=reverse))
    hit = np.arange(8) <= 3 if reverse else np.arange(8) >= 3
    assert np.all(np.isnan(h[hit]))
    np.testing.assert_array_equal(h[~hit], np.asarray(clean)[~hit])


@pytest.mark.parametrize(
    "a_shape, b_shape, kwargs, match",
    [
        ((5,), (4,), {}, "time axis|'T"),
        ((5, 3, 2), (5, 3), {}, "dense a must have shape"),
        ((5, 2, 2, 2), (5, 2), {}, "a.ndim <= b.ndim"),
        ((), (5,), {}, "leading time axis|'T"),
        ((5,), (5,), {"method": "fast"}, "'auto', 'sequential', 'associative'"),
        ((5, 2), (5, 3), {}, "broadcastable batch shapes"),
        ((5, 3), (5, 3), {"h0": jnp.ones(4)}, "h0 of shape"),
    ],
)
def test_bad_input(a_shape, b_shape, kwargs, match):
    # With run-time jaxtyping checks on, mismatched time axes fail the annotation first.
    with pytest.raises((ValueError, TypeError), match=match):
        linear_recurrence(jnp.ones(a_shape), jnp.ones(b_shape), **kwargs)
