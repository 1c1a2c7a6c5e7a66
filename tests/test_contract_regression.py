"""Contract of nadaraya_watson over generated inputs: the documented CheckError naming the bad
argument, or a finite mean of the samples that is within the stated tolerance of a float64
numpy reference wherever the dtype resolves the log-weights."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from _contract import assert_check_errors, contract
from hypothesis import given
from hypothesis import strategies as st

from diffkern.precision import float64
from diffkern.regression import nadaraya_watson

M, N = 3, 5
SPECIAL = [math.nan, math.inf, -math.inf]


def _coordinates(size):
    value = st.one_of(st.floats(-10.0, 10.0), st.floats(-10.0, 10.0), st.floats(-1e25, 1e25))
    return st.lists(value, min_size=size, max_size=size)


def _bandwidths():
    return st.one_of(
        st.floats(-45.0, 45.0).map(lambda x: 10.0**x),
        st.floats(-320.0, 300.0).map(lambda x: 10.0**x),
        st.sampled_from([0.0, -1.0, *SPECIAL]),
    )


def _violations(zq, z, x, h, dtype):
    bad = []
    if not (np.isfinite(h) and h > 0):
        bad.append("bandwidth must be finite and > 0")
    for name, v in (("z_query", zq), ("z", z), ("x", x)):
        if not np.all(np.isfinite(v)):
            bad.append(f"{name} must be finite")
    if not bad:
        with np.errstate(all="ignore"):
            # distances over max(h, 1) squared overflow as in dtype
            scale = np.longdouble(max(float(h), 1.0))
            wide_q, wide_z = zq.astype(np.longdouble), z.astype(np.longdouble)
            d2 = (((wide_q[:, None] - wide_z[None]) / scale) ** 2).sum(-1).astype(dtype)
        if np.any(np.isinf(d2).all(1)):
            bad.append("each query must be nearer than")
    return bad


def _reference(zq, z, x, h):
    """Weights relative to the nearest sample, in extended precision (no overflow of d2)."""
    zq, z, x, h = (np.asarray(v, np.longdouble) for v in (zq, z, x, h))
    with np.errstate(all="ignore"):
        d2 = ((zq[:, None] - z[None]) ** 2).sum(-1)
        excess = d2 - d2.min(1, keepdims=True)
        logw = np.where(excess == 0, 0.0, -excess / (2 * h**2))
        w = np.exp(logw)
        return (w / w.sum(1, keepdims=True)) @ x, d2, logw


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(40)
@given(
    zq=_coordinates(M * 2),
    z=_coordinates(N * 2),
    x=_coordinates(N),
    h=_bandwidths(),
    spoil=st.one_of(
        st.none(), st.tuples(st.integers(0, 2), st.sampled_from([*SPECIAL, 1e160, -1e30]))
    ),
)
def test_nadaraya_watson_contract(dtype, zq, z, x, h, spoil):
    if spoil is not None:  # one extreme coordinate or value in half of the examples
        target, value = spoil
        [zq, z, x][target][0] = value
    with np.errstate(over="ignore"):
        zq, z = np.asarray(zq, dtype).reshape(M, 2), np.asarray(z, dtype).reshape(N, 2)
        x, h = np.asarray(x, dtype).reshape(N, 1), np.asarray(h, dtype)
    with float64(dtype == "float64"):
        args = [jnp.asarray(v) for v in (zq, z, x, h)]
        expected_errors = _violations(zq, z, x, h, dtype)
        if expected_errors:
            assert_check_errors(lambda: nadaraya_watson(*args), "nadaraya_watson", expected_errors)
            return
        out = np.asarray(nadaraya_watson(*args))
    zq, z, x, h = (v.astype(np.float64) for v in (zq, z, x, h))
    assert out.dtype == dtype and np.all(np.isfinite(out))
    eps = np.finfo(dtype).eps
    span = np.ptp(x) + np.abs(x).max()
    assert np.all((out >= x.min() - 4 * eps * span) & (out <= x.max() + 4 * eps * span))
    # Where rounding the squared distances in dtype moves every weight that counts by under
    # 1e-3 in log, the result is the reference's to that order.
    expected, d2, logw = _reference(zq, z, x, h)
    counts = logw > -60
    with np.errstate(all="ignore"):
        shift = 4 * eps * np.max(np.where(counts, d2, 0), axis=1) / (2 * h**2)
    resolved = shift < 1e-3
    tol = (8 * shift[:, None] + 16 * eps) * span
    assert np.all((np.abs(out - expected) <= tol)[resolved])
