"""Multiples of pi split into exactly representable parts, per dtype (Cody-Waite constants).

``x - k * c`` loses the rounding error of ``c`` times ``k``. With ``c = hi + mid + lo`` where ``hi``
and ``mid`` carry few enough bits that ``k * hi`` and ``k * mid`` are exact, the reduction
``((x - k*hi) - k*mid) - k*lo`` is accurate to the last bit of its result for moderate ``k``
(``|k| < 2**20`` in float64, ``2**11`` in float32).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

_PI = Fraction("3.14159265358979323846264338327950288419716939937510582097494459")


def _chop(value: Fraction, bits: int) -> float:
    """``value`` rounded to ``bits`` significant bits (exact in float32 for ``bits <= 24``)."""
    exponent = math.floor(math.log2(abs(float(value))))
    scale = Fraction(2) ** (bits - 1 - exponent)
    return float(round(value * scale) / scale)


@functools.cache
def split_pi(multiple: Fraction, dtype_name: str) -> tuple[float, float, float]:
    """``multiple * pi`` as ``(hi, mid, lo)``, each exactly representable in ``dtype_name``."""
    bits = 12 if np.dtype(dtype_name) == np.float32 else 32
    value = multiple * _PI
    hi = _chop(value, bits)
    mid = _chop(value - Fraction(hi), bits)
    lo = float(np.dtype(dtype_name).type(float(value - Fraction(hi) - Fraction(mid))))
    return hi, mid, lo
