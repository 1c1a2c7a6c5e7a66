"""Static keys that see through closures: an optimizer built anew is the same program.

A compiled fit loop is keyed on the loss and the optimizer, which are Python functions (an
optax transformation is a ``NamedTuple`` of closures). Two calls of ``optax.adam(0.01)`` give
new closure objects that compute the same thing, so keying on object identity would compile
the loop again. :class:`Same` keys on a function's *structure* instead: its code, the values in
its closure cells, its defaults and its module globals, compared recursively. Two functions with
equal structure compute the same thing, so sharing a program between them is sound.

Only immutable values are compared by value (numbers by their exact bits, strings, ``None``,
dtypes, and tuples and ``functools.partial`` of them); anything else (arrays, lists,
dicts, modules, objects) is compared by identity, as ``jax.jit`` compares static arguments:
a closure over data compiles anew for new data, never reuses a stale program.
"""

from __future__ import annotations

import functools
import struct
import types
from collections.abc import Hashable
from typing import Any

import equinox as eqx
import jax
import numpy as np

__all__ = ["Same", "by_structure", "unwrap"]

_VALUES = (bool, int, str, bytes, type(None), type(Ellipsis))


_EMPTY = ("empty cell",)


class _Identity:
    """A key equal only to a key of the very same object (kept alive, so ids are not reused)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def _key(obj: Any, active: frozenset[int]) -> Hashable:
    """A hashable key, equal for two objects that behave alike (see the module docstring)."""
    if id(obj) in active:  # a cycle (a recursive closure): identity, conservatively
        return _Identity(obj)
    if type(obj) in _VALUES or isinstance(obj, np.dtype):
        return (type(obj), obj)
    if type(obj) is float:
        return (float, struct.pack("<d", obj))  # exact bits: 0.0 and -0.0 differ, nan equals nan
    if type(obj) is complex:
        return (complex, struct.pack("<dd", obj.real, obj.imag))
    inner = active | {id(obj)}
    if isinstance(obj, tuple | list):  # NamedTuples (optax transformations) included
        return (type(obj), tuple(_key(x, inner) for x in obj))
    if type(obj) is dict:  # a snapshot: the key is taken when the program is traced
        return (dict, tuple((_key(k, inner), _key(v, inner)) for k, v in obj.items()))
    if isinstance(obj, types.FunctionType):
        cells = tuple(_key(_cell(c), inner) for c in obj.__closure__ or ())
        defaults = _key(obj.__defaults__, inner)
        kwdefaults = _key(tuple(sorted((obj.__kwdefaults__ or {}).items())), inner)
        return (types.FunctionType, obj.__code__, _Identity(obj.__globals__), cells, defaults,
                kwdefaults)  # fmt: skip
    if isinstance(obj, types.MethodType):
        return (types.MethodType, _key(obj.__func__, inner), _Identity(obj.__self__))
    if type(obj) is functools.partial:
        keywords = tuple(sorted(obj.keywords.items()))
        return (functools.partial, _key(obj.func, inner), _key(obj.args, inner),
                _key(keywords, inner))  # fmt: skip
    return _Identity(obj)


def _cell(cell: types.CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell: a name its factory never assigned (reading it fails)
        return _EMPTY


class Same:
    """``value`` as a static ``jit`` argument, equal to any :class:`Same` of a value that
    behaves alike (an equal-structure closure, optimizer or loss)."""

    __slots__ = ("value", "_key", "_hash")

    def __init__(self, value: Any) -> None:
        self.value = value
        self._key = _key(value, frozenset())
        self._hash = hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and self._hash == other._hash and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Same({self.value!r})"


def by_structure(tree: Any) -> Any:
    """``tree`` with every non-array leaf wrapped in :class:`Same`: arrays stay traced by
    ``equinox.filter_jit``, the rest is static and compared by structure."""
    return jax.tree_util.tree_map(lambda x: x if eqx.is_array(x) else Same(x), tree)


def unwrap(tree: Any) -> Any:
    """The inverse of :func:`by_structure`."""
    return jax.tree_util.tree_map(lambda x: x.value if isinstance(x, Same) else x, tree)
