"""Shape buckets, now part of :mod:`diffkern._ragged` (kept until every importer moves there)."""

from diffkern._ragged import bucket_length as bucket_length
from diffkern._ragged import pad_to_bucket as pad_to_bucket
