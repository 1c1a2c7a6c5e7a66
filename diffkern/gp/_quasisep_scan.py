"""The O(N J^2) scans behind the quasiseparable solver, on explicit state-space arrays.

With A_i = A(t_i - t_{i-1}), g0 = P h and noise d, the covariance K + diag(d) factors as
L diag(s) L^T (L unit lower triangular, L_ij = h^T A_i ... A_{j+1} g_j / s_j), computed by the
recursion below (celerite's, on S = P - Cov[state | past]: a Kalman filter in disguise):

    S^-_i = A_i S_{i-1} A_i^T,   g_i = g0 - S^-_i h,   s_i = h^T g_i + d_i,
    S_i = S^-_i + g_i g_i^T / s_i,

and the innovations v = L^{-1} r by m^-_i = A_i m_{i-1}, v_i = r_i - h^T m^-_i,
m_i = m^-_i + g_i v_i / s_i. Then log N(r | 0, K + D) = -1/2 sum_i (v_i^2 / s_i + log 2 pi s_i).

A masked point (``keep[i]`` False) must come with A_i = I; it leaves the state unchanged and so
contributes exactly nothing. Reverse passes recompute each step from the stored states
(S_{i-1}, m_{i-1}): memory O(N J^2).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float

# Small matrix products as broadcast-and-sum: in a scan body they fuse into one loop, where
# a dot per 2x2 or 3x3 product would cost a library call each.


def _mv(a: Float[Array, "*n J K"], x: Float[Array, "*n K"]) -> Float[Array, "*n J"]:
    return jnp.sum(a * x[..., None, :], axis=-1)


def _mtv(a: Float[Array, "*n J K"], x: Float[Array, "*n J"]) -> Float[Array, "*n K"]:
    return jnp.sum(a * x[..., :, None], axis=-2)


def _mm(a: Float[Array, "*n J K"], b: Float[Array, "*n K L"]) -> Float[Array, "*n J L"]:
    return jnp.sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)


def _outer(x: Float[Array, "*n J"], y: Float[Array, "*n K"]) -> Float[Array, "*n J K"]:
    return x[..., :, None] * y[..., None, :]


class Arrays(NamedTuple):
    """Per-point arrays of a quasiseparable problem (N points, J states)."""

    A: Float[Array, "N J J"]
    d: Float[Array, " N"]
    r: Float[Array, " N"]
    keep: Bool[Array, " N"]


class Cotangents(NamedTuple):
    """Gradient of the log-probability with respect to A, g0, h, d and r."""

    A: Float[Array, "N J J"]
    g0: Float[Array, " J"]
    h: Float[Array, " J"]
    d: Float[Array, " N"]
    r: Float[Array, " N"]


def log_probability(
    arrays: Arrays, g0: Float[Array, " J"], h: Float[Array, " J"]
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """The log-probability and the smallest relative pivot (:func:`relative_pivot`), by one
    fused filter scan."""
    J = h.shape[0]
    k0 = jnp.sum(h * g0)

    def body(carry, x):
        S, m, smin = carry
        a, d, r, keep = x
        Sp = _mm(_mm(a, S), a.T)
        mp = _mv(a, m)
        g = g0 - _mv(Sp, h)
        s = jnp.where(keep, jnp.sum(h * g) + d, 1)
        v = r - jnp.sum(h * mp)
        S_new = jnp.where(keep, Sp + _outer(g, g) / s, S)
        m_new = jnp.where(keep, mp + g * (v / s), m)
        term = jnp.where(keep, v * v / s + jnp.log(s), 0)
        return (S_new, m_new, jnp.minimum(smin, _relative(s, d, keep, k0))), term

    init = (jnp.zeros((J, J), h.dtype), jnp.zeros(J, h.dtype), jnp.array(jnp.inf, h.dtype))
    (_, _, smin), terms = lax.scan(body, init, arrays)
    return _total(terms, arrays.keep), smin


def _relative(s, d, keep, k0):
    return jnp.where(keep, s / (k0 + jnp.where(keep, d, 0)), 1)


def relative_pivot(
    s: Float[Array, " N"], d: Float[Array, " N"], keep: Bool[Array, " N"], k0: Float[Array, ""]
) -> Float[Array, ""]:
    """min_i s_i / C_ii over the kept points, with C_ii = k(0) + d_i and k(0) = h^T P h."""
    return jnp.min(_relative(s, d, keep, k0))


def _total(terms: Float[Array, " N"], keep: Bool[Array, " N"]) -> Float[Array, ""]:
    """-1/2 sum (v^2/s + log s) - n/2 log 2 pi over the kept points."""
    n = jnp.sum(keep).astype(terms.dtype)
    return -0.5 * (jnp.sum(terms) + n * math.log(2 * math.pi))


class Filtered(NamedTuple):
    """Per point: the states entering the step, gain g, pivot s, innovation v."""

    S: Float[Array, "N J J"]
    g: Float[Array, "N J"]
    s: Float[Array, " N"]
    m: Float[Array, "N J"]
    v: Float[Array, " N"]

    def log_probability(self, keep: Bool[Array, " N"]) -> Float[Array, ""]:
        return _total(jnp.where(keep, self.v * self.v / self.s + jnp.log(self.s), 0), keep)

    def min_pivot(self) -> Float[Array, ""]:
        return jnp.min(self.s)  # masked points have s = 1


# The filter is split in two scans when its per-point results are stored: the covariance
# recursion (independent of r) and the mean recursion. Small scan bodies stay fast on CPU.


def filtered(arrays: Arrays, g0: Float[Array, " J"], h: Float[Array, " J"]) -> Filtered:
    """Run the filter and keep its per-point results (O(N J^2) memory)."""

    def covariance(S, x):
        a, d, _, keep = x
        Sp = _mm(_mm(a, S), a.T)
        g = g0 - _mv(Sp, h)
        s = jnp.where(keep, jnp.sum(h * g) + d, 1)
        return jnp.where(keep, Sp + _outer(g, g) / s, S), (S, g, s)

    def mean(m, x):
        a, _, r, keep, g, s = x
        mp = _mv(a, m)
        v = r - jnp.sum(h * mp)
        return jnp.where(keep, mp + g * (v / s), m), (m, jnp.where(keep, v, 0))

    J = h.shape[0]
    _, (S, g, s) = lax.scan(covariance, jnp.zeros((J, J), h.dtype), arrays)
    _, (m, v) = lax.scan(mean, jnp.zeros(J, h.dtype), (*arrays, g, s))
    return Filtered(S, g, s, m, v)


def log_probability_grad(
    arrays: Arrays, g0: Float[Array, " J"], h: Float[Array, " J"], f: Filtered
) -> Cotangents:
    """Gradient of the log-probability: reverse scans through the mean, then the covariance."""

    def mean(mb, x):
        a, _, _, keep, g, s, m, v = x
        mp = _mv(a, m)
        gm = jnp.sum(g * mb)
        # m_i = mp + g v / s, v = r - h.mp, term_i = -1/2 (v^2/s + log s)
        vb = (gm - v) / s
        sb = 0.5 * (v * v / s - 1) / s - gm * v / (s * s)
        gb = mb * (v / s)
        mpb = mb - vb * h
        hb = -vb * mp
        ab = _outer(mpb, m)
        mb_prev = jnp.where(keep, _mtv(a, mpb), mb)
        return mb_prev, (ab, vb, sb, gb, hb)

    def covariance(Sb, x):
        a, _, _, keep, S, g, s, gb, sb = x
        # S_i = Sp + g g^T / s ; s = h.g + d ; g = g0 - Sp h. Cotangents of the symmetric S
        # are kept symmetric; a single carry keeps the scan body fast.
        Sbg = _mv(Sb, g)
        gb = gb + 2 * Sbg / s
        sb = sb - jnp.sum(g * Sbg) / (s * s)
        gb = gb + sb * h
        Spb = Sb - 0.5 * (_outer(gb, h) + _outer(h, gb))
        return jnp.where(keep, _mm(_mm(a.T, Spb), a), Sb), (Spb, sb, gb)

    J = h.shape[0]
    keep = arrays.keep
    xs = (*arrays, f.g, f.s, f.m, f.v)
    _, (Ab_mean, rb, sb, gb, hb_mean) = lax.scan(mean, jnp.zeros(J, h.dtype), xs, reverse=True)
    xs = (*arrays, f.S, f.g, f.s, gb, sb)
    _, (Spb, db, gb) = lax.scan(covariance, jnp.zeros((J, J), h.dtype), xs, reverse=True)
    # Per-point cotangents of A (from m^- = A m and S^- = A S A^T) and of h, g0, summed.
    A = arrays.A
    # (einsum: batched dots here are faster than broadcast-and-sum)
    Ab = Ab_mean + 2 * jnp.einsum("nij,njk,nlk->nil", Spb, A, f.S)
    Sp = jnp.einsum("nij,njk,nlk->nil", A, f.S, A)
    hb = hb_mean + db[:, None] * f.g - jnp.einsum("nij,ni->nj", Sp, gb)
    zero = jnp.zeros((), h.dtype)
    return Cotangents(
        jnp.where(keep[:, None, None], Ab, zero),
        jnp.sum(jnp.where(keep[:, None], gb, zero), axis=0),
        jnp.sum(jnp.where(keep[:, None], hb, zero), axis=0),
        jnp.where(keep, db, 0),
        jnp.where(keep, rb, 0),
    )


def solve(arrays: Arrays, h: Float[Array, " J"], f: Filtered) -> Float[Array, " N"]:
    """(K + D)^{-1} r = L^{-T} (v / s) by a reverse scan (zeros at masked points).

    alpha_j = (v_j - g_j^T b_j) / s_j with b_j = A_{j+1}^T (h alpha_{j+1} + b_{j+1}).
    """

    def body(b, x):
        a, _, _, keep, g, s, v = x
        alpha = jnp.where(keep, (v - jnp.sum(g * b)) / s, 0)
        return _mtv(a, b + h * alpha), alpha

    _, alpha = lax.scan(body, jnp.zeros_like(h), (*arrays, f.g, f.s, f.v), reverse=True)
    return alpha
