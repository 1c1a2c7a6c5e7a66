"""The one ragged layout: buckets, pad, mask, split.

Series of different lengths run in a handful of compiled programs when every length is padded
up to a *bucket*, a size from the geometric ladder ``ceil(minimum * growth**k)``. All padding
happens on the host with numpy (new lengths compile nothing); computations ignore padded
entries through a mask (``jnp.where(mask, ..., neutral)``), so results never depend on it.

Validate the input once, then pick one of two layouts by the model's shape:

* :func:`series_arrays` ``(name, series, dtype)``: the series as 1-D numpy arrays of one dtype;
  an empty list, an empty series or a series that is not 1-D raises ``ValueError``.
* :func:`flat_layout` ``(lengths)`` -> :class:`FlatLayout`, for pointwise models (each output
  point depends on its own input point only): all series concatenated into one array of
  ``size = bucket_length(sum(lengths))``. ``pad(series)`` gives the flat ``(size,)`` array,
  ``index`` each point's series (padding belongs to the last one; use it to gather per-series
  parameters), ``mask`` the valid points, ``split(result)`` the per-series results::

      xs = series_arrays("ts", ts, dtype)
      layout = flat_layout([x.size for x in xs])
      out = model(jax.device_put(layout.pad(xs)), jax.device_put(layout.index))
      per_series = layout.split(out)

* :func:`block_layout` ``(lengths, min_rows=, max_rows=)`` -> :class:`BlockLayout`, for models
  that couple the points of a series (a GP likelihood): series grouped by length bucket into
  blocks of shape ``(rows, length)``, ``rows`` itself bucketed (at least ``min_rows``; at most
  about ``max_rows(length)`` series per block, more make more blocks). Each
  :class:`Block` lists its ``members`` (original indices, one per leading row), pads any
  per-point field with ``pad(series, fill)`` and gives the ``mask``. ``fill="edge"`` repeats a
  series' last value (sorted inputs stay sorted) and fills the spare rows with a copy of the
  block's last series, so every entry is a valid input; a number fills with that number.
  ``assemble(parts)`` puts one result row per series back in the original order;
  ``split(parts)`` cuts per-point results ``(rows, length, ...)`` back to each series::

      layout = block_layout([x.size for x in xs], min_rows=16)
      parts = [f(b.pad(xs, "edge"), b.pad(ys, 0.0), b.mask) for b in layout.blocks]
      values = layout.assemble(parts)         # (n_series, ...) in the order of xs

Results are reassembled on the host when concrete (no program per mix of lengths) and by one
compiled gather or slices when traced (inside a caller's ``jit`` or ``grad``). Layouts hold
plain Python and numpy values: build them outside ``jit``, where lengths are known.
:func:`bucket_length` and :func:`pad_to_bucket` are re-exported by :mod:`diffkern.jit`; this
module sits outside it because kernels never import the packages that observe them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool

from diffkern._arrays import concrete

__all__ = [
    "bucket_length",
    "pad_to_bucket",
    "series_arrays",
    "flat_layout",
    "block_layout",
    "FlatLayout",
    "Block",
    "BlockLayout",
]

Fill = float | str  # a number, or "edge": repeat the last value


def bucket_length(n: int, *, growth: float = 1.5, minimum: int = 16) -> int:
    """The bucket for length ``n``: the smallest ``ceil(minimum * growth**k) >= n``, k = 0, 1, ...

    Geometric buckets waste at most a factor ``growth`` of padding, and lengths in
    ``[a, b]`` need about ``log(b / a) / log(growth) + 1`` compiled programs.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if growth <= 1.0:
        raise ValueError(f"growth must be > 1, got {growth}")
    if minimum < 1:
        raise ValueError(f"minimum must be >= 1, got {minimum}")
    if n <= minimum:
        return minimum

    def size(k: int) -> int:
        return math.ceil(minimum * growth**k)

    # size(k) >= n  <=>  minimum * growth**k > n - 1; the loops only absorb rounding.
    k = math.floor(math.log((n - 1) / minimum) / math.log(growth)) + 1 if n - 1 >= minimum else 0
    while k > 0 and size(k - 1) >= n:
        k -= 1
    while size(k) < n:
        k += 1
    return size(k)


