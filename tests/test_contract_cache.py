"""Contract of enable_persistent_cache over generated options: a ValueError naming the argument
and its range, or the cache enabled in the named directory with exactly those settings."""

import math
import tempfile
from pathlib import Path

import jax
from _cache_config import restored_cache_config
from _contract import contract
from hypothesis import given
from hypothesis import strategies as st

from diffkern.jit import enable_persistent_cache


@contract(60)
@given(
    name=st.one_of(
        st.text("abc_-.0", min_size=1, max_size=6).filter(lambda s: s not in (".", "..")),
        st.text(" \t", max_size=3),
    ),
    min_time=st.one_of(
        st.floats(-10.0, 10.0),
        st.integers(-3, 3),
        st.sampled_from([math.nan, math.inf, -math.inf, -0.0]),
    ),
    min_size=st.integers(-4, 10**6),
)
def test_enable_persistent_cache_contract(name, min_time, min_size):
    with tempfile.TemporaryDirectory() as root, restored_cache_config():
        path = str(Path(root) / name) if name.strip() else name
        problems = []
        if not name.strip():
            problems.append("path must be a non-empty directory name")
        elif not (math.isfinite(min_time) and min_time >= 0):
            problems.append("min_compile_time_secs must be finite and >= 0")
        elif min_size < -1:
            problems.append("min_entry_size_bytes must be >= -1")
        try:
            directory = enable_persistent_cache(
                path, min_compile_time_secs=min_time, min_entry_size_bytes=min_size
            )
        except ValueError as err:
            assert problems and str(err).startswith(problems[0])
            assert jax.config.jax_compilation_cache_dir != path
            return
        assert not problems
        assert directory == Path(path) and directory.is_dir()
        assert jax.config.jax_compilation_cache_dir == path
        assert jax.config.jax_persistent_cache_min_compile_time_secs == float(min_time)
        assert jax.config.jax_persistent_cache_min_entry_size_bytes == min_size
