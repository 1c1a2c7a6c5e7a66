"""Fitting many stars: throughput of minimize_many, of a Python loop of jitted single-star fits,
and of radvel, on simulated stars of 20-300 RV points, one eccentric Keplerian + offset +
jitter each (float64).

The same model and start for all three: ``fit-many``'s eccentric Keplerian loss in standardised
units (:mod:`diffkern.cli._fit_many_model`), started from each star's true period perturbed by
1 percent. diffkern runs L-BFGS (at most ``STEPS`` steps, ``GTOL``) and the Laplace Hessian:
(a) :func:`diffkern.fit.minimize_many` over every star at once; (b) per star, the jitted
:func:`diffkern.fit.minimize` and :func:`diffkern.fit.laplace` on the star padded to its length
bucket (one compiled program per bucket, compiled before timing); (c) radvel's posterior
maximised by ``scipy.optimize.minimize(method="Powell")`` (its documented route; no Hessian).
The loop and radvel run on a sample of the stars (``extra_info["stars"]``): stars per second is
``stars / time``.
"""

from __future__ import annotations

import numpy as np
import optax
import pytest

from benchmarks.conftest import QUICK, SMOKE, sizes
from diffkern.cli import _fit_many_model as model
from diffkern.cli._fit_many_data import Star
from diffkern.fit import laplace, minimize, minimize_many
from diffkern.jit import pad_to_bucket
from diffkern.precision import float64

STEPS, GTOL = 100, 1e-6
ECCENTRIC = not SMOKE  # smoke mode: circular orbits, no Kepler solve (a program 2x faster to build)
LENGTHS = (20, 24) if SMOKE else (20, 300)
LBFGS = optax.lbfgs()
SAMPLE = {"minimize_many": None, "loop": 4 if SMOKE else 100, "radvel": 1 if SMOKE else 8}


def simulate(n: int, seed: int = 0) -> tuple[list[Star], np.ndarray]:
    """``n`` stars (times in days over ~400 d, 2 m/s errors) and their true periods."""
    rng = np.random.default_rng(seed)
    stars, periods = [], rng.uniform(2.0, 100.0, n)
    for i, period in enumerate(periods):
        m = int(rng.integers(LENGTHS[0], LENGTHS[1] + 1))
        t = np.sort(rng.uniform(0.0, 400.0, m)) + 2459000.0
        ecc, omega, k = rng.uniform(0.0, 0.5), rng.uniform(0, 2 * np.pi), rng.uniform(3.0, 30.0)
        mean_anomaly = 2 * np.pi * (t - t[0]) / period + rng.uniform(0, 2 * np.pi)
        big_e = mean_anomaly.copy()
        for _ in range(50):  # Newton on Kepler's equation: ecc <= 0.5 converges fast
            big_e -= (big_e - ecc * np.sin(big_e) - mean_anomaly) / (1 - ecc * np.cos(big_e))
        f = 2 * np.arctan2(
            np.sqrt(1 + ecc) * np.sin(big_e / 2), np.sqrt(1 - ecc) * np.cos(big_e / 2)
        )
        rv = k * (np.cos(f + omega) + ecc * np.cos(omega)) + rng.normal(0.0, np.hypot(2.0, 1.5), m)
        stars.append(Star(f"sim{i}", t, rv, np.full(m, 2.0)))
    return stars, periods


def problem(stars: list[Star], periods: np.ndarray):
    """``(start, fields, scales)`` of the eccentric Keplerian model, from perturbed periods."""
    sc = model.scales(stars)
    fields = model.standardised(stars, sc)
    start = model.start("keplerian", ECCENTRIC, fields, sc, period=1.01 * periods, min_period=1.0,
                        max_period=None)  # fmt: skip
    return start, fields, sc


def fit_many(start, fields):
    return minimize_many(model.loss, start, fields, LBFGS, steps=STEPS, gtol=GTOL)


def _single(p, t, rv, err, mask):
    return model.loss(p, (t, rv, err), mask)


def fit_loop(start, fields):
    """Per star: the jitted fit loop and Laplace on the star padded to its bucket."""
    out = []
    for i in range(len(fields[0])):
        (t, mask), (rv, _), (err, _) = (pad_to_bucket(f[i], fill=f[i][-1]) for f in fields)
        p0 = {k: v[i] for k, v in start.items()}
        args = (t, rv, err, mask)
        fit = minimize(_single, p0, LBFGS, steps=STEPS, gtol=GTOL, args=args, progress=False,
                       chunks=1)  # fmt: skip
        try:
            std = laplace(_single, fit.params, *args).std
        except ValueError:  # not a minimum: minimize_many reports it as positive_definite False
            std = None
        out.append((fit.params, std))
    return out


def fit_radvel(stars: list[Star], periods: np.ndarray):
    """radvel's maximum a posteriori fit of each star (Powell), started like diffkern's."""
    import radvel
    import scipy.optimize

    out = []
    for star, period in zip(stars, periods, strict=True):
        params = radvel.Parameters(1, basis="per tc secosw sesinw k")
        start = dict(per1=1.01 * period, tc1=star.t[0], secosw1=0.1, sesinw1=0.1,
                     k1=np.std(star.rv))  # fmt: skip
        for name, value in start.items():
            params[name] = radvel.Parameter(value=value, vary=ECCENTRIC or "secosw" not in name
                                            and "sesinw" not in name)  # fmt: skip
        rv_model = radvel.RVModel(params)
        rv_model.params["dvdt"] = radvel.Parameter(value=0.0, vary=False)
        rv_model.params["curv"] = radvel.Parameter(value=0.0, vary=False)
        like = radvel.likelihood.RVLikelihood(rv_model, star.t, star.rv, star.err)
        like.params["gamma"] = radvel.Parameter(value=float(np.mean(star.rv)))
        like.params["jit"] = radvel.Parameter(value=1.0)
        post = radvel.posterior.Posterior(like)
        fit = scipy.optimize.minimize(post.neglogprob_array, post.get_vary_params(),
                                      method="Powell")  # fmt: skip
        out.append(fit.x)
    return out


@pytest.mark.parametrize("n", sizes([1000, 10000], smoke=4))
@pytest.mark.parametrize("method", ["minimize_many", "loop", "radvel"])
def test_fit_many_throughput(bench, method, n):
    if QUICK:  # its compiles alone took 2 of quick mode's 4.5 minutes
        pytest.skip("fit-many throughput runs in full mode only (and in profiles/fit_many.py)")
    if method == "radvel":
        pytest.importorskip("radvel")
    with float64():
        stars, periods = simulate(n)
        sample = SAMPLE[method] or n
        stars, periods = stars[:sample], periods[:sample]
        start, fields, _ = problem(stars, periods)
        if method == "minimize_many":
            call, args = fit_many, (start, fields)
        elif method == "loop":
            call, args = fit_loop, (start, fields)
        else:
            call, args = fit_radvel, (stars, periods)
        out = bench(call, *args, group=f"fit many stars N={n}", library=f"{method}",
                    stars=len(stars), dtype="float64")  # fmt: skip
        if method == "minimize_many" and not SMOKE:
            found = np.asarray(
                model.physical(out.params, out.cov, model.scales(stars))[0]["period"]
            )
            assert np.median(np.abs(found / periods - 1)) < 1e-2
