"""Compile counting and explanation, shape buckets, persistent compilation cache."""

from diffkern.jit._count import CompileCounts as CompileCounts
from diffkern.jit._count import count_compiles as count_compiles
