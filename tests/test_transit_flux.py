"""limb_darkened_flux: against an independent quadrature of the limb-darkened disc, against
exoplanet-core and batman, the float32 bound, exact finite derivatives, bad input, compiles."""

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
from diffkern.transit._elliptic import cel3, min_kc
from diffkern.transit._quadratic import limb_darkened_flux

#: Largest |error| in flux, per dtype, for 0 < r <= 2 (measured: 5e-15 in float64 against
#: exoplanet-core, 8e-7 in float32; 9e-7 at r = 3, 2.4e-6 at r = 10).
FLUX_TOL = {"float32": 1e-6, "float64": 1e-12}
U = [(0.4, 0.26), (0.0, 0.0), (1.0, 0.0), (0.1, 0.8), (0.0, 1.0), (-0.5, 1.5)]
R = [1e-6, 1e-3, 0.05, 0.1, 0.3, 0.5, 0.7, 0.99, 1.0, 1.01, 1.5, 2.0]
_flux = jax.jit(limb_darkened_flux)


def _separations(r: float) -> np.ndarray:
    """A sweep across the transit of a disc of radius ``r`` and every special point."""
    special = [0.0, r, abs(1 - r), 1 + r, r * (1 + 1e-9), abs(1 - r) * (1 + 1e-9), 1 + r - 1e-9]
    return np.concatenate([np.linspace(0, 1 + r + 0.05, 101), special])


