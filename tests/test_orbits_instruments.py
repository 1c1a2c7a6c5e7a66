"""Several instruments: radvel's likelihood (offsets as parameters or marginalised), the
marginal as a numerical integral, float32 accuracy, gradients, vmap/jit, no recompiles, errors."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _rv_reference import log_likelihood as reference
from _rv_reference import planets_rv

from diffkern import CheckError
from diffkern.jit import count_compiles
from diffkern.orbits import InstrumentFit, Keplerian, MultiInstrumentRV, RVObservations
from diffkern.testing import check_grads, tolerance

RNG = np.random.default_rng(5)
# Two planets (period, tp, ecc, omega, K), three instruments, a quadratic trend about t0 = 10.
PLANETS = [np.asarray(p) for p in [(3.1, 11.3), (0.5, 2.0), (0.2, 0.4), (1.0, -0.5), (5.0, 8.0)]]
JITTER, OFFSET = np.asarray([1.5, 0.0, 3.0]), np.asarray([-3.0, 12.0, 0.5])
TREND, TIME_BASE = (0.05, -0.002), 10.0
LENGTHS = (9, 14, 6)
TS = [np.sort(RNG.uniform(0.0, 30.0, n)) for n in LENGTHS]
ERRS = [RNG.uniform(1.0, 3.0, n) for n in LENGTHS]
RVS = [
    o + RNG.normal(0.0, 4.0, n) + 0.05 * (t - 10)
    for o, n, t in zip(OFFSET, LENGTHS, TS, strict=True)
]
INST = np.repeat(np.arange(3, dtype=np.int32), LENGTHS)

# A check that fails inside the caller's jit (or equinox.filter_jit): XLA wraps the CheckError
# its host callback raised (a ValueError once the program has run before: JAX's fast path).
CALLBACK_ERRORS = (jax.errors.JaxRuntimeError, ValueError)


def _model(dtype, marginalize, *, jitter=JITTER, offset=OFFSET, trend=TREND):
    planets = Keplerian(*(np.asarray(p, dtype) for p in PLANETS))
    offset = None if marginalize else np.asarray(offset, dtype)
    trend = dict(zip(("dvdt", "curv"), (np.asarray(c, dtype) for c in trend), strict=False))
    return MultiInstrumentRV(planets, np.asarray(jitter, dtype), offset,
                             time_base=np.asarray(TIME_BASE, dtype), marginalize=marginalize,
                             **trend)  # fmt: skip


def _flat(dtype, series=(TS, RVS, ERRS)):
    return [np.concatenate(s).astype(dtype) for s in series]


def _observations(dtype, form):
    if form == "index":
        return RVObservations(*_flat(dtype), INST)
    return RVObservations.from_series(*([x.astype(dtype) for x in s] for s in (TS, RVS, ERRS)))


def _radvel(marginalize):
    """radvel's CompositeLikelihood of one RVLikelihood per instrument, same parameters."""
    radvel = pytest.importorskip("radvel")
    params = radvel.Parameters(2, basis="per tp e w k")
    for i, (p, tp, e, w, k) in enumerate(zip(*PLANETS, strict=True), 1):
        for name, value in zip(("per", "tp", "e", "w", "k"), (p, tp, e, w, k), strict=True):
            params[f"{name}{i}"] = radvel.Parameter(value)
    params["dvdt"], params["curv"] = (radvel.Parameter(c) for c in TREND)
    for i in range(3):
        params[f"gamma_{i}"] = radvel.Parameter(OFFSET[i], vary=not marginalize, linear=marginalize)
        params[f"jit_{i}"] = radvel.Parameter(JITTER[i])
    model = radvel.RVModel(params, time_base=TIME_BASE)
    likes = [
        radvel.likelihood.RVLikelihood(model, t, rv, err, suffix=f"_{i}")
        for i, (t, rv, err) in enumerate(zip(TS, RVS, ERRS, strict=True))
    ]
    value = radvel.likelihood.CompositeLikelihood(likes).logprob()
    return value, [like.vector.vector[like.gamma_index][0] for like in likes]


