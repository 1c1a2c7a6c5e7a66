"""diffkern.fit.minimize_many: per-series fits equal single fits and weighted least squares,
Laplace covariances equal (X^T W X)^-1, a few compiles for any mix of lengths, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffkern.fit import ManyResult, laplace, minimize, minimize_many
from diffkern.fit._many_block import device_rows
from diffkern.jit import count_compiles
from diffkern.testing import tolerance

# L-BFGS without a line search: exact enough on these quadratics, and a quarter of the compile
LBFGS = optax.lbfgs(linesearch=None)
ADAM = optax.adam(0.05)
FOUR = [5, 9, 14, 7]  # one length bucket (16), one row count (5): tests share its program


def _gtol(dtype):
    return tolerance(dtype, float32=1e-4, float64=1e-9)


def line_loss(p, data, mask):
    """Weighted least squares of a line, ``0.5 chi^2`` over the series' own points."""
    t, y, err = data
    r = jnp.where(mask, (y - p["a"] - p["b"] * t) / err, 0.0)
    return 0.5 * jnp.sum(r * r)


def sine_loss(p, data, mask):
    t, y, err = data
    r = jnp.where(mask, (y - p["amp"] * jnp.sin(p["freq"] * t) - p["c"]) / err, 0.0)
    return 0.5 * jnp.sum(r * r)


def _lines(lengths, seed=0):
    rng = np.random.default_rng(seed)
    ts = [np.sort(rng.uniform(0.0, 1.0, n)) for n in lengths]
    errs = [rng.uniform(0.5, 1.5, n) for n in lengths]
    ys = [1.0 - 2.0 * t + 0.1 * e * rng.normal(size=t.size) for t, e in zip(ts, errs)]
    return ts, ys, errs


def _least_squares(t, y, err):
    """float64 numpy: the weighted least-squares line and its covariance (X^T W X)^-1."""
    X = np.stack([np.ones_like(t), t], axis=1) / err[:, None]
    cov = np.linalg.inv(X.T @ X)
    return cov @ X.T @ (y / err), cov


def _start(n, dtype):
    return {"a": jnp.zeros(n, dtype), "b": jnp.zeros(n, dtype)}


