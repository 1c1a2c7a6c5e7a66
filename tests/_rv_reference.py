"""float64 numpy references of the multi-instrument radial-velocity model (tests only)."""

import numpy as np


def planets_rv(t, period, tp, ecc, omega, k):
    """Sum over planets (parameters of shape ``(n_planets,)``) of ``K (cos(f + omega) + e cos
    omega)``: Newton on Kepler's equation to convergence, the true anomaly by half angles."""
    rv = np.zeros_like(t, dtype=np.float64)
    for p, tau, e, w, amplitude in zip(period, tp, ecc, omega, k, strict=True):
        cycles = (t - tau) / p
        M = 2 * np.pi * (cycles - np.round(cycles))
        E = M + e * np.sin(M)
        for _ in range(60):
            E = E - (E - e * np.sin(E) - M) / (1 - e * np.cos(E))
        f = 2 * np.arctan2(np.sqrt(1 + e) * np.sin(E / 2), np.sqrt(1 - e) * np.cos(E / 2))
        rv += amplitude * (np.cos(f + w) + e * np.cos(w))
    return rv


def log_likelihood(t, rv, err, inst, planets, jitter, offset, trend=(), time_base=0.0):
    """``(log L, offsets, terms, residuals)`` in float64, point by point, with ``terms`` the
    ``r_i^2 / v_i + log(2 pi v_i)`` of the residuals ``r_i``. ``offset=None``: each offset
    integrated out under a unit flat prior (the weighted mean residual, plus 1/2 log(2 pi /
    W_k))."""
    t, rv, err = (np.asarray(x, np.float64) for x in (t, rv, err))
    jitter = np.asarray(jitter, np.float64)
    model = planets_rv(t, *(np.asarray(p, np.float64) for p in planets))
    model += sum(c * (t - time_base) ** (n + 1) for n, c in enumerate(trend))
    var = err**2 + jitter[inst] ** 2
    extra = 0.0
    if offset is None:
        offset = np.empty(jitter.size)
        for k in range(jitter.size):
            w = 1 / var[inst == k]
            offset[k] = np.sum(w * (rv - model)[inst == k]) / np.sum(w)
            extra += 0.5 * np.log(2 * np.pi / np.sum(w))
    r = rv - model - np.asarray(offset, np.float64)[inst]
    terms = r**2 / var + np.log(2 * np.pi * var)
    return -0.5 * np.sum(terms) + extra, offset, terms, r
