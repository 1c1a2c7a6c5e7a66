"""Perfetto traces: written, decoded with the perfetto protos, summarised with expected events."""

import jax
import jax.numpy as jnp
import pytest
from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import Trace, TrackEvent

from diffkern.jit import watch
from diffkern.profile import query, read_pftrace, summarize, trace


@pytest.fixture
def recorded(tmp_path):
    @jax.jit
    def kepler(mean_anomaly, ecc):
        return mean_anomaly - ecc * jnp.sin(mean_anomaly)

    solve = watch(kepler, "kepler")
    inputs = [jnp.linspace(0.0, 1.0, n) for n in (8, 8, 12)]
    ecc = jnp.asarray(0.2, inputs[0].dtype)
    path = tmp_path / "run.pftrace"
    with trace(path) as recorder:
        for m in inputs:
            solve(m, ecc).block_until_ready()
    return path, recorder


def test_trace_is_a_perfetto_protobuf(recorded):
    path, _ = recorded
    packets = Trace.FromString(path.read_bytes()).packet
    tracks = {p.track_descriptor.name for p in packets if p.HasField("track_descriptor")}
    assert {"diffkern", "kernel calls", "tracing", "compile", "explanations"} <= tracks
    kinds = [p.track_event.type for p in packets if p.HasField("track_event")]
    assert kinds.count(TrackEvent.TYPE_SLICE_BEGIN) == kinds.count(TrackEvent.TYPE_SLICE_END)
    stamps = [p.timestamp for p in packets if p.HasField("track_event")]
    assert stamps == sorted(stamps)


def test_trace_records_calls_compiles_and_causes(recorded):
    path, recorder = recorded
    spans = read_pftrace(path)
    assert len(spans) == len(recorder.spans)
    calls = [s for s in spans if s.track == "kernel calls"]
    assert [c.name for c in calls] == ["kepler"] * 3
    assert calls[0].args["signature"].startswith("mean_anomaly: float")
    compiles = [s for s in spans if s.track == "compile" and s.args["function"] == "kepler"]
    assert len(compiles) == 2 and not any(c.args["cache_hit"] for c in compiles)
    why = "kepler: recompiled because mean_anomaly shape (8,) -> (12,)"
    assert compiles[1].args["cause"] == why
    assert "[12]" in compiles[1].args["signature"]
    assert all(c.start <= s.start and s.end <= c.end for c, s in zip(calls[::2], compiles))


def test_summary_table(recorded):
    path, _ = recorded
    summary = summarize(path)
    assert summary.compiles["kepler"] == 2 and summary.kernels["kepler"][0] == 3
    assert summary.causes == {"kepler: recompiled because mean_anomaly shape (8,) -> (12,)": 1}
    assert 0 < summary.compile_share < 1 and summary.wall_seconds > summary.compile_seconds
    table = summary.table()
    assert "kepler" in table and "recompile causes" in table and "mean_anomaly shape" in table


def test_sql_needs_a_local_binary(recorded, tmp_path):
    path, _ = recorded
    with pytest.raises(ValueError, match="bin_path"):
        query(path, "select name from slice", bin_path=tmp_path / "no_trace_processor")
