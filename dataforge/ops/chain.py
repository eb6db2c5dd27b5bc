"""The op chain's public names, where callers have always found them.

A chain is op specs (:mod:`.specs`), run by an executor (:mod:`dataforge.executors`:
``local`` shard by shard, or ``ray``), with per-op stats merged by :mod:`.stats`.
``apply(df_or_shards, ops, executor="local") -> ChainResult(kept, rejected, stats)`` is
the Python API; ``iter_apply`` is the local executor's streaming core.
"""

from __future__ import annotations

from ..executors import ChainResult, apply
from ..executors.local import iter_apply
from .specs import build_ops, parse_op_spec
from .stats import merge_stats

__all__ = ["ChainResult", "apply", "build_ops", "iter_apply", "merge_stats", "parse_op_spec"]
