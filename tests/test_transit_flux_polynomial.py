"""limb_darkened_flux with polynomial limb darkening of orders N != 2: against the quadrature of
the disc, the float32 bound, the quadratic law through the general path, exact finite
derivatives, bad input, light curves of any order, compiles."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _transit_reference import flux_derivatives, quadrature_flux

from diffkern import CheckError
from diffkern.jit import count_compiles
from diffkern.precision import float64
from diffkern.testing import check_grads
from diffkern.transit import LightCurve, TransitOrbit, light_curve
from diffkern.transit._polynomial import flux as polynomial_flux
from diffkern.transit._quadratic import limb_darkened_flux

ORDERS = {
    1: (0.6,),
    3: (0.4, 0.3, -0.2),
    4: (0.5, -0.3, 0.6, -0.4),
    6: (0.3, 0.5, -0.4, 0.6, -0.5, 0.3),
}
R = [1e-6, 1e-3, 0.1, 0.5, 0.99, 1.0, 1.01, 1.5, 3.0]
_flux = jax.jit(limb_darkened_flux)


def _float32_tolerance(u) -> float:
    """The documented float32 accuracy (r <= 3): the expansion of ``(1 - mu)^n`` in powers of
    ``mu`` amplifies rounding by up to ``2^n``."""
    spread = 1 + sum(2**n * abs(x) for n, x in enumerate(u, start=1))
    total = 1 - sum(2 * x / ((n + 1) * (n + 2)) for n, x in enumerate(u, start=1))
    return 1e-7 * spread / total


def _separations(r: float) -> np.ndarray:
    """A sweep across the transit of a disc of radius ``r`` and every special point."""
    special = [0.0, r, abs(1 - r), 1 + r, r * (1 + 1e-9), abs(1 - r) * (1 - 1e-9), 1 + r - 1e-9]
    return np.concatenate([np.linspace(max(0, r - 1.05), 1 + r + 0.05, 17), special])


GRID_B = np.concatenate([_separations(r) for r in R])
GRID_R = np.concatenate([np.full(_separations(r).size, r) for r in R])


@functools.cache
def _reference(order: int, dtype: str) -> np.ndarray:
    """The quadrature on the grid, its inputs rounded to ``dtype`` (once per order and dtype)."""
    b, r, u = (np.asarray(x, dtype).astype(float) for x in (GRID_B, GRID_R, ORDERS[order]))
    return np.array([quadrature_flux(x, y, *u) for x, y in zip(b, r, strict=True)])


@functools.cache
def _grid_flux(order: int, dtype: str) -> np.ndarray:
    with float64(dtype == "float64"):
        args = (jnp.asarray(x, dtype) for x in (GRID_B, GRID_R, ORDERS[order]))
        flux = np.asarray(_flux(*args))
    assert flux.dtype == dtype
    return flux


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_matches_quadrature_of_the_disc(order, dtype):
    name = jnp.dtype(dtype).name
    got, want = _grid_flux(order, name), _reference(order, name)
    tol = {"float32": _float32_tolerance(ORDERS[order]), "float64": 1e-12}[name]
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    b, r = np.asarray(GRID_B, name), np.asarray(GRID_R, name)
    assert np.all(got[b >= 1 + r] == 1) and np.all(got[b <= r - 1] == 0)


def test_the_general_path_reproduces_the_quadratic_law(x64):
    """The moments of every order and the quadratic closed form agree, values and derivatives."""
    b, r = jnp.asarray(GRID_B), jnp.asarray(GRID_R)
    u = jnp.broadcast_to(jnp.asarray([0.4, 0.26]), (b.size, 2))

    def both(b, r, u):
        args = (b, r, u[..., 0], u[..., 1])
        return polynomial_flux("cpu", *args), limb_darkened_flux(b, r, u)

    (general, quadratic), (d_general, d_quadratic) = jax.jit(
        lambda *args: jax.jvp(both, args, (jnp.ones_like(b), jnp.ones_like(r), u))
    )(b, r, u)
    np.testing.assert_allclose(general, quadratic, rtol=0, atol=1e-14)
    np.testing.assert_allclose(d_general, d_quadratic, rtol=1e-9, atol=1e-11)


# ----------------------------------------------------------------------------- derivatives

U4 = np.asarray(ORDERS[4])
GENERIC = [(0.3, 0.1), (0.95, 0.1), (1.05, 0.1), (0.7, 0.5), (0.3, 0.6), (1.2, 1.5)]
GENERIC += [(0.6, 1.5), (0.0, 0.3), (-0.4, 0.2), (0.5, 1e-4), (0.9, 0.45), (1.3, 0.45)]


def test_gradients_match_finite_differences(x64):
    b, r = (jnp.asarray(x) for x in zip(*GENERIC, strict=True))
    u = jnp.asarray(np.stack([U4 + 0.01 * k for k in range(len(GENERIC))]))
    check_grads(_flux, (b, r, u), order=1, modes=("fwd", "rev"))


# Contacts, the centre, the diagonal, tiny and covering discs; then 1e-9 either side of
# b = 1 - r, 1 + r, r, r - 1 and of a = 1 - b^2 - r^2 = 0 (where the series takes over).
EDGES = [(0.9, 0.1), (1.1, 0.1), (0.3, 0.3), (0.6, 0.6), (0.5, 1.5), (2.5, 1.5), (0.8, 0.6)]
SIDES = [(b + side, r) for b, r in EDGES for side in (-1e-9, 1e-9)]
SINGULAR = [(0.0, 0.1), (0.0, 1.0), (0.3, 0.0), (0.3, 1e-30), (1.0, 1e-8), (0.0, 0.0)]
TINY = [(0.0, 1e-7), (0.5, 1e-7), (0.9, 1e-7)]
POINTS = EDGES + SINGULAR + SIDES + TINY


@functools.cache
def _point_derivatives(dtype: str) -> list[np.ndarray]:
    """:func:`flux_derivatives` at :data:`POINTS` with ``U4``, once per dtype."""
    return flux_derivatives(POINTS, U4, dtype)


def test_derivatives_are_finite_and_modes_agree(dtype):
    name = jnp.dtype(dtype).name
    d_b, d_r, d_u, jvp_b, jvp_r = _point_derivatives(name)
    for d in (d_b, d_r, d_u, jvp_b, jvp_r):
        assert d.dtype == name and np.all(np.isfinite(d))
    rtol = {"float32": 1e-6, "float64": 1e-14}[name]
    np.testing.assert_allclose(jvp_b, d_b, rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(jvp_r, d_r, rtol=rtol, atol=1e-30)


def test_derivatives_are_continuous_across_edges(x64):
    """Values 1e-9 either side of an edge agree to O(sqrt(1e-9)) (the kite area, and so
    d flux / db, grows like the square root of the distance past the inner contact)."""
    d_b, d_r, d_u, *_ = _point_derivatives("float64")
    start = len(EDGES) + len(SINGULAR)
    for d in (d_b, d_r, *d_u.T):
        sides = d[start : start + len(SIDES)]
        np.testing.assert_allclose(sides[0::2], sides[1::2], rtol=0, atol=3e-4)


def test_derivative_in_r_vanishes_as_r_goes_to_zero(x64):
    """d flux / d r = -2 r I(mu) / (1 - sum_n 2 u_n / ((n + 1)(n + 2))) for a tiny disc at b."""
    d_r = _point_derivatives("float64")[1][-len(TINY) :]
    b, r = (np.array(x) for x in zip(*TINY, strict=True))
    x = 1 - np.sqrt(1 - b**2)
    n = np.arange(1, U4.size + 1)
    intensity = 1 - np.sum(U4 * x[:, None] ** n, axis=-1)
    total = 1 - np.sum(2 * U4 / ((n + 1) * (n + 2)))
    np.testing.assert_allclose(d_r, -2 * r * intensity / total, rtol=1e-6)


# --------------------------------------------------------------------- contract and errors


POSITIVE = "u must give a positive stellar flux: "


@pytest.mark.parametrize(
    "u, match",
    [
        ((4.0,), POSITIVE + "u1/3 < 1"),
        ((0.4, 0.2, 0.1, 0.0, 0.0, 30.0), POSITIVE + "u1/3 + u2/6 + u3/10 + ... + u6/28 < 1"),
        ((0.4, 0.2, 0.1, 0.0, 0.0, np.nan), "u must be finite"),
    ],
)
def test_bad_limb_darkening_raises_naming_it(u, match):
    args = [jnp.asarray(x) for x in (0.3, 0.1, u)]
    with pytest.raises(CheckError) as error:
        limb_darkened_flux(*args)
    assert str(error.value) == f"limb_darkened_flux: {match}"
    if len(u) > 1:  # one more compile: once
        assert bool(jnp.isnan(limb_darkened_flux(*args, check=False)))


def test_empty_or_symbolic_orders_raise_at_trace_time():
    with pytest.raises(ValueError, match=r"u must have a static last axis of size N >= 1"):
        limb_darkened_flux(0.3, 0.1, jnp.zeros((3, 0)))
    (n,) = jax.export.symbolic_shape("n")
    spec = jax.ShapeDtypeStruct((n,), jnp.float32)
    with pytest.raises(ValueError, match=r"u must have a static last axis of size N >= 1"):
        jax.export.export(jax.jit(lambda u: limb_darkened_flux(0.3, 0.1, u)))(spec)


def test_light_curves_take_any_order():
    orbit = TransitOrbit(*(jnp.asarray(x) for x in (3.0, 0.0, 10.0, 0.3)))
    t, r = jnp.linspace(-0.1, 0.1, 9), jnp.asarray(0.1)
    dtype = t.dtype.name
    model = LightCurve(orbit, r, jnp.asarray([0.4, 0.26, 0.0], dtype))
    cubic, grads = jax.value_and_grad(lambda m: jnp.sum(m(t)))(model)
    quadratic = light_curve(t, orbit, r, jnp.asarray([0.4, 0.26], dtype))
    tol = {"float32": 1e-5, "float64": 1e-13}[dtype]  # a sum of 9 points
    np.testing.assert_allclose(cubic, jnp.sum(quadratic), rtol=0, atol=tol)
    assert grads.u.shape == (3,) and np.all(np.isfinite(grads.u)) and np.all(grads.u != 0)


@pytest.mark.counts_compiles
def test_new_values_do_not_recompile():
    b = jnp.linspace(0, 1.2, 16)
    r, u = jnp.asarray(0.1), jnp.asarray(ORDERS[3], b.dtype)
    jax.block_until_ready(_flux(b, r, u))
    new = b * 0.5, r * 2, u * 0.5  # built before counting: eager ops compile too
    with count_compiles() as counts:
        jax.block_until_ready(_flux(*new))
    assert counts.compiles == 0
