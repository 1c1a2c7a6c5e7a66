"""window and take: correct values in range, a clear error (never a wrong number) outside it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import lax

from diffkern.scan import take, window

A = jnp.arange(10.0)
_window3 = jax.jit(lambda s: window(A, s, 3))
_take = jax.jit(lambda i: take(A, i))


@settings(max_examples=25, deadline=None)
@given(start=st.integers(-5, 15))
def test_window_in_and_out_of_range(start):
    if 0 <= start <= 7:
        np.testing.assert_array_equal(_window3(start), np.arange(10.0)[start : start + 3])
    else:
        with pytest.raises(Exception, match=r"window: start must be in \[0, 7\]"):
            jax.block_until_ready(_window3(start))


@settings(max_examples=25, deadline=None)
@given(idx=st.lists(st.integers(-12, 12), min_size=4, max_size=4))
def test_take_in_and_out_of_range(idx):
    idx = np.asarray(idx, np.int32)
    if np.all((idx >= -10) & (idx < 10)):
        np.testing.assert_array_equal(_take(idx), np.arange(10.0)[idx])
    else:
        with pytest.raises(Exception, match=r"take: idx must be in \[-10, 10\)"):
            jax.block_until_ready(_take(idx))


def test_inside_scan_vmap_and_grad():
    def body(total, start):
        return total + jnp.sum(window(A, start, 4) ** 2), take(A, start)

    starts = jnp.array([0, 3, 6])
    total, taken = jax.jit(lambda s: lax.scan(body, jnp.zeros(()), s))(starts)
    np.testing.assert_allclose(total, sum(np.sum(np.arange(s, s + 4.0) ** 2) for s in [0, 3, 6]))
    np.testing.assert_array_equal(taken, [0.0, 3.0, 6.0])
    with pytest.raises(Exception, match="window: start"):
        jax.block_until_ready(jax.jit(lambda s: lax.scan(body, jnp.zeros(()), s))(starts + 1))
    with pytest.raises(Exception, match="take: idx"):
        jax.block_until_ready(jax.vmap(lambda i: take(A, i))(jnp.array([1, 10])))
    grad = jax.grad(lambda a: jnp.sum(window(a, jnp.array(2), 3)) + take(a, jnp.array(-1)))(A)
    np.testing.assert_array_equal(grad, [0, 0, 1, 1, 1, 0, 0, 0, 0, 1])


def test_other_modes_and_axis():
    a = jnp.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(take(a, jnp.array([5]), axis=1, mode="clip"), a[:, 3:4])
    np.testing.assert_array_equal(take(a, jnp.array([5]), axis=1, mode="wrap"), a[:, 1:2])
    assert np.isnan(take(a, jnp.array([3]), mode="fill")).all()
    np.testing.assert_array_equal(window(a, jnp.array(1), 2, axis=1), a[:, 1:3])
    np.testing.assert_array_equal(window(a, jnp.array(3), 2, axis=1, mode="clip"), a[:, 2:4])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: window(A, jnp.array(0), 11), "size must be"),
        (lambda: window(A, jnp.array(0.0), 2), "start"),
        (lambda: window(A, jnp.array(0), 2, axis=1), "axis"),
        (lambda: take(A, jnp.array([0.5])), "idx"),
        (lambda: take(A, jnp.array([0]), mode="raise"), "mode"),
    ],
)
def test_static_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


INT_DTYPES = ["int8", "int16", "int32", "uint8", "uint16", "uint32"]
LONG = jnp.arange(300.0)
_take_long = jax.jit(lambda i: take(LONG, i))
_window_long = jax.jit(lambda s: window(LONG, s, 50))


@pytest.mark.parametrize("name", INT_DTYPES)
def test_take_any_integer_dtype_over_its_whole_range(name):
    info = np.iinfo(name)
    # Every value of the small dtypes; the ends and the middle of the wide ones.
    if info.bits <= 8:
        wide = np.arange(info.min, info.max + 1)
    else:
        wide = np.linspace(info.min, info.max, 257).astype(np.int64)
    extra = np.asarray([0, 1, 3, 299])
    wide = np.unique(np.concatenate([wide, extra[extra <= info.max]]))
    values = wide.astype(name)
    ok = (wide >= -300) & (wide < 300)
    np.testing.assert_array_equal(_take_long(jnp.asarray(values[ok])), np.arange(300.0)[wide[ok]])
    for bad in values[~ok][:: max(1, int((~ok).sum()) // 4)]:
        with pytest.raises(Exception, match=r"take: idx must be in \[-300, 300\)"):
            jax.block_until_ready(_take_long(jnp.asarray(bad, name)))


@pytest.mark.parametrize("name", INT_DTYPES)
def test_other_modes_with_small_and_unsigned_indices(name):
    info = np.iinfo(name)
    values = np.asarray(
        [info.min, -1 if info.min < 0 else 0, 3, min(299, info.max), info.max], name
    )
    wide = values.astype(np.int64)
    wrap = take(LONG, jnp.asarray(values), mode="wrap")
    np.testing.assert_array_equal(wrap, np.take(np.arange(300.0), wide, mode="wrap"))
    clip = take(LONG, jnp.asarray(values), mode="clip")
    np.testing.assert_array_equal(clip, np.arange(300.0)[np.clip(wide, 0, 299)])
    fill = take(LONG, jnp.asarray(values), mode="fill")
    inside = (wide >= -300) & (wide < 300)
    np.testing.assert_array_equal(fill[inside], np.arange(300.0)[wide[inside]])
    assert bool(jnp.all(jnp.isnan(fill[~inside])))


@pytest.mark.parametrize("name", INT_DTYPES)
def test_window_any_integer_dtype(name):
    info = np.iinfo(name)
    for start in sorted({info.min, 0, 7, min(info.max, 250), info.max}):
        s = jnp.asarray(start, name)
        if 0 <= start <= 250:
            np.testing.assert_array_equal(_window_long(s), np.arange(start, start + 50.0))
        else:
            with pytest.raises(Exception, match=r"window: start must be in \[0, 250\]"):
                jax.block_until_ready(_window_long(s))


def test_empty_window_rejects_unsigned_starts_past_the_end():
    assert window(LONG, jnp.asarray(300, "uint32"), 0).shape == (0,)
    with pytest.raises(Exception, match=r"window: start must be in \[0, 300\] for size 0"):
        window(LONG, jnp.asarray(4_000_000_000, "uint32"), 0)