def pad_to_bucket(
    x, axis: int = 0, fill=0, *, length: int | None = None, growth: float = 1.5, minimum: int = 16
) -> tuple[Array, Bool[Array, " bucket"]]:
    """Pad ``x`` along ``axis`` to its bucket length (or ``length``) with ``fill``.

    Returns ``(padded, mask)`` where ``mask[i]`` is True for the original entries. ``x`` must
    have a concrete shape (call this outside ``jit``, where lengths are known); the padding is
    done on the host with numpy, so new lengths compile nothing (a device array is copied to
    the host and back). Computations must ignore the padded entries through ``mask``
    (``jnp.where(mask, ..., neutral)``), so a padded input gives the same result as the original.
    """
    x = np.asarray(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be in [{-x.ndim}, {x.ndim}) for shape {x.shape}, got {axis}")
    n = x.shape[axis]
    target = bucket_length(n, growth=growth, minimum=minimum) if length is None else int(length)
    if target < n:
        raise ValueError(f"length must be >= x.shape[{axis}] = {n}, got {target}")
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, target - n)
    # device_put, not jnp.asarray: the latter stages (compiles) a program per new shape
    padded = jax.device_put(np.pad(x, widths, constant_values=fill))
    mask = jax.device_put(np.arange(target) < n)
    return padded, mask


def series_arrays(name: str, series: Sequence[ArrayLike], dtype) -> list[np.ndarray]:
    """``series`` as 1-D, non-empty numpy arrays of ``dtype`` (``name`` is used in errors)."""
    arrays = [np.asarray(x, dtype) for x in series]
    if not arrays:
        raise ValueError(f"{name} must hold at least one series")
    for i, x in enumerate(arrays):
        if x.ndim != 1 or x.size == 0:
            raise ValueError(f"{name}[{i}] must be 1-D and non-empty, got shape {x.shape}")
    return arrays


def _lengths(lengths: Sequence[int]) -> tuple[int, ...]:
    lengths = tuple(int(n) for n in lengths)
    if not lengths:
        raise ValueError("lengths must hold at least one series length")
    for i, n in enumerate(lengths):
        if n < 1:
            raise ValueError(f"lengths[{i}] must be >= 1, got {n}")
    return lengths


def _pad_row(x: np.ndarray, length: int, fill: Fill) -> np.ndarray:
    if isinstance(fill, str) and fill != "edge":
        raise ValueError(f'fill must be a number or "edge", got {fill!r}')
    value = x[-1] if isinstance(fill, str) else fill
    return np.concatenate([x, np.full(length - x.size, value, x.dtype)])


def _is_traced(tree) -> bool:
    return any(concrete(x) is None for x in jax.tree_util.tree_leaves(tree))


def _cut(flat, bounds: Sequence[tuple[int, int]]) -> list[Array]:
    """Slices ``flat[a:b]``: on the host when concrete (no program per length), else traced."""
    host = None if _is_traced(flat) else np.asarray(flat)
    if host is None:
        return _slices(flat, tuple(bounds))
    return [jax.device_put(host[a:b]) for a, b in bounds]


@functools.partial(jax.jit, static_argnums=1)
def _slices(flat: Array, bounds: tuple[tuple[int, int], ...]) -> list[Array]:
    """All slices in one program (one more for a gradient), not an eager operation each."""
    return [flat[a:b] for a, b in bounds]


class FlatLayout(NamedTuple):
    """Series concatenated into one array of ``size`` points (a bucket of the total length)."""

    lengths: tuple[int, ...]
    size: int

    @property
    def offsets(self) -> np.ndarray:
        """Where each series starts, then the total length: shape ``(n_series + 1,)``."""
        return np.cumsum((0, *self.lengths))

    @property
    def index(self) -> np.ndarray:
        """The series of each point, shape ``(size,)`` int32; padding belongs to the last."""
        counts = list(self.lengths)
        counts[-1] += self.size - sum(self.lengths)
        return np.repeat(np.arange(len(self.lengths), dtype=np.int32), counts)

    @property
    def mask(self) -> np.ndarray:
        """True at the points of the series, False at the padding: shape ``(size,)``."""
        return np.arange(self.size) < sum(self.lengths)

    def pad(self, series: Sequence[np.ndarray], fill: Fill = "edge") -> np.ndarray:
        """The series concatenated and padded to ``size`` (``"edge"``: the last value)."""
        return _pad_row(np.concatenate(series), self.size, fill)

    def split(self, flat: ArrayLike) -> list[Array]:
        """Per-series pieces of a result over the flat points (leading axis ``size``)."""
        offsets = self.offsets.tolist()
        return _cut(flat, list(zip(offsets[:-1], offsets[1:], strict=True)))


def flat_layout(lengths: Sequence[int], *, growth: float = 1.5, minimum: int = 16) -> FlatLayout:
    """The flat layout of series of these lengths (each >= 1)."""
    lengths = _lengths(lengths)
    return FlatLayout(lengths, bucket_length(sum(lengths), growth=growth, minimum=minimum))


