"""Contract of take and window over generated inputs: the documented error for out-of-range
indices, or exactly numpy's elements, for indices of every integer dtype over its whole range."""

import jax.numpy as jnp
import numpy as np
import pytest
from _contract import contract
from hypothesis import given
from hypothesis import strategies as st

from diffkern import CheckError
from diffkern.scan import take, window

INT_DTYPES = ["int8", "int16", "int32", "uint8", "uint16", "uint32"]
N = 300  # int8 indices overflow against it unless widened first


@st.composite
def _indices(draw):
    name = draw(st.sampled_from(INT_DTYPES))
    info = np.iinfo(name)
    n = N
    near = st.integers(max(info.min, -n - 2), min(info.max, n + 2))
    values = draw(
        st.lists(st.one_of(near, st.integers(info.min, info.max)), min_size=4, max_size=4)
    )
    return n, np.asarray(values, name)


@contract(100)
@given(case=_indices(), mode=st.sampled_from(["check", "clip", "wrap", "fill"]))
def test_take_contract(case, mode):
    n, idx = case
    a = np.arange(n, dtype=np.float32) + 1
    wide = idx.astype(np.int64)
    inside = (wide >= -n) & (wide < n)
    if mode == "check" and not inside.all():
        with pytest.raises(CheckError, match=rf"^take: idx must be in \[{-n}, {n}\) along axis 0$"):
            take(jnp.asarray(a), jnp.asarray(idx))
        return
    out = np.asarray(take(jnp.asarray(a), jnp.asarray(idx), mode=mode))
    if mode in ("check", "fill"):
        expected = np.where(inside, a[np.where(inside, wide, 0)], np.nan)
    elif mode == "clip":
        expected = a[np.clip(wide, 0, n - 1)]
    else:
        expected = a[wide % n]
    np.testing.assert_array_equal(out, expected)


@contract(100)
@given(
    name=st.sampled_from(INT_DTYPES),
    size=st.sampled_from([1, 50]),
    data=st.data(),
)
def test_window_contract(name, size, data):
    info = np.iinfo(name)
    start = data.draw(
        st.one_of(st.integers(info.min, info.max), st.integers(-2, 302)).filter(
            lambda s: info.min <= s <= info.max
        )
    )
    a = np.arange(300.0, dtype=np.float32)
    s = jnp.asarray(start, name)
    if 0 <= start <= 300 - size:
        np.testing.assert_array_equal(window(jnp.asarray(a), s, size), a[start : start + size])
    else:
        match = rf"^window: start must be in \[0, {300 - size}\] for size {size}$"
        with pytest.raises(CheckError, match=match):
            window(jnp.asarray(a), s, size)
