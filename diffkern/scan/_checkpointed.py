"""``lax.scan`` whose reverse mode stores O(sqrt N) residuals by recomputing segments."""

import math
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
from jax import lax

Checkpoint = Literal["sqrt"] | int | None


def _segment_length(checkpoint: Checkpoint, length: int) -> int | None:
    """Steps per checkpointed segment, or ``None`` for a plain scan."""
    if checkpoint is None:
        return None
    if checkpoint == "sqrt":
        return math.isqrt(max(length - 1, 0)) + 1  # ceil(sqrt(length)), at least 1
    if isinstance(checkpoint, bool) or not isinstance(checkpoint, int) or checkpoint < 1:
        raise ValueError(f'checkpoint must be "sqrt", a positive int or None, got {checkpoint!r}')
    return checkpoint


def _scan_length(xs: Any, length: int | None) -> int:
    lengths = {int(x.shape[0]) for x in jax.tree_util.tree_leaves(xs)}
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ValueError(
            "checkpointed_scan needs length= when xs is None, and xs leaves sharing one leading "
            f"axis equal to length; got lengths {sorted(lengths)}"
        )
    return lengths.pop()


def checkpointed_scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any,
    *,
    checkpoint: Checkpoint = "sqrt",
    length: int | None = None,
    reverse: bool = False,
) -> tuple[Any, Any]:
    """``lax.scan(f, init, xs, length, reverse)`` with segment checkpointing for reverse mode.

    Returns ``(carry, ys)`` exactly as ``lax.scan`` does; values and derivatives are the same.
    The N steps are split into segments of k steps. Reverse mode stores the carry at each
    segment boundary (N/k carries) and recomputes one segment at a time (k steps of residuals),
    so stored residuals are O(N/k + k) instead of O(N) at the price of one extra forward pass.

    Args:
        f: step function ``(carry, x) -> (carry, y)``.
        init: initial carry (any pytree).
        xs: pytree of arrays scanned over their leading axis, or ``None`` with ``length``.
        checkpoint: ``"sqrt"`` (k = ceil(sqrt(N)), O(sqrt N) residuals), an ``int`` k (steps per
            segment), or ``None`` (plain ``lax.scan``, O(N) residuals).
        length: number of steps; required when ``xs`` is ``None``.
        reverse: scan from the last element to the first (``ys`` keep their positions).
    """
    n = _scan_length(xs, length)
    k = _segment_length(checkpoint, n)
    if k is None or k >= n:
        return lax.scan(f, init, xs, length=n, reverse=reverse)
    if reverse:
        flip = lambda tree: jax.tree_util.tree_map(lambda x: jnp.flip(x, 0), tree)
        carry, ys = checkpointed_scan(f, init, flip(xs), checkpoint=k, length=n)
        return carry, flip(ys)

    n_seg = n // k
    head = jax.tree_util.tree_map(lambda x: x[: n_seg * k].reshape(n_seg, k, *x.shape[1:]), xs)
    tail = jax.tree_util.tree_map(lambda x: x[n_seg * k :], xs)

    @jax.checkpoint
    def segment(carry, seg_xs):
        return lax.scan(f, carry, seg_xs, length=k)

    carry, ys = lax.scan(segment, init, head, length=n_seg)
    ys = jax.tree_util.tree_map(lambda y: y.reshape(n_seg * k, *y.shape[2:]), ys)
    if n_seg * k == n:
        return carry, ys
    # The remainder (< k steps) is a plain scan: its residuals are within the O(k) budget.
    carry, ys_tail = lax.scan(f, carry, tail, length=n - n_seg * k)
    return carry, jax.tree_util.tree_map(lambda y, t: jnp.concatenate([y, t]), ys, ys_tail)
