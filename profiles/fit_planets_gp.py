"""A two-planet eccentric Keplerian + quasi-periodic GP fit of 150 RVs, as a user writes it.

    diffkern profile profiles/fit_planets_gp.py       (or: python profiles/fit_planets_gp.py)

Parameters in a dict, ``minimize`` with a freshly built ``optax.adam(0.01)`` (3000 steps),
then L-BFGS, then ``laplace``, then three refits of new data sets of the same shape. Each
stage's wall time goes to stderr; ``tests/test_workflows.py`` runs ``fit`` with fewer steps
and counts its compiles.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from diffkern.fit import laplace, minimize
from diffkern.gp import GaussianProcess, QuasiPeriodic
from diffkern.orbits import radial_velocity

TRUTH = {
    "period": np.array([4.3, 21.7]),
    "tp": np.array([1.0, 5.0]),
    "h": np.array([0.2, -0.3]),  # sqrt(e) cos(omega)
    "k": np.array([0.1, 0.4]),  # sqrt(e) sin(omega)
    "log_K": np.log([12.0, 7.0]),
    "log_amp": np.log(5.0),
    "log_scale": np.log(30.0),
    "log_rot": np.log(12.0),
    "log_jitter": np.log(1.5),
}


def model(p, t):
    """The two Keplerians, summed: parameters carry a leading planet axis."""
    ecc = p["h"] ** 2 + p["k"] ** 2
    omega = jnp.arctan2(p["k"], p["h"])
    rv = radial_velocity(
        t[None, :],
        p["period"][:, None],
        p["tp"][:, None],
        ecc[:, None],
        omega[:, None],
        jnp.exp(p["log_K"])[:, None],
    )
    return rv.sum(axis=0)


def loss(p, t, y, err):
    """-log N(y - Keplerians | 0, K_QP + err^2 + jitter^2)."""
    kernel = QuasiPeriodic(
        jnp.exp(p["log_amp"]), jnp.exp(p["log_scale"]), jnp.exp(p["log_rot"]), 1.0
    )
    gp = GaussianProcess(kernel, t, diag=err**2 + jnp.exp(2 * p["log_jitter"]))
    return -gp.log_probability(y - model(p, t))


def simulate(seed, n=150):
    """Times over 200 days, the Keplerians plus GP activity plus white noise."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 200.0, n))
    truth = jax.tree_util.tree_map(jnp.asarray, TRUTH)
    kernel = QuasiPeriodic(5.0, 30.0, 12.0, 1.0)
    activity = GaussianProcess(kernel, t, diag=1e-6).sample(jax.random.key(seed))
    err = np.full(n, 1.0)
    y = np.asarray(model(truth, jnp.asarray(t))) + np.asarray(activity) + rng.normal(0, 1.5, n)
    return jnp.asarray(t), jnp.asarray(y), jnp.asarray(err)


def start(seed):
    """A start near the truth, as from a periodogram: every value off by a few per cent."""
    rng = np.random.default_rng(100 + seed)
    return {
        k: jnp.asarray(v * (1 + 0.02 * rng.standard_normal(np.shape(v)))) for k, v in TRUTH.items()
    }


def fit(data, params, *, adam_steps=3000, lbfgs_steps=200):
    """Adam, then L-BFGS from its result, each optimizer built anew (as everyone writes it)."""
    first = minimize(loss, params, optax.adam(0.01), steps=adam_steps, args=data, progress=False)
    return minimize(loss, first.params, optax.lbfgs(), steps=lbfgs_steps, args=data, gtol=1e-6,
                    progress=False)  # fmt: skip


def main(*, adam_steps=3000, lbfgs_steps=200, refits=3, n=150):
    """The whole script; returns the seconds of each stage."""
    seconds, clock = {}, time.perf_counter()
    data = simulate(0, n)
    first = minimize(loss, start(0), optax.adam(0.01), steps=adam_steps, args=data, progress=False)
    seconds["adam"], clock = time.perf_counter() - clock, time.perf_counter()
    best = minimize(loss, first.params, optax.lbfgs(), steps=lbfgs_steps, args=data, gtol=1e-6,
                    progress=False)  # fmt: skip
    seconds["lbfgs"], clock = time.perf_counter() - clock, time.perf_counter()
    approx = laplace(loss, best.params, *data)
    jax.block_until_ready(approx.cov)
    seconds["laplace"], clock = time.perf_counter() - clock, time.perf_counter()
    for seed in range(1, refits + 1):
        jax.block_until_ready(fit(simulate(seed, n), start(seed), adam_steps=adam_steps,
                                  lbfgs_steps=lbfgs_steps).value)  # fmt: skip
    seconds["refits"] = time.perf_counter() - clock
    print(" | ".join(f"{k} {v:.2f} s" for k, v in seconds.items()), file=sys.stderr)
    return seconds


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    main()
