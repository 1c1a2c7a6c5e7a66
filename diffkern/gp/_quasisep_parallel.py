"""Kalman filter and smoother of a state-space GP as associative scans: O(N J^3) work, O(log N)
depth (Särkkä & García-Fernández 2021, "Temporal parallelization of Bayesian smoothers").

The GP is the state-space model, with A_i the transition from point i-1 to point i,

    x_0 ~ N(0, P),   x_i = A_i x_{i-1} + q_i,   q_i ~ N(0, Q_i),   Q_i = P - A_i P A_i^T,
    r_i = h^T x_i + e_i,   e_i ~ N(0, d_i),

so Cov[h^T x_i, h^T x_j] = k(t_j - t_i). A point with ``keep[i]`` False is unobserved: it still
moves the state by A_i. Given A_i = I there (Q_i = 0), it is absent and contributes exactly
nothing, the convention of ``_quasisep_scan``.

Filter. Each point is an element (F, b, C, eta, Jm), the conditional p(x_i | x_{i-1}, r_i) =
N(F x_{i-1} + b, C) and the likelihood p(r_i | x_{i-1}) ∝ N_info(x_{i-1}; eta, Jm). With
s = h^T Q h + d, k = Q h / s (k = 0 when unobserved):

    F = (I - k h^T) A,  b = k r,  C = Q - k s k^T,  eta = A^T h r / s,  Jm = A^T h h^T A / s,

and two elements (i before j) combine, associatively, with X = I + C_i Jm_j, as

    F = F_j X^-1 F_i,           b = F_j X^-1 (b_i + C_i eta_j) + b_j,
    C = F_j X^-1 C_i F_j^T + C_j,  eta = F_i^T X^-T (eta_j - Jm_j b_i) + eta_i,
    Jm = F_i^T X^-T Jm_j F_i + Jm_i.

The first point starts from the stationary prior: its element is built with A_1 = 0 (Q_1 = P,
F = 0, eta = 0, Jm = 0), the prior element (0, 0, P, 0, 0) combined with it, so the prefix
combinations are the filtered moments (b, C) = (m_i, P_i). The predicted moments
m^-_i = A_i m_{i-1}, P^-_i = A_i P_{i-1} A_i^T + Q_i give g_i = P^-_i h, s_i = h^T g_i + d_i,
v_i = r_i - h^T m^-_i and log N(r | 0, K + D) = -1/2 sum_kept (v_i^2 / s_i + log 2 pi s_i).
X has eigenvalues >= 1 (C, Jm >= 0): its solves (elimination with partial pivoting in array
operations, ``_small_solve``: no LAPACK call, which can deadlock jaxlib's CPU thread pool) never
break down.

Smoother (modified Bryson-Frazier, no inverse of a covariance). With M_j = A_{j+1} (I - g_j
h^T / s_j) (A_{N+1} = 0; the 1/s terms are 0 when unobserved), the adjoints

    u_j = M_j^T u_{j+1} + h v_j / s_j,   Lam_j = M_j^T Lam_{j+1} M_j + h h^T / s_j

are affine recursions, run backwards as associative scans of the maps (M, c, Cm). Then

    (K + D)^-1 r:  alpha_j = (v_j - g_j^T A_{j+1}^T u_{j+1}) / s_j   (0 when unobserved),
    E[h^T x_j | r] = h^T m^-_j + g_j^T u_j,   Var[h^T x_j | r] = h^T g_j - g_j^T Lam_j g_j.

Every function takes ``parallel``: True runs :func:`diffkern.scan.prefix_scan` (O(log N) depth,
a program of the same size for every N); False runs the same combinations one point at a time
in ``lax.scan`` (O(N) depth, less work). Derivatives are JAX's
through the scans (memory O(N J^2)). Caveat: Q_i = P - A_i P A_i^T loses its relative accuracy
for steps much shorter than the correlation length, in float32 most of all (see the tests for
the bounds reached); the results stay finite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float

from diffkern.gp._quasisep_scan import _mm, _mtv, _mv, _outer, _total, relative_pivot
from diffkern.gp._small_solve import solve_small
from diffkern.scan import prefix_scan


def _t(a: Float[Array, "*n J K"]) -> Float[Array, "*n K J"]:
    return jnp.swapaxes(a, -1, -2)


def _sym(a: Float[Array, "*n J J"]) -> Float[Array, "*n J J"]:
    return 0.5 * (a + _t(a))


def _scan(combine: Callable, elements, identity, *, reverse: bool, parallel: bool):
    """Every prefix (suffix when ``reverse``) combination of ``elements``.

    ``combine(a, b)`` takes a before b (with ``reverse``, a is the combination of the later
    points), batched over leading axes.
    """
    if parallel:
        return prefix_scan(combine, elements, identity, reverse=reverse)

    def body(carry, element):
        carry = combine(carry, element)
        return carry, carry

    return lax.scan(body, identity, elements, reverse=reverse)[1]


class _Element(NamedTuple):
    F: Float[Array, "*n J J"]
    b: Float[Array, "*n J"]
    C: Float[Array, "*n J J"]
    eta: Float[Array, "*n J"]
    Jm: Float[Array, "*n J J"]


def _combine(e1: _Element, e2: _Element) -> _Element:
    """e1 (earlier) then e2 (later), in Särkkä & García-Fernández's form."""
    CJ = _mm(e1.C, e2.Jm)
    X = jnp.broadcast_to(jnp.eye(CJ.shape[-1], dtype=CJ.dtype), CJ.shape) + CJ
    Z = _t(solve_small(_t(X), _t(e2.F)))  # F_j X^-1
    V = solve_small(X, e1.F)  # X^-1 F_i
    return _Element(
        _mm(Z, e1.F),
        _mv(Z, e1.b + _mv(e1.C, e2.eta)) + e2.b,
        _sym(_mm(_mm(Z, e1.C), _t(e2.F))) + e2.C,
        _mtv(V, e2.eta - _mv(e2.Jm, e1.b)) + e1.eta,
        _sym(_mm(_mm(_t(V), e2.Jm), e1.F)) + e1.Jm,
    )


