"""``trace(path)``: record compiles, cache traffic and diffkern kernel calls in a Perfetto file."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

from diffkern.jit import Explanation, Observer, format_signature, instrument, observing
from diffkern.profile._pftrace import Span, write_pftrace

__all__ = ["TraceRecorder", "trace"]


@dataclasses.dataclass(eq=False)
class TraceRecorder(Observer):
    """Events collected by :func:`trace`; written to ``path`` when the block closes.

    Attributes:
        path: the ``.pftrace`` file.
        spans: everything recorded, as :class:`~diffkern.profile._pftrace.Span`.
        device_trace_dir: where ``jax.profiler.trace`` wrote its files (``device_trace=True``).
    """

    path: Path
    spans: list[Span] = dataclasses.field(default_factory=list)
    device_trace_dir: Path | None = None
    _pending_jax: dict[str, str] = dataclasses.field(default_factory=dict)
    _last_signature: Explanation | None = None

    def on_trace(self, name: str, start: float, end: float) -> None:
        self.spans.append(Span("tracing", name, start, end))

    def on_compile(self, name: str, start: float, end: float, cache_hit: bool) -> None:
        args: dict[str, object] = {"function": name, "cache_hit": cache_hit}
        if name in self._pending_jax:
            args["cause"] = self._pending_jax.pop(name)
        label = f"load {name} (cache hit)" if cache_hit else f"compile {name}"
        self.spans.append(Span("compile", label, start, end, args))

    def on_cache_miss(self) -> None:
        now = time.time()
        self.spans.append(Span("cache", "persistent cache miss", now, now))

    def on_explanation(self, explanation: Explanation) -> None:
        now = time.time()
        args = {"function": explanation.function, "first": explanation.first}
        self.spans.append(Span("explanations", explanation.message, now, now, args))
        if explanation.source == "jax":
            self._pending_jax[explanation.function] = explanation.message
        else:
            self._last_signature = explanation

    def on_call(self, name: str, start: float, end: float, signature: dict) -> None:
        text = format_signature(signature)
        self.spans.append(Span("kernel calls", name, start, end, {"signature": text}))
        why = self._last_signature
        self._last_signature = None
        for span in self.spans:  # compiles inside this call: the call's signature explains them
            if span.track == "compile" and start <= span.start and span.end <= end:
                span.args.setdefault("signature", text)
                if why is not None and why.function == name:
                    span.args.setdefault("cause", why.message)


@contextlib.contextmanager
def trace(path: str | os.PathLike, *, device_trace: bool = False) -> Iterator[TraceRecorder]:
    """Record, while open, every trace and compile (function, argument signature, cause,
    duration), persistent-cache hits and misses, and each diffkern kernel call, then write a
    native Perfetto trace to ``path`` (open it in https://ui.perfetto.dev).

    With ``device_trace=True`` also runs ``jax.profiler.trace`` (XLA/device detail) into the
    directory ``<path without suffix>_jax/``, given as ``recorder.device_trace_dir``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recorder = TraceRecorder(path)
    with contextlib.ExitStack() as stack:
        if device_trace:
            import jax.profiler

            recorder.device_trace_dir = path.with_name(path.stem + "_jax")
            stack.enter_context(
                jax.profiler.trace(str(recorder.device_trace_dir), create_perfetto_trace=True)
            )
        stack.enter_context(instrument())
        stack.enter_context(observing(recorder))
        start = time.time()
        try:
            yield recorder
        finally:
            recorder.spans.append(Span("diffkern", "traced block", start, time.time()))
            write_pftrace(path, recorder.spans)
