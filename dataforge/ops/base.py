"""The operator contract.

An operator is a named, registered, configurable transform over canonical record
batches. ``op(shard) -> OpResult(kept, rejected, stats)``; rows in = kept + rejected,
always (a parametrized test checks it for every registered op).

Writing one:

.. code-block:: python

    @register_op
    class MaxTurns(Operator):
        '''Reject conversations with more than ``max_turns`` messages.'''

        name = "filter.max_turns"

        class Config(OpConfig):
            max_turns: int = Field(32, description="most messages a record may have")

        def process(self, records: pl.DataFrame) -> OpResult:
            too_long = pl.col("messages").list.len() > self.config.max_turns
            return self.split(records, too_long, reason="too_many_turns",
                              detail=pl.format("{} messages", pl.col("messages").list.len()))

Ops are vectorized over columns (polars/pyarrow/numpy). Ops see one shard at a time, in
order; an op that needs memory across shards (dedup) keeps it on ``self`` and declares
nothing else. An op that needs the whole dataset at once (e.g. keep the *longest* of a
duplicate cluster) sets ``needs_full_table = True`` and the runner hands it everything in
one call.

An op whose config has required fields (e.g. ``decontaminate`` needs an eval set) defines
a classmethod ``example_params() -> dict`` returning a working configuration: the
every-op contract test builds the op from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import polars as pl

from ..config import Config, validate_config
from ..registry import Registry
from ..schemas.rejected import empty_rejected, reject_records


class OpConfig(Config):
    """Base of every op's config: unknown keys are errors, so typos never pass silently."""


@dataclass
class OpResult:
    kept: pl.DataFrame
    rejected: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


class Operator:
    """Base class: subclasses set ``name``, a ``Config`` and implement ``process``."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[OpConfig]] = OpConfig
    needs_full_table: ClassVar[bool] = False

    def __init__(self, config: OpConfig | dict[str, Any] | None = None, **params: Any) -> None:
        if isinstance(config, OpConfig):
            self.config = config
        else:
            self.config = validate_config(self.Config, {**(config or {}), **params}, f"op {self.name!r}")

    def process(self, records: pl.DataFrame) -> OpResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, records: pl.DataFrame) -> OpResult:
        """Run on one shard, time it, and enforce the rows-in = kept + rejected invariant."""
        start = time.perf_counter()
        result = self.process(records)
        elapsed = time.perf_counter() - start
        n_in, n_kept, n_rej = records.height, result.kept.height, result.rejected.height
        if n_in != n_kept + n_rej:
            raise AssertionError(
                f"op {self.name} broke the row invariant: {n_in} in, {n_kept} kept, {n_rej} rejected"
            )
        reasons = (
            result.rejected.group_by("reason").len().sort("reason").rows()
            if n_rej
            else []
        )
        result.stats = {
            "op": self.name,
            "rows_in": n_in,
            "rows_kept": n_kept,
            "rows_rejected": n_rej,
            "reasons": {r: int(c) for r, c in reasons},
            "seconds": elapsed,
            **result.stats,
        }
        return result

    # -- helpers for subclasses -------------------------------------------------------

    def split(
        self,
        records: pl.DataFrame,
        reject_mask: pl.Expr | pl.Series,
        *,
        reason: str | pl.Expr,
        detail: str | pl.Expr | None = None,
        field: str | pl.Expr | None = None,
        duplicate_of: str | pl.Expr | None = None,
        stats: dict[str, Any] | None = None,
    ) -> OpResult:
        """Partition ``records`` by a boolean mask (True = reject), vectorized."""
        if isinstance(reject_mask, pl.Series):
            mask = reject_mask.fill_null(False)
        else:
            mask = records.select(reject_mask.fill_null(False).alias("_m"))["_m"]
        # one chunk per column: polars 2.1 panics ("i < self.len()") building a detail
        # string from a column whose first chunk is empty, which a join can leave behind
        # (seen in dedup.exact at 200k records)
        bad = records.filter(mask).rechunk()
        rejected = (
            reject_records(
                bad, stage=self.name, reason=reason, detail=detail, field=field,
                duplicate_of=duplicate_of,
            )
            if bad.height
            else empty_rejected()
        )
        return OpResult(records.filter(~mask), rejected, dict(stats or {}))

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, docstring summary and parameters (for ``dataforge ops``)."""
        params = {}
        for pname, f in cls.Config.model_fields.items():
            params[pname] = {
                "type": getattr(f.annotation, "__name__", str(f.annotation)),
                "default": None if f.is_required() else f.get_default(call_default_factory=True),
                "required": f.is_required(),
                "description": f.description or "",
            }
        doc = (cls.__doc__ or "").strip().splitlines()
        return {"name": cls.name, "summary": doc[0] if doc else "", "params": params}


#: every operator: built-ins found in ``dataforge.ops``, plug-ins under ``posttrain.ops``
OPS: Registry[type[Operator]] = Registry("op", group="posttrain.ops", packages=("dataforge.ops",))
register_op = OPS.register


def registry() -> dict[str, type[Operator]]:
    """All registered ops by name."""
    return OPS.items()


def get_op(name: str) -> type[Operator]:
    return OPS.get(name)


def make_op(name: str, params: dict[str, Any] | None = None) -> Operator:
    return get_op(name)(params or {})
