"""Perfetto traces of compiles, cache traffic and kernel calls, and their summaries."""

from diffkern.profile._pftrace import Span as Span
from diffkern.profile._pftrace import read_pftrace as read_pftrace
from diffkern.profile._sql import query as query
from diffkern.profile._summary import TraceSummary as TraceSummary
from diffkern.profile._summary import summarize as summarize
from diffkern.profile._trace import TraceRecorder as TraceRecorder
from diffkern.profile._trace import trace as trace