QUADRATURE_CASES = [
    (0.0, 0.1, 0.4, 0.26),
    (0.3, 0.1, 0.4, 0.26),
    (0.95, 0.1, 0.4, 0.26),
    (1.05, 0.1, 0.4, 0.26),
    (0.1, 0.1, 0.1, 0.8),
    (0.5, 0.5, 1.0, 0.0),
    (0.7, 0.5, 0.0, 1.0),
    (0.5, 0.5, 0.0, 0.0),
    (0.2, 0.8, 0.4, 0.26),
    (1.5, 0.8, 0.4, 0.26),
    (0.3, 1.2, 0.4, 0.26),
    (0.5, 1.5, 0.3, 0.1),
    (2.2, 1.5, 0.3, 0.1),
    (0.6, 1e-3, 0.4, 0.26),
    (0.9995, 1e-3, 0.4, 0.26),
    (0.5, 0.2, 1.5, 0.0),  # negative intensity near the limb: allowed, still exact
    (0.9, 0.2, -1.0, 1.2),
]


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened ``(b, r, u)``: :data:`R` x :func:`_separations` x :data:`U`, then
    :data:`QUADRATURE_CASES` (one array, so one compiled program serves every comparison)."""
    b, r, u = [], [], []
    for radius in R:
        sweep = _separations(radius)
        for coefficients in U:
            b.append(sweep)
            r.append(np.full_like(sweep, radius))
            u.append(np.broadcast_to(coefficients, (sweep.size, 2)))
    cases = np.array(QUADRATURE_CASES)
    b.append(cases[:, 0])
    r.append(cases[:, 1])
    u.append(cases[:, 2:])
    return np.concatenate(b), np.concatenate(r), np.concatenate(u)


GRID = _grid()
SWEEP = slice(0, GRID[0].size - len(QUADRATURE_CASES))
QUADRATURE = slice(SWEEP.stop, None)


@functools.cache
def _grid_flux(dtype: str) -> np.ndarray:
    """The flux on :data:`GRID` rounded to ``dtype`` (computed once per dtype)."""
    with float64(dtype == "float64"):
        flux = np.asarray(_flux(*(jnp.asarray(x, dtype) for x in GRID)))
    assert flux.dtype == dtype
    return flux


def _peer_flux(peer, b, r, u) -> np.ndarray:
    """``peer(u1, u2, b, r)`` on the sweep, one call per limb-darkening pair."""
    want = np.empty_like(b)
    for u1, u2 in {tuple(c) for c in u}:
        at = np.all(u == (u1, u2), axis=-1)
        want[at] = peer(float(u1), float(u2), b[at], r[at])
    return want


def test_matches_quadrature_of_the_disc(x64):
    got = _grid_flux("float64")[QUADRATURE]
    want = np.array([quadrature_flux(*case) for case in QUADRATURE_CASES])
    np.testing.assert_allclose(got, want, rtol=0, atol=FLUX_TOL["float64"])


def test_matches_exoplanet_core(x64):
    exoplanet_core = pytest.importorskip("exoplanet_core")
    b, r, u = (x[SWEEP] for x in GRID)
    got = _grid_flux("float64")[SWEEP]

    def peer(u1, u2, b, r):
        return 1 + exoplanet_core.quad_limbdark_light_curve(u1, u2, b, r)

    np.testing.assert_allclose(got, _peer_flux(peer, b, r, u), rtol=0, atol=FLUX_TOL["float64"])
    assert np.all(got[b >= 1 + r] == 1) and np.all(got[b <= r - 1] == 0)


def test_matches_batman(x64):
    quadratic_ld = pytest.importorskip("batman._quadratic_ld")  # what batman.TransitModel runs
    b, r, u = (x[SWEEP] for x in GRID)
    # batman fails to converge at r = 1e-6 and is wrong exactly on b = r and b = |1 - r|
    # (flux 1 for u = 0 at b = r = 0.1; -0.28 at r = 0.7, b = 0.3): those are left out.
    at = (r > 1e-6) & (b != r) & (b != np.abs(1 - r))
    b, r, u = b[at], r[at], u[at]

    want = np.empty_like(b)
    for radius in np.unique(r):
        for u1, u2 in U:
            at_ru = (r == radius) & np.all(u == (u1, u2), axis=-1)
            sweep = np.ascontiguousarray(b[at_ru])
            want[at_ru] = quadratic_ld._quadratic_ld(sweep, radius, u1, u2, 1)
    np.testing.assert_allclose(_grid_flux("float64")[SWEEP][at], want, rtol=0, atol=1e-6)


def test_float32_bound():
    exoplanet_core = pytest.importorskip("exoplanet_core")
    b, r, u = (x[SWEEP].astype(np.float32).astype(np.float64) for x in GRID)

    def peer(u1, u2, b, r):
        return 1 + exoplanet_core.quad_limbdark_light_curve(u1, u2, b, r)

    got = _grid_flux("float32")[SWEEP]
    np.testing.assert_allclose(got, _peer_flux(peer, b, r, u), rtol=0, atol=FLUX_TOL["float32"])


def test_cel_reaches_the_last_bit_in_its_steps(dtype):
    """:data:`STEPS` steps suffice for every ``kc`` down to ``min_kc`` (mpmath quadrature)."""
    mpmath = pytest.importorskip("mpmath")
    name = jnp.dtype(dtype).name
    rows = [
        (kc, p, a, c)
        for kc in (1.0, 0.3, 1e-3, min_kc(dtype))
        for p, a, c in ((1.0, 1.0, 1.0), (0.3, 0.2, -0.7), (1e-8, 1.0, 2.0))
    ]
    rows = np.asarray(rows, name)
    got = np.stack(jax.jit(cel3)(*(jnp.asarray(column) for column in rows.T)), axis=-1)

    def cel(kc, p, a, c):
        """``a Pi(n) + (a - c) (K - Pi(n)) / n`` with ``n = 1 - p`` (``K``, ``E`` if ``p = 1``)."""
        m = 1 - mpmath.mpf(kc) ** 2
        k = mpmath.ellipk(m)
        if p == 1 and m == 0:
            return float((a + c) * mpmath.pi / 4)
        if p == 1:
            return float(a * k + (c - a) * (k - mpmath.ellipe(m)) / m)
        n = 1 - mpmath.mpf(p)
        pi_n = mpmath.ellippi(n, m)
        return float(a * pi_n + (a - c) * (k - pi_n) / n)

    for (kc, p, a, c), values in zip(rows.astype(float), got, strict=True):
        with mpmath.workdps(50):  # m = 1 - kc^2 must not round to 1 at kc = eps
            want = np.array([cel(kc, p, a, c), cel(kc, 1, 1, kc**2), cel(kc, 1, 1, 0)])
        tol = {"float32": 1e-6, "float64": 2e-15}[name]
        np.testing.assert_allclose(values, want, rtol=tol, atol=tol)


# ----------------------------------------------------------------------------- derivatives

U0 = np.asarray([0.4, 0.26])
GENERIC = [(0.3, 0.1), (0.95, 0.1), (1.05, 0.1), (0.2, 0.5), (0.7, 0.5), (0.3, 0.3)]
GENERIC += [(0.6, 0.8), (1.2, 1.5), (0.6, 1.5), (0.0, 0.3), (-0.4, 0.2), (0.5, 1e-4)]


def test_gradients_match_finite_differences(x64):
    b, r = (jnp.asarray(x) for x in zip(*GENERIC, strict=True))
    u = jnp.asarray(np.stack([U0 + 0.01 * k for k in range(len(GENERIC))]))
    check_grads(_flux, (b, r, u), order=1, modes=("fwd", "rev"))


# Contacts, the centre, the diagonal b = r, tiny and covering discs, the edge of the disc; then
# pairs 1e-9 either side of b = 1 - r, 1 + r, r, r, r - 1, r + 1; then tiny discs at b.
SINGULAR = [(0.9, 0.1), (1.1, 0.1), (0.0, 0.1), (0.1, 0.1), (0.5, 0.5), (0.0, 1.0), (0.5, 1.5)]
SINGULAR += [(2.5, 1.5), (0.3, 0.0), (0.3, 1e-30), (1.0, 1e-8), (0.0, 0.0), (1.0, 1.0)]
EDGES = [(0.9, 0.1), (1.1, 0.1), (0.3, 0.3), (0.6, 0.6), (0.5, 1.5), (2.5, 1.5)]
SIDES = [(b + side, r) for b, r in EDGES for side in (-1e-9, 1e-9)]
TINY = [(0.0, 1e-7), (0.5, 1e-7), (0.9, 1e-7)]
POINTS = SINGULAR + SIDES + TINY


@functools.cache
def _point_derivatives(dtype: str) -> list[np.ndarray]:
    """:func:`flux_derivatives` at :data:`POINTS` with ``U0``, once per dtype."""
    return flux_derivatives(POINTS, U0, dtype)


def test_derivatives_are_finite_and_modes_agree(dtype):
    name = jnp.dtype(dtype).name
    d_b, d_r, d_u, jvp_b, jvp_r = _point_derivatives(name)
    for d in (d_b, d_r, d_u, jvp_b, jvp_r):
        assert d.dtype == name and np.all(np.isfinite(d))
    rtol = {"float32": 1e-6, "float64": 1e-14}[name]
    np.testing.assert_allclose(jvp_b, d_b, rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(jvp_r, d_r, rtol=rtol, atol=1e-30)


def test_derivatives_are_continuous_across_contacts_and_the_diagonal(x64):
    """Values 1e-9 either side of an edge agree to O(sqrt(1e-9)): the kite area, and so
    d flux / db, grows like the square root of the distance past the inner contact."""
    d_b, d_r, d_u, *_ = _point_derivatives("float64")
    sides = slice(len(SINGULAR), len(SINGULAR) + len(SIDES))
    for d in (d_b, d_r, d_u[:, 0], d_u[:, 1]):
        below, above = d[sides][0::2], d[sides][1::2]
        np.testing.assert_allclose(below, above, rtol=0, atol=3e-4)


def test_derivative_in_r_vanishes_as_r_goes_to_zero(x64):
    """d flux / d r = -2 r I(mu) / (1 - u1/3 - u2/6) for a tiny disc at b (mu = sqrt(1 - b^2))."""
    d_r = _point_derivatives("float64")[1][-len(TINY) :]
    b, r = (np.array(x) for x in zip(*TINY, strict=True))
    mu = np.sqrt(1 - b**2)
    intensity = 1 - U0[0] * (1 - mu) - U0[1] * (1 - mu) ** 2
    np.testing.assert_allclose(d_r, -2 * r * intensity / (1 - U0[0] / 3 - U0[1] / 6), rtol=1e-6)


@pytest.mark.parametrize("u", [U0, (0.1, 0.2, 0.3)])
def test_long_light_curves_equal_their_pieces(u, x64):
    """Over 4096 points the CPU program runs in blocks and skips those with no point in
    transit: the flux and its VJP equal those of pieces short enough to run whole
    (2.5 blocks of a time-ordered transit, so that whole blocks lie out of transit, the last
    one is partial, and one out-of-transit block holds an invalid point)."""
    n = 10_240
    b = jnp.asarray(np.abs(np.linspace(-3.0, 1.0, n)))
    r = jnp.full(n, 0.1).at[-1].set(-1.0)  # invalid, in a block otherwise out of transit
    u = jnp.asarray(u)

    def flux(b, r):
        return limb_darkened_flux(b, r, u, check=False)

    def vjp(b, r):
        out, pullback = jax.vjp(flux, b, r)
        return jnp.stack(pullback(jnp.where(jnp.isnan(out), 0, jnp.cos(b))), -1)

    for fn in (flux, vjp):
        got = jax.jit(fn)(b, r)
        pieces = jax.jit(jax.vmap(fn))(b.reshape(10, -1), r.reshape(10, -1))  # 1024 each
        np.testing.assert_allclose(got, pieces.reshape(got.shape), rtol=1e-14, atol=1e-16)
    value = jax.jit(flux)(b, r)
    assert np.all(value[:-1][b[:-1] >= 1.1] == 1) and bool(jnp.isnan(value[-1]))
    with pytest.raises(CheckError, match="r must be finite and >= 0"):
        limb_darkened_flux(b, r, u)


# --------------------------------------------------------------------- contract and errors


def test_shapes_broadcast_and_dtypes_follow_the_inputs(dtype):
    b = np.arange(5)  # integers promote to the floating dtype of the other arguments
    u = jnp.asarray([[0.4, 0.26], [0.1, 0.3], [0.0, 0.0]], dtype)[:, None, :]
    flux = limb_darkened_flux(b, jnp.asarray(1.5, dtype), u)
    assert flux.shape == (3, 5) and flux.dtype == dtype
    np.testing.assert_array_equal(flux[:, 0], 0)  # b <= r - 1: the star is covered
    np.testing.assert_array_equal(flux[:, 3:], 1)  # b >= 1 + r
    # u = 0: one minus the lens area of two circles over pi (the textbook formula).
    d, r = np.array([1.0, 2.0]), 1.5
    lens = (
        r**2 * np.arccos((d**2 + r**2 - 1) / (2 * d * r))
        + np.arccos((d**2 + 1 - r**2) / (2 * d))
        - 0.5 * np.sqrt((-d + r + 1) * (d + r - 1) * (d - r + 1) * (d + r + 1))
    )
    tol = {"float32": 1e-6, "float64": 1e-15}[jnp.dtype(dtype).name]
    np.testing.assert_allclose(flux[2, 1:3], 1 - lens / np.pi, rtol=0, atol=tol)


@pytest.mark.parametrize(
    "b, r, u, match",
    [
        (np.nan, 0.1, (0.4, 0.2), "b must be finite"),
        (0.3, -0.1, (0.4, 0.2), "r must be finite and >= 0"),
        (0.3, np.inf, (0.4, 0.2), "r must be finite and >= 0"),
        (0.3, 0.1, (np.nan, 0.2), "u must be finite"),
        (0.3, 0.1, (2.0, 2.0), r"u must give a positive stellar flux: u1/3 \+ u2/6 < 1"),
    ],
)
def test_bad_values_raise_naming_the_argument(b, r, u, match):
    args = [jnp.asarray(x) for x in (b, r, u)]
    with pytest.raises(CheckError, match=f"^limb_darkened_flux: {match}"):
        limb_darkened_flux(*args)
    with pytest.raises(Exception, match=f"limb_darkened_flux: {match}"):  # the caller's jit
        jax.block_until_ready(_flux(*args))
    with pytest.raises(CheckError, match=match):  # eager grad
        jax.grad(limb_darkened_flux)(*args)
    quiet = limb_darkened_flux(jnp.asarray([b, 0.3]), r, args[2], check=False)  # NaN where invalid
    assert bool(jnp.isnan(quiet[0])) and bool(jnp.isnan(quiet[1])) != (match == "b must be finite")


def test_bad_shapes_and_flags_raise_at_trace_time():
    with pytest.raises(ValueError, match=r"u must have a static last axis of size N >= 1"):
        limb_darkened_flux(0.3, 0.1, jnp.zeros((3, 0)))
    with pytest.raises(ValueError, match=r"u must have a static last axis of size N >= 1"):
        limb_darkened_flux(0.3, 0.1, 0.4)
    with pytest.raises(ValueError, match="shapes must broadcast"):
        limb_darkened_flux(jnp.zeros(3), jnp.zeros(4), jnp.asarray(U0))
    with pytest.raises(TypeError, match="check"):  # also raised by the suite's type checker
        limb_darkened_flux(0.3, 0.1, jnp.asarray(U0), check=1)


@pytest.mark.counts_compiles
def test_new_values_do_not_recompile():
    b = jnp.linspace(0, 1.2, 16)
    r, u = jnp.asarray(0.1), jnp.asarray(U0, b.dtype)
    jax.block_until_ready(_flux(b, r, u))
    new = b * 0.5, r * 2, u * 0.5  # built before counting: eager ops compile too
    with count_compiles() as counts:
        jax.block_until_ready(_flux(*new))
        jax.block_until_ready(limb_darkened_flux(*new))
    assert counts.compiles <= 1  # the entry point's own program, once for both calls
    with count_compiles() as counts:
        jax.block_until_ready(limb_darkened_flux(b, r, u))
    assert counts.compiles == 0


@pytest.mark.parametrize("u", [(0.4, 0.26), (0.0, -0.0148), (0.1, 0.2, 0.3)])
def test_equal_discs_nearly_concentric(u, dtype):
    """r = 1 and b -> 0 (down to the smallest normal number): the star is all but covered,
    the flux O(b), never the edge formulas' overflow or a plausible wrong value."""
    b = jnp.asarray([0.0, 1.2e-38, 2.7e-31, 1e-20, 1e-12, 1e-9], dtype)
    flux = np.asarray(_flux(b, jnp.asarray(1.0, dtype), jnp.asarray(u, dtype)))
    assert np.all(np.isfinite(flux)) and np.all(np.abs(flux) <= 1e-6)
