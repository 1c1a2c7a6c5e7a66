"""The models of ``diffkern fit-many``: one Keplerian + offset + jitter per star, optionally a GP.

Each star is fitted in standardised units: times ``t' = (t - t_mid) / T`` over its baseline
``T`` (``t_mid`` the middle of its observations), velocities ``(rv - mean) / sd`` over their
scatter. The unconstrained parameters, all of order one there:

* ``nu``: orbital frequency in cycles per baseline (``P = T / nu``); ``phase``: the mean
  longitude at ``t_mid`` (mean anomaly plus ``omega``); ``log_k``: ``K = sd exp(log_k)``;
* eccentric orbits: ``h, k`` with ``e = s / (1 + s)``, ``s = h^2 + k^2``, ``omega = atan2(k,
  h)`` (circular: ``e = 0``, ``omega = 0``, ``tp`` is then the time of maximum velocity);
* ``offset``: ``gamma = mean + sd offset``; ``log_jitter``: ``jitter = sd exp(log_jitter)``;
* with the GP (``keplerian+gp``): ``log_amp``, ``log_scale`` of a Matern-3/2 kernel
  ``(sd e^log_amp)^2 Matern32(T e^log_scale)``, solved by the quasiseparable solver.

The loss is the negative log likelihood with noise variance ``err^2 + jitter^2``, plus weak
``N(0, 3^2)`` priors on ``log_jitter`` and the GP's logs (they keep a vanishing jitter or
GP from drifting without bound). The start: the frequency of the highest peak of a
generalised Lomb-Scargle periodogram on a grid of periods between ``min_period`` and
``max_period`` (step 1/5 cycle per baseline), or a given ``period``; ``K`` and the phase from
the sinusoid fitted there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from diffkern.cli._fit_many_data import Star
from diffkern.gp import Matern32, log_probability_padded
from diffkern.orbits import radial_velocity

MODELS = ("keplerian", "keplerian+gp")
_PRIOR_SD = 3.0


def names(model: str, eccentric: bool) -> list[str]:
    """The unconstrained parameters of ``model``."""
    orbit = ["nu", "phase", "log_k"] + (["h", "k"] if eccentric else [])
    gp = ["log_amp", "log_scale"] if model == "keplerian+gp" else []
    return orbit + ["offset", "log_jitter"] + gp


def min_points(model: str, eccentric: bool) -> int:
    """Fewest points a star needs: one more than the parameters."""
    return len(names(model, eccentric)) + 1


def scales(stars: Sequence[Star]) -> np.ndarray:
    """``(n_stars, 4)``: ``t_mid, T, mean, sd`` of each star."""
    out = []
    for s in stars:
        sd = float(np.std(s.rv)) or float(np.mean(s.err))
        out.append(((s.t[0] + s.t[-1]) / 2, s.t[-1] - s.t[0], float(np.mean(s.rv)), sd))
    return np.asarray(out)


def standardised(stars: Sequence[Star], sc: np.ndarray) -> tuple[list, list, list]:
    """The fields ``(t', rv', err')`` of every star in its standardised units."""
    ts = [(s.t - c[0]) / c[1] for s, c in zip(stars, sc, strict=True)]
    rvs = [(s.rv - c[2]) / c[3] for s, c in zip(stars, sc, strict=True)]
    errs = [s.err / c[3] for s, c in zip(stars, sc, strict=True)]
    return ts, rvs, errs


def _sinusoid(t, y, w, nus) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of ``c + a cos(2 pi nu t) + b sin(2 pi nu t)`` at each ``nu``:
    ``chi2`` and ``(c, a, b)`` per frequency."""
    arg = 2 * np.pi * nus[:, None] * t[None, :]
    basis = np.stack([np.ones_like(arg), np.cos(arg), np.sin(arg)], axis=-1)  # (F, n, 3)
    normal = np.einsum("fni,n,fnj->fij", basis, w, basis)
    rhs = np.einsum("fni,n,n->fi", basis, w, y)
    coef = np.linalg.solve(normal, rhs[..., None])[..., 0]
    chi2 = np.sum(w * y * y) - np.einsum("fi,fi->f", coef, rhs)
    return chi2, coef


def start(
    model: str,
    eccentric: bool,
    fields: tuple[list, list, list],
    sc: np.ndarray,
    *,
    period: float | np.ndarray | None,
    min_period: float,
    max_period: float | None,
) -> dict[str, np.ndarray]:
    """Initial unconstrained parameters of every star (see the module docstring); ``period``
    (one for all stars, or one per star) replaces the periodogram."""
    guesses = np.broadcast_to(np.nan if period is None else period, (len(sc),))
    rows = []
    for t, y, err, (_, T, _, _), guess in zip(*fields, sc, guesses, strict=True):
        if not np.isnan(guess):
            nus = np.asarray([T / guess])
        else:
            lo = T / (2 * T if max_period is None else max_period)
            nus = np.arange(lo, max(T / min_period, lo + 0.2), 0.2)
        chi2, coef = _sinusoid(t, y, 1 / err**2, nus)
        best = int(np.argmin(chi2))
        _, a, b = coef[best]
        # K cos(2 pi nu t + phase) = a cos + b sin: the mean longitude of a near-circular orbit
        row = dict(nu=nus[best], phase=math.atan2(-b, a), log_k=math.log(math.hypot(a, b) + 1e-3))
        if eccentric:
            row |= dict(h=0.1, k=0.1)  # e = 0.02: omega = atan2(k, h) is smooth there
        row |= dict(offset=0.0, log_jitter=math.log(0.1))
        if model == "keplerian+gp":
            row |= dict(log_amp=math.log(0.3), log_scale=math.log(0.1))
        rows.append(row)
    return {k: np.asarray([r[k] for r in rows]) for k in names(model, eccentric)}


def _orbit(p):
    """``(P, tp, e, omega, K)`` in standardised units."""
    if "h" in p:
        s = p["h"] ** 2 + p["k"] ** 2
        ecc, omega = s / (1 + s), jnp.arctan2(p["k"], p["h"])
    else:
        ecc = omega = jnp.zeros_like(p["nu"])
    period = 1 / p["nu"]
    tp = (omega - p["phase"]) / (2 * jnp.pi) * period  # M(t') = 2 pi nu t' + phase - omega
    return period, tp, ecc, omega, jnp.exp(p["log_k"])


def _velocity(p, t):
    """The Keplerian velocity at ``t'``: a sinusoid when circular (``M = 2 pi nu t' + phase``,
    radial_velocity's value without a Kepler solve), else :func:`radial_velocity`."""
    if "h" not in p:
        return jnp.exp(p["log_k"]) * jnp.cos(2 * jnp.pi * p["nu"] * t + p["phase"])
    return radial_velocity(t, *_orbit(p))


def loss(p, data, mask):
    """Negative log posterior of one star (standardised units, padded points masked)."""
    t, rv, err = data
    residual = rv - p["offset"] - _velocity(p, t)
    var = err**2 + jnp.exp(2 * p["log_jitter"])
    logs = [p[k] for k in ("log_jitter", "log_amp", "log_scale") if k in p]
    prior = 0.5 * sum(x**2 for x in logs) / _PRIOR_SD**2
    if "log_amp" not in p:
        terms = jnp.where(mask, residual**2 / var + jnp.log(2 * jnp.pi * var), 0.0)
        return 0.5 * jnp.sum(terms) + prior
    kernel = jnp.exp(2 * p["log_amp"]) * Matern32(jnp.exp(p["log_scale"]))
    args = (t[None], residual[None], var[None], mask[None])
    return -log_probability_padded(kernel, *args, solver="quasisep")[0] + prior


def _physical(p, c):
    """Named physical quantities of one star from its parameters and scales ``c``."""
    t_mid, T, mean, sd = c[0], c[1], c[2], c[3]
    period, tp, ecc, omega, k = _orbit(p)
    out = {
        "period": T * period,
        "tp": t_mid + T * tp,
        "K": sd * k,
        "ecc": ecc,
        "omega": omega,
        "gamma": mean + sd * p["offset"],
        "jitter": sd * jnp.exp(p["log_jitter"]),
    }
    if "log_amp" in p:
        out |= {"gp_amp": sd * jnp.exp(p["log_amp"]), "gp_scale": T * jnp.exp(p["log_scale"])}
    return out


@jax.jit
def physical(params, cov, sc):
    """Physical quantities and their standard deviations (delta method: ``J cov J^T``) of
    every star."""

    def one(p, c, s):
        flat, unravel = ravel_pytree(p)
        values = _physical(p, s)
        jac = jax.jacfwd(lambda x: _physical(unravel(x), s))(flat)
        std = {k: jnp.sqrt(jnp.maximum(j @ c @ j, 0.0)) for k, j in jac.items()}
        return values, std

    return jax.vmap(one)(params, cov, sc)