class Filtered(NamedTuple):
    """Per point: predicted mean m^- and covariance P^-, gain g = P^- h, pivot s, innovation v.

    At unobserved points s = 1 and v = 0.
    """

    m: Float[Array, "N J"]
    P: Float[Array, "N J J"]
    g: Float[Array, "N J"]
    s: Float[Array, " N"]
    v: Float[Array, " N"]

    def log_probability(self, keep: Bool[Array, " N"]) -> Float[Array, ""]:
        return _total(jnp.where(keep, self.v * self.v / self.s + jnp.log(self.s), 0), keep)

    def min_pivot(self) -> Float[Array, ""]:
        return jnp.min(self.s)


def filtered(
    A: Float[Array, "N J J"],
    P: Float[Array, "J J"],
    h: Float[Array, " J"],
    d: Float[Array, " N"],
    r: Float[Array, " N"],
    keep: Bool[Array, " N"],
    *,
    parallel: bool = True,
) -> Filtered:
    """The Kalman filter's predicted moments and innovations at every point (module docstring)."""
    n, J = A.shape[:2]
    A = A.at[0].set(0)  # the prior enters as the first point's element (module docstring)
    hn = jnp.broadcast_to(h, (n, J))
    Pn = jnp.broadcast_to(P, A.shape)
    Q = _sym(Pn - _mm(_mm(A, Pn), _t(A)))
    Qh = _mv(Q, hn)
    w = jnp.where(keep, 1 / jnp.where(keep, jnp.sum(hn * Qh, -1) + d, 1), 0)
    rw = jnp.where(keep, r, 0) * w
    Ah = _mtv(A, hn)
    k = Qh * w[:, None]
    elements = _Element(A - _outer(k, Ah), Qh * rw[:, None], Q - _outer(Qh, k), Ah * rw[:, None],
                        _outer(Ah, Ah) * w[:, None, None])  # fmt: skip
    zero, zeros = jnp.zeros((1, J, J), h.dtype), jnp.zeros((1, J), h.dtype)
    eye = jnp.eye(J, dtype=h.dtype)
    identity = _Element(eye, zeros[0], zero[0], zeros[0], zero[0])
    out = _scan(_combine, elements, identity, reverse=False, parallel=parallel)
    m_prev = jnp.concatenate([zeros, out.b[:-1]])
    P_prev = jnp.concatenate([P[None], out.C[:-1]])
    m = _mv(A, m_prev)
    Pp = _sym(_mm(_mm(A, P_prev), _t(A))) + Q
    g = _mv(Pp, hn)
    s = jnp.where(keep, jnp.sum(hn * g, -1) + d, 1)
    v = jnp.where(keep, r - jnp.sum(hn * m, -1), 0)
    return Filtered(m, Pp, g, s, v)


