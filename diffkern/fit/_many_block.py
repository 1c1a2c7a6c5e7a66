"""One compiled fit of a block of series: the optax loop and the Laplace Hessian, vmapped.

A block holds ``rows`` series padded to one length (see :mod:`diffkern._ragged`). Each row runs
its own :func:`diffkern.fit.descend` loop (vmapped: a row that has converged keeps its values
while the others continue) and then gets its Hessian ``H = d^2 loss / d theta^2`` by forward
over reverse mode (``jax.jacfwd`` of ``jax.grad``). The block's rows are split over the devices
of a 1-D mesh with ``jax.shard_map``: every device runs its own loops on its own rows, with no
communication between devices inside a loop.

A vmapped loop runs in lock step: every row computes until its slowest row stops, and every
L-BFGS line search until its longest one does. A device therefore runs its rows in groups of
``group`` rows, one vmapped loop per group, one group after the other (``lax.map``): a row
that needs 100 steps holds back ``group - 1`` others, not the whole block. On CPU, groups of 4
fit 256 series of 60-80 points 4-7x faster than one loop over all 256; on a GPU one wide loop
keeps the device busy (``group`` None).
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


def device_rows(rows: int, devices: int, group: int | None) -> int:
    """Rows of a block of ``rows`` series on ``devices`` devices: a multiple of ``devices``
    and, where a device holds more than ``group`` rows, of ``devices * group``."""
    unit = devices * group if group and rows > devices * group else devices
    return -(-rows // unit) * unit


def _in_groups(fn, group: int | None, *rows):
    """``vmap(fn)`` over the leading axis of ``rows``, ``group`` rows at a time (one after the
    other) when there are more than that, which ``device_rows`` made a multiple."""
    count = jax.tree_util.tree_leaves(rows)[0].shape[0]
    if not group or count <= group:
        return jax.vmap(fn)(*rows)
    split = lambda x: x.reshape(count // group, group, *x.shape[1:])
    out = jax.lax.map(lambda r: jax.vmap(fn)(*r), jax.tree_util.tree_map(split, rows))
    return jax.tree_util.tree_map(lambda x: x.reshape(count, *x.shape[2:]), out)


@eqx.filter_jit
def fit_block(
    loss, optimizer, static, uncertainties: bool, mesh: Mesh, group, diff, data, mask, steps, gtol
) -> BlockFit:
    """Fit every row of a block: ``loss(params_r, data_r, mask_r)`` per row ``r``.

    ``loss`` and ``optimizer`` come wrapped by :func:`diffkern.fit._same.by_structure`;
    ``diff``, ``data`` (a tuple of ``(rows, length)`` arrays) and ``mask`` are split over
    ``mesh`` along their leading axis, and each device's rows run ``group`` at a time (static;
    None: all at once); ``steps`` is traced, ``gtol`` a static float (as in
    :func:`diffkern.fit.minimize`).
    """
    loss, optimizer = unwrap(loss), unwrap(optimizer)

    def local(diff, data, mask, steps):
        one = lambda d, x, m: _fit_one(loss, optimizer, static, uncertainties, d, x, m, steps, gtol)
        return _in_groups(one, group, diff, data, mask)

    rows = P(AXIS)
    # check_vma off: optax's own control flow (the L-BFGS line search) knows no mesh axes
    sharded = jax.shard_map(
        local, mesh=mesh, in_specs=(rows, rows, rows, P()), out_specs=rows, check_vma=False
    )
    return sharded(diff, data, mask, steps)
