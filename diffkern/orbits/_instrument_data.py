"""Radial velocities from several instruments, flattened: one index per point says whose."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, Real

from diffkern._arrays import result_dtype, to_device
from diffkern._ragged import flat_layout, series_arrays

_NAMES = ("t", "rv", "err")


class RVObservations(eqx.Module):
    """Velocities ``rv`` with uncertainties ``err`` at times ``t`` from the instruments
    ``instrument`` (an integer index per point), as flat arrays of one length.

    Build from one index per point with the constructor, or from one array per instrument with
    :meth:`from_series` (padded to a length bucket, so new lengths rarely compile). ``mask``
    marks the points that count (``None``: all). Values are checked where they are used
    (:meth:`MultiInstrumentRV.evaluate`): finite ``t`` and ``rv``, finite ``err > 0``, indices
    in ``[0, n_instruments)``. Times are best given relative to a reference epoch (float32
    keeps 7 digits). A module: it crosses ``jit`` as traced data.
    """

    t: Float[Array, " n"]
    rv: Float[Array, " n"]
    err: Float[Array, " n"]
    instrument: Int[Array, " n"]
    mask: Bool[Array, " n"] | None

    def __init__(
        self,
        t: Real[ArrayLike, "*_"],
        rv: Real[ArrayLike, "*_"],
        err: Real[ArrayLike, "*_"],
        instrument: Int[ArrayLike, "*_"],
        *,
        mask: Bool[ArrayLike, "*_"] | None = None,
    ):
        floats = to_device(t, rv, err)
        dtype = result_dtype(*floats)
        floats = [jnp.asarray(x).astype(dtype) for x in floats]
        (index,) = to_device(instrument)
        if not jnp.issubdtype(index.dtype, jnp.integer):
            raise TypeError(f"instrument must be an integer index per point, got {index.dtype}")
        shapes = [x.shape for x in (*floats, index)]
        if any(len(s) != 1 for s in shapes) or len(set(shapes)) != 1 or shapes[0] == (0,):
            names = (*_NAMES, "instrument")
            got = ", ".join(f"{n} {s}" for n, s in zip(names, shapes, strict=True))
            raise ValueError(f"t, rv, err and instrument must be 1-D of one length >= 1, got {got}")
        if mask is not None:
            mask = mask if isinstance(mask, jax.Array) else jax.device_put(np.asarray(mask))
            if mask.dtype != jnp.bool_ or mask.shape != shapes[0]:
                raise ValueError(f"mask must be boolean of shape {shapes[0]}, got {mask.dtype} "
                                 f"{mask.shape}")  # fmt: skip
        self.t, self.rv, self.err = floats
        self.instrument = index.astype(jnp.int32)
        self.mask = mask

    @classmethod
    def from_series(
        cls,
        ts: Sequence[Real[ArrayLike, " _"]],
        rvs: Sequence[Real[ArrayLike, " _"]],
        errs: Sequence[Real[ArrayLike, " _"]],
    ) -> RVObservations:
        """Series ``i`` (times ``ts[i]``, velocities ``rvs[i]``, uncertainties ``errs[i]``) from
        instrument ``i``, concatenated and padded to a bucket of the total length
        (:func:`diffkern.jit.bucket_length`) with ``mask`` False on the padding. The arrays
        must be concrete (outside ``jit``), 1-D and non-empty, of matching lengths."""
        dtype = result_dtype(*ts, *rvs, *errs)
        named = {"ts": ts, "rvs": rvs, "errs": errs}
        series = [series_arrays(name, s, dtype) for name, s in named.items()]
        if len({len(s) for s in series}) != 1:
            raise ValueError(
                "ts, rvs and errs must hold one series per instrument each, got "
                f"{len(ts)}, {len(rvs)}, {len(errs)}"
            )
        for i, arrays in enumerate(zip(*series, strict=True)):
            if len({x.size for x in arrays}) != 1:
                raise ValueError(
                    f"ts[{i}], rvs[{i}] and errs[{i}] must have one length, got "
                    + ", ".join(str(x.size) for x in arrays)
                )
        layout = flat_layout([t.size for t in series[0]])
        # Padding repeats each array's last (valid) value, so it never trips a check.
        t, rv, err = (layout.pad(s) for s in series)
        return cls(*jax.device_put((t, rv, err, layout.index)), mask=jax.device_put(layout.mask))
