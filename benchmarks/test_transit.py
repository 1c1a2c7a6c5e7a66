"""Quadratic limb-darkened transit flux: diffkern vs exoplanet-core, jaxoplanet and batman.

Every group computes the flux at the same ``(b, r, u)`` in float64 (``r = 0.1``;
``u = (0.4, 0.26)``): ``b`` uniform in [0, 1.2], so about 8% of the points are out of transit,
or, in the "light curve" groups, the separations of a time-ordered light curve (100 days of a
3-day orbit at ``a / R* = 15`` and impact parameter 0.3, 2.3% of the points in transit). Each
library's answer is checked against exoplanet-core before it is timed. Value+grad: the flux and
the gradient of its sum with respect to ``b``, ``r`` (one per point) and ``u``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import sizes

from diffkern.precision import float64
from diffkern.transit._quadratic import limb_darkened_flux

exoplanet_core = pytest.importorskip("exoplanet_core")

U = (0.4, 0.26)
# Max |flux - exoplanet-core| accepted before a case is timed: diffkern is within 1e-12
# (tests/test_transit_flux.py); jaxoplanet's quadrature (order 40) within ~1e-12 of the depth;
# batman's own default tolerance is 1e-6.
TOL = {"diffkern": 1e-12, "jaxoplanet": 1e-10, "batman": 1e-6}


def _inputs(n: int, light_curve: bool = False):
    if light_curve:
        phase = (np.linspace(0, 100 / 3, n) + 0.5) % 1 - 0.5  # orbits since mid-transit
        b = np.hypot(2 * np.pi * 15 * phase, 0.3)  # the planet's motion taken as straight
    else:
        b = np.random.default_rng(42).uniform(0, 1.2, n)
    r = np.full(n, 0.1)
    return b, r, 1 + exoplanet_core.quad_limbdark_light_curve(*U, b, r)


def _diffkern(b, r, u):
    return limb_darkened_flux(b, r, u)


def _jaxoplanet(b, r, u):
    from jaxoplanet.core.limb_dark import light_curve

    return 1 + light_curve(u, b, r)


def _value_and_grad(fn):
    """The flux and the gradient of its sum with respect to ``b``, ``r`` and ``u``."""

    def run(b, r, u):
        flux, vjp = jax.vjp(fn, b, r, u)
        return flux, vjp(jnp.ones_like(flux))

    return jax.jit(run)


@pytest.mark.parametrize("n", sizes([10**6], smoke=64))
@pytest.mark.parametrize("library", ["diffkern", "exoplanet-core", "jaxoplanet", "batman"])
@pytest.mark.parametrize(
    "light_curve",
    sizes([False, True], smoke=False, quick=[False]),  # keeps --quick under 2 minutes
    ids=lambda light_curve: "light-curve" if light_curve else "uniform",
)
def test_transit_value(bench, library, n, light_curve):
    b, r, ref = _inputs(n, light_curve)
    group = f"transit {'light curve ' if light_curve else ''}value float64 N={n}"
    info = dict(group=group, library=library, n=n, dtype="float64")
    with float64():
        args = jnp.asarray(b), jnp.asarray(r), jnp.asarray(U)
        if library == "diffkern":
            flux = bench(jax.jit(_diffkern), *args, **info)
        elif library == "jaxoplanet":
            pytest.importorskip("jaxoplanet")
            flux = bench(jax.jit(_jaxoplanet), *args, **info)
        elif library == "exoplanet-core":
            flux = 1 + bench(exoplanet_core.quad_limbdark_light_curve, *U, b, r, **info)
        else:
            quadratic_ld = pytest.importorskip("batman._quadratic_ld")
            flux = bench(quadratic_ld._quadratic_ld, b, 0.1, *U, 1, **info)  # one thread
    error = float(np.max(np.abs(np.asarray(flux) - ref)))
    assert error <= TOL.get(library, 0.0), f"{library}: {error:.3g} from exoplanet-core"


@pytest.mark.parametrize("n", sizes([10**6], smoke=64))
@pytest.mark.parametrize("library", ["diffkern", "jaxoplanet"])
def test_transit_value_and_grad(bench, library, n):
    b, r, ref = _inputs(n)
    group = f"transit value+grad float64 N={n}"
    if library == "jaxoplanet":
        pytest.importorskip("jaxoplanet")
    fn = _diffkern if library == "diffkern" else _jaxoplanet
    with float64():
        args = jnp.asarray(b), jnp.asarray(r), jnp.asarray(U)
        flux, (d_b, d_r, d_u) = bench(
            _value_and_grad(fn), *args, group=group, library=library, n=n, dtype="float64"
        )
        assert float(jnp.max(jnp.abs(flux - ref))) <= TOL[library]
        # Both libraries' derivatives agree with a central difference of exoplanet-core in b.
        h = 1e-6
        up = exoplanet_core.quad_limbdark_light_curve(*U, b + h, r)
        down = exoplanet_core.quad_limbdark_light_curve(*U, np.abs(b - h), r)
        smooth = (np.abs(b - 0.9) > 1e-4) & (np.abs(b - 1.1) > 1e-4) & (b > h)
        central = (up - down) / (2 * h)
        assert float(np.max(np.abs(np.asarray(d_b) - central)[smooth])) <= 1e-5
        assert d_r.shape == (n,) and d_u.shape == (2,)


@pytest.mark.parametrize("n", sizes([10**6], smoke=64, quick=[10**5]))
@pytest.mark.parametrize("library", ["diffkern", "jaxoplanet"])
def test_transit_value_cubic_law(bench, library, n):
    """A cubic limb-darkening law ``u = (0.3, 0.2, 0.1)``: jaxoplanet is the one peer with
    polynomial laws of any order; the two agree within 1e-10 (jaxoplanet's quadrature)."""
    pytest.importorskip("jaxoplanet")
    b, r, _ = _inputs(n)
    group = f"transit cubic-law value float64 N={n}"
    with float64():
        args = jnp.asarray(b), jnp.asarray(r), jnp.asarray([0.3, 0.2, 0.1])
        fn = _diffkern if library == "diffkern" else _jaxoplanet
        flux = bench(jax.jit(fn), *args, group=group, library=library, n=n, dtype="float64")
        other = _jaxoplanet if library == "diffkern" else _diffkern
        assert float(jnp.max(jnp.abs(flux - jax.jit(other)(*args)))) <= 1e-10
