"""``diffkern demo``: data loading and its errors, the K2-131 model, eccentric orbits."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.cli.demo import load_rv
from diffkern.cli.demo._eccentric import fit_orbit, simulate
from diffkern.cli.demo._model import (
    Priors,
    activity_gp,
    initial_params,
    instruments,
    keplerian,
    physical,
)


def test_shipped_k2_131_table(x64):
    data = load_rv()
    assert data.t.shape == (70,) and data.instruments == ("harps-n", "pfs")
    assert np.all(np.diff(np.asarray(data.t)) > 0)
    assert data.t.dtype == jnp.float64 and data.epoch == 2457836.0
    assert np.all(np.asarray(data.err) > 0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("t mnvel errvel tel\n", "expected the header"),
        ("time mnvel errvel tel\n1.0 2.0 3.0\n", "line 2: expected 4 columns"),
        (
            "time mnvel errvel tel\n1.0 x 3.0 pfs\n",
            "line 2: time, mnvel and errvel must be numbers",
        ),
        ("time mnvel errvel tel\n1.0 2.0 -3.0 pfs\n", "line 2: errvel must be > 0"),
        ("time mnvel errvel tel\n1.0 2.0 nan pfs\n", "line 2: non-finite value"),
        ("time mnvel errvel tel\n1.0 2.0 3.0 pfs\n", "needs at least 12 rows, got 1"),
    ],
)
def test_bad_data_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load_rv(path)
    assert str(path) in str(info.value)


def test_missing_file_and_repeated_times(tmp_path):
    with pytest.raises(ValueError, match="nothere.txt: cannot be read"):
        load_rv(tmp_path / "nothere.txt")
    rows = "".join(f"{i // 2}.0 1.0 1.0 pfs\n" for i in range(14))
    (tmp_path / "dup.txt").write_text("time mnvel errvel tel\n" + rows)
    with pytest.raises(ValueError, match="dup.txt: repeated observation times"):
        load_rv(tmp_path / "dup.txt")


def test_circular_keplerian_matches_closed_form(x64):
    """K cos(2 pi (t - Tc) / P + pi / 2) = -K sin(2 pi (t - Tc) / P) for a circular orbit."""
    data, priors = load_rv(), Priors()
    params = initial_params(data, priors)
    q = physical(params, priors, data)
    phase = 2 * np.pi * (np.asarray(data.t) + data.epoch - float(q["Tc [BJD]"])) / float(q["P [d]"])
    expected = -float(q["K [m/s]"]) * np.sin(phase)
    np.testing.assert_allclose(keplerian(params, priors, data, data.t), expected, atol=1e-6)


@pytest.mark.parametrize("ecc", [0.6, 0.95])
def test_eccentric_fit_recovers_truth_within_uncertainties(x64, ecc):
    t, rv, sigma, truth = simulate(ecc)
    start = type(truth)(truth.log_k + 0.1, truth.h * 0.9, truth.k * 0.9, truth.phase + 0.01)
    fitted = fit_orbit(t, rv, sigma, 10.0, start)
    for name, value in jax.tree_util.tree_map(float, truth.physical()).items():
        best, sd = fitted[name]
        assert sd > 0 and abs(best - value) < 4 * sd, (name, best, sd, value)


def test_gp_model_without_activity_is_the_instrument_likelihood(x64):
    """With a vanishing GP amplitude the demo's likelihood is MultiInstrumentRV's: the planet,
    offsets and jitters come from the library, the GP only adds the activity."""
    data, priors = load_rv(), Priors()
    params = initial_params(data, priors)
    params = eqx.tree_at(lambda p: (p.log_amp, p.jitter), params,
                         (jnp.asarray(-30.0), jnp.asarray([-2.0, 3.0])))  # fmt: skip
    gp, residual = activity_gp(params, priors, data)
    expected = instruments(params, priors, data).log_likelihood(data.observations)
    np.testing.assert_allclose(gp.log_probability(residual), expected, rtol=1e-12)
    inst = np.asarray(data.inst)
    offsets = np.asarray(params.offset)[inst]
    manual = np.asarray(data.rv) - offsets - np.asarray(keplerian(params, priors, data, data.t))
    np.testing.assert_allclose(residual, manual, rtol=0, atol=1e-9)