@pytest.mark.parametrize(
    "marginalize, form", [(False, "index"), (True, "series")], ids=["offsets", "marginalised"]
)
def test_agrees_with_radvel(x64, marginalize, form):
    expected, offsets = _radvel(marginalize)
    fit = _model(np.float64, marginalize).evaluate(_observations(np.float64, form))
    assert isinstance(fit, InstrumentFit) and fit.log_likelihood.dtype == jnp.float64
    np.testing.assert_allclose(fit.log_likelihood, expected, rtol=1e-9)
    np.testing.assert_allclose(fit.offset, offsets, rtol=1e-9)  # radvel's best fit when marg.


def test_marginal_is_the_integral_over_each_offset(x64):
    """log of the integral of L over the three offsets (unit flat prior), by the trapezoid rule
    on a fine grid, in float64 numpy: the likelihood is a product over instruments."""
    t, rv, err = _flat(np.float64)
    residual = (
        rv - planets_rv(t, *PLANETS) - TREND[0] * (t - TIME_BASE) - TREND[1] * (t - TIME_BASE) ** 2
    )
    var = err**2 + np.asarray(JITTER)[INST] ** 2
    total = 0.0
    for k in range(3):
        r, v = residual[INST == k], var[INST == k]
        gammas = np.median(r) + np.linspace(-40.0, 40.0, 8001)  # sigma_gamma < 2 m/s
        logs = -0.5 * np.sum((r - gammas[:, None]) ** 2 / v + np.log(2 * np.pi * v), axis=1)
        total += logs.max() + np.log(np.trapezoid(np.exp(logs - logs.max()), gammas))
    fit = _model(np.float64, True).log_likelihood(_observations(np.float64, "series"))
    np.testing.assert_allclose(fit, total, rtol=1e-10)


def test_float32_within_the_stated_bound():
    """float32 against float64 numpy on the same (float32-rounded) inputs: |d log L| <=
    16 eps sum_i |r_i^2 / v_i + log(2 pi v_i)| (measured: 1.5 eps), offsets within 16 eps of
    the velocity scale."""
    eps = float(np.finfo(np.float32).eps)
    t, rv, err = _flat(np.float32)
    as32 = lambda x: np.asarray(x, np.float32).astype(np.float64)  # noqa: E731
    planets, trend = [as32(p) for p in PLANETS], tuple(as32(TREND))
    for marginalize in (False, True):
        fit = _model(np.float32, marginalize).evaluate(_observations(np.float32, "index"))
        assert fit.log_likelihood.dtype == jnp.float32
        offset = None if marginalize else as32(OFFSET)
        value, offsets, terms, _ = reference(
            t, rv, err, INST, planets, as32(JITTER), offset, trend, float(as32(TIME_BASE))
        )
        assert abs(float(fit.log_likelihood) - value) <= 16 * eps * np.sum(np.abs(terms))
        scale = np.max(np.abs(rv)) + np.sum(PLANETS[4])
        np.testing.assert_allclose(fit.offset, offsets, rtol=0, atol=16 * eps * scale)


def test_gradients_match_finite_differences(x64):
    """Forward and reverse mode of both likelihoods (one program for the two; order 2 would
    compile six more programs of the Kepler solver, each seconds long)."""
    data = _observations(np.float64, "index")

    @jax.jit
    def f(jitter, offset, trend, k):
        planets = Keplerian(*PLANETS[:4], k)
        trend = dict(dvdt=trend[0], curv=trend[1], time_base=TIME_BASE)
        fitted = MultiInstrumentRV(planets, jitter, offset, **trend)
        marginal = MultiInstrumentRV(planets, jitter, marginalize=True, **trend)
        return fitted.log_likelihood(data) + 2 * marginal.log_likelihood(data)

    jitter = JITTER.copy()
    jitter[1] = 0.7  # away from 0, where the step would cross the kink of the check
    args = [jnp.asarray(a) for a in (jitter, OFFSET, np.asarray(TREND), PLANETS[4])]
    check_grads(f, args, order=1, modes=["fwd", "rev"])


