"""Finite inputs and trustworthy pivots: the checks every GP solver runs on its data.

Non-finite data (X, diag, y, kernel parameters) is reported as such, before and instead of the
factorisation's own failure, whatever ``on_failure`` says. A factorisation "fails" when a pivot
d_k of C = L diag(d) L^T is too small relative to its diagonal entry C_kk to be trusted:

    d_k / C_kk <= max(n, 100) eps,

with n the number of points. A pivot is computed from C_kk by subtracting up to n rounded
terms, so below that bound its relative error is O(1) and the log-likelihood and solves are
not to be trusted (float32 with duplicate inputs and tiny noise, or very long correlations).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from diffkern._arrays import concrete, error_if, error_if_each
from diffkern._checks import any_each
from diffkern.gp._parameter import bound_checks

# Pivot bound, in units of eps: max(n, _MIN_PIVOT_EPS); above the dense solver's default jitter.
_MIN_PIVOT_EPS = 100

DATA = "y - mean(X)"  # the name of the residual in messages


def finite_message(name: str) -> str:
    """The error for non-finite values of the input ``name``."""
    return f"{name} must be finite (it holds NaN or inf)"


def _kept(bad: Bool[Array, "*shape"], mask: Bool[Array, "*batch"] | None) -> Bool[Array, "*shape"]:
    """``bad`` (..., N, *rest) where ``mask`` (..., N) keeps a point, False elsewhere."""
    if mask is None:
        return bad
    return bad & jnp.reshape(mask, mask.shape + (1,) * (bad.ndim - mask.ndim))


def finite_at(x: ArrayLike, mask: ArrayLike | None, xp=jnp) -> Bool[ArrayLike, ""]:
    """Whether ``x`` (..., N, *rest) is finite wherever ``mask`` (..., N) keeps a point, with
    jax.numpy or numpy as ``xp``."""
    ok = xp.isfinite(x)
    if mask is not None:
        ok = ok | ~xp.reshape(mask, mask.shape + (1,) * (x.ndim - mask.ndim))
    return xp.all(ok)


def check_finite(
    x: Float[ArrayLike, "*shape"],
    name: str,
    mask: Bool[ArrayLike, "*batch N"] | None = None,
    *,
    traced: bool = True,
) -> Float[ArrayLike, "*shape"]:
    """``x`` after checking it is finite at the kept points: ``ValueError`` now when that is
    known (``x`` and ``mask`` concrete, or their primal values under eager ``grad``/``jvp``),
    else a run-time check through :func:`error_if` (with ``traced``;
    without, traced values pass here and are checked where they are used)."""
    values, keep = concrete(x), None if mask is None else concrete(mask)
    if values is not None and (mask is None or keep is not None):
        finite = finite_at(values, keep, np)
    else:
        finite = finite_at(jnp.asarray(x), mask)
        try:
            finite = bool(finite)  # also known under eager grad/jvp
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError):
            return error_if(x, ~finite, finite_message(name)) if traced else x
    if not finite:
        raise ValueError(finite_message(name))
    return x


def finite_inputs(
    kernel: eqx.Module,
    arrays: dict[str, Array],
    mask: Bool[Array, " N"] | None = None,
) -> tuple[dict[str, Array], Bool[Array, ""]]:
    """``arrays`` (name -> the values at the N points that C depends on) after run-time checks
    that they and the kernel's parameters are finite (at the kept points), that the parameters
    are within their bounds and ``arrays["diag"]`` (when given) is ``>= 0``; and whether all
    passed.

    Solvers check their factorisation only where these pass (``ok``), so bad input reports
    one message, its own. The residual is the callers' to check (its own name): it does not
    enter the pivots. The parameter bounds are checked here, in the solver's call, rather
    than when a kernel is built inside ``jit``: one run-time check for the whole call.
    """
    leaves = jax.tree_util.tree_leaves(kernel)
    bad = [~jnp.isfinite(p) for p in leaves]
    for name, x in arrays.items():
        bad.append(_kept(~jnp.isfinite(x), mask))
        if name == "diag":
            bad.append(_kept(x < 0, mask))
    flags = iter(any_each(bad))  # one reduction for all the arrays of one shape
    ok = ~functools.reduce(jnp.logical_or, [next(flags) for _ in leaves], jnp.asarray(False))
    bounds = [(ok & bad, message) for bad, message in bound_checks(kernel)]
    kernel_checks = [(~ok, finite_message("every kernel parameter")), *bounds]
    for bad, _ in bounds:
        ok = ok & ~bad
    out = {}
    for name, x in arrays.items():
        finite = ~next(flags)
        checks = [(~finite, finite_message(name))]
        if name == "diag":
            negative = next(flags)
            checks.append((finite & negative, "diag must be >= 0"))
            finite = finite & ~negative
        if not out:  # the kernel's checks ride on the first array, which every caller uses
            checks = kernel_checks + checks
        out[name] = error_if_each(x, checks)
        ok = ok & finite
    return out, ok


def pivot_bound(n_points: Array | int, dtype) -> Array:
    """The smallest trusted relative pivot d_k / C_kk for ``n_points`` points in ``dtype``."""
    n = jnp.maximum(jnp.asarray(n_points).astype(dtype), _MIN_PIVOT_EPS)
    return n * float(jnp.finfo(dtype).eps)


def pivot_message(dtype, how: str) -> str:
    """The error for a factorisation (``how``) whose pivots are <= :func:`pivot_bound`."""
    name = jnp.dtype(dtype).name
    return (
        f"{how} failed in {name}: the covariance K + diag is not positive definite at this "
        f"precision, or too close to singular to trust (a relative pivot d_k / C_kk <= "
        f"max(N, {_MIN_PIVOT_EPS}) eps). Use float64 or a larger diag (noise)"
    )
