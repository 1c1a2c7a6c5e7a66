"""float64 numpy references for the transit tests: orbit geometry from first principles.

Kepler's equation by scipy's Newton-Halley iteration from ``E = pi`` (which converges for all
``M`` in [0, 2 pi) and ``e < 1``), the transit's mean anomaly from ``f = pi/2 - omega``, and the
planet's position rotated into the observer's frame.
"""

import numpy as np
from scipy.optimize import newton


def eccentric_anomaly(M, e):
    """E with E - e sin E = M mod 2 pi, to float64 rounding."""
    M = np.mod(M, 2 * np.pi) * np.ones_like(e)
    e = e * np.ones_like(M)
    return newton(lambda E: E - e * np.sin(E) - M, np.full_like(M, np.pi),
                  fprime=lambda E: 1 - e * np.cos(E), fprime2=lambda E: e * np.sin(E),
                  tol=1e-13, maxiter=50)  # fmt: skip


def true_anomaly(t, period, t0, ecc, omega):
    """f at t, the transit (f = pi/2 - omega) at t0."""
    f0 = np.pi / 2 - omega
    E0 = 2 * np.arctan2(np.sqrt(1 - ecc) * np.sin(f0 / 2), np.sqrt(1 + ecc) * np.cos(f0 / 2))
    M = E0 - ecc * np.sin(E0) + 2 * np.pi * (t - t0) / period
    E = eccentric_anomaly(M, ecc)
    return 2 * np.arctan2(np.sqrt(1 + ecc) * np.sin(E / 2), np.sqrt(1 - ecc) * np.cos(E / 2))


def position(t, period, t0, a, b, ecc=0.0, omega=0.0):
    """(separation, line of sight towards the observer) in stellar radii."""
    t = np.asarray(t, np.float64)
    f = true_anomaly(t, period, t0, ecc, omega)
    r = a * (1 - ecc**2) / (1 + ecc * np.cos(f))
    cos_i = b * (1 + ecc * np.sin(omega)) / (a * (1 - ecc**2))
    sin_i = np.sqrt(1 - cos_i**2)
    x = r * np.cos(f + omega)
    y = r * np.sin(f + omega) * cos_i
    return np.hypot(x, y), r * np.sin(f + omega) * sin_i
