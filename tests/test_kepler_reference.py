"""mpmath reference solutions of Kepler's equation (40 digits, on the exact input values).

Imported by the other Kepler and orbit tests; its own test checks the reference's residual.
"""

from __future__ import annotations

import functools

import mpmath
import numpy as np

_DPS = 40


@functools.cache
def _solve_one(mean_anomaly: float, ecc: float) -> tuple[mpmath.mpf, mpmath.mpf]:
    with mpmath.workdps(_DPS):
        two_pi = 2 * mpmath.pi
        M = mpmath.mpf(mean_anomaly)
        M = M - two_pi * mpmath.floor(M / two_pi)
        e = mpmath.mpf(ecc)
        lo, hi = mpmath.mpf(0), two_pi
        for _ in range(60):  # bisection: g is increasing, so this never picks a wrong root
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if mid - e * mpmath.sin(mid) > M else (mid, hi)
        E = (lo + hi) / 2
        for _ in range(6):
            E -= (E - e * mpmath.sin(E) - M) / (1 - e * mpmath.cos(E))
        f = 2 * mpmath.atan(mpmath.sqrt((1 + e) / (1 - e)) * mpmath.tan(E / 2))
        f = f - two_pi * mpmath.floor(f / two_pi)
        return E, f


def reference(mean_anomaly, ecc) -> dict[str, np.ndarray]:
    """``E``, ``sin E``, ``cos E``, ``f``, ``sin f``, ``cos f`` and first/second derivatives of
    ``E`` (analytic formulas evaluated at the exact root), as float64 arrays."""
    names = ("E", "sin_E", "cos_E", "f", "sin_f", "cos_f", "E_M", "E_e", "E_MM", "E_Me", "E_ee")
    out = {name: [] for name in names}
    for M, e in zip(np.ravel(mean_anomaly), np.ravel(ecc), strict=True):
        E, f = _solve_one(float(M), float(e))
        with mpmath.workdps(_DPS):
            e = mpmath.mpf(float(e))
            s, c = mpmath.sin(E), mpmath.cos(E)
            D = 1 - e * c
            E_M, E_e = 1 / D, s / D
            D_M, D_e = e * s * E_M, -c + e * s * E_e
            values = (
                E, s, c, f, mpmath.sin(f), mpmath.cos(f), E_M, E_e,
                -D_M / D**2, -D_e / D**2, c * E_e / D - s * D_e / D**2,
            )  # fmt: skip
        for name, value in zip(names, values, strict=True):
            out[name].append(float(value))
    return {name: np.reshape(np.array(v), np.shape(mean_anomaly)) for name, v in out.items()}


def angle_error(a, b) -> np.ndarray:
    """``|a - b|`` on the circle (an answer of ``2 pi - 1e-17`` for ``0`` is right)."""
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) % (2 * np.pi)
    return np.minimum(d, 2 * np.pi - d)


def test_reference_solves_keplers_equation():
    M = np.array([0.0, 1e-12, 1.0, 3.0, 2 * np.pi - 1e-12, -1e-12, 100.0])
    e = np.array([0.5, 1 - 1e-9, 0.9, 0.0, 1 - 1e-9, 0.99, 0.3])
    ref = reference(M, e)
    with mpmath.workdps(_DPS):
        for m, ecc in zip(M, e, strict=True):
            E, _ = _solve_one(float(m), float(ecc))
            residual = E - mpmath.mpf(float(ecc)) * mpmath.sin(E) - mpmath.mpf(float(m))
            residual = residual - 2 * mpmath.pi * mpmath.nint(residual / (2 * mpmath.pi))
            assert abs(residual) < mpmath.mpf(10) ** (-_DPS + 5)
    assert np.all((ref["E"] >= 0) & (ref["E"] < 2 * np.pi))
