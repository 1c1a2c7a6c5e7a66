"""Radial velocities from several instruments: planets, a trend, per-instrument offsets and
jitters, and the offsets integrated out in closed form (radvel's likelihood)."""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import error_if_each, result_dtype, to_device
from diffkern._checks import checked
from diffkern.orbits._instrument_data import RVObservations
from diffkern.orbits._keplerian import Keplerian


class InstrumentFit(NamedTuple):
    """What :meth:`MultiInstrumentRV.evaluate` returns.

    ``log_likelihood``: log L (scalar); ``offset``: the offsets used, shape
    ``(n_instruments,)`` (the best fit ones when marginalised); ``residual``: ``rv - offset -
    velocity(t)`` per point; ``variance``: ``err^2 + jitter^2`` per point.
    """

    log_likelihood: Float[Array, ""]
    offset: Float[Array, " instruments"]
    residual: Float[Array, " n"]
    variance: Float[Array, " n"]


def _scalar(name: str, value: Array | None) -> Array | None:
    if value is not None and value.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {value.shape}")
    return value


class MultiInstrumentRV(eqx.Module):
    """Radial velocities of one star seen by ``n_instruments`` instruments (radvel's model):

        rv_i = gamma_k + sum_p v_p(t_i) + dvdt (t_i - t0) + curv (t_i - t0)^2 + noise_i,
        noise_i ~ N(0, s_i^2 + j_k^2),   k = instrument of point i,

    with ``v_p`` the planets (:class:`Keplerian`, fields of shape ``(n_planets,)``), offsets
    ``gamma = offset`` and jitters ``j = jitter`` of shape ``(n_instruments,)``, and
    ``t0 = time_base``. The log-likelihood is radvel's (``CompositeLikelihood`` of
    ``RVLikelihood`` s, :func:`radvel.likelihood.loglike_jitter`)::

        log L = -1/2 sum_i [ r_i^2 / v_i + log(2 pi v_i) ],   v_i = s_i^2 + j_k^2.

    With ``marginalize=True`` (and no ``offset``) each offset is integrated out under a flat
    prior of unit density (``p(gamma) = 1`` per unit of velocity, improper): with weights
    ``w_i = 1 / v_i`` summed per instrument to ``W_k``, the integral is Gaussian,

        log int L dgamma = log L(gamma_hat) + sum_k 1/2 log(2 pi / W_k),
        gamma_hat_k = sum_{i in k} w_i (rv_i - model_i) / W_k,

    radvel's ``gamma`` with ``vary=False, linear=True``. Another prior density ``c`` adds
    ``n_instruments * log c``.

    Static configuration, fixed by what is given (a change compiles a new program, new values
    never do): the number of instruments (the length of ``jitter``), the trend order (0
    without ``dvdt`` and ``curv``, 1 with ``dvdt``, 2 with ``curv``; ``curv`` alone takes
    ``dvdt = 0``) and ``marginalize``. Every array field is differentiable.

    Valid values (checked where they are used, :class:`diffkern.CheckError` naming the
    argument): finite ``offset``, ``dvdt``, ``curv`` and ``time_base``; finite ``jitter >= 0``
    (a jitter enters squared: a fit with a signed parameter passes ``abs`` of it); the planets'
    own checks (:func:`radial_velocity`); the data's (:class:`RVObservations`);
    ``err^2 + jitter^2`` in ``(0, inf)`` in the dtype (no underflow or overflow); and with
    ``marginalize`` at least one point per instrument. Inside the caller's ``jit`` a failed
    check raises :class:`diffkern.CheckError` from a host callback, with the same message.
    """

    planets: Keplerian
    jitter: Float[Array, " instruments"]
    offset: Float[Array, " instruments"] | None
    dvdt: Float[Array, ""] | None
    curv: Float[Array, ""] | None
    time_base: Float[Array, ""]
    marginalize: bool = eqx.field(static=True)

    def __init__(
        self,
        planets: Keplerian,
        jitter: Real[ArrayLike, "*_"],
        offset: Real[ArrayLike, "*_"] | None = None,
        *,
        dvdt: Real[ArrayLike, "*_"] | None = None,
        curv: Real[ArrayLike, "*_"] | None = None,
        time_base: Real[ArrayLike, "*_"] = 0.0,
        marginalize: bool = False,
    ):
        if not isinstance(planets, Keplerian):
            raise TypeError(f"planets must be a diffkern.orbits.Keplerian, got {type(planets)}")
        if planets.period.ndim != 1:
            raise ValueError(
                f"planets must have fields of shape (n_planets,), got {planets.period.shape}"
            )
        if not isinstance(marginalize, bool):
            raise TypeError(f"marginalize must be a bool, got {marginalize!r}")
        if marginalize == (offset is not None):
            raise ValueError(
                "offset must be None when marginalize=True (the offsets are integrated out)"
                if marginalize
                else "offset is required unless marginalize=True (one per instrument)"
            )
        if curv is not None and dvdt is None:
            dvdt = 0.0
        given = {"jitter": jitter, "offset": offset, "dvdt": dvdt, "curv": curv}
        given["time_base"] = time_base
        names = [k for k, v in given.items() if v is not None]
        values = to_device(*(given[k] for k in names))
        dtype = result_dtype(planets.period, *values)
        arrays = dict.fromkeys(given)
        arrays.update({k: jnp.asarray(v).astype(dtype) for k, v in zip(names, values, strict=True)})
        jitter = arrays["jitter"]
        if jitter.ndim != 1 or jitter.size == 0:
            raise ValueError(f"jitter must have shape (n_instruments,), got {jitter.shape}")
        if offset is not None and arrays["offset"].shape != jitter.shape:
            raise ValueError(
                f"offset must have the shape of jitter {jitter.shape}, got {arrays['offset'].shape}"
            )
        self.planets = jax.tree_util.tree_map(lambda x: x.astype(dtype), planets)
        self.jitter, self.offset = jitter, arrays["offset"]
        self.dvdt, self.curv = _scalar("dvdt", arrays["dvdt"]), _scalar("curv", arrays["curv"])
        self.time_base = _scalar("time_base", arrays["time_base"])
        self.marginalize = marginalize

    @property
    def n_instruments(self) -> int:
        """The number of instruments (the length of ``jitter``)."""
        return self.jitter.shape[0]

    @property
    def trend_order(self) -> int:
        """0 (no trend), 1 (``dvdt``) or 2 (``dvdt`` and ``curv``)."""
        return sum(x is not None for x in (self.dvdt, self.curv))

    def velocity(self, t: Real[ArrayLike, "*t"]) -> Float[Array, "*t"]:
        """The star's velocity without offsets: the planets' sum plus the trend."""
        t = jnp.asarray(t)
        rv = self.planets(t)
        if self.dvdt is not None:
            dt = t - self.time_base
            slope = self.dvdt if self.curv is None else self.dvdt + self.curv * dt
            rv = rv + slope * dt
        return rv

    def evaluate(self, data: RVObservations) -> InstrumentFit:
        """Log-likelihood, offsets, residuals and variances of ``data`` (:class:`InstrumentFit`),
        in one compiled program per configuration and data shape."""
        if not isinstance(data, RVObservations):
            raise TypeError(f"data must be diffkern.orbits.RVObservations, got {type(data)}")
        return _evaluate(self, data)

    def log_likelihood(self, data: RVObservations) -> Float[Array, ""]:
        """log L of ``data`` (marginalised over the offsets with ``marginalize``)."""
        return self.evaluate(data).log_likelihood


