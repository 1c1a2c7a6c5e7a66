"""``fused``: the same values, derivatives and transformations as the program it wraps, in fewer
XLA kernels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern._fusion import fused


def _recursion(x, y):
    """A Bulirsch-like recursion: every division and square root is shared by two users."""
    p, a, b = x, y, 0.3 * x
    for _ in range(6):
        inv_p = 1 / p
        g = jnp.sqrt(x) * inv_p
        a, b, p = a + b * inv_p, b + a * g, p + g
    return jnp.where(x > 0.5, a / b, jnp.exp(-p))


def _kernels(fn, *args) -> int:
    return jax.jit(fn).lower(*args).compile().as_text().count(" fusion(")


def test_the_same_values_in_fewer_kernels(dtype):
    x = jnp.linspace(0.1, 2.0, 64, dtype=dtype)
    y = jnp.linspace(1.0, 3.0, 64, dtype=dtype)
    # bitwise equality is not promised (the fused kernel may contract multiply-adds)
    eps = float(jnp.finfo(dtype).eps)
    np.testing.assert_allclose(
        jax.jit(fused(_recursion))(x, y), jax.jit(_recursion)(x, y), rtol=16 * eps
    )
    assert _kernels(fused(_recursion), x, y) < _kernels(_recursion, x, y)


def test_transformations(dtype):
    x = jnp.linspace(0.1, 2.0, 8, dtype=dtype)
    y = jnp.linspace(1.0, 3.0, 8, dtype=dtype)
    # the recursion's gradient cancels between terms (about 10 bits lost): the error of either
    # program scales with the largest component
    rtol = 4096 * float(jnp.finfo(dtype).eps)

    def loss(fn):
        return lambda x, y: fn(x, y).sum()

    for plain, wrapped in [
        (jax.grad(loss(_recursion), (0, 1)), jax.grad(loss(fused(_recursion)), (0, 1))),
        (jax.vmap(_recursion), jax.vmap(fused(_recursion))),
    ]:
        for got, want in zip(
            jax.tree_util.tree_leaves(jax.jit(wrapped)(x, y)),
            jax.tree_util.tree_leaves(plain(x, y)),
            strict=True,
        ):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want)))
    tangent = jnp.ones_like(x)
    got = jax.jvp(fused(_recursion), (x, y), (tangent, tangent))
    want = jax.jvp(_recursion, (x, y), (tangent, tangent))
    np.testing.assert_allclose(got, want, rtol=rtol)


def test_pytrees_integers_and_calls():
    def fn(args):
        x, n = args["x"], args["n"]
        return {
            "half": n // 2,
            "ratio": jnp.clip(x / n.astype(x.dtype), 0, 1),
            "where": jnp.where(x > 1, x, 0.0),
        }

    args = {"x": jnp.arange(4.0), "n": jnp.arange(1, 5)}
    got, want = fused(fn)(args), fn(args)
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@jax.custom_jvp
def _custom_sqrt(x):
    return jnp.sqrt(x)


_custom_sqrt.defjvp(lambda primals, tangents: (_custom_sqrt(*primals), tangents[0]))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: jax.lax.fori_loop(0, 3, lambda i, c: jnp.sqrt(c) + 1, x),
        _custom_sqrt,
    ],
    ids=["loop", "custom-derivative"],
)
def test_programs_it_does_not_rewrite_run_as_they_are(fn):
    x = jnp.arange(1.0, 4.0)
    np.testing.assert_array_equal(fused(fn)(x), fn(x))
