"""prefix_scan against a sequential lax.scan fold: non-commutative combine, pytrees, reverse,
block lengths, derivatives, program size independent of N, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from diffkern.scan import prefix_scan
from diffkern.testing import check_grads, tolerance

IDENTITY = {"A": jnp.eye(2), "c": 0.0}


def _affine(first, second):
    """Affine maps x -> A x + c, ``first`` applied before ``second``: not commutative."""
    return {
        "A": jnp.einsum("...ij,...jk->...ik", second["A"], first["A"]),
        "c": jnp.einsum("...ij,...j->...i", second["A"], first["c"]) + second["c"],
    }


def _sequential(fn, elems, reverse=False):
    first = jax.tree_util.tree_map(lambda x: x[-1 if reverse else 0], elems)
    rest = jax.tree_util.tree_map(lambda x: x[:-1] if reverse else x[1:], elems)

    def step(carry, x):
        carry = fn(carry, x)
        return carry, carry

    ys = lax.scan(step, first, rest, reverse=reverse)[1]
    join = lambda f, y: jnp.concatenate([y, f[None]] if reverse else [f[None], y])
    return jax.tree_util.tree_map(join, first, ys)


def _maps(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    # Rotations scaled near 1: products of 1000 stay of order one, and do not commute.
    angle, scale = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.97, 1.02, n)
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    A = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    return {"A": jnp.asarray(A, dtype), "c": jnp.asarray(rng.normal(size=(n, 2)), dtype)}


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, 17, 1000])
def test_matches_sequential(n, reverse, dtype):
    elems = _maps(n, dtype)
    ref = jax.jit(_sequential, static_argnums=(0, 2))(_affine, elems, reverse)
    tol = tolerance(dtype, float32=2e-4, float64=1e-12)
    for block in (None, 1, 4, 5000):
        scan = lambda e: prefix_scan(_affine, e, IDENTITY, reverse=reverse, block=block)
        out = jax.jit(scan)(elems)
        for key in elems:
            assert out[key].dtype == dtype and out[key].shape == elems[key].shape
            np.testing.assert_allclose(out[key], ref[key], rtol=tol, atol=tol, err_msg=key)


def test_matches_associative_scan_with_batch_axes(x64):
    """Trailing batch axes and a leaf-wise identity that broadcasts (2 x 2 matrix products)."""
    mats = jnp.asarray(np.random.default_rng(1).normal(size=(37, 3, 2, 2)) * 0.7)
    fn = lambda p, q: jnp.einsum("...ij,...jk->...ik", q, p)
    for reverse in (False, True):
        out = jax.jit(lambda m: prefix_scan(fn, m, jnp.eye(2), reverse=reverse))(mats)
        ref = lax.associative_scan(fn, mats, reverse=reverse)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block", [1, None])
def test_check_grads(block, x64):
    elems = _maps(7, jnp.float64, seed=2)

    def f(A, c):
        out = prefix_scan(_affine, {"A": A, "c": c}, IDENTITY, reverse=True, block=block)
        return out["A"], out["c"]

    check_grads(jax.jit(f), (elems["A"], elems["c"]), order=2, modes=("fwd", "rev"))


def test_vmap_and_jvp_match_sequential():
    elems = _maps(50, jnp.float32, seed=3)
    batched = jax.tree_util.tree_map(lambda x: jnp.stack([x, 2 * x]), elems)
    out = jax.jit(jax.vmap(lambda e: prefix_scan(_affine, e, IDENTITY)))(batched)
    ref = jax.jit(jax.vmap(lambda e: _sequential(_affine, e)))(batched)
    np.testing.assert_allclose(out["c"], ref["c"], rtol=1e-4, atol=1e-4)
    tangent = jax.tree_util.tree_map(jnp.ones_like, elems)
    jvp = jax.jit(lambda f, e, t: jax.jvp(f, (e,), (t,))[1], static_argnums=0)
    dout = jvp(lambda e: prefix_scan(_affine, e, IDENTITY), elems, tangent)
    dref = jvp(lambda e: _sequential(_affine, e), elems, tangent)
    np.testing.assert_allclose(dout["c"], dref["c"], rtol=1e-3, atol=1e-3)


def _op_count(n, grad):
    elems = _maps(n, jnp.float32)

    def f(e):
        return jnp.sum(prefix_scan(_affine, e, IDENTITY)["c"] ** 2)

    text = jax.jit(jax.value_and_grad(f) if grad else f).lower(elems).as_text()
    return sum(" = stablehlo." in line for line in text.splitlines())


@pytest.mark.parametrize("grad", [False, True])
def test_program_size_does_not_grow_with_n(grad):
    """lax.associative_scan unrolls log2 N levels; here the loops keep one size for all N."""
    small, large = _op_count(1000, grad), _op_count(100_000, grad)
    assert abs(large - small) <= 4, (small, large)


@pytest.mark.parametrize(
    "elems, identity, kwargs, match",
    [
        (jnp.ones((0, 2)), jnp.zeros(2), {}, "non-empty leading axis"),
        ((jnp.ones(5), jnp.ones(4)), (0.0, 0.0), {}, "share one leading axis"),
        (jnp.ones(()), 0.0, {}, "share one leading axis"),
        ((), (), {}, "at least one array"),
        ((jnp.ones(5), jnp.ones(5)), 0.0, {}, "identity must have the structure"),
        (jnp.ones((5, 2)), jnp.zeros(3), {}, "identity leaf of shape"),
        (jnp.ones(5), 0.0, {"block": 0}, "block must be a positive int"),
    ],
)
def test_bad_input(elems, identity, kwargs, match):
    with pytest.raises(ValueError, match=match):
        prefix_scan(jnp.add, elems, identity, **kwargs)
