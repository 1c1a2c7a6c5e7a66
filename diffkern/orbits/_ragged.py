"""Kepler and radial-velocity models over many series of different lengths, in a few programs.

All series are concatenated into one flat array padded to a length bucket
(:func:`diffkern.jit.bucket_length`), with the index of each point's series, so any mix of
lengths runs one compiled program per bucket of the total length (and of the number of
series): about ``log(range) / log(1.5)`` programs instead of one per length. The models act
point by point, so padded points (which repeat a valid point) never touch the others.

Concrete parameters are padded on the host to a bucket of the series count; traced ones (under
the caller's ``grad`` or ``jit``) enter the program whole, and everything done with them (the
gather, the per-series sums, the cut to the series) happens inside it, so eager
``jax.value_and_grad`` of a fit's objective runs two programs (forward and backward) per bucket
and nothing op by op, however many series and lengths there are.
:func:`chi_square_ragged` reduces each series inside the program, so the objective the caller
builds on it is one array of shape ``(n_series,)``, never a Python loop over series.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, Real

from diffkern._arrays import result_dtype, to_device
from diffkern._checks import checked
from diffkern._ragged import bucket_length, flat_layout, series_arrays
from diffkern.kepler import KeplerSolver
from diffkern.orbits._radial_velocity import radial_velocity

_DEFAULT_SOLVER = KeplerSolver()


def _per_series(
    name: str, value: Real[ArrayLike, "*s"], n_series: int, *, planets: bool = False
) -> Real[Array, "*S"]:
    """A parameter given once (scalar) or per series (last axis ``n_series``; with ``planets``
    also ``(n_planets, n_series)``). Concrete values are padded on the host to a bucket of the
    series count (with their last value) so new counts rarely compile; traced ones are kept
    whole (the program is then specific to ``n_series`` anyway)."""
    (value,) = to_device(value)
    if value.ndim == 0:
        return value
    if value.shape[-1:] != (n_series,) or value.ndim > 1 + planets:
        shapes = "a scalar or of shape (n_series,)" + (
            " or (n_planets, n_series)" if planets else ""
        )
        raise ValueError(f"{name} must be {shapes} = ({n_series},), got {value.shape}")
    if isinstance(value, jax.core.Tracer):
        return value
    host = np.asarray(value)  # padded on the host: compiles nothing
    pad = bucket_length(n_series, minimum=1) - n_series
    return jax.device_put(np.concatenate([host, np.repeat(host[..., -1:], pad, axis=-1)], -1))


def _orbit_params(values: Sequence[ArrayLike], n_series: int, planets: bool = False) -> list:
    """The five orbit parameters through :func:`_per_series`, named in errors."""
    names = ("period", "time_of_periastron", "ecc", "omega", "semi_amplitude")
    return [
        _per_series(k, v, n_series, planets=planets) for k, v in zip(names, values, strict=True)
    ]


def _gather(params: Sequence[Real[Array, "*S"]], index: Int[Array, " T"]) -> list[Array]:
    return [p if p.ndim == 0 else p[..., index] for p in params]


@checked(name="radial_velocity_ragged")
def _radial_velocity_flat(solver, t, index, *params):
    return radial_velocity(t, *_gather(params, index), solver=solver)


@checked(name="eccentric_anomaly_ragged")
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
    values = (period, time_of_periastron, ecc, omega, semi_amplitude)
    params = _orbit_params(values, len(ts))
    t, index = jax.device_put(layout.pad(ts)), jax.device_put(layout.index)
    return layout.split(_radial_velocity_flat(solver, t, index, *params))


@checked(name="chi_square_ragged")
def _chi_square_flat(solver, num_series, cut, t, rv, weight, index, offset, *params):
    model = radial_velocity(t, *_gather(params, index), solver=solver)
    if model.ndim == 2:  # planets
        model = model.sum(axis=0)
    (offset,) = _gather([offset], index)
    residual = rv - offset - model
    chi2 = jax.ops.segment_sum(weight * residual * residual, index, num_segments=num_series)
    return chi2 if cut is None else chi2[:cut]


def chi_square_ragged(
    ts: Sequence[Real[ArrayLike, " _"]],
    rvs: Sequence[Real[ArrayLike, " _"]],
    errs: Sequence[Real[ArrayLike, " _"]],
    period: Real[ArrayLike, "*PS"],
    time_of_periastron: Real[ArrayLike, "*PS"],
    ecc: Real[ArrayLike, "*PS"],
    omega: Real[ArrayLike, "*PS"],
    semi_amplitude: Real[ArrayLike, "*PS"],
    *,
    offset: Real[ArrayLike, "*S"] = 0.0,
    solver: KeplerSolver = _DEFAULT_SOLVER,
) -> Float[Array, " n_series"]:
    """Per series ``i``: ``chi2_i = sum_j ((rvs[i][j] - offset_i - sum_p v_p(ts[i][j])) /
    errs[i][j])^2``, with ``v_p`` :func:`diffkern.orbits.radial_velocity` of planet ``p``.

    The objective of a fit of many stars in one compiled program per bucket (the residuals are
    summed per series inside it), with its gradient one program too, also under eager
    ``jax.value_and_grad``. Orbit parameters are scalars (shared), of shape ``(n_series,)``, or
    ``(n_planets, n_series)`` for several planets (summed); ``offset`` is a scalar or one
    systemic velocity per series. ``ts``, ``rvs`` and ``errs`` must be concrete, finite, of
    matching lengths, with ``errs > 0``; the parameters may be traced (differentiable).
    Returns shape ``(n_series,)``.
    """
    dtype = result_dtype(*ts, *rvs, period, time_of_periastron, ecc, omega, semi_amplitude)
    ts, rvs = series_arrays("ts", ts, dtype), series_arrays("rvs", rvs, dtype)
    errs = series_arrays("errs", errs, dtype)
    if not len(ts) == len(rvs) == len(errs):
        raise ValueError(
            f"ts, rvs and errs must hold the same number of series, got {len(ts)}, {len(rvs)}, "
            f"{len(errs)}"
        )
    for i, (t, rv, err) in enumerate(zip(ts, rvs, errs, strict=True)):
        if not t.shape == rv.shape == err.shape:
            raise ValueError(
                f"ts[{i}], rvs[{i}] and errs[{i}] must have one length, got {t.size}, {rv.size}, "
                f"{err.size}"
            )
        if not (np.all(np.isfinite(rv)) and np.all(np.isfinite(err)) and np.all(err > 0)):
            raise ValueError(f"rvs[{i}] must be finite and errs[{i}] finite and > 0")
    n = len(ts)
    layout = flat_layout([t.size for t in ts])
    params = _orbit_params((period, time_of_periastron, ecc, omega, semi_amplitude), n, True)
    offset = _per_series("offset", offset, n)
    t, rv, index = jax.device_put((layout.pad(ts), layout.pad(rvs, 0.0), layout.index))
    weight = jax.device_put(layout.pad([1.0 / e**2 for e in errs], 0.0))  # padding adds 0
    traced = any(isinstance(p, jax.core.Tracer) for p in (offset, *params))
    args = (t, rv, weight, index, offset, *params)
    # Traced parameters make the program specific to n: cut inside it. Else on the host, so
    # that one program serves every count of the bucket.
    out = _chi_square_flat(solver, bucket_length(n, minimum=1), n if traced else None, *args)
    return out if traced else jax.device_put(np.asarray(out)[:n])


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
