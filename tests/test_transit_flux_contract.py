"""Contract of limb_darkened_flux over generated inputs: the documented CheckError naming every
bad argument, or a finite flux within the stated tolerance of exoplanet-core (quadratic) or of
the quadrature of the disc (other orders), exactly 1 out of transit and 0 under a covering disc
(in [0, 1] for physical quadratic limb darkening)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from _contract import assert_check_errors, contract
from _transit_reference import quadrature_flux
from hypothesis import given
from hypothesis import strategies as st

from diffkern.precision import float64
from diffkern.transit._quadratic import limb_darkened_flux

exoplanet_core = pytest.importorskip("exoplanet_core")

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, 1e-30]


def _numbers(low, high, specials=SPECIAL):
    return st.one_of(st.floats(low, high), st.sampled_from(specials))


def _tolerance(dtype: str, r: float, u1: float, u2: float) -> float:
    """The documented accuracy (1e-12 in float64; 1e-6 in float32 for r <= 3), in units of the
    unocculted flux, amplified by the limb-darkening weights."""
    base = 1e-12 if dtype == "float64" else 1e-6
    return base * (1 + abs(u1) + 2 * abs(u2)) / (1 - u1 / 3 - u2 / 6)


def _flux_or_errors(b, r, u, expected_errors: list[str]) -> np.ndarray | None:
    """The flux, or None once the call is seen to raise exactly ``expected_errors``."""
    args = jnp.asarray(b), jnp.asarray(r), jnp.asarray(u)
    if expected_errors:
        assert_check_errors(
            lambda: limb_darkened_flux(*args), "limb_darkened_flux", expected_errors
        )
        return None
    return np.asarray(limb_darkened_flux(*args))


def _violations(b, r, u1, u2) -> list[str]:
    bad = []
    if not np.all(np.isfinite(b)):
        bad.append("b must be finite")
    if not (np.isfinite(r) and r >= 0):
        bad.append("r must be finite and >= 0")
    if not (np.isfinite(u1) and np.isfinite(u2)):
        bad.append("u must be finite")
    elif not u1 / 3 + u2 / 6 < 1:
        bad.append("u must give a positive stellar flux: u1/3 + u2/6 < 1")
    return bad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(60)
@given(
    b=st.lists(_numbers(-3.0, 3.0, [*SPECIAL, 1e30]), min_size=6, max_size=6),
    r=_numbers(0.0, 3.0, [*SPECIAL, -0.1, 1.0, 0.5]),
    u1=_numbers(-1.0, 2.0),
    u2=_numbers(-1.0, 2.0, [*SPECIAL, 6.0]),
)
def test_limb_darkened_flux_contract(dtype, b, r, u1, u2):
    with float64(dtype == "float64"):
        b, r, u = np.asarray(b, dtype), np.asarray(r, dtype), np.asarray([u1, u2], dtype)
        r64, u1, u2 = float(r), float(u[0]), float(u[1])
        expected_errors = _violations(b.astype(np.float64), r64, u1, u2)
        flux = _flux_or_errors(b, r, u, expected_errors)
        if flux is None:
            return
    assert flux.dtype == dtype and np.all(np.isfinite(flux))
    distance = np.abs(b.astype(np.float64))
    want = 1 + exoplanet_core.quad_limbdark_light_curve(u1, u2, distance, np.full(6, r64))
    tol = _tolerance(dtype, r64, u1, u2)
    assert np.all(np.abs(flux - want) <= tol)
    assert np.all(flux[distance >= 1 + r64] == 1) and np.all(flux[distance <= r64 - 1] == 0)
    x = np.linspace(0, 1, 1001)  # 1 - mu
    if np.all(1 - u1 * x - u2 * x**2 >= 0):  # no negative intensity: a fraction of the light
        assert np.all((flux >= -tol) & (flux <= 1 + tol))


def _polynomial_violations(b, r, u) -> list[str]:
    bad = [v for v in _violations(b, r, 0.0, 0.0) if not v.startswith("u")]
    weights = [1 / ((n + 1) * (n + 2) // 2) for n in range(1, len(u) + 1)]
    if not all(np.isfinite(u)):
        bad.append("u must be finite")
    elif not sum(x * w for x, w in zip(u, weights, strict=True)) < 1:
        bad.append("u must give a positive stellar flux")
    return bad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(40)
@given(
    b=st.lists(_numbers(-3.0, 3.0, [*SPECIAL, 1e30]), min_size=6, max_size=6),
    r=_numbers(0.0, 3.0, [*SPECIAL, -0.1, 1.0, 0.5]),
    order=st.sampled_from([1, 3, 4, 6]),
    u=st.lists(_numbers(-1.0, 1.0, [*SPECIAL, 30.0]), min_size=6, max_size=6),
)
def test_polynomial_limb_darkened_flux_contract(dtype, b, r, order, u):
    """Orders N != 2: the error naming each bad argument, or the documented accuracy against
    the quadrature of the disc (``base (1 + sum_n 2^n |u_n|) / (1 - sum_n 2 u_n / ((n + 1)
    (n + 2)))``, base 1e-7 in float32, 1e-14 in float64)."""
    with float64(dtype == "float64"):
        b, r, u = np.asarray(b, dtype), np.asarray(r, dtype), np.asarray(u[:order], dtype)
        b64, r64, u64 = b.astype(np.float64), float(r), [float(x) for x in u]
        expected_errors = _polynomial_violations(b64, r64, u64)
        flux = _flux_or_errors(b, r, u, expected_errors)
        if flux is None:
            return
    assert flux.dtype == dtype and np.all(np.isfinite(flux))
    distance = np.abs(b64)
    want = np.array([quadrature_flux(x, r64, *u64) for x in distance])
    spread = 1 + sum(2**n * abs(x) for n, x in enumerate(u64, start=1))
    total = 1 - sum(2 * x / ((n + 1) * (n + 2)) for n, x in enumerate(u64, start=1))
    tol = (1e-7 if dtype == "float32" else 1e-14) * spread / total
    assert np.all(np.abs(flux - want) <= tol)
    assert np.all(flux[distance >= 1 + r64] == 1) and np.all(flux[distance <= r64 - 1] == 0)
