"""The persistent-cache settings of this process, put back as they were after a test changes
them (other tests count compiles without a cache)."""

import contextlib

import jax
from jax.experimental.compilation_cache import compilation_cache

SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


@contextlib.contextmanager
def restored_cache_config():
    """Run the block, then restore :data:`SETTINGS` and make JAX decide again whether the
    cache is used."""
    before = {name: getattr(jax.config, name) for name in SETTINGS}
    try:
        yield
    finally:
        for name, value in before.items():
            jax.config.update(name, value)
        compilation_cache.reset_cache()