def _mask(data: RVObservations) -> Array | bool:
    """The points that count: ``data.mask``, or ``True`` for all."""
    return True if data.mask is None else data.mask


def _invalid(
    model: MultiInstrumentRV, data: RVObservations, variance: Float[Array, " n"]
) -> list[tuple[Array, str]]:
    """Where the data and the model's own parameters are invalid, with each message (the
    variance's range only where ``err`` and ``jitter`` are valid, so one cause, one message)."""
    finite, n = jnp.isfinite, model.n_instruments
    index, mask = data.instrument, _mask(data)
    good_err = finite(data.err) & (data.err > 0)
    good_jitter = finite(model.jitter) & (model.jitter >= 0)
    representable = finite(variance) & (variance > 0)
    checks = [
        (mask & ~finite(data.t), "t must be finite"),
        (mask & ~finite(data.rv), "rv must be finite"),
        (mask & ~good_err, "err must be finite and > 0"),
        (mask & ((index < 0) | (index >= n)), f"instrument must be in [0, {n})"),
        (~good_jitter, "jitter must be finite and >= 0"),
        (mask & good_err & good_jitter[index] & ~representable,
         f"err^2 + jitter^2 must be in (0, inf) in {variance.dtype}"),
        (~finite(model.time_base), "time_base must be finite"),
    ]  # fmt: skip
    for name in ("offset", "dvdt", "curv"):
        if getattr(model, name) is not None:
            checks.append((~finite(getattr(model, name)), f"{name} must be finite"))
    return checks


@checked
def _evaluate(model: MultiInstrumentRV, data: RVObservations) -> InstrumentFit:
    dtype = result_dtype(model.jitter, data.t)
    model, data = jax.tree_util.tree_map(
        lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, (model, data)
    )
    n, index, mask = model.n_instruments, data.instrument, _mask(data)
    variance = data.err**2 + model.jitter[index] ** 2
    checks = _invalid(model, data, variance)
    weight = jnp.where(mask, 1 / variance, 0)
    residual = data.rv - model.velocity(data.t)
    if model.marginalize:
        total = jax.ops.segment_sum(weight, index, num_segments=n)
        checks.append((~(total > 0), "marginalize needs at least one point per instrument"))
        offset = jax.ops.segment_sum(weight * residual, index, num_segments=n) / total
        normalisation = 0.5 * jnp.sum(jnp.log(2 * math.pi / total))
    else:
        offset, normalisation = model.offset, jnp.zeros((), dtype)
    residual = residual - offset[index]
    terms = jnp.where(mask, weight * residual**2 + jnp.log(2 * math.pi * variance), 0)
    log_likelihood = -0.5 * jnp.sum(terms) + normalisation
    named = [(bad, f"MultiInstrumentRV: {message}") for bad, message in checks]
    log_likelihood = error_if_each(log_likelihood, named)
    return InstrumentFit(log_likelihood, offset, residual, variance)
