"""Abstract call signatures: what a jitted program is keyed on, leaf by named leaf.

A signature maps a readable path (``mean_anomaly``, ``kernel.scale``, ``params['ecc']``) to what
recompiles when it changes: an array's shape, dtype and weak type; a static field's value; a
container's type and length or keys.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import numpy as np

__all__ = ["call_signature", "diff_signatures", "format_signature", "has_tracer"]

Signature = dict[str, tuple]


def _describe(x, path: str, out: Signature) -> None:
    if isinstance(x, eqx.Module):
        out[path] = ("node", type(x).__name__)
        for field in dataclasses.fields(x):
            value = getattr(x, field.name, None)
            sub = f"{path}.{field.name}"
            if field.metadata.get("static", False):
                out[sub] = ("static", repr(value))
            else:
                _describe(value, sub, out)
    elif isinstance(x, jax.Array | np.ndarray | np.generic):
        weak = bool(getattr(x, "weak_type", False))
        out[path] = ("array", tuple(x.shape), str(x.dtype), weak)
    elif isinstance(x, bool | int | float | complex):
        out[path] = ("scalar", type(x).__name__)
    elif isinstance(x, Mapping):
        out[path] = ("node", f"{type(x).__name__} keys {sorted(map(str, x))}")
        for key, value in x.items():
            _describe(value, f"{path}[{key!r}]", out)
    elif isinstance(x, list | tuple):
        out[path] = ("node", f"{type(x).__name__} of length {len(x)}")
        for i, value in enumerate(x):
            _describe(value, f"{path}[{i}]", out)
    elif x is None or callable(x) or isinstance(x, str):
        out[path] = ("static", repr(x) if not callable(x) else getattr(x, "__name__", repr(x)))
    else:
        out[path] = ("object", type(x).__name__)


def call_signature(fn: Callable, args: tuple, kwargs: dict) -> Signature:
    """The abstract signature of ``fn(*args, **kwargs)``, arguments named as ``fn`` names them."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        named = dict(bound.arguments)
    except (TypeError, ValueError):
        named = {f"arg{i}": a for i, a in enumerate(args)} | kwargs
    out: Signature = {}
    for name, value in named.items():
        _describe(value, name, out)
    return out


def has_tracer(args: tuple, kwargs: dict) -> bool:
    """Whether any leaf is a tracer (the call is being traced inside another program)."""
    leaves = jax.tree_util.tree_leaves((args, kwargs))
    return any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)


def _leaf_change(path: str, old: tuple, new: tuple) -> str:
    if old[0] == new[0] == "array":
        parts = [
            f"{path} {what} {a} -> {b}"
            for what, a, b in zip(("shape", "dtype", "weak type"), old[1:], new[1:], strict=True)
            if a != b
        ]
        return "; ".join(parts)
    if old[0] == new[0] == "static":
        return f"{path} static value {old[1]} -> {new[1]}"
    if old[0] == new[0] == "node":
        return f"{path} structure {old[1]} -> {new[1]}"
    return f"{path} {' '.join(map(str, old))} -> {' '.join(map(str, new))}"


def diff_signatures(old: Signature, new: Signature) -> list[str]:
    """What changed from ``old`` to ``new``, one readable line per changed leaf."""
    causes = [_leaf_change(p, old[p], new[p]) for p in new if p in old and old[p] != new[p]]
    causes += [f"{p} added" for p in new if p not in old]
    causes += [f"{p} removed" for p in old if p not in new]
    return causes


def format_signature(signature: Signature) -> str:
    """One line: ``mean_anomaly: float32[1000], ecc: float32[]`` (weak types marked)."""
    parts = []
    for path, leaf in signature.items():
        if leaf[0] == "array":
            parts.append(f"{path}: {leaf[2]}{list(leaf[1])}{' (weak)' if leaf[3] else ''}")
        elif leaf[0] in ("static", "scalar"):
            parts.append(f"{path}: {leaf[1]}")
    return ", ".join(parts)
