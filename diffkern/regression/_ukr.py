"""Unsupervised kernel regression: learn latent coordinates whose Nadaraya-Watson map
reconstructs the data."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from diffkern._arrays import as_float
from diffkern._compile import jit
from diffkern.fit import descend
from diffkern.regression._nadaraya_watson import nadaraya_watson


class UKR(eqx.Module):
    """A fitted UKR model: latent coordinates ``z`` for data ``x`` and the reconstruction map.

    Calling it maps latent points to data space, ``f(z*) = nadaraya_watson(z*, z, x, h)``.
    """

    z: Float[Array, "N q"]
    x: Float[Array, "N d"]
    bandwidth: Float[Array, ""]
    losses: Float[Array, " steps"]
    block_size: int = eqx.field(static=True, default=256)

    def __call__(self, z_query: Float[ArrayLike, "M q"]) -> Float[Array, "M d"]:
        return nadaraya_watson(z_query, self.z, self.x, self.bandwidth, block_size=self.block_size)


def ukr_loss(
    z: Float[ArrayLike, "N q"],
    x: Float[ArrayLike, "N d"],
    bandwidth: Float[ArrayLike, ""] = 1.0,
    *,
    block_size: int = 256,
) -> Float[Array, ""]:
    r"""Leave-in reconstruction error :math:`\sum_i |x_i - f(z_i)|^2` with ``f`` fitted on
    all of ``(z, x)``, the objective :func:`fit_ukr` minimises."""
    z, x = jnp.asarray(z), jnp.asarray(x)
    h = jnp.asarray(bandwidth, z.dtype)
    return jnp.sum((x - nadaraya_watson(z, z, x, h, block_size=block_size)) ** 2)


def fit_ukr(
    x: Float[ArrayLike, "N d"],
    latent_dim: int,
    *,
    steps: int,
    optimizer: optax.GradientTransformation,
    key: PRNGKeyArray | None = None,
    bandwidth: float = 1.0,
    init_scale: float = 1e-5,
    block_size: int = 256,
) -> UKR:
    """Fit latent coordinates z (N, ``latent_dim``) by minimising :func:`ukr_loss` with optax.

        z starts as ``init_scale`` times standard normals (drawn from ``key``, default
        ``PRNGKey(0)``); all ``steps`` optimiser updates run in one compiled loop
    (:func:`diffkern.fit.descend`). The
        bandwidth stays fixed: it sets the length scale of the latent space.

        Returns a :class:`UKR` holding ``z``, ``x``, ``bandwidth`` and the loss before each step.
    """
    x = as_float(x)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, d), got {x.shape}")
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
    key = jax.random.PRNGKey(0) if key is None else key
    z0 = init_scale * jax.random.normal(key, (x.shape[0], latent_dim), x.dtype)
    h = jnp.asarray(bandwidth, x.dtype)
    z, losses = _fit(z0, x, h, optimizer, steps, block_size)
    return UKR(z, x, h, losses, block_size)


@jit
def _fit(z0, x, h, optimizer, steps, block_size):
    loss = lambda z: ukr_loss(z, x, h, block_size=block_size)
    run = descend(loss, optimizer, z0, max_steps=steps, history=steps)
    return run.params, run.losses
