"""Nadaraya-Watson kernel regression, computed in blocks of queries (never M x N at once)."""

import math

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike, Float

from diffkern._arrays import error_if_each, result_dtype
from diffkern._checks import checked


def _block(zq: Array, z: Array, x: Array, b: Array) -> tuple[Array, Array]:
    """The block's estimates, and whether a finite query's squared distances all overflow."""
    # Coordinates come scaled by a = min(1, 1/h), and b = max(1, 1/h) (capped at the largest
    # float), a b = 1 / h. Log-weights relative to the nearest sample,
    # -(|z* - z_j|^2 - min_k |z* - z_k|^2) b^2 / 2, never form h^2 nor, when h > 1, a distance
    # over 1.8e19 (float32); a capped square only meets a weight that vanishes anyway. So any
    # bandwidth, or a far query, gives a finite mean of the samples (of the nearest ones as
    # h -> 0). The barrier makes softmax read the log-weights once: recomputed in two fusions
    # they round differently (contracted multiply-adds), and at d2 ~ 1e36 that difference
    # times b^2 overflows exp.
    d2 = jnp.sum((zq[:, None, :] - z[None, :, :]) ** 2, axis=-1)
    # The weights do not depend on the shift: no gradient through it (min's gradient would
    # divide by the count of elements equal to a recomputed, differently rounded minimum).
    nearest = lax.stop_gradient(jnp.min(d2, axis=-1, keepdims=True))
    excess = d2 - nearest
    # where, not clip: clip would halve the gradient of the nearest sample (a tie at 0)
    excess = jnp.minimum(jnp.where(excess < 0, 0, excess), jnp.finfo(d2.dtype).max)
    w = jax.nn.softmax(lax.optimization_barrier(-(excess * b) * (b / 2)), axis=-1)
    far = jnp.isinf(nearest[:, 0]) & jnp.all(jnp.isfinite(zq), axis=-1)
    return w @ x, jnp.any(far)


@checked
def nadaraya_watson(
    z_query: Float[ArrayLike, "M q"],
    z: Float[ArrayLike, "N q"],
    x: Float[ArrayLike, "N d"],
    bandwidth: Float[ArrayLike, ""],
    *,
    block_size: int = 256,
) -> Float[Array, "M d"]:
    r"""Kernel regression :math:`f(z^*) = \sum_j w_j x_j` with Gaussian weights.

    .. math:: w_j(z^*) = \frac{\exp(-|z^* - z_j|^2 / 2h^2)}{\sum_k \exp(-|z^* - z_k|^2 / 2h^2)}

    Queries are processed ``block_size`` at a time with ``lax.map``; each block is
    rematerialised in reverse mode, so memory is O(block_size * N) for the value and for
    gradients (with respect to ``z_query``, ``z``, ``x`` and ``bandwidth``), never O(M N).

    Args:
        z_query: query points, shape (M, q).
        z: sample locations, shape (N, q).
        x: sample values, shape (N, d).
        bandwidth: kernel width h > 0 (a finite scalar).
        block_size: queries per block (static); larger is faster until memory runs out.

    The result is finite for every valid input: weights are taken relative to the nearest
    sample and ``h^2`` is never formed (in float32 it underflows below ``h = 1e-19`` and
    overflows above ``1e19``), so any bandwidth, or a query far from every sample, gives a
    finite mean of the samples (of the nearest ones in the limit ``h -> 0``). Gradients are
    exact while ``h`` is not tiny against the sample spacing; in the step-function limit they
    carry no information and may be NaN. Invalid input raises :class:`diffkern.CheckError`
    naming the argument (a host callback inside ``jit``; NaN in
    ``set_value_checks("nan")`` mode): non-finite ``z_query``, ``z`` or ``x``, a bandwidth
    that is not finite and > 0, or a query whose squared distance to every sample overflows
    (``|z* - z_j| / max(h, 1) > 1.8e19`` in float32, ``1.3e154`` in float64).
    """
    dtype = result_dtype(z_query, z, x, bandwidth)
    zq, z, x, h = (jnp.asarray(v, dtype) for v in (z_query, z, x, bandwidth))
    if zq.ndim != 2 or z.ndim != 2 or x.ndim != 2 or h.ndim != 0:
        raise ValueError(
            "expected z_query (M, q), z (N, q), x (N, d) and a scalar bandwidth, got shapes "
            f"{zq.shape}, {z.shape}, {x.shape}, {h.shape}"
        )
    if zq.shape[1] != z.shape[1] or z.shape[0] != x.shape[0]:
        raise ValueError(
            f"z_query and z must share q and z and x must share N, got {zq.shape}, {z.shape}, "
            f"{x.shape}"
        )
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    checks = [
        (~(jnp.isfinite(h) & (h > 0)), "bandwidth must be finite and > 0"),
        (~jnp.isfinite(zq), "z_query must be finite"),
        (~jnp.isfinite(z), "z must be finite"),
        (~jnp.isfinite(x), "x must be finite"),
    ]
    m = zq.shape[0]
    bs = min(block_size, max(m, 1))
    n_blocks = -(-m // bs)
    # Pad queries to whole blocks (copies of the first query, dropped after).
    zq_pad = jnp.concatenate([zq, jnp.broadcast_to(zq[:1], (n_blocks * bs - m, zq.shape[1]))])
    # 1 / h capped at the largest float, with a gradient that never meets inf * 0.
    usable = h > 1 / jnp.finfo(dtype).max
    inv_h = jnp.where(usable, 1 / jnp.where(usable, h, 1), jnp.finfo(dtype).max)
    a, b = jnp.minimum(inv_h, 1), jnp.maximum(inv_h, 1)
    block = jax.checkpoint(lambda q: _block(q, z * a, x, b))
    out, far = lax.map(block, (zq_pad * a).reshape(n_blocks, bs, zq.shape[1]))
    bound = math.sqrt(jnp.finfo(dtype).max)
    checks.append((far, f"each query must be nearer than {bound:.2g} to some sample in {dtype}"))
    out = out.reshape(n_blocks * bs, x.shape[1])[:m]
    return error_if_each(out, [(bad, f"nadaraya_watson: {msg}") for bad, msg in checks])
