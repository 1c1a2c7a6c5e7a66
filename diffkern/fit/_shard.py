"""Where a batch of fits runs: a 1-D mesh of this process's devices, and this process's share.

Within a process the series axis of a block is split over a 1-D mesh of the local devices
(:func:`local_mesh`; blocks are padded to a multiple of its size). Across processes started
with ``jax.distributed.initialize`` each process fits a contiguous share of the series
(:func:`share`) on its own devices, and :func:`gather` concatenates the shares on every
process with ``jax.experimental.multihost_utils.process_allgather``: the fits themselves never
communicate, so one slow process delays only the final gather.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jaxtyping import PyTree

from diffkern.fit._many_block import AXIS


def local_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``"series"`` over ``devices`` (default: all of this process's)."""
    devices = jax.local_devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("devices must hold at least one device")
    others = [d for d in devices if d.process_index != jax.process_index()]
    if others:
        raise ValueError(f"devices must belong to this process, got {others[0]}")
    return Mesh(np.asarray(devices), (AXIS,))


def place(tree: PyTree, mesh: Mesh) -> PyTree:
    """Host arrays onto ``mesh``, split along their leading axis."""
    return jax.device_put(tree, NamedSharding(mesh, P(AXIS)))


def share(n_series: int) -> tuple[int, int, int]:
    """``(start, stop, size)``: this process's series ``start:stop`` of ``n_series``, out of
    contiguous shares of ``size = ceil(n_series / process_count)`` series each."""
    count, index = jax.process_count(), jax.process_index()
    if n_series < count:
        raise ValueError(
            f"data must hold at least one series per process ({count}), got {n_series}"
        )
    size = -(-n_series // count)
    return index * size, min((index + 1) * size, n_series), size


def gather(tree: PyTree, n_series: int, size: int) -> PyTree:
    """Every process's share (leading axis ``<= size``) concatenated in process order and cut
    to ``n_series``; the same on every process."""

    def pad(x: np.ndarray) -> np.ndarray:
        spare = np.zeros((size - x.shape[0], *x.shape[1:]), x.dtype)
        return np.concatenate([x, spare])

    padded = jax.tree_util.tree_map(lambda x: pad(np.asarray(x)), tree)
    gathered = multihost_utils.process_allgather(padded, tiled=True)
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[:n_series], gathered)
