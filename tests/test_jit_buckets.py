"""Shape buckets: few programs for many lengths, and padding never changes a result."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffkern.jit import bucket_length, count_compiles, pad_to_bucket
from diffkern.testing import tolerance


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.floats(1.1, 3.0), st.integers(1, 64))
def test_bucket_is_the_smallest_geometric_size_at_least_n(n, growth, minimum):
    b = bucket_length(n, growth=growth, minimum=minimum)
    assert b >= n and b >= minimum
    assert b <= max(minimum, math.ceil(n * growth))  # padding wastes at most a factor growth
    assert bucket_length(b, growth=growth, minimum=minimum) == b  # a bucket is its own bucket


def test_bucket_count_is_logarithmic():
    buckets, n = [], 100
    while n <= 10**5:  # walk bucket to bucket: every length in [100, 1e5] is in one of them
        buckets.append(bucket_length(n))
        n = buckets[-1] + 1
    assert len(buckets) <= math.ceil(math.log(1000) / math.log(1.5)) + 1
    assert all(bucket_length(b - 1) == b for b in buckets if b - 1 >= 100)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": -1}, "n must be"),
        ({"n": 5, "growth": 1.0}, "growth"),
        ({"n": 5, "minimum": 0}, "minimum"),
    ],
)
def test_bucket_length_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bucket_length(**kwargs)


def test_pad_to_bucket_shapes_fill_and_mask(dtype):
    x = jnp.arange(2 * 20, dtype=dtype).reshape(2, 20)
    padded, mask = pad_to_bucket(x, axis=1, fill=-1)
    assert padded.shape == (2, bucket_length(20)) and padded.dtype == dtype
    assert mask.shape == (bucket_length(20),) and int(mask.sum()) == 20
    np.testing.assert_array_equal(padded[:, :20], x)
    assert bool(jnp.all(padded[:, 20:] == -1))
    assert pad_to_bucket(np.ones(3), length=3)[0].shape == (3,)
    with pytest.raises(ValueError, match="length must be"):
        pad_to_bucket(x, axis=1, length=10)
    with pytest.raises(ValueError, match="axis"):
        pad_to_bucket(x, axis=2)


@jax.jit
def _masked_chi2(y, sigma, mask):
    r = jnp.where(mask, y / sigma, 0)
    return jnp.sum(r * r)


def test_ragged_lengths_compile_at_most_once_per_bucket(dtype):
    rng = np.random.default_rng(0)
    lengths = [100, 10**5, *rng.integers(100, 10**5, 22).tolist()]
    data = [rng.normal(size=n).astype(dtype) for n in lengths]
    with count_compiles() as counts:
        values = []
        for y in data:
            py, mask = pad_to_bucket(y)
            sigma, _ = pad_to_bucket(np.ones(len(y), dtype), fill=1)
            values.append(float(_masked_chi2(py, sigma, mask)))
    assert counts.by_function["_masked_chi2"] == len({bucket_length(n) for n in lengths})
    assert counts.compiles == counts.by_function["_masked_chi2"]
    rtol = tolerance(dtype, float32=1e-5, float64=1e-12)
    reference = [np.sum(y.astype(np.float64) ** 2) for y in data]
    np.testing.assert_allclose(values, reference, rtol=rtol)


def test_padding_device_arrays_compiles_nothing(dtype):
    xs = [jnp.ones(n, dtype) for n in (17, 29, 31)]
    with count_compiles() as counts:
        for x in xs:
            padded, mask = pad_to_bucket(x)
    assert counts.compiles == 0 and padded.dtype == dtype and mask.dtype == jnp.bool_
