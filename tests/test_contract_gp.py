"""The GP entry points' contract, by property: for every generated input, either the documented
error or a finite result within a stated per-dtype tolerance of a float64 numpy reference.

Inputs range over what breaks GPs: repeated and unsorted X, zero and tiny noise, scales from
10^-3 to 10^3, and NaN or inf in X, y, diag or a kernel parameter. The documented errors are:
non-finite input (``... must be finite``), unsorted X for the quasiseparable solver (``must be
sorted``), and a covariance that is not positive definite or too close to singular to trust at
the working precision (``not positive definite``, relative pivot d_k / C_kk <= max(N, 100) eps).

Each test runs at one size per dtype, so every example reuses the compiled programs. The suite
runs once per precision (float32, then float64): ``default_float`` is that pass's dtype.
"""

import math
import os

import equinox as eqx
import jax
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from diffkern import CheckError
from diffkern._arrays import default_float
from diffkern.gp import (
    Dense,
    GaussianProcess,
    Matern32,
    Quasisep,
    log_probability_padded,
    log_probability_ragged,
)
from diffkern.gp._dense import DEFAULT_JITTER
from diffkern.testing import tolerance

N = 5
# Examples per test: CI's budget, 25 times more with HYPOTHESIS_PROFILE=nightly.
SCALE = 25 if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else 1
DOCUMENTED = "must be finite|must be sorted|not positive definite"
BAD = [math.nan, math.inf, -math.inf]
# |diffkern - reference| <= TOL * (|reference| + N): float32 near the pivot bound loses digits.
TOL = {"float32": 2e-2, "float64": 1e-8}

_coordinate = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, 1.0, 3.0]),  # repeats on purpose
    st.floats(-10.0, 10.0, width=32),
)
_value = st.floats(-10.0, 10.0, width=32)


def _maybe_bad(values: st.SearchStrategy) -> st.SearchStrategy:
    """Lists of N values, now and then with one NaN or inf."""
    plain = st.lists(values, min_size=N, max_size=N)
    bad = st.tuples(plain, st.integers(0, N - 1), st.sampled_from(BAD)).map(
        lambda t: [*t[0][: t[1]], t[2], *t[0][t[1] + 1 :]]
    )
    return st.one_of(plain, plain, plain, bad)


_problem = st.fixed_dictionaries(
    {
        "X": _maybe_bad(_coordinate),
        "y": _maybe_bad(_value),
        "diag": st.sampled_from([0.0, 1e-12, 1e-6, 1e-3, 0.1, 1.0, math.nan]),
        "scale": st.one_of(st.floats(1e-3, 1e3), st.sampled_from([math.inf])),
        "amp": st.floats(0.1, 10.0),
        "sorted": st.booleans(),
    }
)


def _inputs(p):
    """The problem in the pass's dtype (what diffkern sees) and in float64 (the reference)."""
    dtype = default_float()
    X = np.asarray(p["X"], dtype)
    if p["sorted"]:
        X = np.sort(X)
    y = np.asarray(p["y"], dtype)
    diag, scale, amp = (dtype.type(p[k]) for k in ("diag", "scale", "amp"))
    return dtype, X, y, diag, scale, amp


def _covariance(X, diag, scale, amp, jitter):
    """float64 C = amp K_Matern32 + diag + jitter * eps * mean(diag C)."""
    X = X.astype(np.float64)
    r = math.sqrt(3) * np.abs(X[:, None] - X[None, :]) / np.float64(scale)
    K = np.float64(amp) * (1 + r) * np.exp(-r) + np.float64(diag) * np.eye(X.size)
    return K + jitter * np.mean(np.diag(K)) * np.eye(X.size)


def _reference(X, y, diag, scale, amp, jitter):
    """float64 log N(y | 0, C), or None where C is not positive definite in float64."""
    C = _covariance(X, diag, scale, amp, jitter)
    try:
        L = np.linalg.cholesky(C)
    except np.linalg.LinAlgError:
        return None
    z = scipy.linalg.solve_triangular(L, y.astype(np.float64), lower=True)
    return -0.5 * (z @ z) - np.sum(np.log(np.diag(L))) - 0.5 * X.size * math.log(2 * math.pi)


def _jitter(solver, dtype):
    return DEFAULT_JITTER * float(np.finfo(dtype).eps) if solver == "cholesky" else 0.0


def _outcome(call):
    """The result, or None after a documented error (any other exception fails the test)."""
    try:
        return call()
    except (CheckError, ValueError, jax.errors.JaxRuntimeError) as error:  # in jit: wrapped
        assert any(m in str(error) for m in DOCUMENTED.split("|")), str(error)
        return None


def _close(value, reference, dtype, n=N):
    tol = tolerance(dtype, float32=TOL["float32"], float64=TOL["float64"])
    assert np.isfinite(value), value
    assert reference is not None, f"diffkern gave {value} for a covariance that is not PD"
    assert abs(float(value) - reference) <= tol * (abs(reference) + n), (value, reference)


def _gp(p, solver):
    dtype, X, y, diag, scale, amp = _inputs(p)
    return GaussianProcess(amp * Matern32(scale), X, diag=diag, solver=solver), (dtype, X, y)


@pytest.mark.parametrize("solver", ["cholesky", "quasisep"])
@settings(max_examples=40 * SCALE)
@given(p=_problem)
def test_log_probability(solver, p):
    gp = _outcome(lambda: _gp(p, solver))
    if gp is None:
        return
    gp, (dtype, X, y) = gp
    value = _outcome(lambda: gp.log_probability(y))
    if value is None:
        return
    assert value.dtype == dtype
    jitter = _jitter(solver, dtype)
    _close(value, _reference(X, y, p["diag"], p["scale"], p["amp"], jitter), dtype)


