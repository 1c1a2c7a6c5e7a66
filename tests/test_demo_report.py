"""The demo's report and figure: quantities at a bound, the star's name, the residuals panel."""

import numpy as np
import pytest

from diffkern.cli.demo import load_rv
from diffkern.cli.demo._model import Priors, initial_params
from diffkern.cli.demo._report import summary_rows, table

RNG = np.random.default_rng(0)
BEST = {"P [d]": 0.3693, "K [m/s]": 6.8, "gamma pfs [m/s]": -0.4, "jitter pfs [m/s]": 1e-4}
LAPLACE = {
    "P [d]": RNG.normal(0.3693, 1e-5, 2000),
    "K [m/s]": RNG.normal(6.8, 1.4, 2000),
    "gamma pfs [m/s]": RNG.normal(-0.4, 2.0, 2000),
    "jitter pfs [m/s]": np.abs(RNG.normal(0.0, 6.4, 2000)),  # |jitter|: folded at 0
}
NUTS = {**LAPLACE, "jitter pfs [m/s]": RNG.gamma(2.0, 0.75, 2000)}


@pytest.mark.parametrize("nuts", [None, NUTS], ids=["laplace", "nuts"])
def test_a_quantity_at_its_bound_gets_an_upper_limit_not_laplace_sd(nuts):
    rows = {r["name"]: r for r in summary_rows(BEST, LAPLACE, nuts)}
    flagged = [name for name, r in rows.items() if r["at_bound"]]
    assert flagged == ["jitter pfs [m/s]"]  # not K (far from 0) nor an offset (either sign)
    jitter = rows["jitter pfs [m/s]"]
    source = LAPLACE if nuts is None else nuts
    assert jitter["upper_95"] == pytest.approx(np.percentile(source["jitter pfs [m/s]"], 95))
    assert jitter["upper_from"] == ("Laplace" if nuts is None else "NUTS")
    text = table(list(rows.values()))
    line = next(line for line in text.splitlines() if line.startswith("jitter pfs"))
    assert f"0.00, at bound (< {jitter['upper_95']:.3g}, 95% {jitter['upper_from']})" in line
    assert "+/-" not in line.split("at bound")[0]
    k_line = next(line for line in text.splitlines() if line.startswith("K [m/s]"))
    assert f"6.80 +/- {rows['K [m/s]']['laplace_sd']:.2f}" in k_line and "bound" not in k_line


def test_star_name(tmp_path, x64):
    assert load_rv().name == "K2-131"
    rows = "".join(f"{2450000 + i} 1.0 1.0 HARPS\n" for i in range(12))
    (tmp_path / "HD 1234.rv").write_text("time mnvel errvel tel\n" + rows)
    assert load_rv(tmp_path / "HD 1234.rv").name == "HD 1234"


def test_figure_has_the_star_and_a_residuals_panel(tmp_path, monkeypatch, x64):
    figure = pytest.importorskip("matplotlib.figure")
    from diffkern.cli.demo._plot import plot

    saved = []
    monkeypatch.setattr(figure.Figure, "savefig", lambda fig, path, **_: saved.append(fig))
    data, priors = load_rv(), Priors()
    plot(initial_params(data, priors), priors, data, tmp_path / "fig.png", grid=50)
    (fig,) = saved
    assert fig._suptitle.get_text() == "K2-131"
    top, middle, bottom = fig.axes
    assert middle.get_ylabel() == "residual [m/s]" and "rms" in middle.get_title()
    assert bottom.get_xlabel().startswith("orbital phase")
