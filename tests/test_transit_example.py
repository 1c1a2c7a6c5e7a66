"""The worked example (``diffkern demo --transit``, profiles/transit_fit.py) at a tiny size: a
simulated joint transit + RV fit recovers the injected parameters within 3 standard
deviations and writes its summary; ``diffkern demo --transit`` is an option of the command
(the command itself runs at full size: profiles/transit_fit.py records it)."""

import numpy as np

from diffkern.cli.demo._transit import TRUTH, fit, simulate, summary


def test_joint_fit_recovers_the_injected_parameters(x64):
    # float64 by the x64 fixture: the JAX_ENABLE_X64=1 pass of ci/test.sh, where this runs
    # exactly as here, skips it
    data = simulate(n_flux=72, n_rv=12, seed=1, supersample=3)  # one transit
    results = fit(data)
    rows = results["parameters"]
    assert set(rows) == set(TRUTH)
    for name, row in rows.items():
        assert np.isfinite(row["sd"]) and row["sd"] > 0, name
        assert abs(row["pull"]) < 3, (name, row)
    # the transit constrains the period and t0 to minutes, the RVs K to a few m/s
    assert rows["t0"]["sd"] < 0.01 and rows["K"]["sd"] < 10
    text = summary(results, 1.0, 72, 12)
    assert "largest |pull|" in text and "radius_ratio" in text


def test_the_command_line_offers_it():
    from diffkern.cli import _parser

    args = _parser("demo").parse_args(["demo", "--transit", "--quick", "--no-plot"])
    assert args.transit and args.quick and args.no_plot