@eqx.filter_jit
def _batched_value_and_grad(model, jitters, data):
    """log L and its gradient in the planets' K for each row of ``jitters``: vmap of grad
    under jit (K only: the orbit's other derivatives would compile the Kepler solver's)."""
    fields = lambda m: (m.planets.semi_amplitude, m.jitter)  # noqa: E731
    loss = lambda k, j: eqx.tree_at(fields, model, (k, j)).log_likelihood(data)  # noqa: E731
    return jax.vmap(jax.value_and_grad(loss), in_axes=(None, 0))(fields(model)[0], jitters)


def test_vmap_grad_and_jit_agree_with_one_call_each(dtype):
    data, model = _observations(dtype, "series"), _model(dtype, True)
    jitters = jnp.asarray([[1.0, 2.0, 3.0], [0.5, 0.0, 4.0], [2.0, 2.0, 2.0]], dtype)
    values, grads = _batched_value_and_grad(model, jitters, data)
    rtol = tolerance(dtype, float32=1e-6, float64=1e-14)
    for i, j in enumerate(jitters):
        fit = eqx.tree_at(lambda m: m.jitter, model, j).evaluate(data)
        np.testing.assert_allclose(values[i], fit.log_likelihood, rtol=rtol)
        # d log L / d K_p = sum_i r_i / v_i * v_p(t_i) / K_p (the model is linear in K_p;
        # marginalised, the best offsets' own change drops out: sum_{i in k} r_i / v_i = 0)
        weighted = jnp.where(data.mask, fit.residual / fit.variance, 0)
        expected = jnp.sum(weighted[None, :] * model.planets.per_planet(data.t), axis=1)
        expected = expected / model.planets.semi_amplitude
        atol = tolerance(dtype, float32=1e-4, float64=1e-12)
        np.testing.assert_allclose(grads[i], expected, atol=atol)


@pytest.mark.counts_compiles
def test_new_values_and_new_lengths_in_a_bucket_never_recompile():
    model, data = _model(np.float32, True), _observations(np.float32, "series")
    jitters, other_jitters = (jax.device_put(np.full((3, 3), x, np.float32)) for x in (1, 2))
    jax.block_until_ready((model.evaluate(data), _batched_value_and_grad(model, jitters, data)))
    other_model = _model(np.float32, True, jitter=np.asarray([0.3, 0.2, 0.1]), trend=(0.1, 0.01))
    lengths = (10, 13, 5)  # the same total length, so the same bucket
    series = [[RNG.uniform(1.0, 2.0, n).astype(np.float32) for n in lengths] for _ in range(3)]
    with count_compiles() as counts:
        other = RVObservations.from_series(*series)
        jax.block_until_ready(other_model.evaluate(other))
        jax.block_until_ready(_batched_value_and_grad(other_model, other_jitters, other))
    assert counts.compiles == 0, counts.explanations


def test_trend_orders_and_velocity(dtype):
    t = np.linspace(0.0, 30.0, 7).astype(dtype)
    planets = Keplerian(*(np.asarray(p, dtype) for p in PLANETS))
    rtol = tolerance(dtype, float32=1e-5, float64=1e-12)
    for trend in [(), (0.05,), (0.05, -0.002)]:
        model = _model(dtype, False, trend=trend)
        assert model.trend_order == len(trend)
        expected = planets(t) + sum(c * (t - TIME_BASE) ** (n + 1) for n, c in enumerate(trend))
        np.testing.assert_allclose(model.velocity(t), expected, rtol=rtol, atol=rtol)
    curv_only = MultiInstrumentRV(planets, np.ones(1, dtype), np.zeros(1, dtype), curv=1.0)
    assert curv_only.trend_order == 2 and float(curv_only.dvdt) == 0.0


