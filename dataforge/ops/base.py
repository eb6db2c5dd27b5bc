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

Ops are vectorized over columns (polars/pyarrow/numpy). Every op declares its ``scope``,
which tells an executor how it may be run:

* ``batch`` (the default): row-local. ``op(batch)`` depends only on the rows of the batch
  (and the config), so :meth:`Operator.__call__` is a pure batch function: any executor
  may call it on any partition, in any order, in any process (Ray Data's ``map_batches``).
  Kept rows keep their ``id``.
* ``stream``: state across shards (dedup remembers what it has seen). The local executor
  feeds shards in input order to one instance; a distributed executor needs a
  distributed implementation (dedup has one) or runs the op in one process.
* ``global``: needs the whole table in one call (e.g. keep the *longest* record of a
  duplicate cluster); the local executor hands it everything upstream at once. An op
  whose scope depends on its config sets ``self.scope`` in ``__init__``. (A class that
  still says ``needs_full_table = True`` gets scope ``global``.)

Heavy resources (models, tokenizers, eval sets) load in :meth:`Operator.setup`, which
an executor calls once per process before the first batch (ops also call it on first
use, so direct calls work), and are released by :meth:`Operator.close`. An op pickles
as its class and config only, so it ships to worker processes light and sets up there.

Stats that describe the op's set-up rather than the data (the size of an eval set) are
named in ``report_once``: merging keeps the first value instead of adding them up.

An op whose config has required fields (e.g. ``decontaminate`` needs an eval set) defines
a classmethod ``example_params() -> dict`` returning a working configuration: the
every-op contract test builds the op from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

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


Scope = Literal["batch", "stream", "global"]
SCOPES: tuple[Scope, ...] = ("batch", "stream", "global")


class Operator:
    """Base class: subclasses set ``name``, a ``Config`` and implement ``process``."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[OpConfig]] = OpConfig
    #: how executors may run the op (module docstring); an instance may narrow it in __init__
    scope: Scope = "batch"
    #: stats keys describing the op's set-up, not the data: merged by keeping the first value
    report_once: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("needs_full_table") is True:  # the older spelling of scope "global"
            cls.scope = "global"
        if cls.scope not in SCOPES:
            raise TypeError(f"op {cls.name or cls.__name__}: scope {cls.scope!r} is not one of {SCOPES}")

    def __init__(self, config: OpConfig | dict[str, Any] | None = None, **params: Any) -> None:
        if isinstance(config, OpConfig):
            self.config = config
        else:
            self.config = validate_config(self.Config, {**(config or {}), **params}, f"op {self.name!r}")

    @property
    def needs_full_table(self) -> bool:
        """The older name of scope ``global``."""
        return self.scope == "global"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as class + config: workers get a fresh op and set it up themselves."""
        return (type(self), (self.config,))

    def setup(self) -> None:
        """Load what the op needs (models, tokenizers, eval sets) before its first batch.

        Executors call it once per process; ``__call__`` calls it before every batch, so
        an override must be idempotent (cheap once loaded). Default: nothing to load.
        """

    def close(self) -> None:
        """Release what ``setup`` loaded (the op loads it again if used later)."""

    def process(self, records: pl.DataFrame) -> OpResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, records: pl.DataFrame) -> OpResult:
        """Run on one shard, time it, and enforce the rows-in = kept + rejected invariant."""
        self.setup()
        start = time.perf_counter()
        result = self.process(records)
        return self.checked(records.height, result, time.perf_counter() - start)

    def checked(self, n_in: int, result: OpResult, elapsed: float) -> OpResult:
        """Enforce rows in = kept + rejected and put the standard stats first: how every
        executor finishes one call of the op (``__call__``, or a distributed step)."""
        n_kept, n_rej = result.kept.height, result.rejected.height
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
        bad = records.filter(mask)
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
