"""Near-duplicate detection for whole shards: the engine behind the ``dedup.*`` ops.

* :mod:`.keys`: which text of a record is compared (prompt, conversation, record);
* :mod:`.minhash`: MinHash signatures of a batch, bit-identical to datasketch's ``affine32``;
* :mod:`.lsh`: datasketch's band/row parameters, band keys, candidate pairs, and the
  cross-shard cluster index.

Shingling lives in :mod:`dataforge.text` (shared with filters and decontamination).
"""

from .keys import KeyMode, key_text
from .lsh import (
    NearDupIndex, band_keys, candidate_pairs, estimated_jaccard, lsh_params, verified_jaccard, window_pairs,
)
from .minhash import signatures

__all__ = [
    "KeyMode", "key_text", "NearDupIndex", "band_keys", "candidate_pairs", "estimated_jaccard",
    "lsh_params", "signatures", "verified_jaccard", "window_pairs",
]
