"""The K2-131 model: one circular Keplerian, per-instrument offsets and jitters, and a
quasi-periodic Gaussian process for stellar activity (Dai et al. 2017, Section 7.2.1).

    rv_i = gamma_{inst(i)} + K cos(2 pi (t_i - Tc) / P + pi/2) + activity(t_i) + noise_i,
    activity ~ GP(0, A^2 exp(-tau^2 / (2 l^2) - Gamma sin^2(pi tau / P_rot))),
    noise_i ~ N(0, err_i^2 + jitter_{inst(i)}^2).

The planet, offsets and jitters are a :class:`diffkern.orbits.MultiInstrumentRV`: its residuals
and per-point variances feed the GP, whose likelihood replaces the diagonal one.

Parameters are stored unconstrained (logs of K and A, jitters by their signed value; P and Tc
in units of their transit uncertainties, so every direction of the Hessian has a similar
scale).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from diffkern.cli.demo._data import RVData
from diffkern.gp import GaussianProcess, QuasiPeriodic
from diffkern.orbits import Keplerian, MultiInstrumentRV

__all__ = [
    "Priors",
    "Params",
    "initial_params",
    "physical",
    "instruments",
    "keplerian",
    "activity_gp",
    "neg_log_posterior",
    "predict",
]


class Priors(eqx.Module):
    """Static configuration: transit ephemeris and Gaussian priors on the GP (Dai et al. 2017).

    ``tc`` is in BJD. The GP priors: decay length ``l ~ N(9.5, 1.0)`` d, rotation period
    ``P_rot ~ N(9.64, 0.12)`` d, periodic length ``w = (2 Gamma)^-1/2 ~ N(0.388, 0.04)``.
    ``K`` and ``A`` get Jeffreys (log-uniform) priors; the jitters a flat prior on
    ``jitter`` itself (which enters squared, so a jitter of zero is a regular point).
    """

    period: float = eqx.field(static=True, default=0.3693038)
    period_sd: float = eqx.field(static=True, default=0.0000091)
    tc: float = eqx.field(static=True, default=2457582.9360)
    tc_sd: float = eqx.field(static=True, default=0.0011)
    decay: tuple[float, float] = eqx.field(static=True, default=(9.5, 1.0))
    rotation: tuple[float, float] = eqx.field(static=True, default=(9.64, 0.12))
    perlength: tuple[float, float] = eqx.field(static=True, default=(math.sqrt(1 / 6.64), 0.04))


class Params(eqx.Module):
    """Unconstrained model parameters (one offset and jitter per instrument)."""

    period_z: Float[Array, ""]
    tc_z: Float[Array, ""]
    log_k: Float[Array, ""]
    offset: Float[Array, " inst"]
    jitter: Float[Array, " inst"]
    log_amp: Float[Array, ""]
    decay: Float[Array, ""]
    rotation: Float[Array, ""]
    perlength: Float[Array, ""]


def initial_params(data: RVData, priors: Priors) -> Params:
    """A starting point: prior means, instrument means as offsets, K = 5 m/s, A = 20 m/s."""
    n = len(data.instruments)
    rv, inst = np.asarray(data.rv), np.asarray(data.inst)
    mean = np.array([rv[inst == i].mean() for i in range(n)])
    dtype = data.rv.dtype
    scalar = lambda v: jnp.asarray(v, dtype)
    return Params(
        period_z=scalar(0.0),
        tc_z=scalar(0.0),
        log_k=scalar(math.log(5.0)),
        offset=jnp.asarray(mean, dtype),
        jitter=jnp.full(n, 3.0, dtype),
        log_amp=scalar(math.log(20.0)),
        decay=scalar(priors.decay[0]),
        rotation=scalar(priors.rotation[0]),
        perlength=scalar(priors.perlength[0]),
    )


def _ephemeris(params: Params, priors: Priors, epoch: float) -> tuple[Array, Array]:
    """Period and time of conjunction (relative to ``epoch``) from their standardised values."""
    period = priors.period + priors.period_sd * params.period_z
    tc = (priors.tc - epoch) + priors.tc_sd * params.tc_z
    return period, tc


def physical(params: Params, priors: Priors, data: RVData) -> dict[str, Array]:
    """Named physical quantities (P, Tc in BJD, K, offsets, jitters, GP hyperparameters)."""
    period, tc = _ephemeris(params, priors, data.epoch)
    out = {"P [d]": period, "Tc [BJD]": tc + data.epoch, "K [m/s]": jnp.exp(params.log_k)}
    for i, name in enumerate(data.instruments):
        out[f"gamma {name} [m/s]"] = params.offset[i]
        out[f"jitter {name} [m/s]"] = jnp.abs(params.jitter[i])
    out["GP amplitude [m/s]"] = jnp.exp(params.log_amp)
    out["GP decay [d]"] = params.decay
    out["GP rotation [d]"] = params.rotation
    out["GP perlength"] = params.perlength
    return out


def instruments(params: Params, priors: Priors, data: RVData) -> MultiInstrumentRV:
    """The planet on its circular orbit with each instrument's offset and jitter (the jitter
    parameter is signed: its absolute value, which enters squared)."""
    period, tc = _ephemeris(params, priors, data.epoch)
    circle = (jnp.zeros_like(period), jnp.full_like(period, math.pi / 2))  # e, omega
    planet = Keplerian.from_transit(period, tc, *circle, jnp.exp(params.log_k))
    return MultiInstrumentRV(planet, jnp.abs(params.jitter), params.offset)


def keplerian(params: Params, priors: Priors, data: RVData, t: Float[Array, " m"]) -> Array:
    """The planet's circular-orbit velocity at ``t`` (relative to ``data.epoch``)."""
    return instruments(params, priors, data).velocity(t)


