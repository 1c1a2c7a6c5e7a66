"""Compile counting and explanation, shape buckets, persistent compilation cache."""

from diffkern._ragged import bucket_length as bucket_length
from diffkern._ragged import pad_to_bucket as pad_to_bucket
from diffkern.jit._assert import RecompileError as RecompileError
from diffkern.jit._assert import assert_no_recompile as assert_no_recompile
from diffkern.jit._cache import CacheWarning as CacheWarning
from diffkern.jit._cache import default_cache_dir as default_cache_dir
from diffkern.jit._cache import enable_persistent_cache as enable_persistent_cache
from diffkern.jit._checks import set_value_checks as set_value_checks
from diffkern.jit._checks import value_checks as value_checks
from diffkern.jit._count import CompileCounts as CompileCounts
from diffkern.jit._count import count_compiles as count_compiles
from diffkern.jit._events import Observer as Observer
from diffkern.jit._events import observing as observing
from diffkern.jit._explain import Explanation as Explanation
from diffkern.jit._plain_errors import plain_errors as plain_errors
from diffkern.jit._signature import format_signature as format_signature
from diffkern.jit._watch import instrument as instrument
from diffkern.jit._watch import watch as watch
