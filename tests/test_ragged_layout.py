"""The one ragged layout: flat and block layouts pad, mask and split back exactly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern._ragged import block_layout, bucket_length, flat_layout, series_arrays
from diffkern.jit import count_compiles

RNG = np.random.default_rng(3)


def _series(lengths, dtype):
    return [np.sort(RNG.normal(size=n)).astype(dtype) for n in lengths]


def test_flat_layout_pads_indexes_and_splits(dtype):
    xs = series_arrays("xs", _series([5, 1, 30], dtype), dtype)
    layout = flat_layout([x.size for x in xs])
    assert layout.size == bucket_length(36)
    flat, index, mask = layout.pad(xs), layout.index, layout.mask
    assert flat.shape == index.shape == mask.shape == (layout.size,) and flat.dtype == dtype
    np.testing.assert_array_equal(flat[:36], np.concatenate(xs))
    assert np.all(flat[36:] == xs[-1][-1])  # padding repeats the last valid point
    np.testing.assert_array_equal(index[:36], np.repeat([0, 1, 2], [5, 1, 30]))
    assert index.dtype == np.int32 and np.all(index[36:] == 2)
    assert mask.sum() == 36 and np.all(mask[:36])
    for piece, x in zip(layout.split(jax.device_put(flat)), xs, strict=True):
        np.testing.assert_array_equal(piece, x)


def test_block_layout_groups_by_bucket_and_restores_order(dtype):
    lengths = [3, 40, 17, 5, 41, 100, 2]
    xs = series_arrays("xs", _series(lengths, dtype), dtype)
    layout = block_layout(lengths, min_rows=2)
    assert [b.length for b in layout.blocks] == sorted({bucket_length(n) for n in lengths})
    assert sorted(i for b in layout.blocks for i in b.members) == list(range(len(lengths)))
    sums, parts, expected = [], [], [None] * len(lengths)
    for block in layout.blocks:
        assert block.rows == bucket_length(len(block.members), minimum=2)
        X, mask = block.pad(xs, "edge"), block.mask
        assert X.shape == mask.shape == (block.rows, block.length) and X.dtype == dtype
        assert np.all(np.diff(X, axis=1) >= 0)  # edge fill keeps sorted inputs sorted
        for row, i in enumerate(block.members):
            np.testing.assert_array_equal(X[row][mask[row]], xs[i])
        assert not mask[len(block.members) :].any()  # spare rows are masked out
        sums.append(jnp.sum(jnp.where(mask, X, 0), axis=1))
        parts.append(X)
        for row, i in enumerate(block.members):
            expected[i] = sums[-1][row]
    # each series' result comes back in its place, bit for bit (and sums what the series holds)
    np.testing.assert_array_equal(layout.assemble(sums), np.asarray(expected))
    tolerance = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
    scale = [np.abs(x).sum() for x in xs]
    np.testing.assert_allclose(
        layout.assemble(sums), [x.sum() for x in xs], atol=max(scale) * tolerance
    )
    for piece, x in zip(layout.split(parts), xs, strict=True):
        np.testing.assert_array_equal(piece, x)


def test_block_rows_are_capped_and_numeric_fill():
    lengths = [20] * 5
    layout = block_layout(lengths, max_rows=lambda length: 2)
    assert [b.rows for b in layout.blocks] == [2, 2, 2]
    assert [b.members for b in layout.blocks] == [(0, 1), (2, 3), (4,)]
    Y = layout.blocks[-1].pad([np.ones(20)] * 5, fill=7.0)
    assert Y.shape == (2, bucket_length(20)) and np.all(Y[0, 20:] == 7) and np.all(Y[1] == 7)


def test_assemble_and_split_are_differentiable_eager_and_jitted(x64):
    lengths = [4, 30, 9]
    xs = series_arrays("xs", _series(lengths, np.float64), np.float64)
    layout = block_layout(lengths)
    blocks = [(jax.device_put(b.pad(xs, "edge")), jax.device_put(b.mask)) for b in layout.blocks]

    def loss(a):
        values = layout.assemble([jnp.sum(jnp.where(m, a * X, 0), axis=1) for X, m in blocks])
        pieces = layout.split([a * X for X, _ in blocks])
        return jnp.sum(values * jnp.arange(3.0)) + sum(jnp.sum(p) for p in pieces)

    expected = sum(x.sum() * (i + 1) for i, x in enumerate(xs))
    np.testing.assert_allclose(jax.grad(loss)(2.0), expected, rtol=1e-12)
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(2.0), expected, rtol=1e-12)


def test_concrete_reassembly_compiles_nothing(dtype):
    layout = block_layout([4, 30, 9, 31])
    parts = [jnp.ones(b.rows, dtype) for b in layout.blocks]
    flat = flat_layout([4, 30])
    values = jnp.ones(flat.size, dtype)
    with count_compiles() as counts:
        out = layout.assemble(parts)
        pieces = flat.split(values)
    assert counts.compiles == 0 and out.shape == (4,) and out.dtype == dtype
    assert [p.shape for p in pieces] == [(4,), (30,)]


@pytest.mark.parametrize(
    "series, match",
    [
        ([], "xs must hold at least one series"),
        ([np.ones(3), np.ones(0)], r"xs\[1\] must be 1-D and non-empty"),
        ([np.ones((2, 3))], r"xs\[0\] must be 1-D and non-empty, got shape \(2, 3\)"),
    ],
)
def test_series_arrays_rejects_bad_series(series, match):
    with pytest.raises(ValueError, match=match):
        series_arrays("xs", series, np.float32)


@pytest.mark.parametrize("make", [flat_layout, block_layout])
def test_layouts_reject_bad_lengths(make):
    with pytest.raises(ValueError, match="lengths must hold at least one"):
        make([])
    with pytest.raises(ValueError, match=r"lengths\[1\] must be >= 1, got -2"):
        make([3, -2])
    with pytest.raises(ValueError, match=r"lengths\[0\] must be >= 1, got 0"):
        make([0])


def test_bad_fill_rows_and_parts():
    layout = block_layout([3, 3])
    with pytest.raises(ValueError, match="fill must be a number or"):
        layout.blocks[0].pad([np.ones(3)] * 2, fill="last")
    with pytest.raises(ValueError, match="min_rows must be >= 1"):
        block_layout([3], min_rows=0)
    with pytest.raises(ValueError, match="parts must have leading axes"):
        layout.assemble([np.ones(5)])
