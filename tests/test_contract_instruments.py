"""Contract of MultiInstrumentRV over generated inputs: the documented CheckError naming every
bad argument, or a log-likelihood and offsets within the stated bound of a float64 numpy
reference computed from the same (rounded) inputs."""

import math

import numpy as np
import pytest
from _contract import assert_check_errors, contract
from _rv_reference import log_likelihood as reference
from hypothesis import given
from hypothesis import strategies as st

from diffkern.orbits import Keplerian, MultiInstrumentRV, RVObservations
from diffkern.precision import float64

#: Kepler solver accuracy in E (rad), documented per dtype.
KEPLER = {"float32": 2e-6, "float64": 1e-14}
N_POINTS, N_INSTRUMENTS = 8, 3  # fixed shapes: every example runs the same programs


def _corrupt(drawn):
    values, (position, special) = drawn
    if 0 <= position < len(values):  # draws near 0 (the simplest) stay valid
        values[-1 - position] = special
    return values


def _values(elements, specials, size):
    """``size`` valid elements, one of them replaced by a special in about one draw in six."""
    valid = st.lists(elements, min_size=size, max_size=size)
    spoil = st.tuples(st.integers(-5 * size, size), st.sampled_from(specials))
    return st.tuples(valid, spoil).map(_corrupt)


def _planet(low, high):
    return st.lists(st.floats(low, high), min_size=2, max_size=2)


def _violations(t, rv, err, inst, jitter, offset):
    bad = []
    if not np.all(np.isfinite(rv)):
        bad.append("rv must be finite")
    if not np.all(np.isfinite(err) & (err > 0)):
        bad.append("err must be finite and > 0")
    if not np.all((inst >= 0) & (inst < N_INSTRUMENTS)):
        bad.append(f"instrument must be in [0, {N_INSTRUMENTS})")
    if not np.all(np.isfinite(jitter) & (jitter >= 0)):
        bad.append("jitter must be finite and >= 0")
    if offset is not None and not np.all(np.isfinite(offset)):
        bad.append("offset must be finite")
    return bad


def _bound(dtype, t, rv, err, inst, planets, jitter, trend, time_base, reference):
    """16 eps of each term's size, plus the float32 velocity's error through d log L / d v_i =
    r_i / v_i: the phase's rounding and the solver's accuracy times the slope of the orbit,
    and the rounding of each velocity's parts."""
    _, offsets, terms, residual = reference
    eps = np.finfo(dtype).eps
    period, tp, ecc, _, k = planets
    gain = (1 + ecc) ** 2 / (1 - ecc**2) ** 1.5
    phase = 2 * np.pi * 4 * eps * (np.abs(t[:, None] - tp) / period + 1)
    trend_size = sum(abs(c) * np.abs(t - time_base) ** (n + 1) for n, c in enumerate(trend))
    size = np.abs(rv) + np.sum(k) + trend_size + np.abs(offsets[inst])
    dv = np.sum(k * gain * (phase + KEPLER[dtype]), axis=1) + 8 * eps * size
    var = err**2 + jitter[inst] ** 2
    r = np.abs(residual)
    value = 16 * eps * (np.sum(np.abs(terms)) + N_POINTS) + np.sum((r * dv + dv**2) / var)
    return value, 2 * np.max(dv) + 16 * eps * np.max(size)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(30)
@given(
    t=st.lists(st.floats(0.0, 30.0), min_size=N_POINTS, max_size=N_POINTS),
    rv=_values(st.floats(-100.0, 100.0), [math.nan, math.inf], N_POINTS),
    err=_values(st.floats(1e-2, 1e2), [0.0, -1.0, math.nan, math.inf], N_POINTS),
    inst=_values(st.integers(0, N_INSTRUMENTS - 1), [-1, N_INSTRUMENTS], N_POINTS),
    jitter=_values(st.floats(0.0, 50.0), [-1.0, math.nan, math.inf], N_INSTRUMENTS),
    offset=_values(st.floats(-100.0, 100.0), [math.nan, -math.inf], N_INSTRUMENTS),
    planets=st.tuples(
        _planet(1.0, 50.0), _planet(0.0, 30.0), _planet(0.0, 0.8), _planet(-3.2, 3.2),
        _planet(0.0, 30.0),
    ),
    trend=st.tuples(st.floats(-1.0, 1.0), st.floats(-0.01, 0.01)),
    time_base=st.floats(0.0, 30.0),
    marginalize=st.booleans(),
)  # fmt: skip
def test_multi_instrument_contract(
    dtype, t, rv, err, inst, jitter, offset, planets, trend, time_base, marginalize
):
    with float64(dtype == "float64"):
        cast = lambda x: np.asarray(x, dtype)  # noqa: E731
        t, rv, err, jitter, offset = map(cast, (t, rv, err, jitter, offset))
        planets, trend, time_base = [cast(p) for p in planets], cast(trend), cast(time_base)
        inst = np.asarray(inst, np.int32)
        model = MultiInstrumentRV(
            Keplerian(*planets), jitter, None if marginalize else offset, dvdt=trend[0],
            curv=trend[1], time_base=time_base, marginalize=marginalize,
        )  # fmt: skip
        data = RVObservations(t, rv, err, inst)
        as64 = lambda x: np.asarray(x, np.float64)  # noqa: E731
        t, rv, err, jitter, offset, trend = map(as64, (t, rv, err, jitter, offset, trend))
        planets, time_base = [as64(p) for p in planets], float(time_base)
        expected_errors = _violations(t, rv, err, inst, jitter, None if marginalize else offset)
        empty = [k for k in range(N_INSTRUMENTS) if not np.any(inst == k)]
        if marginalize and empty and not expected_errors:
            expected_errors.append("marginalize needs at least one point per instrument")
        if expected_errors:
            assert_check_errors(lambda: model.evaluate(data), "MultiInstrumentRV", expected_errors)
            return
        fit = model.evaluate(data)
    expected = reference(
        t, rv, err, inst, planets, jitter, None if marginalize else offset, trend, time_base
    )
    value, offsets = expected[:2]
    tol, offset_tol = _bound(dtype, t, rv, err, inst, planets, jitter, trend, time_base, expected)
    assert fit.log_likelihood.dtype == dtype
    assert abs(float(fit.log_likelihood) - value) <= tol
    assert np.all(np.abs(np.asarray(fit.offset, np.float64) - offsets) <= offset_tol)