def test_lines_match_least_squares(dtype):
    data = _lines(FOUR)
    result = minimize_many(line_loss, _start(4, dtype), data, LBFGS, steps=50, gtol=_gtol(dtype))
    assert isinstance(result, ManyResult)
    assert result.params["a"].dtype == dtype and result.cov.shape == (4, 2, 2)
    rtol = tolerance(dtype, float32=1e-3, float64=1e-8)
    for i, (t, y, err) in enumerate(zip(*data)):
        best, cov = _least_squares(t, y, err)
        got = [result.params["a"][i], result.params["b"][i]]
        np.testing.assert_allclose(got, best, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(result.cov[i], cov, rtol=rtol, atol=rtol * np.abs(cov).max())
        np.testing.assert_allclose(result.std["b"][i], np.sqrt(cov[1, 1]), rtol=rtol)
    assert np.all(result.converged) and np.all(result.positive_definite)
    np.testing.assert_array_equal(result.series, np.arange(4))


def test_each_series_equals_a_single_minimize(x64):
    rng = np.random.default_rng(1)
    lengths = [12, 12]  # one shape for the single fits: one program each for them too
    ts = [np.sort(rng.uniform(0, 10, n)) for n in lengths]
    ys = [2.0 * np.sin(1.3 * t) + 0.5 + 0.1 * rng.normal(size=t.size) for t in ts]
    errs = [np.full(n, 0.1) for n in lengths]
    start = {"amp": np.full(2, 1.5), "freq": np.full(2, 1.25), "c": np.zeros(2)}
    many = minimize_many(sine_loss, start, (ts, ys, errs), ADAM, steps=300, gtol=1e-8)
    single_loss = lambda p, t, y, err, mask: sine_loss(p, (t, y, err), mask)
    for i in range(2):
        p0 = {k: v[i] for k, v in start.items()}
        args = (ts[i], ys[i], errs[i], np.ones(lengths[i], bool))
        one = minimize(single_loss, p0, ADAM, steps=300, gtol=1e-8, args=args, progress=False)
        approx = laplace(single_loss, one.params, *args)
        for k in start:
            np.testing.assert_allclose(many.params[k][i], one.params[k], rtol=0, atol=1e-8)
            np.testing.assert_allclose(many.std[k][i], approx.std[k], rtol=1e-8)
        assert int(many.steps[i]) == one.steps
        np.testing.assert_allclose(many.value[i], one.value, rtol=1e-10)


def test_lock_step_groups_give_the_one_loop_results(x64):
    # Series that stop after different numbers of steps: groups of 1, 2 (7 rows padded to 8)
    # and one loop over all must agree, step counts included.
    rng = np.random.default_rng(4)
    ts = [np.sort(rng.uniform(0, 10, 12)) for _ in range(7)]
    ys = [a * np.sin(1.3 * t) + 0.05 * rng.normal(size=12) for a, t in zip(range(1, 8), ts)]
    errs = [np.full(12, 0.1) for _ in ts]
    start = {"amp": np.linspace(0.5, 3.5, 7), "freq": np.full(7, 1.25), "c": np.zeros(7)}
    fit = lambda group: minimize_many(sine_loss, start, (ts, ys, errs), optax.lbfgs(),
                                      steps=40, gtol=1e-9, group=group)  # fmt: skip
    one_loop = fit(None)
    assert len(set(np.asarray(one_loop.steps).tolist())) > 1  # the rows do stop apart
    for group in (1, 2):
        grouped = fit(group)
        np.testing.assert_array_equal(grouped.steps, one_loop.steps)
        for k in start:
            np.testing.assert_allclose(grouped.params[k], one_loop.params[k], rtol=0, atol=1e-10)
            np.testing.assert_allclose(grouped.std[k], one_loop.std[k], rtol=1e-8)


def test_device_rows_pad_to_whole_groups_per_device():
    assert device_rows(3, 1, None) == 3 and device_rows(3, 1, 4) == 3  # one group: no padding
    assert device_rows(5, 1, 4) == 8 and device_rows(5, 2, 4) == 6  # 2 devices of 3 rows
    assert device_rows(37, 8, 4) == 64 and device_rows(37, 8, None) == 40


@pytest.mark.counts_compiles
def test_one_compile_per_length_bucket_and_none_for_new_data(x64):
    lengths = [3, 16, 17, 20, 24, 9]  # length buckets 16 and 24
    first, second = _lines(lengths, seed=2), _lines(lengths, seed=3)
    start = _start(len(lengths), jnp.float64)
    with count_compiles() as counts:
        minimize_many(line_loss, start, first, LBFGS, steps=5, gtol=_gtol(jnp.float64))
    assert counts.compiles <= 2 + 1, counts
    with count_compiles() as counts:  # new data, and an equal optimizer built anew
        again = optax.lbfgs(linesearch=None)
        minimize_many(line_loss, start, second, again, steps=5, gtol=_gtol(jnp.float64))
    assert counts.compiles == 0, counts


def test_a_series_with_a_non_finite_loss_is_reported_not_raised(x64):
    ts, ys, errs = _lines(FOUR, seed=5)
    ys[1] = ys[1].copy()
    ys[1][3] = np.nan
    result = minimize_many(line_loss, _start(4, jnp.float64), (ts, ys, errs), LBFGS, steps=20,
                           gtol=_gtol(jnp.float64))  # fmt: skip
    np.testing.assert_array_equal(result.converged, [True, False, True, True])
    assert not np.isfinite(float(result.value[1]))


def test_bad_input_names_the_argument():
    data = _lines([4, 5])
    start = _start(2, jnp.float32)
    cases = [
        (dict(steps=0), ValueError, "steps must be >= 1"),
        (dict(steps=1, gtol=-1.0), ValueError, "gtol must be >= 0"),
        (dict(steps=1, params=_start(3, jnp.float32)), ValueError, "leading series axis of 2"),
        (dict(steps=1, data=(data[0], data[1][:1])), ValueError, "one non-zero number"),
        (
            dict(steps=1, data=(data[0], [data[1][0], data[1][1][:2]])),
            ValueError,
            r"data\[1\]\[1\]",
        ),
        (dict(steps=1, data=()), TypeError, "non-empty tuple"),
        (dict(steps=1, params={"a": np.arange(2)}), TypeError, "no inexact-array leaves"),
        *[(dict(steps=1, group=g), ValueError, "group must be") for g in (0, -2, True, "x")],
    ]
    for kwargs, error, match in cases:
        call = dict(params=start, data=data) | kwargs
        with pytest.raises(error, match=match):
            minimize_many(line_loss, call.pop("params"), call.pop("data"), LBFGS, **call)


@settings(max_examples=4)
@given(
    lengths=st.lists(st.integers(3, 16), min_size=4, max_size=4),
    slope=st.floats(-5.0, 5.0),
)
def test_property_every_series_reaches_its_least_squares_line(lengths, slope):
    ts, ys, errs = _lines(lengths, seed=len(lengths))
    ys = [y + slope * t for t, y in zip(ts, ys)]
    dtype = jnp.result_type(float)
    result = minimize_many(line_loss, _start(4, dtype), (ts, ys, errs), LBFGS, steps=50,
                           gtol=_gtol(dtype))  # fmt: skip
    rtol = tolerance(dtype, float32=1e-3, float64=1e-8)
    for i, (t, y, err) in enumerate(zip(ts, ys, errs)):
        best, _ = _least_squares(t, y, err)
        np.testing.assert_allclose([result.params["a"][i], result.params["b"][i]], best,
                                   rtol=rtol, atol=rtol * (1 + abs(slope)))  # fmt: skip
    assert result.value.shape == (len(lengths),)
    assert jax.tree_util.tree_structure(result.std) == jax.tree_util.tree_structure(result.params)