@pytest.mark.parametrize("solver", ["cholesky", "quasisep"])
@settings(max_examples=25 * SCALE)
@given(p=_problem, X_test=st.lists(_value, min_size=2, max_size=2))
def test_condition(solver, p, X_test):
    """mean = K*^T C^-1 y and var = k(0) - diag(K*^T C^-1 K*), within TOL (plus the loss
    cond(C) allows) of the scale of the data (|y| max) and of the prior variance."""
    gp = _outcome(lambda: _gp(p, solver))
    if gp is None:
        return
    gp, (dtype, X, y) = gp
    X_test = np.asarray(X_test, dtype)
    out = _outcome(lambda: gp.condition(y, X_test))
    if out is None:
        return
    mean, var = (np.asarray(a, np.float64) for a in out)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var >= 0)
    C = _covariance(X, p["diag"], p["scale"], p["amp"], _jitter(solver, dtype))
    r = math.sqrt(3) * np.abs(X.astype(np.float64)[:, None] - X_test[None, :]) / p["scale"]
    Ks = p["amp"] * (1 + r) * np.exp(-r)
    expected_mean = Ks.T @ np.linalg.solve(C, y.astype(np.float64))
    expected_var = p["amp"] - np.sum(Ks * np.linalg.solve(C, Ks), 0)
    # Solving with C loses up to cond(C) eps (a backward-stable solve's forward error), in
    # diffkern and in the reference alike: repeated X with tiny noise is that ill-conditioned.
    conditioning = N * np.linalg.cond(C) * float(np.finfo(dtype).eps)
    tol = tolerance(dtype, float32=TOL["float32"], float64=TOL["float64"]) + conditioning
    bound = np.abs(expected_mean) + np.sqrt(p["amp"]) * (1 + np.max(np.abs(y)))
    assert np.all(np.abs(mean - expected_mean) <= tol * bound), (mean, expected_mean)
    assert np.all(np.abs(var - np.maximum(expected_var, 0)) <= tol * p["amp"]), (var, expected_var)


@settings(max_examples=25 * SCALE)
@given(p=_problem)
def test_sample(p):
    """Dense draws are z L^T for the key's normal z: against float64 L, relative to the
    prior standard deviation. Quasisep draws: finite, of the right shape and dtype."""
    for solver in (Dense(), Quasisep()):
        gp = _outcome(lambda: _gp(p, solver))  # noqa: B023 (called at once)
        if gp is None:
            continue
        gp, (dtype, X, _) = gp
        key = jax.random.key(3)
        draw = _outcome(lambda: gp.sample(key))  # noqa: B023
        if draw is None:
            continue
        assert draw.shape == (N,) and draw.dtype == dtype and np.all(np.isfinite(draw))
        if isinstance(solver, Dense):
            C = _covariance(X, p["diag"], p["scale"], p["amp"], _jitter("cholesky", dtype))
            z = np.asarray(jax.random.normal(key, (N,), dtype), np.float64)
            L = np.linalg.cholesky(C)
            tol = tolerance(dtype, float32=TOL["float32"], float64=1e-6)
            bound = tol * np.sqrt(np.diag(C)) * (1 + np.max(np.abs(z)))
            assert np.all(np.abs(np.asarray(draw, np.float64) - z @ L.T) <= bound)


LENGTHS = (3, 5)


@settings(max_examples=20 * SCALE)
@given(
    problems=st.lists(_problem, min_size=2, max_size=2),
    solver=st.sampled_from(["cholesky", "quasisep", "auto"]),
)
def test_ragged_and_padded(problems, solver):
    """Series of lengths 3 and 5: log_probability_ragged and log_probability_padded (one
    padded batch, the same series) against the float64 reference per series."""
    series = []
    for p, n in zip(problems, LENGTHS, strict=True):
        dtype, X, y, diag, scale, amp = _inputs(p)
        series.append((X[:n], y[:n], np.full(n, diag, dtype)))
    kernel = _outcome(lambda: problems[0]["amp"] * Matern32(dtype.type(problems[0]["scale"])))
    if kernel is None:
        return
    p = problems[0]
    xs, ys, diags = (list(a) for a in zip(*series, strict=True))
    ragged = _outcome(lambda: log_probability_ragged(kernel, xs, ys, diags, solver=solver))
    padded = _outcome(lambda: _padded(kernel, xs, ys, diags, solver))
    for values in (ragged, padded):
        if values is None:
            continue
        assert values.dtype == dtype
        for value, (X, y, d) in zip(values, series, strict=True):
            chosen = "cholesky" if solver == "cholesky" or not _sorted(xs) else "quasisep"
            jitter = _jitter(chosen, dtype)
            _close(value, _reference(X, y, d[0], p["scale"], p["amp"], jitter), dtype, X.size)


def _sorted(xs):
    return all(np.all(np.diff(x) >= 0) for x in xs)


def _padded(kernel, xs, ys, diags, solver):
    """The series padded to one length with a mask (the last X repeated, so sorted stays)."""
    length = max(x.size for x in xs)

    def pad(arrays, fill):
        return np.stack([np.concatenate([v, np.full(length - v.size, fill(v))]) for v in arrays])

    mask = np.arange(length)[None, :] < np.array([x.size for x in xs])[:, None]
    X, Y = pad(xs, lambda v: v[-1]), pad(ys, lambda v: 0)
    D = pad(diags, lambda v: 1)
    return _padded_program(kernel, X, Y, D, mask, solver=solver)


_padded_program = eqx.filter_jit(log_probability_padded)
