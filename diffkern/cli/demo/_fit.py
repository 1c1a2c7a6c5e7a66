"""The demo's inference: MAP (Adam, then L-BFGS), Laplace uncertainties, optional NUTS."""

from __future__ import annotations

import dataclasses
import importlib.util

import equinox as eqx
import jax
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from diffkern.cli.demo._data import RVData
from diffkern.cli.demo._model import Params, Priors, initial_params, neg_log_posterior, physical
from diffkern.fit import FitResult, Laplace, laplace, minimize
from diffkern.jit import count_compiles

__all__ = ["Inference", "infer"]

# One optimizer object per stage: the compiled fit loops are reused by later fits.
_ADAM = optax.adam(0.05)
_LBFGS = optax.lbfgs()


@dataclasses.dataclass
class Inference:
    """MAP fit, its Laplace approximation and (optionally) NUTS draws of physical quantities.

    ``compiles`` counts backend compiles per stage; ``steady_state_compiles`` those after the
    first progress chunk of each optimizer loop (expected 0: new iterates never recompile).
    """

    fit: FitResult
    laplace: Laplace
    draws: dict[str, np.ndarray]
    nuts: dict[str, np.ndarray] | None
    compiles: dict[str, int]
    steady_state_compiles: int


def _loss(params: Params, priors: Priors, data: RVData):
    return neg_log_posterior(params, priors, data)


@eqx.filter_jit
def _laplace_draws(approx: Laplace, priors: Priors, data: RVData, key) -> dict:
    return jax.vmap(lambda p: physical(p, priors, data))(approx.sample(key, 2000))


def _stage(loss, params, optimizer, steps, data, priors, label, progress, gtol=0.0):
    """One optimizer loop, returning the fit and the compiles after its first chunk."""
    first: list[int] = []
    with count_compiles() as counts:
        result = minimize(
            loss, params, optimizer, steps=steps, args=(priors, data), gtol=gtol,
            progress=progress, label=label,
            callback=lambda done, value: first.append(counts.compiles),
        )  # fmt: skip
    return result, counts.compiles, counts.compiles - first[0]


def _nuts(approx: Laplace, priors: Priors, data: RVData, *, warmup: int, samples: int, seed: int):
    """NUTS on the flattened parameters, started at the MAP with the Laplace mass matrix."""
    from numpyro.infer import MCMC, NUTS

    flat, unravel = ravel_pytree(approx.mean)
    # jitted: numpyro evaluates the potential eagerly while it initialises, op by op otherwise
    potential = jax.jit(lambda x: _loss(unravel(x), priors, data))
    kernel = NUTS(potential_fn=potential, inverse_mass_matrix=approx.cov, dense_mass=True)
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, progress_bar=False)
    with jax.numpy_dtype_promotion("standard"):  # numpyro's internals mix dtypes
        mcmc.run(jax.random.key(seed), init_params=flat)
    draws = jax.vmap(lambda x: physical(unravel(x), priors, data))(mcmc.get_samples())
    return {k: np.asarray(v) for k, v in draws.items()}


def infer(
    data: RVData,
    priors: Priors,
    *,
    adam_steps: int = 300,
    lbfgs_steps: int = 60,
    nuts: bool = True,
    nuts_samples: int = 300,
    progress: bool = True,
    seed: int = 0,
) -> Inference:
    """MAP by Adam then L-BFGS, Laplace covariance from the exact Hessian, then NUTS if asked
    and numpyro is installed. Derived quantities' uncertainties come from 2000 Laplace draws."""
    params = initial_params(data, priors)
    adam, c1, s1 = _stage(_loss, params, _ADAM, adam_steps, data, priors,
                          "MAP Adam  ", progress)  # fmt: skip
    lbfgs, c2, s2 = _stage(_loss, adam.params, _LBFGS, lbfgs_steps, data, priors,
                           "MAP L-BFGS", progress, gtol=1e-6)  # fmt: skip
    with count_compiles() as counts:
        approx = laplace(_loss, lbfgs.params, priors, data)
        draws = _laplace_draws(approx, priors, data, jax.random.key(seed))
    compiles = {"adam": c1, "lbfgs": c2, "laplace": counts.compiles}
    posterior = None
    if nuts and importlib.util.find_spec("numpyro") is not None:
        with count_compiles() as counts:
            posterior = _nuts(approx, priors, data, warmup=nuts_samples, samples=nuts_samples,
                              seed=seed)  # fmt: skip
        compiles["nuts"] = counts.compiles
    return Inference(
        fit=lbfgs,
        laplace=approx,
        draws={k: np.asarray(v) for k, v in draws.items()},
        nuts=posterior,
        compiles=compiles,
        steady_state_compiles=s1 + s2,
    )
