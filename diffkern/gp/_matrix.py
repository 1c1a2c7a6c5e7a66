"""The kernel matrix K(X, X), with derivatives taken by row blocks to keep reverse mode cheap."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffkern._arrays import platform
from diffkern.gp._kernel import Kernel, checked_by_caller

# On CPU, rows per block: a block's intermediates (_ROWS x N) stay in cache for N up to a few
# thousand. Up to _UNBLOCKED points the whole matrix's do, and one fused pass compiles faster.
_ROWS = 128
_UNBLOCKED = 1024


@eqx.filter_custom_jvp
def kernel_matrix(kernel: Kernel, X: Float[Array, " n"]) -> Float[Array, "n n"]:
    """K[i, j] = k(|X[i] - X[j]|), as ``kernel(X)``; its derivatives are computed by blocks.

    Reverse mode through ``kernel(X)`` stores several N x N intermediates and pulls the
    cotangent Kbar back through each (about 10x the forward pass at N = 2000). The tangent
    here is that of :func:`_blocked`, so the pullback sum(Kbar * dK/dtheta) runs on
    block-sized intermediates, recomputed per block, at about two forward passes. Forward
    mode, higher orders, ``vmap`` and derivatives with respect to ``X`` are those of
    ``kernel(X)``; the value alone is one fused pass. The parameters are the caller's to check
    (a solver's input checks).
    """
    with checked_by_caller():
        return kernel(X)


@kernel_matrix.def_jvp
def _kernel_matrix_jvp(primals, tangents):
    return eqx.filter_jvp(_blocked, primals, tangents)


def _blocked(kernel: Kernel, X: Float[Array, " n"]) -> Float[Array, "n n"]:
    """``kernel(X)`` by blocks of at most ``_ROWS`` rows, each a ``jax.checkpoint`` in a map.

    Only on CPU and above ``_UNBLOCKED`` points; elsewhere one fused ``kernel(X)``.
    """
    n = X.shape[0]
    n_blocks = math.ceil(n / _ROWS)
    with checked_by_caller():
        if n <= _UNBLOCKED or platform(X) != "cpu":
            return kernel(X)
        rows = math.ceil(n / n_blocks)
        padded = jnp.concatenate([X, jnp.broadcast_to(X[-1], (n_blocks * rows - n,))])
        block = jax.checkpoint(lambda x: kernel(x, X))
        K = jax.lax.map(block, padded.reshape(n_blocks, rows)).reshape(n_blocks * rows, n)
    return K if n_blocks * rows == n else K[:n]