def log_probability(
    A: Float[Array, "N J J"],
    P: Float[Array, "J J"],
    h: Float[Array, " J"],
    d: Float[Array, " N"],
    r: Float[Array, " N"],
    keep: Bool[Array, " N"],
    *,
    parallel: bool = True,
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """log N(r | 0, K + diag(d)) over the kept points and the smallest relative pivot
    (``_quasisep_scan.relative_pivot``; K + D is not positive definite unless it is > 0)."""
    f = filtered(A, P, h, d, r, keep, parallel=parallel)
    return f.log_probability(keep), relative_pivot(f.s, d, keep, h @ P @ h)


class _Adjoint(NamedTuple):
    M: Float[Array, "*n J J"]
    c: Float[Array, "*n J"]
    Cm: Float[Array, "*n J J"] | None


def _compose(later: _Adjoint, earlier: _Adjoint) -> _Adjoint:
    """The map earlier o later: u_j = M_j^T u_{j+1} + c_j (and Lam alike)."""
    M = earlier.M
    Cm = None if later.Cm is None else _sym(_mm(_mm(_t(M), later.Cm), M)) + earlier.Cm
    return _Adjoint(_mm(later.M, M), _mtv(M, later.c) + earlier.c, Cm)


def _adjoints(
    A: Float[Array, "N J J"],
    h: Float[Array, " J"],
    f: Filtered,
    keep: Bool[Array, " N"],
    *,
    covariance: bool,
    parallel: bool,
) -> _Adjoint:
    """The suffix maps whose offsets are u_j and (with ``covariance``) Lam_j."""
    n, J = f.m.shape
    hn = jnp.broadcast_to(h, (n, J))
    w = jnp.where(keep, 1 / f.s, 0)
    A_next = _next(A)
    M = A_next - _outer(_mv(A_next, f.g), hn) * w[:, None, None]
    Cm = _outer(hn, hn) * w[:, None, None] if covariance else None
    elements = _Adjoint(M, hn * (f.v * w)[:, None], Cm)
    eye, zero = jnp.eye(J, dtype=h.dtype), jnp.zeros(J, h.dtype)
    identity = _Adjoint(eye, zero, jnp.zeros((J, J), h.dtype) if covariance else None)
    return _scan(_compose, elements, identity, reverse=True, parallel=parallel)


def _next(x: Float[Array, "N ..."]) -> Float[Array, "N ..."]:
    """x_{j+1} at j, zero after the last point."""
    return jnp.concatenate([x[1:], jnp.zeros_like(x[:1])])


def _solve(
    A: Float[Array, "N J J"], f: Filtered, keep: Bool[Array, " N"], u: Float[Array, "N J"]
) -> Float[Array, " N"]:
    b = _mtv(_next(A), _next(u))  # b_j = A_{j+1}^T u_{j+1}
    return jnp.where(keep, (f.v - jnp.sum(f.g * b, -1)) / f.s, 0)


def solve(
    A: Float[Array, "N J J"],
    h: Float[Array, " J"],
    f: Filtered,
    keep: Bool[Array, " N"],
    *,
    parallel: bool = True,
) -> Float[Array, " N"]:
    """(K + diag(d))^{-1} r from the filter ``f`` (zeros at unobserved points)."""
    u = _adjoints(A, h, f, keep, covariance=False, parallel=parallel).c
    return _solve(A, f, keep, u)


def smooth(
    A: Float[Array, "N J J"],
    h: Float[Array, " J"],
    f: Filtered,
    keep: Bool[Array, " N"],
    *,
    parallel: bool = True,
) -> tuple[Float[Array, " N"], Float[Array, " N"], Float[Array, " N"]]:
    """(K + diag(d))^{-1} r, and the posterior mean and variance of h^T x_i at every point."""
    adjoint = _adjoints(A, h, f, keep, covariance=True, parallel=parallel)
    g, hn = f.g, jnp.broadcast_to(h, f.g.shape)
    mean = jnp.sum(f.m * hn, -1) + jnp.sum(g * adjoint.c, -1)
    var = jnp.sum(g * hn, -1) - jnp.sum(g * _mv(adjoint.Cm, g), -1)
    return _solve(A, f, keep, adjoint.c), mean, var
