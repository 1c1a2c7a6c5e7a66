"""One compiled fit of a block of series: the optax loop and the Laplace Hessian, vmapped.

A block holds ``rows`` series padded to one length (see :mod:`diffkern._ragged`). Each row runs
its own :func:`diffkern.fit.descend` loop (vmapped: a row that has converged keeps its values
while the others continue) and then gets its Hessian ``H = d^2 loss / d theta^2`` by forward
over reverse mode (``jax.jacfwd`` of ``jax.grad``). The block's rows are split over the devices
of a 1-D mesh with ``jax.shard_map``: every device runs its own loop on its own rows, with no
communication between devices inside the loop.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, Bool, Float, Int, PyTree

from diffkern.fit._loop import descend
from diffkern.fit._same import unwrap

AXIS = "series"


class BlockFit(eqx.Module):
    """Results of one row, or of every row of :func:`fit_block` (leading axis ``rows``)."""

    params: PyTree
    value: Float[Array, "*rows"]
    grad_norm: Float[Array, "*rows"]
    steps: Int[Array, "*rows"]
    std: PyTree
    cov: Float[Array, "*rows n n"]
    positive_definite: Bool[Array, "*rows"]


def _fit_one(loss, optimizer, static, uncertainties, diff, data, mask, steps, gtol) -> BlockFit:
    objective = lambda d: loss(eqx.combine(d, static), data, mask)
    run = descend(objective, optimizer, diff, max_steps=steps, gtol=gtol)
    flat, unravel = ravel_pytree(run.params)
    if uncertainties:
        hessian = jax.jacfwd(jax.grad(lambda x: objective(unravel(x))))(flat)
        hessian = 0.5 * (hessian + hessian.T)
        chol = jnp.linalg.cholesky(hessian)
        cov = jax.scipy.linalg.cho_solve((chol, True), jnp.eye(flat.size, dtype=flat.dtype))
        positive_definite = jnp.all(jnp.isfinite(chol))
    else:
        cov = jnp.full((flat.size, flat.size), jnp.nan, flat.dtype)
        positive_definite = jnp.zeros((), bool)
    std = unravel(jnp.sqrt(jnp.diag(cov)))
    return BlockFit(run.params, run.value, run.grad_norm, run.steps, std, cov, positive_definite)


@eqx.filter_jit
def fit_block(
    loss, optimizer, static, uncertainties: bool, mesh: Mesh, diff, data, mask, steps, gtol
) -> BlockFit:
    """Fit every row of a block: ``loss(params_r, data_r, mask_r)`` per row ``r``.

    ``loss`` and ``optimizer`` come wrapped by :func:`diffkern.fit._same.by_structure`;
    ``diff``, ``data`` (a tuple of ``(rows, length)`` arrays) and ``mask`` are split over
    ``mesh`` along their leading axis; ``steps`` is traced, ``gtol`` a static float (as in
    :func:`diffkern.fit.minimize`).
    """
    loss, optimizer = unwrap(loss), unwrap(optimizer)

    def local(diff, data, mask, steps):
        one = lambda d, x, m: _fit_one(loss, optimizer, static, uncertainties, d, x, m, steps, gtol)
        return jax.vmap(one)(diff, data, mask)

    rows = P(AXIS)
    # check_vma off: optax's own control flow (the L-BFGS line search) knows no mesh axes
    sharded = jax.shard_map(
        local, mesh=mesh, in_specs=(rows, rows, rows, P()), out_specs=rows, check_vma=False
    )
    return sharded(diff, data, mask, steps)
