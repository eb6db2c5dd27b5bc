"""The adapter contract and the registry of formats.

A :class:`Format` knows one external layout. It never touches files: readers hand it a
polars frame of the raw rows (typed by its :class:`Plan`), writers take back a frame of
output columns. Everything it does is column expressions, so adding a format means
writing three expressions-heavy methods, not a row loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import polars as pl
import pyarrow as pa

from ..errors import UserError
from ..registry import Registry


class FormatError(UserError, ValueError):
    """A file or table cannot be read or written in the requested format."""


@dataclass
class Sample:
    """The first rows of a file as Python objects: what detection and planning look at."""

    rows: list[dict[str, Any]]

    @property
    def keys(self) -> set[str]:
        return {k for r in self.rows for k in r}

    @property
    def present(self) -> set[str]:
        """Keys with at least one non-null value (what detection goes by)."""
        return {k for k in self.keys if self.values(k)}

    def values(self, key: str) -> list[Any]:
        return [r[key] for r in self.rows if r.get(key) is not None]

    def kind(self, key: str) -> str | None:
        """``str``/``list``/``dict``/``bool``/``number`` of the first non-null value."""
        for v in self.values(key):
            return json_kind(v)
        return None

    def item_keys(self, key: str) -> set[str]:
        """Keys of the objects inside a list-of-objects (or single object) field."""
        out: set[str] = set()
        for v in self.values(key):
            items = v if isinstance(v, list) else [v]
            out.update(k for it in items if isinstance(it, dict) for k in it)
        return out

    def item_values(self, key: str, item_key: str) -> set[Any]:
        """Values of ``item_key`` in the objects of a list-of-objects field (e.g. roles)."""
        return {it.get(item_key) for v in self.values(key) if isinstance(v, list) for it in v if isinstance(it, dict)}


def json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "dict"
    return "null"


@dataclass
class Plan:
    """How to read one file in one format.

    ``schema`` types the columns the format understands (everything else is an extra
    column that goes to ``meta``); ``json_text`` lists paths whose values are JSON text in
    the canonical record and may arrive as objects/arrays (they are serialized on the slow
    path); ``variant`` names a sub-layout (``"conversational"``, ``"standard"``...).
    """

    format: str
    schema: pa.Schema
    variant: str = ""
    json_text: tuple[tuple[str, ...], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)


@dataclass
class Encoded:
    """A canonical frame rendered in an external format, ready for a writer.

    ``frame`` holds the output columns in order; ``json_columns`` are columns that already
    hold JSON text and go into JSON output unquoted (e.g. OpenAI ``tools``).
    """

    frame: pl.DataFrame
    json_columns: frozenset[str] = frozenset()


class Format:
    """Base class of the adapters; ``@register_format`` registers one by ``name``."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: columns that give the format away, for docs and ambiguity messages
    detection_keys: ClassVar[str] = ""
    #: True when the output frame already carries id/source/meta (the canonical format);
    #: otherwise writers add ids that are not content hashes and spread ``meta`` keys
    carries_record_fields: ClassVar[bool] = False

    # -- reading ---------------------------------------------------------------------
    def detect(self, sample: Sample) -> bool:
        """True when the sample rows look like this format."""
        raise NotImplementedError

    def plan(self, sample: Sample) -> Plan:
        """The typed columns to read (the sample picks the variant)."""
        raise NotImplementedError

    def to_canonical(self, raw: pl.DataFrame, plan: Plan) -> pl.DataFrame:
        """Raw frame -> frame with ``messages, tools, chosen, rejected, label``.

        May add boolean ``_bad_tools`` / ``_missing_label`` columns for the validator.
        Rows stay aligned with ``raw`` (never filtered here).
        """
        raise NotImplementedError

    def locate(self, raw: dict[str, Any], plan: Plan, column: str, index: int | None, part: str) -> str:
        """Path in the *raw* row of canonical ``column[index].part`` (for reject details)."""
        if index is None:
            return column
        return f"{column}[{index}].{part}"

    # -- writing ---------------------------------------------------------------------
    def from_canonical(self, df: pl.DataFrame, **options: Any) -> Encoded:
        """Canonical frame -> output columns; raise :class:`FormatError` for rows the
        format cannot hold (never drop their content silently)."""
        raise NotImplementedError

    def unheld_fields(self, **options: Any) -> tuple[str, ...]:
        """Message fields this layout has no place for and leaves out when writing
        (``name``, ``tool_call_id``, ``tool_calls.id``): writers count the records that
        lose them and warn, so the loss is never silent."""
        return ()

    def consumed(self, plan: Plan) -> set[str]:
        """Raw columns this format turns into canonical fields (others go to meta)."""
        return set(plan.columns)


#: every format adapter (an instance per format): built-ins in ``dataforge.formats.adapters``,
#: plug-ins under the ``posttrain.formats`` entry-point group
FORMATS: Registry[Format] = Registry("format", group="posttrain.formats", packages=("dataforge.formats.adapters",))


def register_format(cls: type[Format]) -> type[Format]:
    """Class decorator: register one instance of the adapter under ``cls.name``."""
    FORMATS.add(cls.name, cls())
    return cls


def get(name: str) -> Format:
    return FORMATS.get(name)


def all_formats() -> dict[str, Format]:
    return FORMATS.items()


def builtin_formats() -> dict[str, Format]:
    """The formats of ``dataforge.formats.adapters`` (no scan for plug-ins)."""
    return FORMATS.builtin_items()


def capacity_error(fmt: str, what: str, ids: pl.Series, hint: str) -> FormatError:
    """The error a writer raises for records its format cannot hold."""
    shown = ", ".join(str(i) for i in ids.head(3).to_list())
    return FormatError(
        f"{fmt} cannot hold {what}: {ids.len()} record(s), e.g. id {shown}. {hint}"
    )
