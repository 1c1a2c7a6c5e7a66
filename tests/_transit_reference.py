"""float64 numpy references for the transit tests: orbit geometry from first principles, and
the limb-darkened flux by quadrature.

Kepler's equation by scipy's Newton-Halley iteration from ``E = pi`` (which converges for all
``M`` in [0, 2 pi) and ``e < 1``), the transit's mean anomaly from ``f = pi/2 - omega``, and the
planet's position rotated into the observer's frame.
"""

import math

import numpy as np
from scipy import integrate
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


def quadrature_flux(b: float, r: float, *u: float) -> float:
    """Relative flux of the law ``1 - sum_n u_n (1 - mu)^n`` by adaptive quadrature over the
    radius ``rho`` on the star: the occultor covers the arc of half-angle ``phi(rho)`` of each
    circle about the star's centre. The blocked light is integrated, or the visible light when
    ``r > 1`` (where little may be left). Each piece between the kinks is integrated in
    ``theta`` with ``rho = mid - half cos theta``, which smooths the square-root behaviour of
    ``phi`` and ``mu`` at its ends (about 1e-15 against mpmath)."""

    def intensity(rho):
        mu = math.sqrt(max(1 - rho * rho, 0.0))
        return 1 - sum(u_n * (1 - mu) ** n for n, u_n in enumerate(u, start=1))

    def half_angle(rho):
        if rho <= r - b:
            return math.pi
        if b == 0 or rho <= b - r or rho >= b + r:
            return 0.0
        return math.acos(min(1.0, max(-1.0, (rho * rho + b * b - r * r) / (2 * b * rho))))

    def angle(rho):  # the angle of the circle of radius rho that is integrated
        return 2 * math.pi - 2 * half_angle(rho) if r > 1 else 2 * half_angle(rho)

    def piece(low, high):
        mid, half = (high + low) / 2, (high - low) / 2

        def integrand(theta):
            rho = mid - half * math.cos(theta)
            return intensity(rho) * angle(rho) * rho * half * math.sin(theta)

        return integrate.quad(integrand, 0, math.pi, epsabs=1e-14, epsrel=1e-13, limit=200)[0]

    total = math.pi * (1 - sum(2 * u_n / ((n + 1) * (n + 2)) for n, u_n in enumerate(u, start=1)))
    low, high = (max(0.0, r - b), 1.0) if r > 1 else (max(0.0, b - r), min(1.0, b + r))
    if high <= low:
        return 0.0 if r > 1 else 1.0
    kinks = (x for x in (abs(b - r), b + r) if low < x < high)
    ends = sorted({low, high, *kinks})
    integral = sum(piece(x, y) for x, y in zip(ends[:-1], ends[1:], strict=False))
    return integral / total if r > 1 else 1 - integral / total


def flux_derivatives(points: list[tuple[float, float]], u: np.ndarray, dtype: str) -> list:
    """``limb_darkened_flux``'s reverse-mode gradient in (b, r, u) and its forward-mode
    derivatives in b and r, at each ``(b, r)`` of ``points`` with the same ``u``, under
    ``jit(vmap)`` in ``dtype``."""
    import jax
    import jax.numpy as jnp

    from diffkern.precision import float64
    from diffkern.transit import limb_darkened_flux as f

    def derivatives(b, r, u):
        grads = jax.grad(f, argnums=(0, 1, 2))(b, r, u)
        zb, zr, zu = jnp.zeros_like(b), jnp.zeros_like(r), jnp.zeros_like(u)
        jvp_b = jax.jvp(f, (b, r, u), (jnp.ones_like(b), zr, zu))[1]
        jvp_r = jax.jvp(f, (b, r, u), (zb, jnp.ones_like(r), zu))[1]
        return [*grads, jvp_b, jvp_r]

    with float64(dtype == "float64"):
        b, r = (jnp.asarray(x, dtype) for x in zip(*points, strict=True))
        us = jnp.asarray(np.broadcast_to(u, (len(points), np.size(u))), dtype)
        return [np.asarray(d) for d in jax.jit(jax.vmap(derivatives))(b, r, us)]
