"""Posterior mean and variance of a state-space GP at new points, in O((N + M) J^3).

The M test points join the N training points as unobserved points (``keep`` False, which still
move the state) in one sorted sequence with A_i = A(t_i - t_{i-1}); the Kalman filter and the
modified Bryson-Frazier smoother of ``_quasisep_parallel`` give E[f(t_i) | r] = h^T m^s_i and
Var[f(t_i) | r] = h^T P^s_i h there, read back in the caller's order. This equals the dense

    mean = K*^T (K + D)^{-1} r,   var = k(0) - diag(K*^T (K + D)^{-1} K*).

Test points may be unsorted, outside the data, or on a training point (a zero step, A = I).
Masked training points are moved onto the first test point: unobserved, they change nothing.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from diffkern.gp._quasisep_parallel import filtered, smooth
from diffkern.gp._quasisep_scan import relative_pivot
from diffkern.gp._state_space import StateSpace


def condition(
    ss: StateSpace,
    t: Float[Array, " N"],
    d: Float[Array, " N"],
    r: Float[Array, " N"],
    keep: Bool[Array, " N"],
    t_test: Float[Array, " M"],
    *,
    parallel: bool = True,
) -> tuple[Float[Array, " M"], Float[Array, " M"], Float[Array, ""]]:
    """Mean and variance of f(t_test) given r = f(t) + noise (variance d) at the kept points,
    and the filter's smallest relative pivot (``_quasisep_scan.relative_pivot``: K + D is not
    positive definite unless it is > 0).

    ``parallel`` selects associative scans (O(log(N + M)) depth) or sequential ones; ``t`` need
    not be sorted. All arrays share the dtype of ``ss``.
    """
    n, m = t.shape[0], t_test.shape[0]
    if m == 0:
        return t_test, t_test, jnp.ones((), t_test.dtype)
    times = jnp.concatenate([jnp.where(keep, t, t_test[0]), t_test])
    order = jnp.argsort(times, stable=True)
    times = times[order]
    A = ss.transition(jnp.diff(times, prepend=times[:1]))
    observed = jnp.concatenate([keep, jnp.zeros(m, bool)])[order]
    d = jnp.concatenate([d, jnp.ones_like(t_test)])[order]
    r = jnp.concatenate([r, jnp.zeros_like(t_test)])[order]
    f = filtered(A, ss.pinf, ss.h, d, r, observed, parallel=parallel)
    _, mean, var = smooth(A, ss.h, f, observed, parallel=parallel)
    position = jnp.zeros(n + m, order.dtype).at[order].set(jnp.arange(n + m, dtype=order.dtype))
    k0 = ss.h @ ss.pinf @ ss.h
    return mean[position[n:]], var[position[n:]], relative_pivot(f.s, d, observed, k0)
