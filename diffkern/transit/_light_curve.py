"""The limb-darkened transit light curve of a star's planets, averaged over each exposure."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import error_if_each, result_dtype, to_device
from diffkern._checks import checked
from diffkern.transit._exposure import check_supersample, exposure_times, nodes
from diffkern.transit._geometry import checked_position, reported
from diffkern.transit._orbit import TransitOrbit
from diffkern.transit._quadratic import limb_darkened_flux


def light_curve(
    t: Real[ArrayLike, "*t"],
    orbit: TransitOrbit,
    radius_ratio: Real[ArrayLike, "*_"],
    u: Real[ArrayLike, "*_"],
    *,
    exposure_time: Real[ArrayLike, "*_"] = 0.0,
    supersample: int = 1,
    rule: str = "uniform",
) -> Float[Array, "*t"]:
    """Relative flux of a star transited by ``orbit``'s planets at times ``t``.

    ``F(t) = 1 - sum_p (1 - F_p(t))`` with ``F_p`` :func:`limb_darkened_flux` of planet ``p``
    (radius ``radius_ratio[p]`` stellar radii, scalar or ``(n_planets,)``) at its
    :func:`sky_position`, and ``F_p = 1`` where the planet is behind the star
    (``line_of_sight <= 0``): the flux is exactly 1 out of transit. The sum is exact while the
    planets' discs do not overlap each other on the star (mutual events are not modelled).
    ``u = (u1, .., uN)``: the star's polynomial limb darkening of any order ``N >= 1``,
    ``I(mu) / I(1) = 1 - sum_n u_n (1 - mu)^n`` (``N = 2``: quadratic).

    Exposure-time integration: each point is the average over ``[t - T/2, t + T/2]``,
    ``T = exposure_time`` (in the unit of ``t``; scalar or one per point), by ``supersample``
    nodes of ``rule`` ("uniform": batman's ``supersample_factor``; "gauss": Gauss-Legendre),
    see :func:`diffkern.transit._exposure.nodes`. ``supersample`` and ``rule`` are static (a new
    value compiles a new program); ``exposure_time`` is data (a new value never recompiles).

    Valid input: as :func:`sky_position` for ``t`` (every node) and the orbit, with the
    periastron clear of the planet, ``a_over_rstar (1 - ecc) > 1 + radius_ratio``; finite
    ``radius_ratio >= 0``; finite ``exposure_time >= 0``; ``u`` as :func:`limb_darkened_flux`.
    Anything else raises :class:`diffkern.CheckError` naming the argument (through a host callback
    inside the caller's ``jit``); ``orbit.solver.check=False`` gives NaN there instead. Static
    errors (shapes, ``supersample``, ``rule``) raise ``ValueError`` or
    ``TypeError`` at once.
    """
    check_supersample(supersample, rule)
    t, radius_ratio, u, exposure_time = to_device(t, radius_ratio, u, exposure_time)
    shape = np.shape(u)
    if len(shape) != 1 or not isinstance(shape[0], int) or shape[0] < 1:
        raise ValueError(f"u must be of static shape (N,), N >= 1 (u1, .., uN), got {shape}")
    if np.shape(radius_ratio) not in ((), (orbit.n_planets,)):
        raise ValueError(
            f"radius_ratio must be a scalar or of shape (n_planets,) = ({orbit.n_planets},), "
            f"got {np.shape(radius_ratio)}"
        )
    try:
        same = np.broadcast_shapes(np.shape(t), np.shape(exposure_time)) == np.shape(t)
    except ValueError:
        same = False
    if not same:
        raise ValueError(
            f"exposure_time must be a scalar or broadcast to t's shape {np.shape(t)}, got "
            f"{np.shape(exposure_time)}"
        )
    return _light_curve(orbit, t, radius_ratio, u, exposure_time, supersample, rule)


@checked
def _light_curve(orbit, t, radius_ratio, u, exposure_time, supersample, rule):
    dtype = result_dtype(t, radius_ratio, u, exposure_time, orbit.period)
    t, u = t.astype(dtype), u.astype(dtype)
    exposure_time = jnp.broadcast_to(exposure_time, t.shape).astype(dtype)
    offsets, weights = nodes(supersample, rule, dtype)
    times = exposure_times(t, exposure_time, offsets)  # (*t, nodes)
    *fields, mass_ratio = orbit.fields(times.ndim)
    r = jnp.expand_dims(jnp.broadcast_to(radius_ratio, (orbit.n_planets,)).astype(dtype),
                        tuple(range(1, 1 + times.ndim)))  # fmt: skip
    r_ok = jnp.isfinite(r) & (r >= 0)
    light = None if orbit.stellar_radius is None else [orbit.stellar_radius, mass_ratio]
    (separation, line_of_sight), valid, checks = checked_position(
        orbit.solver, "light_curve", [times, *fields], light, contact=1 + r
    )
    checks += [
        (~r_ok, "light_curve: radius_ratio must be finite and >= 0"),
        (~(jnp.isfinite(exposure_time) & (exposure_time >= 0)),
         "light_curve: exposure_time must be finite and >= 0"),
    ]  # fmt: skip
    flux = limb_darkened_flux(separation, jnp.where(r_ok, r, 0), u, check=orbit.solver.check)
    deficit = jnp.where(line_of_sight > 0, 1 - flux, 0)  # (planets, *t, nodes)
    out = 1 - jnp.tensordot(deficit.sum(axis=0), weights, axes=1)
    valid = jnp.all(valid & r_ok, axis=(0, -1)) & jnp.isfinite(exposure_time)
    return reported(error_if_each(out, checks), valid, orbit.solver)


class LightCurve(eqx.Module):
    """A star's transit light curve as a module: ``LightCurve(orbit, radius_ratio, u)(t)`` is
    :func:`light_curve` with these parameters.

    ``radius_ratio`` (scalar or ``(n_planets,)``), ``u`` (``(N,)``) and ``exposure_time`` are
    stored as arrays: data, so a new exposure time (through ``eqx.tree_at`` or a new
    instance) reuses the compiled program; ``supersample`` and ``rule`` are static fields.
    ``jax.grad`` of a loss of the module is the gradient with respect to every array field,
    the orbit's included.
    """

    orbit: TransitOrbit
    radius_ratio: Float[Array, "*planets"] = eqx.field(converter=jnp.asarray)
    u: Float[Array, " n"] = eqx.field(converter=jnp.asarray)
    exposure_time: Float[Array, "*e"] = eqx.field(converter=jnp.asarray, default=0.0)
    supersample: int = eqx.field(static=True, default=1, kw_only=True)
    rule: str = eqx.field(static=True, default="uniform", kw_only=True)

    def __check_init__(self):
        check_supersample(self.supersample, self.rule)

    def __call__(self, t: Real[ArrayLike, "*t"]) -> Float[Array, "*t"]:
        """The relative flux at ``t`` (:func:`light_curve`)."""
        return light_curve(t, self.orbit, self.radius_ratio, self.u,
                           exposure_time=self.exposure_time, supersample=self.supersample,
                           rule=self.rule)  # fmt: skip
