"""Counting traces and backend compiles with ``jax.monitoring`` listeners (never by timing)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterator

from diffkern.jit._events import Observer, observing
from diffkern.jit._explain import Explanation
from diffkern.jit._watch import instrument

__all__ = ["CompileCounts", "count_compiles"]


@dataclasses.dataclass
class CompileCounts(Observer):
    """What was traced and compiled while a :func:`count_compiles` block was open.

    Attributes:
        traces: number of Python traces to a jaxpr (tracing-cache misses).
        compiles: number of backend (XLA) compiles; persistent-cache hits are not compiles.
        cache_hits: executables loaded from the persistent compilation cache.
        cache_misses: persistent-cache lookups that found nothing (then compiled).
        compile_seconds: total backend compile time in seconds (cache loads excluded).
        by_function: backend compiles per function name.
        explanations: why each function was (re)compiled, in order.
    """

    traces: int = 0
    compiles: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    compile_seconds: float = 0.0
    by_function: Counter = dataclasses.field(default_factory=Counter)
    explanations: list[Explanation] = dataclasses.field(default_factory=list)

    @property
    def recompiles(self) -> list[Explanation]:
        """The explanations of recompiles (first compiles of a function left out)."""
        return [e for e in self.explanations if not e.first]

    def on_trace(self, name: str, start: float, end: float) -> None:
        self.traces += 1

    def on_compile(self, name: str, start: float, end: float, cache_hit: bool) -> None:
        if cache_hit:
            self.cache_hits += 1
            return
        self.compiles += 1
        self.compile_seconds += end - start
        self.by_function[name] += 1

    def on_cache_miss(self) -> None:
        self.cache_misses += 1

    def on_explanation(self, explanation: Explanation) -> None:
        self.explanations.append(explanation)


@contextlib.contextmanager
def count_compiles(*, watch_entry_points: bool = True) -> Iterator[CompileCounts]:
    """Count traces and backend compiles inside the block, and explain each compile.

    Build inputs before entering: eager ``jnp`` calls compile small programs too::

        x = jnp.ones(1000)
        with count_compiles() as counts:
            f(x)
        assert counts.compiles == 0

    With ``watch_entry_points`` (default), diffkern's public kernel functions are watched for
    the block (see :func:`diffkern.jit.instrument`), so their recompiles are explained by
    argument name, e.g. ``eccentric_anomaly: recompiled because mean_anomaly shape (1000,) ->
    (1001,)``.
    """
    counts = CompileCounts()
    with contextlib.ExitStack() as stack:
        if watch_entry_points:
            stack.enter_context(instrument())
        stack.enter_context(observing(counts))
        yield counts
