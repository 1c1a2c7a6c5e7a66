"""Each kernel's parameters against the peers' conventions, as tabulated in the README.

diffkern's kernel with the mapped parameters must give the same covariance as the tinygp,
celerite2 or radvel kernel it is said to equal: float64, relative tolerance 1e-12 (1e-6 for
celerite2's Matern32Term, which approximates the Matern-3/2 kernel with ``eps = 1e-7``).
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import diffkern.gp as gp

tinygp = pytest.importorskip("tinygp")
celerite2 = pytest.importorskip("celerite2")
radvel = pytest.importorskip("radvel")
tk = tinygp.kernels

X = np.concatenate([[0.0], np.geomspace(1e-3, 40.0, 60)])  # tau = X - 0
RTOL = 1e-12


def _tinygp(kernel) -> np.ndarray:
    return np.asarray(kernel(X, X[:1]))[:, 0]


def _ours(kernel) -> np.ndarray:
    return np.asarray(kernel.evaluate(jnp.asarray(X)))


# (diffkern kernel, tinygp kernel) with the same parameters, named as the README table names them.
TINYGP = {
    "Exp": lambda: (gp.Exp(2.5), tk.Exp(scale=2.5)),
    "Matern32": lambda: (gp.Matern32(2.5), tk.Matern32(scale=2.5)),
    "Matern52": lambda: (gp.Matern52(2.5), tk.Matern52(scale=2.5)),
    "ExpSquared": lambda: (gp.ExpSquared(2.5), tk.ExpSquared(scale=2.5)),
    "Cosine": lambda: (gp.Cosine(3.3), tk.Cosine(scale=3.3)),
    "ExpSineSquared": lambda: (
        gp.ExpSineSquared(3.3, 0.7),
        tk.ExpSineSquared(scale=3.3, gamma=0.7),
    ),
    "QuasiPeriodic": lambda: (
        gp.QuasiPeriodic(amplitude=1.7, scale=9.5, period=3.3, gamma=0.7),
        1.7**2 * tk.ExpSquared(scale=9.5) * tk.ExpSineSquared(scale=3.3, gamma=0.7),
    ),
    "SHO": lambda: (
        gp.SHO(omega=1.3, quality=2.0, sigma=0.6),
        tk.quasisep.SHO(omega=1.3, quality=2.0, sigma=0.6),
    ),
    "Constant": lambda: (gp.Constant(2.2), tk.Constant(2.2)),
    "amplitude^2 * kernel": lambda: (1.7**2 * gp.Matern32(2.5), 1.7**2 * tk.Matern32(2.5)),
}

# (diffkern kernel, celerite2 term, rtol).
CELERITE2 = {
    "Exp": lambda: (gp.Exp(2.5), celerite2.terms.RealTerm(a=1.0, c=1 / 2.5), RTOL),
    "Matern32": lambda: (
        gp.Matern32(2.5),
        celerite2.terms.Matern32Term(sigma=1.0, rho=2.5, eps=1e-7),
        1e-6,
    ),
    "Cosine": lambda: (
        gp.Cosine(3.3),
        celerite2.terms.ComplexTerm(a=1.0, b=0.0, c=0.0, d=2 * math.pi / 3.3),
        RTOL,
    ),
    "SHO": lambda: (
        gp.SHO(omega=1.3, quality=2.0, sigma=0.6),
        celerite2.terms.SHOTerm(w0=1.3, Q=2.0, sigma=0.6),
        RTOL,
    ),
}


@pytest.mark.parametrize("name", list(TINYGP))
def test_tinygp_convention(x64, name):
    ours, theirs = TINYGP[name]()
    np.testing.assert_allclose(_ours(ours), _tinygp(theirs), rtol=RTOL, atol=1e-300)


@pytest.mark.parametrize("name", list(CELERITE2))
def test_celerite2_convention(x64, name):
    ours, term, rtol = CELERITE2[name]()
    np.testing.assert_allclose(_ours(ours), term.get_value(X), rtol=rtol, atol=1e-15)


def from_radvel(gp_amp: float, gp_explength: float, gp_per: float, gp_perlength: float):
    """diffkern's QuasiPeriodic equal to radvel's QuasiPerKernel with these hyperparameters."""
    return gp.QuasiPeriodic(
        amplitude=gp_amp,
        scale=gp_explength / math.sqrt(2),
        period=gp_per,
        gamma=1 / (2 * gp_perlength**2),
    )


def test_radvel_quasi_periodic_convention(x64):
    hyper = {"gp_amp": 3.1, "gp_explength": 12.0, "gp_per": 9.64, "gp_perlength": 0.39}
    kernel = radvel.gp.QuasiPerKernel({k: radvel.Parameter(value=v) for k, v in hyper.items()})
    kernel.compute_distances(X, X[:1])
    expected = kernel.compute_covmatrix(0.0)[:, 0]
    np.testing.assert_allclose(_ours(from_radvel(**hyper)), expected, rtol=RTOL)
