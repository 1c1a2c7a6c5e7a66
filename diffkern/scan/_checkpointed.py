"""``lax.scan`` whose reverse mode stores O(sqrt N) residuals by recomputing segments."""

import functools
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
    n_seg, rest = divmod(n, k)
    main = n_seg * k

    def segments(carry):
        # Segments read their steps from xs in place (xs is a loop invariant, so reverse mode
        # keeps it once); slicing or reshaping xs into segments would copy all of it when k
        # does not divide N, and its gradient once more.
        step = lambda carry, j: _segment(f, carry, xs, j * k, k, reverse)
        carry, ys = lax.scan(step, carry, jnp.arange(n_seg), reverse=reverse)
        return carry, jax.tree_util.tree_map(lambda y: y.reshape(main, *y.shape[2:]), ys)

    if rest == 0:
        return segments(init)
    # The last rest < k steps are a plain scan: their residuals are within the O(k) budget.
    tail = lambda carry: lax.scan(f, carry, _rows(xs, main, rest), length=rest, reverse=reverse)
    if reverse:
        carry, ys_tail = tail(init)
        carry, ys = segments(carry)
    else:
        carry, ys = segments(init)
        carry, ys_tail = tail(carry)
    return carry, jax.tree_util.tree_map(lambda y, t: jnp.concatenate([y, t]), ys, ys_tail)


def _rows(xs: Any, start: Any, size: int) -> Any:
    """Steps ``start .. start + size - 1`` of every leaf of ``xs``."""
    return jax.tree_util.tree_map(lambda x: lax.dynamic_slice_in_dim(x, start, size), xs)


@functools.partial(jax.checkpoint, static_argnums=(0, 4, 5))
def _segment(f: Callable, carry: Any, xs: Any, start: Any, k: int, reverse: bool) -> Any:
    """k steps of ``f`` from step ``start``; reverse mode recomputes them from ``carry``."""
    return lax.scan(f, carry, _rows(xs, start, k), length=k, reverse=reverse)