def activity_gp(params: Params, priors: Priors, data: RVData) -> tuple[GaussianProcess, Array]:
    """The GP of the residuals (data minus offsets and Keplerian) and those residuals."""
    kernel = QuasiPeriodic(
        amplitude=jnp.exp(params.log_amp),
        scale=params.decay,
        period=params.rotation,
        gamma=0.5 / params.perlength**2,
    )
    fit = instruments(params, priors, data).evaluate(data.observations)
    # A covariance too close to singular (a NUTS proposal far out) is a rejected point, -inf.
    gp = GaussianProcess(kernel, data.t, diag=fit.variance, solver="cholesky", on_failure="-inf")
    return gp, fit.residual


def _normal_logpdf(x: Array, mean: float, sd: float) -> Array:
    return -0.5 * ((x - mean) / sd) ** 2


def _in_support(params: Params) -> Array:
    """Whether the GP's decay, rotation period and periodic length are all positive."""
    return (params.decay > 0) & (params.rotation > 0) & (params.perlength > 0)


def neg_log_posterior(params: Params, priors: Priors, data: RVData) -> Array:
    """-log p(params | data) up to a constant (the loss of the MAP fit, the Laplace step and
    NUTS); ``+inf`` outside the prior's support, where a sampler's proposal may land."""
    inside = _in_support(params)
    # Evaluate at a valid stand-in outside the support, so that neither the value nor its
    # gradient sees an invalid kernel (the GP would rightly refuse a non-positive scale).
    fields = lambda p: (p.decay, p.rotation, p.perlength)
    means = (priors.decay[0], priors.rotation[0], priors.perlength[0])
    safe = eqx.tree_at(
        fields,
        params,
        [jnp.where(inside, x, m) for x, m in zip(fields(params), means, strict=True)],
    )
    return jnp.where(inside, _neg_log_posterior(safe, priors, data), jnp.inf)


def _neg_log_posterior(params: Params, priors: Priors, data: RVData) -> Array:
    gp, residual = activity_gp(params, priors, data)
    log_prior = (
        _normal_logpdf(params.period_z, 0.0, 1.0)
        + _normal_logpdf(params.tc_z, 0.0, 1.0)
        + _normal_logpdf(params.decay, *priors.decay)
        + _normal_logpdf(params.rotation, *priors.rotation)
        + _normal_logpdf(params.perlength, *priors.perlength)
    )
    return -(gp.log_probability(residual) + log_prior)


def predict(
    params: Params, priors: Priors, data: RVData, t: Float[Array, " m"]
) -> tuple[Array, Array, Array]:
    """At ``t``: Keplerian, GP mean of the activity and its standard deviation."""
    gp, residual = activity_gp(params, priors, data)
    mean, var = gp.condition(residual, t)
    return keplerian(params, priors, data, t), mean, jnp.sqrt(jnp.maximum(var, 0.0))
