"""Value checks as exceptions (host callbacks) or as NaN (no callback, so cacheable programs)."""

import jax
import jax.numpy as jnp
import pytest

from diffkern._arrays import check_values
from diffkern.jit import count_compiles, set_value_checks, value_checks


@pytest.fixture
def restore_checks():
    previous = value_checks()
    yield
    set_value_checks(previous)


@jax.jit
def _checked_sqrt(x):
    return jnp.sqrt(check_values(x, "x", positive=False))


def test_nan_mode_has_no_callback_and_gives_nan(restore_checks):
    x, bad = jnp.asarray(4.0), jnp.asarray(-1.0)
    assert set_value_checks("raise") in ("raise", "nan")
    assert "callback" in _checked_sqrt.lower(x).as_text()
    with pytest.raises(Exception, match="x must be >= 0"):
        jax.block_until_ready(_checked_sqrt(bad))
    assert set_value_checks("nan") == "raise" and value_checks() == "nan"
    assert "callback" not in _checked_sqrt.lower(x).as_text()
    with count_compiles() as counts:  # the old program is not reused: traced again
        assert bool(jnp.isnan(_checked_sqrt(bad))) and float(_checked_sqrt(x)) == 2.0
    assert counts.by_function["_checked_sqrt"] == 1
    set_value_checks("raise")
    with pytest.raises(Exception, match="x must be >= 0"):
        jax.block_until_ready(_checked_sqrt(bad))


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="mode must be one of"):
        set_value_checks("off")
