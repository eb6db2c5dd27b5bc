"""Executors run an op chain over data; the ops are the same whichever runs them.

* ``local`` (the default): one process, shard by shard (:mod:`.local`).
* ``ray``: Ray Data on a local runtime or a cluster (:mod:`.ray_executor`); needs the
  ``ray`` extra. Batch-scope ops run as ``map_batches``; ``dedup.exact`` and
  ``dedup.near`` run as shuffles (:mod:`.ray_dedup`). Kept records equal the local
  executor's (docs/scale.md says where they may differ and why).

``apply(source, ops, executor="local")`` is the one entry point of the Python API
(``dataforge.apply``); the CLI and the recipe's data stage call the executors directly
so rows stream to their outputs.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

from ..errors import ConfigError
from ..ops.specs import OpSpec
from .base import ChainResult, RejectSink

ExecutorKind = Literal["local", "ray"]
EXECUTORS: tuple[ExecutorKind, ...] = ("local", "ray")


def apply(
    df_or_shards: Any, ops: OpSpec | Sequence[OpSpec], executor: ExecutorKind = "local", **options: Any
) -> ChainResult:
    """Run ``ops`` in order over a frame or lazy frame, several, or ``LoadResult``s; collect everything.

    ``executor="ray"`` runs the chain on Ray Data; its options are ``address`` (a
    cluster, ``"auto"`` for the one this machine belongs to; default: a local runtime)
    and ``num_cpus`` (of a local runtime).

    >>> result = apply(df, ["normalize", "dedup.exact", {"op": "dedup.near", "threshold": 0.8}])
    >>> result.kept, result.rejected, result.stats
    """
    if executor == "local":
        if options:
            raise ConfigError(f"the local executor takes no options, got {sorted(options)}")
        from .local import apply as local_apply

        return local_apply(df_or_shards, ops)
    if executor == "ray":
        from .ray_executor import apply as ray_apply

        return ray_apply(df_or_shards, ops, **options)
    raise ConfigError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "ChainResult", "ExecutorKind", "RejectSink", "apply"]
