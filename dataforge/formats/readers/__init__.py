"""Reading: files -> shards of raw rows (``sources``, ``jsonl``, ``tabular``, ``textio``,
``shard``; the slow path ``objects``; ``conform``), format detection (``detect``), and one
raw shard -> canonical records + rejected rows (``convert``, row checks in ``validate``)."""