def _bad_model(**changes):
    planets = Keplerian(*(np.asarray(p) for p in PLANETS))
    kwargs = dict(jitter=np.asarray(JITTER), offset=np.asarray(OFFSET), dvdt=0.1) | changes
    return MultiInstrumentRV(planets, **kwargs)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: _bad_model(offset=np.zeros(2)), ValueError, r"offset must have the shape"),
        (lambda: _bad_model(jitter=np.ones((1, 3))), ValueError, r"jitter must have shape"),
        (lambda: _bad_model(marginalize=True), ValueError, "offset must be None when"),
        (lambda: _bad_model(offset=None), ValueError, "offset is required unless"),
        (lambda: _bad_model(dvdt=np.ones(2)), ValueError, "dvdt must be a scalar"),
        (lambda: RVObservations(np.ones(3), np.ones(3), np.ones(2), INST[:3]), ValueError,
         r"must be 1-D of one length >= 1, got t \(3,\), rv \(3,\), err \(2,\)"),
        (lambda: RVObservations.from_series([np.ones(3)], [np.ones(3)], [np.ones(2)]),
         ValueError, r"ts\[0\], rvs\[0\] and errs\[0\] must have one length, got 3, 3, 2"),
        (lambda: RVObservations.from_series([np.ones(3)] * 2, [np.ones(3)], [np.ones(3)]),
         ValueError, "one series per instrument each, got 2, 1, 1"),
    ],
)  # fmt: skip
def test_bad_shapes_and_types_raise_at_once(build, error, message):
    with pytest.raises(error, match=message):
        build()


_log_likelihood_jit = eqx.filter_jit(lambda model, data: model.log_likelihood(data))


def _with(**changes):
    t, rv, err = (np.asarray(x, np.float32) for x in _flat(np.float32))
    values = dict(t=t, rv=rv, err=err, instrument=INST.copy())
    for name, (i, value) in changes.items():
        values[name][i] = value
    return RVObservations(**values)


@pytest.mark.parametrize(
    "data, model, message",
    [
        (dict(instrument=(4, 3)), {}, r"instrument must be in \[0, 3\)"),
        (dict(instrument=(4, -1)), {}, r"instrument must be in \[0, 3\)"),
        (dict(err=(2, -1.0)), {}, "err must be finite and > 0"),
        (dict(err=(2, 0.0)), {}, "err must be finite and > 0"),
        (
            dict(err=(2, 1e-30)),
            dict(jitter=np.zeros(3)),
            r"err\^2 \+ jitter\^2 must be in \(0, inf\)",
        ),
        (dict(err=(2, 1e30)), {}, r"err\^2 \+ jitter\^2 must be in \(0, inf\) in float32"),
        (dict(rv=(0, math.nan)), {}, "rv must be finite"),
        (dict(t=(5, math.inf)), {}, "t must be finite"),
        ({}, dict(jitter=np.asarray([1.0, -0.5, 1.0])), "jitter must be finite and >= 0"),
        ({}, dict(jitter=np.asarray([1.0, math.nan, 1.0])), "jitter must be finite and >= 0"),
        ({}, dict(offset=np.asarray([1.0, math.inf, 1.0])), "offset must be finite"),
        ({}, dict(trend=(math.nan, 0.0)), "dvdt must be finite"),
    ],
)
def test_bad_values_raise_check_errors_naming_the_argument(data, model, message):
    model, data = _model(np.float32, False, **model), _with(**data)
    with pytest.raises(CheckError, match=f"MultiInstrumentRV: {message}"):
        model.evaluate(data)
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*" + message):  # the first failure
        _log_likelihood_jit(model, data)  # inside the caller's jit


def test_marginalising_an_instrument_without_points_raises():
    data = RVObservations(*_flat(np.float32), np.minimum(INST, 1))  # instrument 2 has no point
    with pytest.raises(CheckError, match="marginalize needs at least one point per instrument"):
        _model(np.float32, True).log_likelihood(data)
    assert np.isfinite(_model(np.float32, False).log_likelihood(data))  # its offset is free
