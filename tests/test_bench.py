"""``diffkern bench``: table building, file selection, and runs of a tiny suite through the CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import types
from pathlib import Path

import pytest
from _proc import run

from diffkern.cli import bench as _bench
from diffkern.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _entry(group: str, library: str, median: float, spread: float = 0.02, rounds: int = 9) -> dict:
    return {
        "group": group,
        "name": f"test[{library}]",
        "extra_info": {"library": library, "device": "cpu", "version": "1.0", "jax": "0.0"},
        "stats": {"median": median, "iqr": spread * median, "rounds": rounds},
    }


SYNTHETIC = {
    "datetime": "2026-01-02T03:04:05",
    "machine_info": {"python_version": "3.11", "cpu": {"brand_raw": "Test CPU", "count": 2}},
    "benchmarks": [
        _entry("kepler value float64 N=1000", "diffkern", 2e-3),
        _entry("kepler value float64 N=1000", "jaxoplanet", 6e-3),
        _entry("kepler value float64 N=1000", "exoplanet-core", 4e-3),
        _entry("scan N=1000", "diffkern:sequential", 1e-4),
        _entry("scan N=1000", "diffkern:associative", 5e-5),
        _entry("scan N=1000", "scipy", 1e-4),
        _entry("checkpoint N=10", "diffkern", 3.0),
        _entry("baseline only", "numpy", 7e-9),
    ],
}
SYNTHETIC["benchmarks"][6]["extra_info"].update(temp_bytes=2_048_000_000, total_bytes=3_100_000)
KEPLER_ROW = (
    "| kepler value float64 N=1000 | 2 ms | 2.0% | exoplanet-core | 4 ms | 2.0% | 2.00x | cpu |"
)


def test_rows_pick_the_fastest_peer_and_split_diffkern_variants():
    table = _bench.rows(SYNTHETIC)
    by_case = {r.case: r for r in table}
    assert [r.case for r in table] == [
        "kepler value float64 N=1000",
        "scan N=1000 [sequential]",
        "scan N=1000 [associative]",
        "checkpoint N=10",
        "baseline only",
    ]
    kepler = by_case["kepler value float64 N=1000"]
    assert (kepler.peer, kepler.peer_time.median, kepler.diffkern.median) == (
        "exoplanet-core",
        4e-3,
        2e-3,
    )
    assert kepler.diffkern.spread == pytest.approx(0.02) and kepler.diffkern.rounds == 9
    assert kepler.speedup == pytest.approx(2.0)
    assert by_case["scan N=1000 [associative]"].speedup == pytest.approx(2.0)
    assert by_case["checkpoint N=10"].peer is None
    assert by_case["checkpoint N=10"].speedup is None
    assert by_case["baseline only"].diffkern is None
    assert by_case["baseline only"].peer == "numpy"


def test_format_table_text_and_markdown():
    text = _bench.format_table(_bench.rows(SYNTHETIC))
    lines = text.splitlines()
    assert lines[0].split() == ["case", "diffkern", "spread", "best", "peer", "peer", "time"] + [
        "spread",
        "speedup",
        "device",
    ]
    row = ["2", "ms", "2.0%", "exoplanet-core", "4", "ms", "2.0%", "2.00x", "cpu"]
    assert lines[1].split()[4:] == row
    assert "3 s" in text and "7 ns" in text
    markdown = _bench.format_table(_bench.rows(SYNTHETIC), markdown=True).splitlines()
    assert markdown[0] == (
        "| case | diffkern | spread | best peer | peer time | spread | speedup | device |"
    )
    assert markdown[2] == KEPLER_ROW
    assert len(markdown) == 2 + 5


NOISY = {
    "benchmarks": [
        # Stable on both sides: quoted.
        _entry("quiet", "diffkern", 1e-3, spread=0.05),
        _entry("quiet", "peer", 3e-3, spread=0.09),
        # The fastest peer is noisy (IQR 50% of its median): no ratio, even against a slower
        # stable peer, which would overstate diffkern's lead.
        _entry("noisy peer", "diffkern", 1e-3),
        _entry("noisy peer", "tinygp", 0.5e-3, spread=0.5),
        _entry("noisy peer", "slow", 9e-3),
        # diffkern's own time is noisy.
        _entry("noisy ours", "diffkern", 1e-3, spread=0.11),
        _entry("noisy ours", "peer", 2e-3),
        # Quiet, but too few rounds to know (a one-round compile case of quick mode).
        _entry("one round", "diffkern", 1.0, spread=0.0, rounds=1),
        _entry("one round", "peer", 2.0, spread=0.0, rounds=1),
    ]
}


def test_unstable_rows_are_marked_and_get_no_speedup():
    table = {r.case: r for r in _bench.rows(NOISY)}
    assert table["quiet"].speedup == pytest.approx(3.0) and not table["quiet"].unstable
    for case in ("noisy peer", "noisy ours", "one round"):
        assert table[case].unstable and table[case].speedup is None, case
    assert table["noisy peer"].peer == "tinygp"
    text = _bench.format_table(list(table.values())).splitlines()
    assert text[1].split()[-2:] == ["3.00x", "cpu"]
    assert "50%" in text[2] and text[2].split()[-2:] == ["unstable", "cpu"]
    assert "11%" in text[3] and text[3].split()[-2:] == ["unstable", "cpu"]
    assert "1 round" in text[4] and text[4].split()[-2:] == ["unstable", "cpu"]
    assert f"{_bench.STABLE_SPREAD:.0%}" in _bench.legend()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (12.5, "12.5 s"), (0.0123, "12.3 ms"), (4.56e-5, "45.6 µs"), (3e-8, "30 ns")],
)
def test_format_seconds(seconds, text):
    assert _bench.format_seconds(seconds) == text


@pytest.fixture
def suite(tmp_path):
    for name in ("kepler", "gp", "gp_quasisep", "scan", "compile"):
        (tmp_path / f"test_{name}.py").write_text("")
    (tmp_path / "conftest.py").write_text("")
    return tmp_path


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (None, ["compile", "gp", "gp_quasisep", "kepler", "scan"]),
        ("kepler", ["kepler"]),
        ("gp", ["gp", "gp_quasisep"]),
        ("gp_quasisep,kepler", ["gp_quasisep", "kepler"]),
        (" scan , scan ", ["scan"]),
    ],
)
def test_only_selects_files(suite, only, expected):
    files = _bench.select(suite, only)
    assert [f.stem.removeprefix("test_") for f in files] == expected


def test_only_rejects_unknown_names(suite):
    with pytest.raises(_bench.BenchError, match=r"'orbits'.*available: compile, gp"):
        _bench.select(suite, "kepler,orbits")


def test_benchmark_directory_from_option_then_environment_then_checkout(
    suite, tmp_path, monkeypatch
):
    monkeypatch.delenv(_bench.ENV, raising=False)
    assert _bench.find_benchmarks() == ROOT / "benchmarks"
    monkeypatch.setenv(_bench.ENV, str(suite))
    assert _bench.find_benchmarks() == suite
    assert _bench.find_benchmarks(str(ROOT / "benchmarks")) == ROOT / "benchmarks"


def test_missing_suite_exits_2_naming_the_three_ways(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(_bench.ENV, str(empty))
    with pytest.raises(_bench.BenchError, match=r"no benchmark suite at .*empty \(from \$"):
        _bench.find_benchmarks()
    assert main(["bench", "--benchmarks", str(empty)]) == 2
    err = capsys.readouterr().err
    assert f"no benchmark suite at {empty} (from --benchmarks)" in err
    for way in ("--benchmarks DIR", f"${_bench.ENV}=DIR", "source checkout"):
        assert way in err


def test_installed_package_without_checkout_says_what_it_needs(tmp_path, monkeypatch):
    """As from a wheel: no benchmarks/ next to the package, no option, no variable."""
    monkeypatch.delenv(_bench.ENV, raising=False)
    monkeypatch.setattr(_bench, "_CHECKOUT", tmp_path / "site-packages" / "benchmarks")
    with pytest.raises(_bench.BenchError, match="--benchmarks DIR"):
        _bench.find_benchmarks()


def test_make_results_renders_environment_and_table(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_results", ROOT / "benchmarks/make_results.py"
    )
    make_results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_results)
    source = tmp_path / "bench.json"
    source.write_text(json.dumps(SYNTHETIC))
    assert make_results.main([str(source), "-o", str(tmp_path / "RESULTS.md")]) == 0
    text = (tmp_path / "RESULTS.md").read_text()
    for needle in ("2026-01-02T03:04:05", "Test CPU, 2 cores", "jax 0.0", "diffkern bench --json"):
        assert needle in text
    assert KEPLER_ROW in text
    assert "| checkpoint N=10 | 2.05 GB | 3.1 MB |" in text
    assert "| kepler value float64 N=1000 | jaxoplanet | 3.00x |" in text
    source.write_text(json.dumps(NOISY))
    assert make_results.main([str(source), "-o", str(tmp_path / "RESULTS.md")]) == 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| quiet | peer | 3.00x |" in text and "| noisy peer | tinygp | unstable |" in text
    assert "| noisy peer | slow | 9.00x |" in text  # both stable: this pair is quoted


def test_make_results_merges_a_rerun_into_the_first_run(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_results", ROOT / "benchmarks/make_results.py"
    )
    make_results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_results)
    rerun = {
        "datetime": "2026-01-02T05:00:00",
        "benchmarks": [
            _entry("kepler value float64 N=1000", "diffkern", 1e-3),
            _entry("new case", "diffkern", 1.0),
        ],
    }
    paths = [tmp_path / "bench.json", tmp_path / "rerun.json"]
    for path, document in zip(paths, (SYNTHETIC, rerun), strict=True):
        path.write_text(json.dumps(document))
    out = tmp_path / "RESULTS.md"
    assert make_results.main([*map(str, paths), "-o", str(out)]) == 0
    text = out.read_text()
    # The rerun's diffkern time replaces the first run's; its peers stay.
    assert KEPLER_ROW.replace("| 2 ms |", "| 1 ms |").replace("2.00x", "4.00x") in text
    assert "| new case | 1 s |" in text and "2026-01-02T03:04:05" in text
    assert "re-run alone, replacing its cases: 2026-01-02T05:00:00: kepler value" in text


TINY_BENCHMARK = """
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import sizes


