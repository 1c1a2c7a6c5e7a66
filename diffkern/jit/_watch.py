"""Watch entry points from the outside: record each call's signature, explain its compiles.

A recompile is explained against the calls seen while watched (the history of each function
outlives the block), so open a count or a trace around the warm-up call too; the first watched
call that compiles is reported as a first compile, with its signature.

Kernels never import :mod:`diffkern.jit`; instead this module imports the kernel packages
(:data:`KERNEL_PACKAGES`) and :func:`instrument` swaps their public functions for watching
wrappers while a count or a trace is open (in every loaded diffkern module that binds them) and
restores them afterwards. :func:`watch` does the same for any function, e.g. a user's own entry
point.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from diffkern import gp, kepler, orbits, regression, scan
from diffkern.jit._events import call_frames, publish_call, publish_explanation
from diffkern.jit._explain import Explanation
from diffkern.jit._signature import call_signature, diff_signatures, format_signature, has_tracer

__all__ = ["watch", "instrument", "KERNEL_PACKAGES"]

#: The packages whose public functions are diffkern's entry points.
KERNEL_PACKAGES: tuple[ModuleType, ...] = (kepler, orbits, scan, gp, regression)
_MAX_SEEN = 64
_ROOT = __name__.partition(".")[0]  # bindings are replaced in diffkern's own modules only

# Signatures seen per function object (each jitted function has its own compile cache).
_seen: weakref.WeakKeyDictionary[Callable, list[dict]] = weakref.WeakKeyDictionary()
_seen_strong: dict[int, list[dict]] = {}  # functions that cannot be weakly referenced
_seen_lock = threading.Lock()


def _remember(fn: Callable, signature: dict) -> list[dict] | None:
    """Record ``signature``; the ones seen before it, or None if it was seen already."""
    with _seen_lock:
        try:
            seen = _seen.setdefault(fn, [])
        except TypeError:
            seen = _seen_strong.setdefault(id(fn), [])
        if signature in seen:
            return None
        previous = list(seen)
        seen.append(signature)
        del seen[:-_MAX_SEEN]
    return previous


def _explain(fn: Callable, name: str, signature: dict) -> Explanation | None:
    """Compare with the signatures seen so far; None if this one was seen (a cache reload)."""
    previous = _remember(fn, signature)
    if previous is None:
        return None
    if not previous:
        return Explanation(name, (format_signature(signature),), first=True)
    # the closest earlier signature; among equally close ones, the most recent
    closest = min((diff_signatures(old, signature) for old in reversed(previous)), key=len)
    return Explanation(name, tuple(closest))


class _Watched:
    """A callable that records its calls; other attributes (``.lower``, ...) pass through."""

    def __init__(self, fn: Callable, name: str):
        functools.update_wrapper(self, fn)
        self.__wrapped__ = fn
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.__wrapped__, attr)

    def __call__(self, *args, **kwargs):
        fn = self.__wrapped__
        if has_tracer(args, kwargs):  # traced inside a bigger program: nothing runs now
            return fn(*args, **kwargs)
        signature = call_signature(fn, args, kwargs)
        frames = call_frames()
        frames.append([0, self._name])
        start = time.time()
        try:
            out = fn(*args, **kwargs)
        finally:
            compiled = frames.pop()[0] > 0
        end = time.time()
        if not compiled:
            _remember(fn, signature)
        elif (explanation := _explain(fn, self._name, signature)) is not None:
            publish_explanation(explanation)
        publish_call(self._name, start, end, signature)
        return out


def watch(fn: Callable, name: str | None = None) -> Callable:
    """Wrap ``fn`` so that each call is recorded (as a span in a trace) and each of its
    compiles is explained by the arguments that changed since the closest earlier call."""
    if isinstance(fn, _Watched):
        return fn
    return _Watched(fn, name or getattr(fn, "__name__", repr(fn)))


def _entry_points(package: ModuleType) -> dict[str, Callable]:
    """The public functions defined in ``package`` (classes left out), by name."""
    found = {}
    for attr, value in vars(package).items():
        if attr.startswith("_") or isinstance(value, type) or not callable(value):
            continue
        home = getattr(value, "__module__", "") or ""
        if home == package.__name__ or home.startswith(package.__name__ + "."):
            found[attr] = value
    return found


def _unwatched_entry_points() -> dict[int, tuple[Callable, str]]:
    found: dict[int, tuple[Callable, str]] = {}
    for package in KERNEL_PACKAGES:
        for attr, value in _entry_points(package).items():
            if not isinstance(value, _Watched):
                found[id(value)] = (value, attr)
    return found


@contextlib.contextmanager
def instrument() -> Iterator[list[str]]:
    """Watch the public functions of the kernel packages (:data:`KERNEL_PACKAGES`) for the block.

    Rebinds them in every loaded ``diffkern`` module (so ``diffkern.eccentric_anomaly`` and a
    module that did ``from diffkern.kepler import eccentric_anomaly`` are both covered) and
    restores the originals on exit. Yields the watched names. Bindings made outside diffkern
    before the block (``from diffkern import f`` in a user module) are not rebound; their
    compiles are still explained from JAX's report.
    """
    entry = _unwatched_entry_points()
    patched: list[tuple[object, str, object]] = []
    for mod_name, module in list(sys.modules.items()):
        if mod_name != _ROOT and not mod_name.startswith(_ROOT + "."):
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in entry and entry[id(value)][0] is value:
                setattr(module, attr, watch(value, entry[id(value)][1]))
                patched.append((module, attr, value))
    try:
        yield sorted({name for _, name in entry.values()})
    finally:
        for module, attr, value in reversed(patched):
            setattr(module, attr, value)
