"""Multiples of pi split into exactly representable parts, per dtype (Cody-Waite constants).

``x - k * c`` loses the rounding error of ``c`` times ``k``. With ``c = c_0 + c_1 + ... + c_n``
where every part but the last carries ``PART_BITS`` significant bits, each ``k * c_i`` is exact
for ``|k| <= MAX_CYCLES[dtype]`` (``PART_BITS + log2 MAX_CYCLES`` fits the significand), and
``(((x - k c_0) - k c_1) - ...) - k c_n`` is accurate to the last bit of its result: the
intermediate values exceed the result by at most ``|k c_n|``, below ``2^-23`` rad.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

#: Significant bits of every part but the last, and the largest ``|k|`` reduced exactly.
PART_BITS = {"float32": 12, "float64": 20}
MAX_CYCLES = {"float32": 2**12, "float64": 2**33}
_PARTS = 4

_PI = Fraction("3.14159265358979323846264338327950288419716939937510582097494459")


def _chop(value: Fraction, bits: int) -> float:
    """``value`` rounded to ``bits`` significant bits (exact in float32 for ``bits <= 24``)."""
    exponent = math.floor(math.log2(abs(float(value))))
    scale = Fraction(2) ** (bits - 1 - exponent)
    return float(round(value * scale) / scale)


@functools.cache
def split_pi(multiple: Fraction, dtype_name: str) -> tuple[float, ...]:
    """``multiple * pi`` as parts, largest first, each exactly representable in ``dtype_name``."""
    bits = PART_BITS[np.dtype(dtype_name).name]
    rest, parts = multiple * _PI, []
    for _ in range(_PARTS - 1):
        parts.append(_chop(rest, bits))
        rest -= Fraction(parts[-1])
    return (*parts, float(np.dtype(dtype_name).type(float(rest))))
