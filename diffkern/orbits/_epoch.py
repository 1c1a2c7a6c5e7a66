"""Host-side warning when float64 times lose phase precision on their way to float32."""

from __future__ import annotations

import warnings

import jax
import numpy as np
from jaxtyping import ArrayLike, Real

from diffkern._arrays import concrete

#: Times may move by at most this fraction of the shortest period when rounded to float32.
PHASE_TOLERANCE = 2.0**-11


class TimePrecisionWarning(UserWarning):
    """Times given in float64 lose phase precision when the computation runs in float32.

    float32 holds about 7 digits: a BJD near 2.46e6 is rounded to a multiple of 0.25 d. Subtract
    a reference epoch in float64 before the call (``t - t_ref``, ``tp - t_ref``), or compute in
    float64 (``diffkern.precision.float64()``).
    """


def _host_float64(x: Real[ArrayLike, "*_"]) -> np.ndarray | None:
    """``x`` as float64 numpy when it comes from the host (Python numbers, numpy arrays)."""
    if isinstance(x, jax.Array):  # already in its device dtype: its rounding happened earlier
        return None
    host = np.asarray(x)
    if not np.issubdtype(host.dtype, np.number):
        return None
    return host.astype(np.float64)


def warn_if_times_round(
    where: str, times: dict[str, Real[ArrayLike, "*_"]], period: Real[ArrayLike, "*_"], dtype
) -> None:
    """Warn (:class:`TimePrecisionWarning`) when rounding the host ``times`` to ``dtype`` moves
    one of them by more than ``PHASE_TOLERANCE`` of the shortest period."""
    if np.dtype(dtype) != np.float32:
        return
    p = concrete(period)
    if p is None:
        return
    p = np.abs(np.asarray(p, np.float64))
    shortest = np.min(p, initial=np.inf)
    if not 0 < shortest < np.inf:  # a bad period is reported by the value checks
        return
    for name, x in times.items():
        host = _host_float64(x)
        if host is None or host.size == 0 or not np.all(np.isfinite(host)):
            continue
        moved = float(np.max(np.abs(host - host.astype(np.float32))))
        if moved > PHASE_TOLERANCE * shortest:
            warnings.warn(
                f"{where}: {name} rounded to float32 moves by up to {moved:.3g} (values near "
                f"{np.max(np.abs(host)):.3g}), {moved / shortest:.2g} of the period "
                f"{shortest:.3g}; subtract a reference epoch in float64 first (t - t_ref, "
                "time_of_periastron - t_ref) or compute in float64",
                TimePrecisionWarning,
                stacklevel=3,
            )
