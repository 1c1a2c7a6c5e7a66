"""Counting traces and backend compiles with ``jax.monitoring`` listeners (never by timing)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterator

import jax.monitoring

_TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@dataclasses.dataclass
class CompileCounts:
    """What was traced and compiled while a :func:`count_compiles` block was open.

    Attributes:
        traces: number of Python traces to a jaxpr.
        compiles: number of backend (XLA) compiles.
        compile_seconds: total backend compile time in seconds.
        by_function: backend compiles per function name (``jit(name)``).
    """

    traces: int = 0
    compiles: int = 0
    compile_seconds: float = 0.0
    by_function: Counter = dataclasses.field(default_factory=Counter)

    def _on_duration(self, event: str, duration: float, **kwargs) -> None:
        if event == _TRACE_EVENT:
            self.traces += 1
        elif event == _COMPILE_EVENT:
            self.compiles += 1
            self.compile_seconds += duration
            self.by_function[kwargs.get("fun_name", "?")] += 1


@contextlib.contextmanager
def count_compiles() -> Iterator[CompileCounts]:
    """Count traces and backend compiles inside the block.

    Build inputs before entering: eager ``jnp`` calls compile small programs too::

        x = jnp.ones(1000)
        with count_compiles() as counts:
            f(x)
        assert counts.compiles == 0
    """
    counts = CompileCounts()
    jax.monitoring.register_event_duration_secs_listener(counts._on_duration)
    try:
        yield counts
    finally:
        jax.monitoring.unregister_event_duration_listener(counts._on_duration)
