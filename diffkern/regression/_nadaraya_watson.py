"""Nadaraya-Watson kernel regression, computed in blocks of queries (never M x N at once)."""

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike, Float

from diffkern._arrays import error_if, result_dtype
from diffkern._checks import checked


def _block(zq: Array, z: Array, x: Array, bandwidth: Array) -> Array:
    # Normalised Gaussian weights = softmax of the log-kernel; subtracting the row maximum keeps
    # float32 finite when every weight underflows (tiny bandwidth, far queries).
    d2 = jnp.sum((zq[:, None, :] - z[None, :, :]) ** 2, axis=-1)
    w = jax.nn.softmax(-d2 / (2 * bandwidth**2), axis=-1)
    return w @ x


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
        bandwidth: kernel width h > 0 (a scalar); otherwise :class:`diffkern.CheckError` (or
            ``equinox.error_if`` inside ``jit``; NaN in ``set_value_checks("nan")`` mode).
        block_size: queries per block (static); larger is faster until memory runs out.
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
    h = error_if(h, ~(h > 0), "nadaraya_watson: bandwidth must be > 0")
    m = zq.shape[0]
    bs = min(block_size, max(m, 1))
    n_blocks = -(-m // bs)
    # Pad queries to whole blocks (copies of the first query, dropped after).
    zq_pad = jnp.concatenate([zq, jnp.broadcast_to(zq[:1], (n_blocks * bs - m, zq.shape[1]))])
    block = jax.checkpoint(lambda q: _block(q, z, x, h))
    out = lax.map(block, zq_pad.reshape(n_blocks, bs, zq.shape[1]))
    return out.reshape(n_blocks * bs, x.shape[1])[:m]
