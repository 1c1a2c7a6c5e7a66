"""``summarize(path)``: a diffkern trace read back into compile and kernel tables."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter, defaultdict

from diffkern.profile._pftrace import read_pftrace

__all__ = ["TraceSummary", "summarize"]


@dataclasses.dataclass
class TraceSummary:
    """What a trace holds.

    Attributes:
        wall_seconds: length of the traced block.
        compile_seconds: backend compile time (persistent-cache loads excluded).
        tracing_seconds: time spent tracing Python to jaxprs (outermost traces only).
        compiles: backend compiles per function.
        cache_hits: programs loaded from the persistent cache, per function.
        cache_misses: persistent-cache lookups that found nothing.
        kernels: per watched diffkern entry point, ``(calls, total seconds)``.
        causes: recompile explanations and how often each occurred.
    """

    wall_seconds: float
    compile_seconds: float
    tracing_seconds: float
    compiles: Counter
    cache_hits: Counter
    cache_misses: int
    kernels: dict[str, tuple[int, float]]
    causes: Counter

    @property
    def compile_share(self) -> float:
        """Fraction of the wall time spent in backend compiles."""
        return self.compile_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def table(self, top: int = 10) -> str:
        """A plain-text report: totals, compiles per function, top kernels, recompile causes."""
        lines = [
            f"wall {self.wall_seconds:.3f} s | backend compile {self.compile_seconds:.3f} s "
            f"({100 * self.compile_share:.1f}%) | tracing {self.tracing_seconds:.3f} s | "
            f"compiles {sum(self.compiles.values())} | cache hits "
            f"{sum(self.cache_hits.values())} | cache misses {self.cache_misses}",
            "",
            f"{'compiles':>8}  {'cache hits':>10}  function",
        ]
        for name, n in self.compiles.most_common(top):
            lines.append(f"{n:>8}  {self.cache_hits.get(name, 0):>10}  {name}")
        for name, n in self.cache_hits.most_common(top):
            if name not in self.compiles:
                lines.append(f"{0:>8}  {n:>10}  {name}")
        lines += ["", f"{'calls':>8}  {'seconds':>10}  kernel"]
        ranked = sorted(self.kernels.items(), key=lambda kv: -kv[1][1])[:top]
        lines += [f"{n:>8}  {s:>10.4f}  {name}" for name, (n, s) in ranked]
        lines += ["", "recompile causes:"]
        lines += [f"  {n} x {cause}" for cause, n in self.causes.most_common(top)] or ["  none"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def summarize(path: str | os.PathLike) -> TraceSummary:
    """Read a ``.pftrace`` written by :func:`diffkern.profile.trace` as a :class:`TraceSummary`."""
    spans = read_pftrace(path)
    blocks = [s for s in spans if s.track == "diffkern" and s.name == "traced block"]
    wall = sum(s.duration for s in blocks)
    compiles, hits, causes = Counter(), Counter(), Counter()
    kernels: dict[str, list[float]] = defaultdict(list)
    compile_seconds = tracing_seconds = 0.0
    misses = 0
    traces = sorted((s for s in spans if s.track == "tracing"), key=lambda s: (s.start, -s.end))
    covered_until = float("-inf")
    for s in traces:  # nested traces are inside their parent's time
        if s.start >= covered_until:
            tracing_seconds += s.duration
            covered_until = s.end
    for s in spans:
        if s.track == "compile":
            name = str(s.args.get("function", s.name))
            if s.args.get("cache_hit"):
                hits[name] += 1
            else:
                compiles[name] += 1
                compile_seconds += s.duration
        elif s.track == "cache":
            misses += 1
        elif s.track == "kernel calls":
            kernels[s.name].append(s.duration)
        elif s.track == "explanations" and not s.args.get("first"):
            causes[s.name] += 1
    return TraceSummary(
        wall_seconds=wall,
        compile_seconds=compile_seconds,
        tracing_seconds=tracing_seconds,
        compiles=compiles,
        cache_hits=hits,
        cache_misses=misses,
        kernels={k: (len(v), sum(v)) for k, v in kernels.items()},
        causes=causes,
    )
