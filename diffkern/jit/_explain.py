"""Compile explanations: records naming the argument that changed, and JAX's own cache-miss text.

Two sources feed them: the signatures of calls to watched diffkern entry points (see
:mod:`diffkern.jit._watch`) and, for every other jitted function, the tracing-cache-miss report
that JAX writes when ``jax_explain_cache_misses`` is on, parsed into the same record.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re

__all__ = ["Explanation", "explain_env_enabled", "parse_jax_explanation"]

logger = logging.getLogger("diffkern.jit")

_ENV = "DIFFKERN_EXPLAIN_COMPILES"


def explain_env_enabled() -> bool:
    """Whether ``DIFFKERN_EXPLAIN_COMPILES=1``: log explanations on the ``diffkern.jit`` logger."""
    return os.environ.get(_ENV, "0").strip() == "1"


@dataclasses.dataclass(frozen=True)
class Explanation:
    """Why a function was (re)compiled.

    Attributes:
        function: the entry point (or jitted function) name.
        causes: one line per changed argument, e.g. ``"mean_anomaly shape (1000,) -> (1001,)"``
            (for a first compile, the call's signature when known).
        first: True for the first compile seen of the function (nothing to compare with).
        source: ``"signature"`` (diffkern's own call signatures) or ``"jax"`` (JAX's report).
    """

    function: str
    causes: tuple[str, ...] = ()
    first: bool = False
    source: str = "signature"

    @property
    def message(self) -> str:
        if self.first:
            detail = f" ({'; '.join(self.causes)})" if self.causes else ""
            return f"{self.function}: compiled for its first call{detail}"
        return f"{self.function}: recompiled because {'; '.join(self.causes)}"

    def __str__(self) -> str:
        return self.message


_DTYPES = {
    "f16": "float16",
    "bf16": "bfloat16",
    "f32": "float32",
    "f64": "float64",
    "i8": "int8",
    "i16": "int16",
    "i32": "int32",
    "i64": "int64",
    "u8": "uint8",
    "u32": "uint32",
    "bool": "bool",
    "c64": "complex64",
    "c128": "complex128",
}
_AVAL = re.compile(r"^(\w+)\[([\d,\s]*)\](\{weak_type=(True|False)\})?$")
_MISMATCH = re.compile(r"^\s*\*\s*at (.+?), now (.+?) and before (.+?)(?:, so .*)?$")
_URL = re.compile(r"https?://\S+")
_FUNCTION = re.compile(r"^\s*for (\S+) defined at")
_NEVER_SEEN = re.compile(r"^\s*never seen function:\s*$")
_NEVER_SEEN_NAME = re.compile(r"^\s*(\S+) id=\d+")


def _aval(text: str) -> tuple[str, tuple[int, ...], bool] | None:
    match = _AVAL.match(text.strip())
    if match is None:
        return None
    dtype = _DTYPES.get(match.group(1), match.group(1))
    shape = tuple(int(d) for d in match.group(2).replace(" ", "").split(",") if d)
    return dtype, shape, match.group(4) == "True"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_STATIC = "jax._src.tree_util.Static"


# equinox.filter_jit passes (first argument, other positional arguments) as its dynamic inputs
_EQX_FIRST = re.compile(r"dynamic_(?:no)?donate\['first'\]")
_EQX_REST = re.compile(r"dynamic_(?:no)?donate\['rest'\]\[(\d+)\]")


def _argument(where: str) -> str:
    """``equinox.filter_jit``'s input paths as positional argument numbers (0-based)."""
    where = _EQX_FIRST.sub("argument 0", where)
    return _EQX_REST.sub(lambda m: f"argument {int(m.group(1)) + 1}", where)


def _cause(where: str, now: str, before: str) -> str:
    where = _argument(where)
    if _STATIC in now and _STATIC in before:  # a static (hashed) argument took a new value
        return f"{where} static value changed (a new Python object: function, closure or config)"
    new, old = _aval(now), _aval(before)
    if new is None or old is None:  # pytree metadata can run to pages: keep the start
        return f"{where} {_short(before)} -> {_short(now)}"
    parts = []
    if old[1] != new[1]:
        parts.append(f"{where} shape {old[1]} -> {new[1]}")
    if old[0] != new[0]:
        parts.append(f"{where} dtype {old[0]} -> {new[0]}")
    if old[2] != new[2]:
        parts.append(f"{where} weak type {old[2]} -> {new[2]}")
    return "; ".join(parts) or f"{where} {before} -> {now}"


def parse_jax_explanation(text: str) -> Explanation | None:
    """Parse JAX's ``TRACING CACHE MISS`` report into an :class:`Explanation` (None if not one)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("TRACING CACHE MISS"):
        return None
    for i, line in enumerate(lines):
        if _NEVER_SEEN.match(line) and i + 1 < len(lines):
            name = _NEVER_SEEN_NAME.match(lines[i + 1])
            return Explanation(name.group(1) if name else "?", first=True, source="jax")
    function = next((m.group(1) for m in map(_FUNCTION.match, lines) if m), "?")
    plain = [_URL.sub("", line) for line in lines]
    causes = tuple(_cause(*m.groups()) for m in map(_MISMATCH.match, plain) if m)
    if not causes:  # a report we do not parse line by line: keep its text
        causes = tuple(line.strip() for line in lines[2:] if line.strip())
    return Explanation(function, causes, source="jax")
