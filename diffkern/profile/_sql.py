"""SQL over a trace with Perfetto's trace processor, only where its binary is already present."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["query"]


def query(path: str | os.PathLike, sql: str, *, bin_path: str | os.PathLike):
    """Run ``sql`` on the trace at ``path`` with ``perfetto.trace_processor.TraceProcessor``.

    ``bin_path`` must name a local ``trace_processor_shell`` binary: the ``perfetto`` package
    would otherwise download one at run time, which diffkern never asks it to do. Returns a
    pandas DataFrame (pandas required), e.g. ``query(p, "select name, dur from slice",
    bin_path=...)``. :func:`diffkern.profile.summarize` needs no binary.
    """
    binary = Path(bin_path)
    if not binary.is_file():
        raise ValueError(f"bin_path must be an existing trace_processor binary, got {binary}")
    from perfetto.trace_processor import TraceProcessor, TraceProcessorConfig

    with TraceProcessor(trace=str(path), config=TraceProcessorConfig(bin_path=str(binary))) as tp:
        return tp.query(sql).as_pandas_dataframe()
