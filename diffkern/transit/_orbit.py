"""The planets of one star as an Equinox module: orbit parameters with a leading planet axis."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import result_dtype, to_device
from diffkern.kepler import KeplerSolver
from diffkern.transit._geometry import SkyPosition, sky_position
from diffkern.transit._parameters import impact_parameter, scaled_semi_major_axis

_DEFAULT_SOLVER = KeplerSolver()
_FIELDS = ("period", "time_of_transit", "a_over_rstar", "impact", "ecc", "omega", "mass_ratio")


def _one_of(first: str, a, second: str, b) -> None:
    if (a is None) == (b is None):
        raise TypeError(f"TransitOrbit: give exactly one of {first} and {second}")


class TransitOrbit(eqx.Module):
    """Planets on Keplerian orbits around one star, parameterised for transits.

    Every field has shape ``(n_planets,)`` (scalars and arrays broadcast; a 0-d input means
    one planet): ``period``, ``time_of_transit`` (a mid-transit time, the inferior
    conjunction), ``a_over_rstar`` (semi-major axis in stellar radii), ``impact`` (separation
    at transit, in stellar radii), ``ecc``, ``omega`` (the planet's argument of periastron, the
    convention of :func:`sky_position`, radvel's number) and ``mass_ratio`` (planet / star,
    for the light-travel time). Instead of ``a_over_rstar`` give ``stellar_density`` (g/cm^3,
    period in days; :func:`scaled_semi_major_axis`), instead of ``impact`` an ``inclination``
    (radians; :func:`impact_parameter`); the default impact is 0. With ``stellar_radius`` (R*
    in solar radii, times in days) positions include the light-travel time across the orbit
    (:func:`sky_position`). Batches of systems: ``jax.vmap`` over a module of batched fields.
    A module: ``jax.grad`` of a loss of it is the gradient with respect to every field, and
    ``eqx.tree_at`` changes one.
    """

    period: Float[Array, " planets"]
    time_of_transit: Float[Array, " planets"]
    a_over_rstar: Float[Array, " planets"]
    impact: Float[Array, " planets"]
    ecc: Float[Array, " planets"]
    omega: Float[Array, " planets"]
    mass_ratio: Float[Array, " planets"]
    stellar_radius: Float[Array, ""] | None
    solver: KeplerSolver = eqx.field(static=True, default=_DEFAULT_SOLVER)

    def __init__(
        self,
        period: Real[ArrayLike, "*_"],
        time_of_transit: Real[ArrayLike, "*_"],
        a_over_rstar: Real[ArrayLike, "*_"] | None = None,
        impact: Real[ArrayLike, "*_"] | None = None,
        ecc: Real[ArrayLike, "*_"] = 0.0,
        omega: Real[ArrayLike, "*_"] = 0.0,
        *,
        stellar_density: Real[ArrayLike, "*_"] | None = None,
        inclination: Real[ArrayLike, "*_"] | None = None,
        stellar_radius: Real[ArrayLike, ""] | None = None,
        mass_ratio: Real[ArrayLike, "*_"] = 0.0,
        solver: KeplerSolver = _DEFAULT_SOLVER,
    ):
        _one_of("a_over_rstar", a_over_rstar, "stellar_density", stellar_density)
        if impact is not None and inclination is not None:
            raise TypeError("TransitOrbit: give at most one of impact and inclination")
        period, ecc, omega = to_device(period, ecc, omega)  # lists become arrays
        if a_over_rstar is None:
            a_over_rstar = scaled_semi_major_axis(period, stellar_density)
        if inclination is not None:
            impact = impact_parameter(inclination, a_over_rstar, ecc, omega)
        values = to_device(period, time_of_transit, a_over_rstar,
                           0.0 if impact is None else impact, ecc, omega, mass_ratio)  # fmt: skip
        dtype = result_dtype(*values, *([] if stellar_radius is None else [stellar_radius]))
        arrays = [jnp.asarray(v).astype(dtype) for v in values]
        try:
            shape = jnp.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(_FIELDS, arrays, strict=True))
            raise ValueError(f"TransitOrbit: parameters do not broadcast: {shapes}") from None
        if len(shape) > 1:
            raise ValueError(
                f"TransitOrbit: parameters must be scalars or of shape (n_planets,), got shape "
                f"{shape}; use jax.vmap for batches of systems"
            )
        for name, array in zip(_FIELDS, arrays, strict=True):
            setattr(self, name, jnp.broadcast_to(array, shape or (1,)))
        if stellar_radius is not None:
            stellar_radius = jnp.asarray(stellar_radius).astype(dtype)
            if stellar_radius.shape != ():
                raise ValueError(f"stellar_radius must be a scalar, got {stellar_radius.shape}")
        self.stellar_radius = stellar_radius
        self.solver = solver

    @property
    def n_planets(self) -> int:
        """The length of the planet axis."""
        return self.period.shape[0]

    def sky_position(self, t: Real[ArrayLike, "*t"]) -> SkyPosition:
        """Each planet's :class:`SkyPosition` at ``t``, of shape ``(n_planets, *t.shape)``."""
        (t,) = to_device(t)
        *orbit, mass_ratio = self.fields(jnp.ndim(t))
        return sky_position(t, *orbit, stellar_radius=self.stellar_radius,
                            mass_ratio=mass_ratio, solver=self.solver)  # fmt: skip

    def fields(self, trailing: int) -> list[Float[Array, " planets *_"]]:
        """The array fields (:data:`_FIELDS` order) with ``trailing`` axes of size 1 added, to
        broadcast against times of that many dimensions."""
        axes = tuple(range(1, 1 + trailing))
        return [jnp.expand_dims(getattr(self, n), axes) for n in _FIELDS]