class Block(NamedTuple):
    """Series of one length bucket, padded into ``(rows, length)``: row ``r`` holds series
    ``members[r]``; rows past ``len(members)`` are spare (masked out)."""

    members: tuple[int, ...]
    rows: int
    length: int
    lengths: tuple[int, ...]  # of the members

    @property
    def mask(self) -> np.ndarray:
        """True at the points of the series, shape ``(rows, length)``."""
        n = np.zeros(self.rows, int)
        n[: len(self.lengths)] = self.lengths
        return np.arange(self.length)[None, :] < n[:, None]

    def pad(self, series: Sequence[np.ndarray], fill: Fill = 0) -> np.ndarray:
        """``series[i]`` for the members, padded to ``(rows, length)``.

        ``series`` is the full list (indexed by the original series number). ``"edge"``
        repeats each series' last value and copies the last member into the spare rows.
        """
        rows = [_pad_row(np.asarray(series[i]), self.length, fill) for i in self.members]
        spare = rows[-1] if isinstance(fill, str) else np.full_like(rows[-1], fill)
        return np.stack(rows + [spare] * (self.rows - len(rows)))


class BlockLayout(NamedTuple):
    """Series grouped into :class:`Block` s; ``position[i]`` is series ``i``'s row among the
    blocks' rows stacked in order."""

    lengths: tuple[int, ...]
    blocks: tuple[Block, ...]
    position: np.ndarray

    def assemble(self, parts: Sequence[ArrayLike]) -> Array:
        """One result per series, ``(n_series, ...)`` in the original order, from per-block
        results ``parts[k]`` of leading axis ``blocks[k].rows``."""
        _check_parts(parts, self.blocks)
        if _is_traced(parts):
            return _gather(tuple(parts), jax.device_put(self.position))
        return jax.device_put(np.concatenate([np.asarray(p) for p in parts])[self.position])

    def split(self, parts: Sequence[ArrayLike]) -> list[Array]:
        """Per-point results back per series, in the original order, from per-block results
        ``parts[k]`` of shape ``(blocks[k].rows, blocks[k].length, ...)``."""
        _check_parts(parts, self.blocks)
        pieces: list = [None] * len(self.lengths)
        for part, block in zip(parts, self.blocks, strict=True):
            if part.shape[1] != block.length:
                raise ValueError(f"parts must have shape (rows, {block.length}, ...)")
            host = None if _is_traced(part) else np.asarray(part)
            for row, (i, n) in enumerate(zip(block.members, block.lengths, strict=True)):
                pieces[i] = part[row, :n] if host is None else jax.device_put(host[row, :n])
        return pieces


def _check_parts(parts: Sequence[ArrayLike], blocks: tuple[Block, ...]) -> None:
    rows = [b.rows for b in blocks]
    got = [np.shape(p)[0] if np.ndim(p) else None for p in parts]
    if got != rows:
        raise ValueError(f"parts must have leading axes {rows} (the blocks' rows), got {got}")


@eqx.filter_jit
def _gather(parts: tuple[Array, ...], position: Array) -> Array:
    return jnp.concatenate(parts)[position]


def block_layout(
    lengths: Sequence[int],
    *,
    min_rows: int = 1,
    max_rows: Callable[[int], int] | None = None,
    growth: float = 1.5,
    minimum: int = 16,
) -> BlockLayout:
    """Group series of these lengths (each >= 1) by length bucket into padded blocks.

    A bucket of ``m`` series uses blocks of ``bucket_length(min(m, max_rows(length)),
    minimum=min_rows)`` rows (``max_rows`` caps memory per call; default: no cap), so new
    counts of series rarely compile. Blocks come in increasing length.
    """
    lengths = _lengths(lengths)
    if int(min_rows) < 1:
        raise ValueError(f"min_rows must be >= 1, got {min_rows}")
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(bucket_length(n, growth=growth, minimum=minimum), []).append(i)
    blocks, order = [], []
    for length, members in sorted(groups.items()):
        count = len(members) if max_rows is None else min(len(members), max(1, max_rows(length)))
        rows = bucket_length(count, growth=growth, minimum=int(min_rows))
        for start in range(0, len(members), rows):
            chunk = tuple(members[start : start + rows])
            blocks.append(Block(chunk, rows, length, tuple(lengths[i] for i in chunk)))
            order.extend(chunk + (-1,) * (rows - len(chunk)))
    order = np.asarray(order)
    position = np.empty(len(lengths), np.int32)
    position[order[order >= 0]] = np.nonzero(order >= 0)[0]
    return BlockLayout(lengths, tuple(blocks), position)
