"""``diffkern demo --transit``: a simulated joint transit + radial-velocity fit.

One planet on an eccentric orbit, seen in long-cadence photometry (Kepler's 29.4-minute
exposures: each point is the flux averaged over its exposure) and in radial velocities. Both
data sets are fitted at once with :func:`diffkern.fit.minimize` (L-BFGS from a perturbed
start) and :func:`diffkern.fit.laplace` gives the uncertainties; the fit is compared with the
injected parameters. The star's density is known to 9% (as from its spectrum): a Gaussian
prior of width 0.03 on ``log a/R*`` (``rho* ~ (a/R*)^3 / P^2``), which breaks the degeneracy of
the impact parameter with ``a/R*`` when ingress and egress last less than an exposure. The
parameters are unconstrained: ``ecc = s / (1 + s)`` with
``s = h^2 + k^2``, ``omega = atan2(k, h)``, logarithms of the positive ones, ``|impact|``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from diffkern.fit import laplace, minimize
from diffkern.orbits import Keplerian
from diffkern.precision import float64
from diffkern.transit import TransitOrbit, light_curve

__all__ = ["Planet", "TransitRVData", "fit", "run_transit", "simulate"]

LONG_CADENCE = 29.4 / 1440  # days
LIMB_DARKENING = (0.4, 0.25)  # quadratic, held fixed
#: The injected planet: a warm Jupiter on a mildly eccentric orbit.
TRUTH = {
    "t0": 0.31, "period": 3.7, "radius_ratio": 0.1, "impact": 0.35, "a_over_rstar": 11.0,
    "ecc": 0.15, "omega": 1.1, "K": 45.0, "gamma": 3.0,
}  # fmt: skip
_LBFGS = optax.lbfgs()
#: Width of the prior on log a/R* (a 9% stellar density).
_LOG_A_PRIOR_SD = 0.03  # one optimizer object: the compiled loop is reused between fits


#: Each unconstrained parameter in units of about its uncertainty here (t0 and the period
#: are known far better than the rest): L-BFGS then sees a well-conditioned problem.
_SCALE = {"t0": 1e-3, "log_period": 1e-4, "log_radius_ratio": 1e-2, "impact": 0.05,
          "log_a_over_rstar": 0.02, "h": 0.05, "k": 0.05, "log_k": 0.02, "gamma": 1.0}  # fmt: skip


class Planet(eqx.Module):
    """The fit's unconstrained parameters (see the module docstring), each divided by its
    ``_SCALE``."""

    t0: Float[Array, ""]
    log_period: Float[Array, ""]
    log_radius_ratio: Float[Array, ""]
    impact: Float[Array, ""]
    log_a_over_rstar: Float[Array, ""]
    h: Float[Array, ""]
    k: Float[Array, ""]
    log_k: Float[Array, ""]
    gamma: Float[Array, ""]

    @classmethod
    def from_physical(cls, q: dict[str, float]) -> Planet:
        """The parameters that give the physical values ``q`` (keys of :data:`TRUTH`)."""
        root = math.sqrt(q["ecc"] / (1 - q["ecc"]))
        values = (q["t0"], math.log(q["period"]), math.log(q["radius_ratio"]), q["impact"],
                  math.log(q["a_over_rstar"]), root * math.cos(q["omega"]),
                  root * math.sin(q["omega"]), math.log(q["K"]), q["gamma"])  # fmt: skip
        return cls(*(jnp.asarray(v / _SCALE[n], jnp.float64)
                     for n, v in zip(_SCALE, values, strict=True)))  # fmt: skip

    def physical(self) -> dict[str, Array]:
        """The physical values (keys of :data:`TRUTH`)."""
        u = {name: getattr(self, name) * scale for name, scale in _SCALE.items()}
        s = u["h"] ** 2 + u["k"] ** 2
        return {
            "t0": u["t0"], "period": jnp.exp(u["log_period"]),
            "radius_ratio": jnp.exp(u["log_radius_ratio"]), "impact": jnp.abs(u["impact"]),
            "a_over_rstar": jnp.exp(u["log_a_over_rstar"]), "ecc": s / (1 + s),
            "omega": jnp.arctan2(u["k"], u["h"]), "K": jnp.exp(u["log_k"]), "gamma": u["gamma"],
        }  # fmt: skip


class TransitRVData(eqx.Module):
    """Flux at long cadence and radial velocities (m/s), with their errors; ``supersample``
    nodes per exposure (static)."""

    t_flux: Float[Array, " n"]
    flux: Float[Array, " n"]
    flux_err: Float[Array, ""]
    t_rv: Float[Array, " m"]
    rv: Float[Array, " m"]
    rv_err: Float[Array, ""]
    log_a_prior: Float[Array, ""]
    supersample: int = eqx.field(static=True, default=7)


def models(planet: Planet, data: TransitRVData) -> tuple[Array, Array]:
    """The model flux (averaged over each exposure) and radial velocities at the data's times."""
    q = planet.physical()
    orbit = TransitOrbit(q["period"], q["t0"], q["a_over_rstar"], q["impact"], q["ecc"],
                         q["omega"])  # fmt: skip
    u = jnp.asarray(LIMB_DARKENING, data.flux.dtype)
    flux = light_curve(data.t_flux, orbit, q["radius_ratio"], u, exposure_time=LONG_CADENCE,
                       supersample=data.supersample)  # fmt: skip
    star = Keplerian.from_transit(q["period"], q["t0"], q["ecc"], q["omega"], q["K"])
    return flux, star(data.t_rv) + q["gamma"]


