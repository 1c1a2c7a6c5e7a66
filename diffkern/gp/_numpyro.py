"""A NumPyro distribution backed by a :class:`GaussianProcess` (imported only when asked for)."""

from __future__ import annotations

import jax
import numpyro.distributions as dist
from numpyro.distributions import constraints


class GaussianProcessDistribution(dist.Distribution):
    """The multivariate normal of a GP's data: ``log_prob`` is ``gp.log_probability``."""

    support = constraints.real_vector

    def __init__(self, gp, *, validate_args=None):
        self.gp = gp
        super().__init__(event_shape=gp.X.shape, validate_args=validate_args)

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        return self.gp.sample(key, tuple(sample_shape))

    def log_prob(self, value: jax.Array) -> jax.Array:
        if value.ndim == 1:
            return self.gp.log_probability(value)
        return jax.vmap(self.log_prob)(value)
