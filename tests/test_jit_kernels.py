"""diffkern's own entry points, observed from the outside: steady state never recompiles, and a
recompile is explained by the argument that changed."""

import jax
import numpy as np

import diffkern.gp as gp
import diffkern.kepler as kepler
from diffkern.jit import bucket_length, count_compiles, pad_to_bucket


def _anomalies(n, dtype, seed):
    rng = np.random.default_rng(seed)
    return jax.device_put(rng.uniform(0, 2 * np.pi, n).astype(dtype))


def test_kepler_steady_state_and_explanation(dtype):
    name, n = "eccentric_anomaly", 64
    ecc = jax.device_put(np.asarray(0.3, dtype))
    first, second, longer = (_anomalies(k, dtype, s) for k, s in ((n, 0), (n, 1), (n + 1, 2)))
    # Entry points are watched while a block is open: look them up inside it. The warm-up is
    # observed too, so that the recompile below is compared with it.
    with count_compiles():
        jax.block_until_ready(getattr(kepler, name)(first, ecc))
    with count_compiles() as steady:
        jax.block_until_ready(getattr(kepler, name)(second, ecc))
    assert steady.compiles == 0, steady.explanations
    with count_compiles() as changed:
        jax.block_until_ready(getattr(kepler, name)(longer, ecc))
    assert changed.compiles >= 1
    assert f"{name}: recompiled because mean_anomaly shape ({n},) -> ({n + 1},)" in [
        e.message for e in changed.explanations
    ]


def test_kepler_steady_state_above_the_cpu_block():
    first, second = _anomalies(5000, np.float32, 0), _anomalies(5000, np.float32, 1)
    ecc = jax.device_put(np.asarray(0.3, np.float32))
    jax.block_until_ready(kepler.eccentric_anomaly(first, ecc))
    with count_compiles() as steady:
        jax.block_until_ready(kepler.eccentric_anomaly(second, ecc))
    assert steady.compiles == 0, steady.explanations


def test_gp_ragged_batch_steady_state_bounded_by_buckets(dtype):
    rng = np.random.default_rng(3)
    lengths = [20, 23, 31, 47]
    xs = [np.sort(rng.uniform(0, 10, n)).astype(dtype) for n in lengths]
    ys = [rng.normal(size=n).astype(dtype) for n in lengths]
    diags = [np.full(n, 0.1, dtype) for n in lengths]
    kernel = gp.Matern32(scale=np.asarray(2.0, dtype))
    with count_compiles() as cold:
        gp.log_probability_ragged(kernel, xs, ys, diags)
    assert cold.by_function["log_probability_padded"] <= len({bucket_length(n) for n in lengths})
    ys2 = [y + 1 for y in ys]
    with count_compiles() as steady:
        jax.block_until_ready(gp.log_probability_ragged(kernel, xs, ys2, diags))
    assert steady.compiles == 0, steady.explanations


def test_kepler_ragged_lengths_compile_only_for_new_buckets():
    """Kepler has no ragged entry point yet: padding to buckets by hand makes every length of a
    bucket seen before compile nothing, and the padded entries never change the others."""
    rng = np.random.default_rng(4)
    firsts, seconds = [100, 1000], [110, 1200]
    assert {bucket_length(n) for n in firsts} == {bucket_length(n) for n in seconds}
    ecc = jax.device_put(np.asarray(0.5, np.float32))

    def solve(n):
        m = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
        padded, mask = pad_to_bucket(m)
        E = jax.device_get(kepler.eccentric_anomaly(padded, ecc))[np.asarray(mask)]
        np.testing.assert_allclose(E - 0.5 * np.sin(E), m, atol=1e-5)

    for n in firsts:
        solve(n)
    with count_compiles() as counts:
        for n in seconds:
            solve(n)
    assert counts.compiles == 0, counts.explanations
