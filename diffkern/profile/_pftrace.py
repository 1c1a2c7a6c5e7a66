"""Perfetto's native trace format: spans on named tracks, written and read with its protos."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import Trace, TrackEvent
from perfetto.trace_builder.proto_builder import TraceProtoBuilder

__all__ = ["Span", "read_pftrace", "write_pftrace"]

_SEQUENCE = 0xD1FF
_ROOT = "diffkern"


@dataclasses.dataclass
class Span:
    """A slice on a track (an instant when ``start == end``); times in seconds since the epoch."""

    track: str
    name: str
    start: float
    end: float
    args: dict[str, object] = dataclasses.field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start


def _annotate(event: TrackEvent, args: dict[str, object]) -> None:
    for key, value in args.items():
        note = event.debug_annotations.add(name=key)
        if isinstance(value, bool):
            note.bool_value = value
        elif isinstance(value, int | float):
            note.double_value = float(value)
        else:
            note.string_value = str(value)


def write_pftrace(path: str | os.PathLike, spans: list[Span]) -> None:
    """Write ``spans`` as a Perfetto trace: one child track of "diffkern" per span track."""
    builder = TraceProtoBuilder()
    tracks = {_ROOT: 1}
    for span in spans:
        tracks.setdefault(span.track, len(tracks) + 1)
    for name, uuid in tracks.items():
        packet = builder.add_packet()
        packet.track_descriptor.uuid = uuid
        packet.track_descriptor.name = name
        if uuid != 1:
            packet.track_descriptor.parent_uuid = 1
    # Begin/end events in time order; at equal times ends go first, inner spans inside outer.
    events = []
    for span in spans:
        start = int(span.start * 1e9)
        if span.start == span.end:
            events.append((start, 2, 0, TrackEvent.TYPE_INSTANT, span))
            continue
        end = max(int(span.end * 1e9), start + 1)
        events.append((start, 1, -end, TrackEvent.TYPE_SLICE_BEGIN, span))
        events.append((end, 0, -start, TrackEvent.TYPE_SLICE_END, span))
    events.sort(key=lambda e: e[:3])
    for ts, _, _, kind, span in events:
        packet = builder.add_packet()
        packet.timestamp = ts
        packet.trusted_packet_sequence_id = _SEQUENCE
        packet.track_event.type = kind
        packet.track_event.track_uuid = tracks[span.track]
        if kind != TrackEvent.TYPE_SLICE_END:
            packet.track_event.name = span.name
            _annotate(packet.track_event, span.args)
    Path(path).write_bytes(builder.serialize())


def _value(note) -> object:
    kind = note.WhichOneof("value")
    return getattr(note, kind) if kind else None


def read_pftrace(path: str | os.PathLike) -> list[Span]:
    """Read a trace written by :func:`write_pftrace` back into spans (offline, protos only)."""
    trace = Trace.FromString(Path(path).read_bytes())
    names: dict[int, str] = {}
    open_spans: dict[int, list[Span]] = {}
    spans: list[Span] = []
    for packet in trace.packet:
        if packet.HasField("track_descriptor"):
            names[packet.track_descriptor.uuid] = packet.track_descriptor.name
        if not packet.HasField("track_event"):
            continue
        event = packet.track_event
        track = names.get(event.track_uuid, str(event.track_uuid))
        ts = packet.timestamp / 1e9
        if event.type == TrackEvent.TYPE_SLICE_END:
            span = open_spans[event.track_uuid].pop()
            span.end = ts
            continue
        args = {note.name: _value(note) for note in event.debug_annotations}
        span = Span(track, event.name, ts, ts, args)
        spans.append(span)
        if event.type == TrackEvent.TYPE_SLICE_BEGIN:
            open_spans.setdefault(event.track_uuid, []).append(span)
    return spans