def _loss(planet: Planet, data: TransitRVData) -> Float[Array, ""]:
    """``-log p`` up to a constant: Gaussian errors, the prior on ``log a/R*``, flat priors on
    the other parameters."""
    flux, rv = models(planet, data)
    chi_flux = jnp.sum(((data.flux - flux) / data.flux_err) ** 2)
    chi_rv = jnp.sum(((data.rv - rv) / data.rv_err) ** 2)
    log_a = planet.log_a_over_rstar * _SCALE["log_a_over_rstar"]
    return 0.5 * (chi_flux + chi_rv + ((log_a - data.log_a_prior) / _LOG_A_PRIOR_SD) ** 2)


def simulate(n_flux: int = 300, n_rv: int = 30, *, seed: int = 0, supersample: int = 7):
    """Data from :data:`TRUTH`: ``n_flux`` consecutive long-cadence points (two transits per
    300) with 100 ppm noise (a bright star), ``n_rv`` velocities over 40 days with 4 m/s
    noise, and the prior's centre on ``log a/R*`` drawn about the truth."""
    rng = np.random.default_rng(seed)
    t_flux = jnp.asarray(np.arange(n_flux) * LONG_CADENCE - 1.0)
    t_rv = jnp.asarray(np.sort(rng.uniform(0.0, 40.0, n_rv)))
    log_a = math.log(TRUTH["a_over_rstar"]) + _LOG_A_PRIOR_SD * rng.standard_normal()
    exact = TransitRVData(t_flux, t_flux, jnp.asarray(1e-4), t_rv, t_rv, jnp.asarray(4.0),
                          jnp.asarray(log_a), supersample)  # fmt: skip
    flux, rv = models(Planet.from_physical(TRUTH), exact)
    noisy_flux = flux + 1e-4 * jnp.asarray(rng.standard_normal(n_flux))
    noisy_rv = rv + 4.0 * jnp.asarray(rng.standard_normal(n_rv))
    return eqx.tree_at(lambda d: (d.flux, d.rv), exact, (noisy_flux, noisy_rv))


