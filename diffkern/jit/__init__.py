"""Compile counting and explanation, shape buckets, persistent compilation cache."""

from diffkern.jit._count import CompileCounts as CompileCounts
from diffkern.jit._count import count_compiles as count_compiles
from diffkern.jit._buckets import bucket_length as bucket_length
from diffkern.jit._buckets import pad_to_bucket as pad_to_bucket
