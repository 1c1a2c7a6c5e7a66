"""count_compiles and assert_no_recompile: compile counts from jax.monitoring, never timings."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from _cache_config import restored_cache_config

from diffkern.jit import (
    RecompileError,
    assert_no_recompile,
    count_compiles,
    enable_persistent_cache,
)


def _make():
    @jax.jit
    def f(x, y):
        return jnp.sin(x) * y

    return f


def test_counts_first_compile_then_steady_state(dtype):
    f = _make()
    x, y, z = jnp.ones(7, dtype), jnp.asarray(2.0, dtype), jnp.zeros(7, dtype)
    with count_compiles() as first:
        f(x, y).block_until_ready()
    assert (first.traces, first.compiles, first.cache_hits) == (1, 1, 0)
    assert first.by_function == {"f": 1}
    assert first.compile_seconds > 0
    with count_compiles() as steady:
        for _ in range(3):
            f(z, y).block_until_ready()
    assert (steady.traces, steady.compiles) == (0, 0)
    assert steady.explanations == []


def test_nested_blocks_count_independently():
    f = _make()
    x, y = jnp.ones(3), jnp.asarray(1.0)
    with count_compiles() as outer:
        f(x, y)
        with count_compiles() as inner:
            f(x, y)
        f(jnp.ones(4), y)
    assert outer.compiles >= 2  # f twice, plus the eager jnp.ones(4)
    assert outer.by_function["f"] == 2
    assert inner.compiles == 0


def test_new_parameter_values_never_recompile_static_field_does():
    class Solver(eqx.Module):
        max_iter: int = eqx.field(static=True)
        scale: jax.Array

        def __call__(self, x):
            return x * self.scale + self.max_iter

    @eqx.filter_jit
    def run(solver, x):
        return solver(x)

    x = jnp.ones(5)
    solvers = [Solver(3, jnp.asarray(s)) for s in (1.0, 2.0, 3.0)]
    changed = Solver(4, jnp.asarray(1.0))
    run(solvers[0], x)
    with count_compiles() as values:
        for s in solvers:
            run(s, x)
    assert values.compiles == 0
    with count_compiles() as static:
        run(changed, x)
    assert static.by_function["run"] == 1


def test_assert_no_recompile_context_passes_and_fails():
    f = _make()
    x, y, longer = jnp.ones(3), jnp.asarray(1.0), jnp.ones(5)
    f(x, y)
    with assert_no_recompile() as counts:
        f(x, y)
    assert counts.compiles == 0
    with pytest.raises(RecompileError, match=r"x shape \(3,\) -> \(5,\)") as err:
        with assert_no_recompile():
            f(longer, y)
    assert err.value.counts.by_function["f"] == 1


def test_assert_no_recompile_decorator_allows_warmup():
    f = _make()
    ones, y = jnp.ones(3), jnp.asarray(1.0)
    other = jnp.ones(4)

    @assert_no_recompile
    def step(x):
        return f(x, y)

    step(ones)  # warm-up compiles
    step(ones)
    with pytest.raises(RecompileError, match="call 3 of step"):
        step(other)
    with pytest.raises(ValueError, match="warmup"):
        assert_no_recompile(warmup=-1)


def test_a_cache_hit_nobody_counts_is_not_carried_into_the_next_block(tmp_path):
    """A program loaded from the persistent cache outside any ``count_compiles`` block leaves
    nothing behind: the next counted compile is a compile, not a cache hit."""
    x = jnp.arange(5.0)
    with count_compiles():  # the listeners stay registered, as after any earlier block
        pass
    with restored_cache_config():
        enable_persistent_cache(tmp_path)
        jax.jit(lambda x: x * 3 + 1)(x).block_until_ready()  # compiled and written
        jax.clear_caches()
        jax.jit(lambda x: x * 3 + 1)(x).block_until_ready()  # loaded, uncounted
        with count_compiles() as counts:
            jax.jit(lambda x: jnp.cos(x) - 2)(x).block_until_ready()
    assert (counts.compiles, counts.cache_hits) == (1, 0)
