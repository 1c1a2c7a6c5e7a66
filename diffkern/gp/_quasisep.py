"""O(N J^2) log-probability and solve for 1-D sorted inputs and state-space kernels.

The log-probability has a hand-written derivative: a ``jax.custom_jvp`` whose tangent is the
dot product of the tangents with the gradient from reverse scans (celerite's reverse pass).
Being linear in the tangents, it serves forward mode as is and reverse mode after JAX
transposes it, so value + gradient costs the filter (two scans, keeping per-point states) and
two reverse scans; higher orders differentiate the scans themselves. The solve is
differentiated by JAX through its scans.

Checks (``eqx.error_if``; ``EQX_ON_ERROR=nan`` turns them into NaN results): ``t`` sorted at
the unmasked points, and every pivot of the factorisation positive (a non-positive pivot means
K + diag is not positive definite at the working precision, e.g. float32 with tiny noise).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike, Bool, Float

from diffkern._arrays import error_if, result_dtype
from diffkern.gp import _quasisep_scan as scan
from diffkern.gp._kernel import Kernel
from diffkern.gp._state_space import state_space

_PIVOT_MESSAGE = (
    "K + diag is not positive definite at this precision (a pivot of the quasiseparable "
    "factorisation is <= 0): add noise to diag or use float64"
)


def _problem(
    kernel: Kernel,
    t: ArrayLike,
    diag: ArrayLike,
    r: ArrayLike,
    mask: ArrayLike | None,
) -> tuple[scan.Arrays, Array, Array]:
    """Validated per-point arrays and (g0 = P h, h) of the state-space form of ``kernel``."""
    t, diag, r = jnp.asarray(t), jnp.asarray(diag), jnp.asarray(r)
    if t.ndim != 1:
        raise ValueError(f"t must be 1-D of shape (N,), got shape {t.shape}")
    n = t.shape[0]
    if r.shape != (n,):
        raise ValueError(f"r must have the shape of t, {(n,)}, got {r.shape}")
    if diag.shape not in ((), (n,)):
        raise ValueError(f"diag must be a scalar or of shape {(n,)}, got {diag.shape}")
    if mask is None:
        keep = jnp.ones(n, bool)
    else:
        keep = jnp.asarray(mask)
        if keep.shape != (n,) or keep.dtype != jnp.bool_:
            raise TypeError(
                f"mask must be a boolean array of shape {(n,)}, got {keep.dtype}{keep.shape}"
            )
    dtype = result_dtype(t, diag, r, *jax.tree_util.tree_leaves(kernel))
    t, r = t.astype(dtype), r.astype(dtype)
    diag = jnp.broadcast_to(diag.astype(dtype), (n,))
    # Step from the previous kept point; 0 (A = I) at masked points and at the first kept one.
    if mask is None:
        dt = jnp.diff(t, prepend=t[:1])
    else:
        index = jnp.arange(n)
        last = lax.cummax(jnp.where(keep, index, -1))
        previous = jnp.concatenate([jnp.full(1, -1, index.dtype), last[:-1]])
        dt = jnp.where(keep & (previous >= 0), t - t[jnp.maximum(previous, 0)], 0)
    dt = error_if(dt, jnp.any(~(dt >= 0)), "t must be sorted (non-decreasing) at unmasked points")
    ss = state_space(kernel, dtype)
    arrays = scan.Arrays(ss.transition(dt), diag, r, keep)
    return arrays, ss.pinf @ ss.h, ss.h


@jax.custom_jvp
def _log_probability(
    A: Float[Array, "N J J"],
    g0: Float[Array, " J"],
    h: Float[Array, " J"],
    d: Float[Array, " N"],
    r: Float[Array, " N"],
    keep: Bool[Array, " N"],
) -> Float[Array, ""]:
    value, smin = scan.log_probability(scan.Arrays(A, d, r, keep), g0, h)
    return error_if(value, ~(smin > 0), _PIVOT_MESSAGE)


@_log_probability.defjvp
def _log_probability_jvp(primals, tangents):
    A, g0, h, d, r, keep = primals
    arrays = scan.Arrays(A, d, r, keep)
    filtered = scan.filtered(arrays, g0, h)
    value = filtered.log_probability(keep)
    value = error_if(value, ~(filtered.min_pivot() > 0), _PIVOT_MESSAGE)
    grads = scan.log_probability_grad(arrays, g0, h, filtered)
    tangent = sum(jnp.sum(g * dx) for g, dx in zip(grads, tangents[:5], strict=True))
    return value, tangent


def quasisep_log_probability(
    kernel: Kernel,
    t: Float[ArrayLike, " N"],
    diag: Float[ArrayLike, " N"] | Float[ArrayLike, ""],
    r: Float[ArrayLike, " N"],
    mask: Bool[ArrayLike, " N"] | None = None,
) -> Float[Array, ""]:
    """log N(r | 0, K + diag(diag)) in O(N J^2) for a state-space ``kernel`` and sorted ``t``.

    Points where ``mask`` is False contribute exactly nothing (as if absent; their ``t`` may
    be anything). Differentiable in forward and reverse mode, to any order.
    """
    arrays, g0, h = _problem(kernel, t, diag, r, mask)
    return _log_probability(arrays.A, g0, h, arrays.d, arrays.r, arrays.keep)


def quasisep_solve(
    kernel: Kernel,
    t: Float[ArrayLike, " N"],
    diag: Float[ArrayLike, " N"] | Float[ArrayLike, ""],
    r: Float[ArrayLike, " N"],
    mask: Bool[ArrayLike, " N"] | None = None,
) -> Float[Array, " N"]:
    """(K + diag(diag))^{-1} r in O(N J^2) (zeros at masked points, which are left out of K)."""
    arrays, g0, h = _problem(kernel, t, diag, r, mask)
    filtered = scan.filtered(arrays, g0, h)
    alpha = scan.solve(arrays, h, filtered)
    return error_if(alpha, ~(filtered.min_pivot() > 0), _PIVOT_MESSAGE)
