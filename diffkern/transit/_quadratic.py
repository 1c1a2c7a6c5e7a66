"""The flux of a star with quadratic limb darkening occulted by an opaque disc."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array, ArrayLike, Bool, Float, Real

from diffkern._arrays import broadcast_floats, error_if_each, platform, to_device
from diffkern._checks import checked
from diffkern.transit._quadratic_terms import terms


def limb_darkened_flux(
    b: Real[ArrayLike, "*_"],
    r: Real[ArrayLike, "*_"],
    u: Real[ArrayLike, "*_"],
    *,
    check: bool = True,
) -> Float[Array, "*batch"]:
    """Relative flux of a star with ``I(mu) / I(1) = 1 - u1 (1 - mu) - u2 (1 - mu)^2``
    occulted by an opaque disc of radius ``r`` whose centre is ``b`` from the star's.

    ``b`` and ``r`` are in stellar radii; ``u = (u1, u2)`` is the last axis of ``u``. ``b``,
    ``r`` and ``u[..., 0]`` broadcast; the result has their shape and follows their dtype. The
    flux is 1 out of transit (exactly 1 for ``|b| >= 1 + r`` or ``r = 0``) and 0 when the disc
    covers the star (``|b| <= r - 1``); in between it is the closed form of Mandel & Agol
    (2002) in the stable form of Agol, Luger & Foreman-Mackey (2020):
    ``F = 1 - [(1 - u1 - 2 u2) A + (u1 + 2 u2) M + u2 R] / (pi (1 - u1 / 3 - u2 / 6))`` with
    ``A``, ``M``, ``R`` the integrals of ``1``, ``mu`` and ``rho^2`` over the occulted area
    (:mod:`diffkern.transit._quadratic_terms`). Any ``r >= 0`` is valid, ``r > 1`` included.
    The flux depends on ``|b|``; which side of the star the occultor is on (in front or
    behind) is for the caller to decide.

    Derivatives in ``b``, ``r`` and ``u`` are the analytic ones (``jax.custom_jvp``): exact
    and finite everywhere, the contact points ``|b| = |1 - r|, 1 + r``, ``b = 0``, ``b = r``
    and ``r -> 0`` included. Accuracy: within 1e-12 of the exact flux in float64 and 1e-6 in
    float32 for ``r <= 3`` (2.4e-6 at ``r = 10``; tests/test_transit_flux.py).

    Limb darkening that makes the intensity negative somewhere on the disc (for instance
    ``u1 + u2 > 1``) is allowed: the flux is still the exact integral of the law as given, so
    that fits can cross the boundary; constrain ``u`` in the model if it must be physical.
    The star's total flux must be positive, ``u1 / 3 + u2 / 6 < 1``.

    ``check=True`` validates values in the compiled program: non-finite ``b``, ``r`` or ``u``,
    ``r < 0`` or ``u1 / 3 + u2 / 6 >= 1`` raise :class:`diffkern.CheckError` naming the
    argument (through a host callback inside the caller's ``jit``); ``check=False`` skips
    the checks and gives NaN where the input is invalid.
    """
    if not isinstance(check, bool):
        raise TypeError(f"check must be a bool, got {type(check).__name__}")
    shape = np.shape(u)
    if len(shape) == 0 or shape[-1] != 2:
        raise ValueError(f"u must have a last axis of size 2 (u1, u2), got shape {shape}")
    args = to_device(b, r, u)
    return _limb_darkened_flux(check, platform(*args), *args)


def _invalid(b, r, u1, u2) -> list[tuple[Bool[Array, "*batch"], str]]:
    """Where each argument is invalid, with its message."""
    finite = jnp.isfinite
    u_finite = finite(u1) & finite(u2)
    checks = [
        (~finite(b), "b must be finite"),
        (~(finite(r) & (r >= 0)), "r must be finite and >= 0"),
        (~u_finite, "u must be finite"),
        (u_finite & ~(u1 / 3 + u2 / 6 < 1), "u must give a positive stellar flux: u1/3 + u2/6 < 1"),
    ]
    return [(bad, f"limb_darkened_flux: {message}") for bad, message in checks]


@checked
def _limb_darkened_flux(check: bool, where: str, b, r, u) -> Float[Array, "*batch"]:
    b, r, u1, u2 = broadcast_floats(b=b, r=r, u1=u[..., 0], u2=u[..., 1])
    checks = _invalid(b, r, u1, u2)
    valid = ~jnp.any(jnp.stack([bad for bad, _ in checks]), axis=0)
    safe = [jnp.where(valid, x, 0) for x in (b, r, u1, u2)]
    flux = _flux(where, *safe)
    if check:
        return error_if_each(flux, checks)
    return jnp.where(valid, flux, jnp.nan)


def _evaluate(b, r, u1, u2) -> tuple[Float[Array, "*b"], tuple[Float[Array, "*b"], ...]]:
    """The flux and its partial derivatives in ``(b, r, u1, u2)``."""
    t = terms(jnp.abs(b), r)
    area, depth, moment = t.value
    weights = (1 - u1 - 2 * u2, u1 + 2 * u2, u2)
    scale = 1 / (math.pi * (1 - u1 / 3 - u2 / 6))

    def blocked(xs):
        return scale * sum(w * x for w, x in zip(weights, xs, strict=True))

    deficit = blocked(t.value)
    d_u1 = scale * (depth - area + (math.pi / 3) * deficit)
    d_u2 = scale * (2 * (depth - area) + moment + (math.pi / 6) * deficit)
    flux = jnp.where(t.full, 0, 1 - deficit)
    partials = (
        jnp.where(b < 0, 1, -1) * blocked(t.d_b),
        -blocked(t.d_r),
        jnp.where(t.full, 0, -d_u1),
        jnp.where(t.full, 0, -d_u2),
    )
    return flux, partials


# On CPU, XLA keeps the intermediates of this long elementwise program in memory; evaluating it
# over blocks of this many elements keeps them in cache (measured 4x faster at 10^6 points).
_CPU_BLOCK = 4096


def _by_blocks(where: str, fn, *arrays: Float[Array, "*b"]):
    """``fn`` (elementwise, arrays of one shape) over blocks of ``_CPU_BLOCK`` elements on CPU,
    over the whole arrays elsewhere (``where`` is the platform, static)."""
    shape = arrays[0].shape
    if where != "cpu" or arrays[0].size <= _CPU_BLOCK:
        return fn(*arrays)
    flat = [x.reshape(-1) for x in arrays]
    out = jax.lax.map(lambda xs: fn(*xs), flat, batch_size=_CPU_BLOCK)
    return jax.tree_util.tree_map(lambda x: x.reshape(shape), out)


def _value(b, r, u1, u2) -> Float[Array, "*b"]:
    return _evaluate(b, r, u1, u2)[0]


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _flux(where: str, b, r, u1, u2) -> Float[Array, "*b"]:
    """The flux for valid inputs of one shape and dtype, with analytic derivatives."""
    return _by_blocks(where, _value, b, r, u1, u2)


@functools.partial(_flux.defjvp, symbolic_zeros=True)
def _flux_jvp(where: str, primals, tangents):
    flux, partials = _by_blocks(where, _evaluate, *primals)
    d_flux = jnp.zeros_like(flux)
    for partial, tangent in zip(partials, tangents, strict=True):
        if not isinstance(tangent, SymbolicZero):
            d_flux = d_flux + partial * tangent
    return flux, d_flux