def fit(data: TransitRVData, *, steps: int = 200) -> dict:
    """L-BFGS from a start perturbed away from the truth, then the Laplace approximation.

    Returns, per physical parameter, the fitted value, its standard deviation (the Laplace
    covariance pushed through the Jacobian of :meth:`Planet.physical`), the truth and the pull
    ``(fit - truth) / sd``, with the final loss and the step count."""
    start = dict(TRUTH, t0=TRUTH["t0"] + 0.003, period=TRUTH["period"] * 1.0005,
                 radius_ratio=0.09, impact=0.45, a_over_rstar=10.0, ecc=0.1, omega=0.8, K=40.0,
                 gamma=0.0)  # fmt: skip
    result = minimize(_loss, Planet.from_physical(start), _LBFGS, steps=steps, args=(data,),
                      gtol=1e-6, progress=False)  # fmt: skip
    posterior = laplace(_loss, result.params, data)
    flat, unravel = ravel_pytree(result.params)
    jacobian = jax.jacfwd(lambda x: jnp.stack(list(unravel(x).physical().values())))(flat)
    sd = np.sqrt(np.diag(np.asarray(jacobian @ posterior.cov @ jacobian.T)))
    values = {k: float(v) for k, v in result.params.physical().items()}
    rows = {
        name: {"fit": values[name], "sd": float(s), "truth": TRUTH[name],
               "pull": (values[name] - TRUTH[name]) / float(s)}
        for name, s in zip(values, sd, strict=True)
    }  # fmt: skip
    return {"parameters": rows, "loss": float(result.value), "steps": int(result.steps)}


def summary(results: dict, seconds: float, n_flux: int, n_rv: int) -> str:
    """The table of fitted, injected values and pulls, as text."""
    lines = [
        f"Joint transit + RV fit: {n_flux} long-cadence flux points (29.4 min exposures), "
        f"{n_rv} RVs; {results['steps']} L-BFGS steps, Laplace uncertainties; {seconds:.1f} s",
        f"{'parameter':>14} {'fit':>12} {'sd':>10} {'truth':>10} {'pull':>6}",
    ]
    for name, row in results["parameters"].items():
        lines.append(f"{name:>14} {row['fit']:12.6g} {row['sd']:10.3g} {row['truth']:10.6g} "
                     f"{row['pull']:6.2f}")  # fmt: skip
    worst = max(abs(r["pull"]) for r in results["parameters"].values())
    lines.append(f"largest |pull| {worst:.2f} (recovered: every |pull| < 3)")
    return "\n".join(lines)


def _plot(data: TransitRVData, planet: Planet, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    q = {k: float(v) for k, v in planet.physical().items()}
    flux, rv = models(planet, data)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7))
    phase = (np.asarray(data.t_flux) - q["t0"] + 0.5 * q["period"]) % q["period"] - 0.5 * q[
        "period"
    ]
    order = np.argsort(phase)
    top.plot(24 * phase, data.flux, ".", ms=3, color="0.5", label="simulated long cadence")
    top.plot(
        24 * phase[order], np.asarray(flux)[order], color="C0", label="fit (exposure-averaged)"
    )
    top.set(xlim=(-6, 6), xlabel="hours from mid-transit", ylabel="relative flux")
    top.legend(loc="lower left")
    rv_phase = ((np.asarray(data.t_rv) - q["t0"]) / q["period"]) % 1
    order = np.argsort(rv_phase)
    bottom.errorbar(rv_phase, data.rv, yerr=float(data.rv_err), fmt="o", ms=3, color="0.4")
    bottom.plot(rv_phase[order], np.asarray(rv)[order], color="C1", label="fit")
    bottom.set(xlabel="orbital phase from transit", ylabel="radial velocity [m/s]")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_transit(*, quick: bool = False, out: str | Path = "demo_output", plot: bool = True,
                n_flux: int = 300, n_rv: int = 30) -> int:  # fmt: skip
    """Simulate, fit and write ``out/transit_fit.txt`` (and ``transit_fit.png`` with ``plot``);
    0 when every parameter is within 3 standard deviations of the truth, else 1. ``quick``
    uses 3 nodes per exposure instead of 7."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with float64():
        data = simulate(n_flux, n_rv, supersample=3 if quick else 7)
        results = fit(data)
        text = summary(results, time.perf_counter() - start, n_flux, n_rv)
        if plot:
            best = Planet.from_physical({k: r["fit"] for k, r in results["parameters"].items()})
            _plot(data, best, out / "transit_fit.png")
    print(text)
    (out / "transit_fit.txt").write_text(text + "\n")
    return 0 if all(abs(r["pull"]) < 3 for r in results["parameters"].values()) else 1
