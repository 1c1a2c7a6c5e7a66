"""One hub for JAX's compile events, fanned out to whoever observes (counters, traces).

JAX reports traces and backend compiles through ``jax.monitoring``. A backend-compile event
also fires when the program came from the persistent cache; the cache-hit event fires just
before it in the same thread, so the hub marks that compile as a hit instead of a compile.
While anything observes, ``jax_explain_cache_misses`` is on and JAX's reports are parsed into
:class:`~diffkern.jit._explain.Explanation` records (except JAX's report on a watched entry
point itself, whose signature explains the compile by argument name).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import jax
import jax.monitoring

from diffkern.jit._explain import Explanation, explain_env_enabled, logger, parse_jax_explanation

__all__ = ["Observer", "observing", "publish_call", "publish_explanation", "call_frames"]

_TRACE = "/jax/core/compile/jaxpr_trace_duration"
_COMPILE = "/jax/core/compile/backend_compile_duration"
_CACHE_HIT = "/jax/compilation_cache/cache_hits"
_CACHE_MISS = "/jax/compilation_cache/cache_misses"
_JAX_EXPLAIN_LOGGER = "jax._src.interpreters.partial_eval"


class Observer:
    """Receives compile events while registered with :func:`observing` (``time.time()`` times)."""

    def on_trace(self, name: str, start: float, end: float) -> None:
        """A Python function was traced to a jaxpr (a tracing-cache miss)."""

    def on_compile(self, name: str, start: float, end: float, cache_hit: bool) -> None:
        """A backend executable was built (``cache_hit``: loaded from the persistent cache)."""

    def on_cache_miss(self) -> None:
        """The persistent cache was consulted and did not hold the program."""

    def on_explanation(self, explanation: Explanation) -> None:
        """Why a function was (re)compiled."""

    def on_call(self, name: str, start: float, end: float, signature: dict) -> None:
        """A watched diffkern entry point ran (outside any trace)."""


_observers: list[Observer] = []
_lock = threading.Lock()
_local = threading.local()
_listeners_registered = False
_saved_explain: bool | None = None


def call_frames() -> list[list]:
    """This thread's open watched calls, innermost last: ``[compiles seen inside, name]``."""
    if not hasattr(_local, "frames"):
        _local.frames = []
    return _local.frames


def _on_span(event: str, start: float, end: float, **kwargs) -> None:
    # A persistent-cache hit is reported inside the compile span that ends here: consume it
    # whether or not anyone observes, or a hit while unobserved would mark the next observed
    # compile as a hit.
    hit = False
    if event == _COMPILE:
        hit, _local.pending_hit = getattr(_local, "pending_hit", False), False
    if not _observers:
        return
    name = str(kwargs.get("fun_name", "?"))
    if event == _TRACE:
        for frame in call_frames():
            frame[0] += 1
        for obs in list(_observers):
            obs.on_trace(name, start, end)
    elif event == _COMPILE:
        for frame in call_frames():
            frame[0] += 1
        for obs in list(_observers):
            obs.on_compile(name.removeprefix("jit(").removesuffix(")"), start, end, hit)


def _on_event(event: str, **kwargs) -> None:
    if event == _CACHE_HIT:
        _local.pending_hit = True
    elif event == _CACHE_MISS and _observers:
        for obs in list(_observers):
            obs.on_cache_miss()


class _JaxExplainHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        explanation = parse_jax_explanation(record.getMessage())
        frames = call_frames()
        # A watched entry point explains its own compile by its signature: skip JAX's duplicate.
        if explanation is not None and not (frames and frames[-1][1] == explanation.function):
            publish_explanation(explanation)


_handler = _JaxExplainHandler(level=logging.DEBUG)


def publish_explanation(explanation: Explanation) -> None:
    """Hand an explanation to every observer, and log it if ``DIFFKERN_EXPLAIN_COMPILES=1``."""
    if explain_env_enabled():
        logger.warning(explanation.message)
    for obs in list(_observers):
        obs.on_explanation(explanation)


def publish_call(name: str, start: float, end: float, signature: dict) -> None:
    """Hand a finished watched call to every observer."""
    for obs in list(_observers):
        obs.on_call(name, start, end, signature)


def _start() -> None:
    global _listeners_registered, _saved_explain
    if not _listeners_registered:  # kept for the process: cheap when nothing observes
        jax.monitoring.register_event_time_span_listener(_on_span)
        jax.monitoring.register_event_listener(_on_event)
        _listeners_registered = True
    _saved_explain = bool(jax.config.jax_explain_cache_misses)
    jax.config.update("jax_explain_cache_misses", True)
    jax_logger = logging.getLogger(_JAX_EXPLAIN_LOGGER)
    jax_logger.addHandler(_handler)
    # JAX's own report would go to stderr too; diffkern's record (and log) replaces it.
    jax_logger.propagate = bool(_saved_explain)


def _stop() -> None:
    jax_logger = logging.getLogger(_JAX_EXPLAIN_LOGGER)
    jax_logger.removeHandler(_handler)
    jax_logger.propagate = True
    jax.config.update("jax_explain_cache_misses", bool(_saved_explain))


@contextlib.contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Register ``observer`` for the duration of the block (nesting and threads are fine)."""
    with _lock:
        if not _observers:
            _start()
        _observers.append(observer)
    try:
        yield observer
    finally:
        with _lock:
            del _observers[next(i for i, o in enumerate(_observers) if o is observer)]
            if not _observers:
                _stop()


if explain_env_enabled():  # explain every compile of the process, not only inside blocks
    with _lock:
        _start()
        _observers.append(Observer())
