"""Kepler and radial-velocity models over many series of different lengths, in a few programs.

All series are concatenated into one flat array padded to a length bucket
(:func:`diffkern.jit.bucket_length`), with the index of each point's series, so any mix of
lengths runs one compiled program per bucket of the total length (and of the number of
series): about ``log(range) / log(1.5)`` programs instead of one per length. The models act
point by point, so padded points (which repeat a valid point) never touch the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, Real

from diffkern._arrays import result_dtype, to_device
from diffkern._checks import checked
from diffkern._ragged import bucket_length, flat_layout, series_arrays
from diffkern.kepler import KeplerSolver
from diffkern.orbits._radial_velocity import radial_velocity

_DEFAULT_SOLVER = KeplerSolver()


def _per_series(name: str, value: Real[ArrayLike, "*s"], n_series: int) -> Real[Array, "*S"]:
    """A parameter given once (scalar) or per series (shape ``(n_series,)``), padded to a
    bucket of the series count (with its last value) so new counts rarely compile."""
    (value,) = to_device(value)
    if value.ndim == 0:
        return value
    if value.shape != (n_series,):
        raise ValueError(
            f"{name} must be a scalar or of shape (n_series,) = ({n_series},), got {value.shape}"
        )
    pad = bucket_length(n_series, minimum=1) - n_series
    host = np.asarray(value) if not isinstance(value, jax.core.Tracer) else None
    if host is not None:  # padded on the host: compiles nothing
        return jax.device_put(np.concatenate([host, np.full(pad, host[-1], host.dtype)]))
    return jnp.concatenate([value, jnp.broadcast_to(value[-1], (pad,))])


def _gather(params: Sequence[Real[Array, "*S"]], index: Int[Array, " T"]) -> list[Array]:
    return [p if p.ndim == 0 else p[index] for p in params]


@checked
def _radial_velocity_flat(solver, t, index, *params):
    return radial_velocity(t, *_gather(params, index), solver=solver)


@checked
def _eccentric_anomaly_flat(solver, mean_anomaly, index, ecc):
    return solver(mean_anomaly, *_gather([ecc], index))


def radial_velocity_ragged(
    ts: Sequence[Real[ArrayLike, " _"]],
    period: Real[ArrayLike, "*S"],
    time_of_periastron: Real[ArrayLike, "*S"],
    ecc: Real[ArrayLike, "*S"],
    omega: Real[ArrayLike, "*S"],
    semi_amplitude: Real[ArrayLike, "*S"],
    *,
    solver: KeplerSolver = _DEFAULT_SOLVER,
) -> list[Float[Array, " _"]]:
    """:func:`diffkern.orbits.radial_velocity` of series ``i`` at times ``ts[i]``, for series of
    different lengths, in one call of a bucketed program.

    Each parameter is a scalar (shared) or of shape ``(len(ts),)`` (one value per series; for
    several planets, call once per planet and add). ``ts`` must be concrete; the parameters may
    be traced (differentiable). Returns one array per series.
    """
    dtype = result_dtype(*ts, period, time_of_periastron, ecc, omega, semi_amplitude)
    ts = series_arrays("ts", ts, dtype)
    layout = flat_layout([t.size for t in ts])
    names = ("period", "time_of_periastron", "ecc", "omega", "semi_amplitude")
    values = (period, time_of_periastron, ecc, omega, semi_amplitude)
    params = [_per_series(n, v, len(ts)) for n, v in zip(names, values, strict=True)]
    t, index = jax.device_put(layout.pad(ts)), jax.device_put(layout.index)
    return layout.split(_radial_velocity_flat(solver, t, index, *params))


def eccentric_anomaly_ragged(
    mean_anomalies: Sequence[Real[ArrayLike, " _"]],
    ecc: Real[ArrayLike, "*S"],
    *,
    solver: KeplerSolver = _DEFAULT_SOLVER,
) -> list[Float[Array, " _"]]:
    """Eccentric anomalies of series of different lengths in one call of a bucketed program.

    ``ecc`` is a scalar or one value per series (shape ``(len(mean_anomalies),)``). Padded
    points repeat a valid point, so they never trip the solver's checks.
    """
    dtype = result_dtype(*mean_anomalies, ecc)
    Ms = series_arrays("mean_anomalies", mean_anomalies, dtype)
    layout = flat_layout([M.size for M in Ms])
    e = _per_series("ecc", ecc, len(Ms))
    M, index = jax.device_put(layout.pad(Ms)), jax.device_put(layout.index)
    return layout.split(_eccentric_anomaly_flat(solver, M, index, e))
