"""``Keplerian``: several planets as one module, against radvel, from transit times, ragged."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from diffkern.orbits import Keplerian, radial_velocity

radvel = pytest.importorskip("radvel")

# Two planets: period, tp, e, omega, K.
PLANETS = np.array([[7.3, 1.1, 0.2, 0.4, 12.0], [21.0, 5.0, 0.55, 2.1, 4.0]])
T = np.linspace(0.0, 60.0, 97)
# Absolute tolerance in m/s, per dtype, for |K| <= 12 m/s.
ATOL = {"float32": 2e-4, "float64": 1e-9}


def _radvel(t, planets):
    return sum(radvel.kepler.rv_drive(t, row) for row in planets)


def _keplerian(planets, dtype):
    return Keplerian(*jnp.asarray(planets.T, dtype))


def test_star_velocity_is_the_sum_over_planets(dtype):
    model = _keplerian(PLANETS, dtype)
    assert model.n_planets == 2 and model.period.shape == (2,) and model.period.dtype == dtype
    t = jnp.asarray(T, dtype)
    per_planet = model.per_planet(t)
    assert per_planet.shape == (2, T.size)
    atol = ATOL[jnp.dtype(dtype).name]
    for p in range(2):
        np.testing.assert_allclose(per_planet[p], _radvel(T, PLANETS[p : p + 1]), atol=atol)
    np.testing.assert_allclose(model(t), _radvel(T, PLANETS), atol=atol)
    np.testing.assert_allclose(eqx.filter_jit(lambda m, t: m(t))(model, t), model(t), atol=atol)


def test_from_transit_matches_radvel(x64):
    period, tc, ecc, omega, k = PLANETS.T
    model = Keplerian.from_transit(period, tc, ecc, omega, k)
    expected = radvel.orbit.timetrans_to_timeperi(tc, period, ecc, omega)
    np.testing.assert_allclose(model.time_of_periastron, expected, rtol=1e-12)
    np.testing.assert_allclose(model(T), _radvel(T, np.c_[period, expected, ecc, omega, k]))


def test_scalars_make_one_planet_and_fields_broadcast(x64):
    one = Keplerian(7.3, 1.1, 0.2, 0.4, 12.0)
    assert one.period.shape == (1,)
    np.testing.assert_allclose(one(T), radial_velocity(T, 7.3, 1.1, 0.2, 0.4, 12.0))
    shared_ecc = Keplerian(np.array([7.3, 21.0]), np.array([1.1, 5.0]), 0.0, 0.4, 12.0)
    assert shared_ecc.ecc.shape == (2,)
    with pytest.raises(ValueError, match=r"do not broadcast: period \(2,\), time_of_periastron"):
        Keplerian(np.array([7.3, 21.0]), np.arange(3.0), 0.0, 0.4, 1.0)


def test_errors_name_keplerian():
    """A bad value is reported by the entry point the user called, then the check's own."""
    from diffkern import CheckError
    from diffkern.orbits import TimePrecisionWarning

    with pytest.raises(CheckError, match=r"^Keplerian: radial_velocity: ecc must be in \[0, 1\)"):
        Keplerian(7.3, 1.1, 1.5, 0.4, 12.0)(T)
    if not jax.config.jax_enable_x64:  # BJD-sized times rounded to the float32 of the fields
        with pytest.warns(TimePrecisionWarning, match="^Keplerian: t rounded to float32"):
            Keplerian(3.0, 2457000.0, 0.1, 0.0, 1.0)(2457000.0 + T[:7] / 60)


def test_gradient_with_respect_to_every_field(x64):
    t = jnp.asarray(T)
    data = jnp.asarray(_radvel(T, PLANETS)) + 0.3

    def loss(model):
        return jnp.sum((data - model(t)) ** 2)

    model = _keplerian(PLANETS * [1.0, 1.0, 1.1, 1.0, 0.9], jnp.float64)
    grads = eqx.filter_jit(jax.grad(loss))(model)
    assert all(np.all(np.isfinite(getattr(grads, f))) for f in ("period", "ecc", "omega"))
    fields = jnp.stack([model.period, model.time_of_periastron, model.ecc, model.omega,
                        model.semi_amplitude])  # fmt: skip
    of_fields = jax.jit(lambda f: loss(Keplerian(*f)))
    np.testing.assert_allclose(jax.grad(of_fields)(fields)[2], grads.ecc, rtol=1e-12)
    check_grads(of_fields, (fields,), order=1, modes=["rev", "fwd"])
    batch = jnp.stack([fields, fields * 1.01])
    np.testing.assert_allclose(jax.vmap(of_fields)(batch), [of_fields(f) for f in batch])


def test_ragged_takes_all_planets_at_once(x64):
    rng = np.random.default_rng(0)
    ts = [np.sort(rng.uniform(0.0, 60.0, n)) for n in (5, 31, 12)]
    shared = _keplerian(PLANETS, jnp.float64)
    for series, t in zip(shared.ragged(ts), ts, strict=True):
        np.testing.assert_allclose(series, _radvel(t, PLANETS), atol=1e-9)
    # One column per series: planet p of series i has the parameters [p, :, i].
    per_series = np.stack([PLANETS * (1 + 0.1 * i) for i in range(len(ts))], axis=-1)
    model = Keplerian(*jnp.asarray(per_series.transpose(1, 0, 2)))
    assert model.period.shape == (2, 3)
    for i, (series, t) in enumerate(zip(model.ragged(ts), ts, strict=True)):
        np.testing.assert_allclose(series, _radvel(t, per_series[..., i]), atol=1e-9)
    with pytest.raises(ValueError, match=r"\(n_planets, len\(ts\)\) = \(2, 2\)"):
        model.ragged(ts[:2])
