"""Writing canonical records out: atomic shard-by-shard files in any format (``files``), a
LLaMA-Factory dataset folder (``llamafactory``), ``datasets.Dataset`` for TRL (``trl``)."""
