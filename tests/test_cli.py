"""The ``diffkern`` command: ``info`` and ``demo --quick --no-plot``."""

import json

import pytest

from diffkern.cli import main


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "jax" in out and "devices" in out and "float64" in out


@pytest.mark.slow
def test_demo_quick_no_plot(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--no-plot", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "K [m/s]" in printed and "Earth masses" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["K_within_published"]
    k = next(r for r in results["parameters"] if r["name"] == "K [m/s]")
    assert 4.9 < k["map"] < 8.1 and 0.5 < k["laplace_sd"] < 3.0
    assert results["steady_state_compiles"] == 0
    assert (out / "trace.pftrace").stat().st_size > 0
    assert "compiles" in (out / "trace_summary.txt").read_text()
    assert not (out / "k2-131.png").exists()


def test_demo_bad_data_file(tmp_path):
    bad = tmp_path / "rv.txt"
    bad.write_text("time mnvel errvel\n")
    with pytest.raises(ValueError, match="rv.txt: line 1: expected the header"):
        main(["demo", "--quick", "--no-plot", "--out", str(tmp_path / "o"), "--data", str(bad)])