@pytest.mark.parametrize("n", sizes([1000, 100000], smoke=8))
@pytest.mark.parametrize("library", ["diffkern", "numpy"])
def test_sum(bench, library, n):
    x = np.arange(n, dtype=np.float32)
    fn, arg = (jax.jit(jnp.sum), jnp.asarray(x)) if library == "diffkern" else (np.sum, x)
    result = bench(fn, arg, group=f"sum N={n}", library=library, n=n)
    np.testing.assert_allclose(result, n * (n - 1) / 2, rtol=1e-6)
"""


def _run_cli(directory: Path, *options: str, **env: str):
    """``diffkern bench`` on ``directory`` from inside it, with a relative ``--json`` path."""
    process = run(
        [sys.executable, "-m", "diffkern.cli", "bench", "--benchmarks", "."]
        + ["--json", "out.json", *options],
        cwd=directory,
        env={**os.environ, **env},
        timeout=300,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return process, json.loads((directory / "out.json").read_text())


@pytest.fixture
def tiny_suite(tmp_path):
    directory = tmp_path / "benchmarks"
    directory.mkdir()
    shutil.copy(ROOT / "benchmarks/conftest.py", directory)
    (directory / "test_tiny.py").write_text(TINY_BENCHMARK)
    return directory


def test_smoke_run_through_the_cli(tiny_suite):
    process, data = _run_cli(tiny_suite, "--only", "tiny", DIFFKERN_BENCH_SMOKE="1")
    out = process.stdout
    assert "[2/2" in out and out.count("PASSED") == 2
    assert "sum N=8" in out and "numpy" in out and "speedup" in out
    infos = [b["extra_info"] for b in data["benchmarks"]]
    assert {i["mode"] for i in infos} == {"smoke"} and {i["n"] for i in infos} == {8}
    assert {b["stats"]["rounds"] for b in data["benchmarks"]} == {1}


def test_quick_run_keeps_the_smallest_size_and_repeats_until_stable(tiny_suite):
    process, data = _run_cli(tiny_suite, "--quick", DIFFKERN_BENCH_SMOKE="0")
    assert {b["group"] for b in data["benchmarks"]} == {"sum N=1000"}
    budget = _bench_conftest().ROUNDS["quick"]
    for b in data["benchmarks"]:
        stats, info = b["stats"], b["extra_info"]
        assert budget.min <= stats["rounds"] <= budget.max
        assert info["spread"] == pytest.approx(stats["iqr"] / stats["median"], abs=1e-4)
    assert "spread = IQR / median" in process.stdout


def _bench_conftest():
    spec = importlib.util.spec_from_file_location("bench_conftest", ROOT / "benchmarks/conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("durations", "seconds", "rounds"),
    [
        ([1.0, 1.01, 0.99, 1.0, 1.02, 9.0], 10.0, 5),  # stable at the minimum: stops there
        ([1.0, 3.0] * 10, 10.0, 6),  # noisy: stops when 10 s are spent, still unstable
        ([1.0, 3.0] * 2 + [1.0] * 30, 100.0, 10),  # quiets down: stops once the spread is small
    ],
)
def test_rounds_repeat_until_stable_or_the_budget_is_spent(monkeypatch, durations, seconds, rounds):
    conftest = _bench_conftest()
    now, calls = [0.0], iter(durations)

    def call():
        now[0] += next(calls)

    monkeypatch.setattr(conftest, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    times = conftest.time_rounds(call, conftest.Budget(5, 100, seconds))
    assert times == pytest.approx(durations[:rounds])
    stable = conftest.relative_spread(times) <= _bench.STABLE_SPREAD
    assert stable == (rounds != 6)
    if rounds > 5 and stable:
        assert conftest.relative_spread(times[:-1]) > _bench.STABLE_SPREAD
