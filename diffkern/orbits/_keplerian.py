"""A star's planets as one Equinox module: radial velocities summed over a planet axis."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import result_dtype, to_device
from diffkern._checks import checked
from diffkern.kepler import KeplerSolver
from diffkern.orbits._epoch import warn_if_times_round
from diffkern.orbits._periastron import time_of_periastron as _time_of_periastron
from diffkern.orbits._radial_velocity import radial_velocity
from diffkern.orbits._ragged import radial_velocity_ragged

_DEFAULT_SOLVER = KeplerSolver()
_FIELDS = ("period", "time_of_periastron", "ecc", "omega", "semi_amplitude")


@checked(name="Keplerian")
def _per_planet(solver: KeplerSolver, t: Array, *params: Array) -> Array:
    """One program for every planet's velocity, its failed checks naming ``Keplerian``."""
    return radial_velocity(t, *params, solver=solver)


class Keplerian(eqx.Module):
    """Planets on Keplerian orbits: the star's velocity sum_p K_p (cos(f_p + omega_p) + e_p cos
    omega_p), radvel's convention, each parameter with a leading planet axis.

    Every field has shape ``(n_planets, *batch)``: ``(n_planets,)`` for one star, or
    ``(n_planets, n_series)`` for the ragged calls, one column per series. Scalars and arrays
    broadcast to a common shape; a 0-d input means one planet. Build from a transit (inferior
    conjunction) time with :meth:`from_transit`. A module: ``jax.grad`` of a loss of it gives the
    gradient with respect to every field, and ``eqx.tree_at`` changes one.
    """

    period: Float[Array, " planets *batch"]
    time_of_periastron: Float[Array, " planets *batch"]
    ecc: Float[Array, " planets *batch"]
    omega: Float[Array, " planets *batch"]
    semi_amplitude: Float[Array, " planets *batch"]
    solver: KeplerSolver = eqx.field(static=True, default=_DEFAULT_SOLVER)

    def __init__(
        self,
        period: Real[ArrayLike, "*_"],
        time_of_periastron: Real[ArrayLike, "*_"],
        ecc: Real[ArrayLike, "*_"],
        omega: Real[ArrayLike, "*_"],
        semi_amplitude: Real[ArrayLike, "*_"],
        *,
        solver: KeplerSolver = _DEFAULT_SOLVER,
    ):
        values = (period, time_of_periastron, ecc, omega, semi_amplitude)
        dtype = result_dtype(*values)
        arrays = [jnp.asarray(v).astype(dtype) for v in to_device(*values)]
        try:
            shape = jnp.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(_FIELDS, arrays, strict=True))
            raise ValueError(f"Keplerian: parameters do not broadcast: {shapes}") from None
        shape = shape or (1,)
        for name, array in zip(_FIELDS, arrays, strict=True):
            setattr(self, name, jnp.broadcast_to(array, shape))
        self.solver = solver

    @classmethod
    def from_transit(
        cls,
        period: Real[ArrayLike, "*_"],
        time_of_transit: Real[ArrayLike, "*_"],
        ecc: Real[ArrayLike, "*_"],
        omega: Real[ArrayLike, "*_"],
        semi_amplitude: Real[ArrayLike, "*_"],
        *,
        solver: KeplerSolver = _DEFAULT_SOLVER,
    ) -> Keplerian:
        """Planets given by their transit (inferior conjunction) times:
        ``tp = tc - P (E - e sin E) / (2 pi)`` (:func:`diffkern.orbits.time_of_periastron`),
        differentiable in every parameter."""
        tp = _time_of_periastron(time_of_transit, period, ecc, omega)
        return cls(period, tp, ecc, omega, semi_amplitude, solver=solver)

    @property
    def n_planets(self) -> int:
        """The length of the planet axis."""
        return self.period.shape[0]

    def _params(self, extra_dims: int) -> list[Array]:
        """The fields with ``extra_dims`` trailing axes, to broadcast against times."""
        return [jnp.expand_dims(getattr(self, n), tuple(range(-extra_dims, 0))) for n in _FIELDS]

    def per_planet(self, t: Real[ArrayLike, "*t"]) -> Float[Array, " planets *batch *t"]:
        """Each planet's velocity at ``t`` (leading planet axis; ``*batch`` as the fields'
        trailing axes, then ``t``'s axes)."""
        warn_if_times_round("Keplerian", {"t": t}, self.period, result_dtype(t, self.period))
        t = jnp.asarray(t)
        return _per_planet(self.solver, t, *self._params(t.ndim))

    def __call__(self, t: Real[ArrayLike, "*t"]) -> Float[Array, "*batch *t"]:
        """The star's velocity at ``t``: the sum over planets of :meth:`per_planet`."""
        return self.per_planet(t).sum(axis=0)

    def ragged(self, ts: Sequence[Real[ArrayLike, " _"]]) -> list[Float[Array, " _"]]:
        """The velocity of star ``i`` at times ``ts[i]``, summed over its planets, for series of
        different lengths in a few bucketed programs
        (:func:`diffkern.orbits.radial_velocity_ragged`).

        The fields are ``(n_planets,)`` (the same planets for every series) or
        ``(n_planets, len(ts))``; every planet runs the same programs, so adding planets
        compiles nothing new.
        """
        if self.period.ndim > 2 or (self.period.ndim == 2 and self.period.shape[1] != len(ts)):
            raise ValueError(
                f"Keplerian.ragged: fields must be of shape (n_planets,) or (n_planets, "
                f"len(ts)) = ({self.n_planets}, {len(ts)}), got {self.period.shape}"
            )
        per_planet = [
            radial_velocity_ragged(ts, *(getattr(self, n)[p] for n in _FIELDS), solver=self.solver)
            for p in range(self.n_planets)
        ]
        return [sum(series[1:], series[0]) for series in zip(*per_planet, strict=True)]
