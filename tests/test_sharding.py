"""Multi-device: batched Kepler/RV and GP calls on 8 forced host devices equal the
single-device results and keep their sharding (run in a subprocess: the device count is fixed
when JAX starts)."""

import json
import os
import sys
import textwrap

import pytest
from _proc import run

_SCRIPT = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import NamedSharding, PartitionSpec as P
    from diffkern.kepler import eccentric_anomaly
    from diffkern.orbits import radial_velocity
    from diffkern.gp import GaussianProcess, Matern32

    jax.config.update("jax_enable_x64", True)
    mesh = jax.make_mesh((8,), ("batch",))
    rows = NamedSharding(mesh, P("batch"))
    rng = np.random.default_rng(0)
    M = jnp.asarray(rng.uniform(-np.pi, np.pi, (16, 64)))
    e = jnp.asarray(rng.uniform(0.0, 0.95, (16, 64)))
    t = jnp.asarray(np.sort(rng.uniform(0.0, 20.0, (16, 64)), axis=1))
    y = jnp.asarray(rng.normal(size=(16, 64)))

    def batch(M, e, t, y):
        E = eccentric_anomaly(M, e)
        rv = radial_velocity(t, 3.0, 0.5, e, 1.0, 10.0)
        gp_logp = lambda t, y: GaussianProcess(Matern32(2.0), t, diag=0.1).log_probability(y)
        logp = jax.vmap(gp_logp)(t, y)
        return E, rv, logp

    single = jax.jit(batch)(M, e, t, y)
    placed = [jax.device_put(a, rows) for a in (M, e, t, y)]
    sharded = jax.jit(batch)(*placed)
    out = {
        "devices": jax.device_count(),
        "max_diff": [float(jnp.max(jnp.abs(a - b))) for a, b in zip(single, sharded)],
        "spread": [len(a.sharding.device_set) for a in sharded],
        "sharded_rows": [a.sharding.is_equivalent_to(rows, a.ndim) for a in sharded],
    }
    print(json.dumps(out))
    """
)


@pytest.mark.slow
def test_sharded_batches_match_single_device():
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu"
    )
    proc = run([sys.executable, "-c", _SCRIPT], env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 8
    assert max(out["max_diff"]) < 1e-9, out
    assert out["spread"] == [8, 8, 8], out
    assert all(out["sharded_rows"]), out
