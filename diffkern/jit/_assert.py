"""``assert_no_recompile``: fail loudly when a hot loop compiles again."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

from diffkern.jit._count import CompileCounts, count_compiles

__all__ = ["RecompileError", "assert_no_recompile"]


class RecompileError(AssertionError):
    """Raised by :func:`assert_no_recompile`; ``.counts`` holds what was compiled and why."""

    def __init__(self, where: str, counts: CompileCounts):
        self.counts = counts
        why = "\n".join(f"  {e.message}" for e in counts.explanations) or "  (no explanation)"
        super().__init__(
            f"{where} compiled {counts.compiles + counts.cache_hits} program(s) "
            f"{dict(counts.by_function)}:\n{why}"
        )


def _check(where: str, counts: CompileCounts) -> None:
    if counts.compiles + counts.cache_hits:
        raise RecompileError(where, counts)


class _Guard(contextlib.AbstractContextManager):
    def __init__(self, warmup: int):
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup}")
        self._warmup = warmup
        self._open: list[tuple[contextlib.AbstractContextManager, CompileCounts]] = []

    def __enter__(self) -> CompileCounts:
        ctx = count_compiles()
        self._open.append((ctx, ctx.__enter__()))
        return self._open[-1][1]

    def __exit__(self, *exc) -> None:
        ctx, counts = self._open.pop()
        ctx.__exit__(*exc)
        if exc[0] is None:
            _check("the block", counts)

    def __call__(self, fn: Callable) -> Callable:
        calls = 0

        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls <= self._warmup:
                return fn(*args, **kwargs)
            with count_compiles() as counts:
                out = fn(*args, **kwargs)
            _check(f"call {calls} of {getattr(fn, '__name__', fn)!s}", counts)
            return out

        return guarded


def assert_no_recompile(fn: Callable | None = None, *, warmup: int = 1):
    """Raise :class:`RecompileError` (with the explanations) when code compiles again.

    As a context manager, nothing inside the block may compile (build inputs first)::

        with diffkern.jit.assert_no_recompile():
            for batch in batches:
                loss, grad = step(params, batch)

    As a decorator, the first ``warmup`` calls may compile and no later call may::

        @diffkern.jit.assert_no_recompile
        def step(params, batch): ...
    """
    guard = _Guard(warmup)
    return guard if fn is None else guard(fn)
