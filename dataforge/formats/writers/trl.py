"""Canonical records -> ``datasets.Dataset`` in the layouts TRL's trainers take.

* ``sft``: ``messages`` (+ ``tools`` as JSON text, which SFTTrainer ``json.loads``)
* ``dpo``: conversational ``prompt`` / ``chosen`` / ``rejected`` (+ ``tools``)
* ``kto``: conversational ``prompt`` / ``completion`` / ``label`` (+ ``tools``)

Message fields no record uses (e.g. ``tool_calls`` in a plain chat set) are dropped so
chat templates do not see keys full of nulls. Tool-call ``arguments`` are objects here
(``datasets.Json``: stored as JSON text, read back as dicts), because chat templates apply
``tojson`` to them: given the JSON *text* the OpenAI API uses, a Qwen2.5-style template
renders ``"arguments": "{\"systolic\": 150}"``, encoded twice. Files in the OpenAI format
keep arguments as text, as that format defines them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ..base import FormatError, capacity_error, get

KINDS = {"sft": "openai", "dpo": "preference", "kto": "kto"}


def _prune(df: pl.DataFrame) -> pl.DataFrame:
    """Drop all-null columns and all-null message fields."""
    out = []
    for name in df.columns:
        col = df[name]
        if col.null_count() == col.len() and name == "tools":
            continue
        dtype = col.dtype
        if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
            flat = col.explode().struct.unnest() if col.len() else None
            keep = [f.name for f in dtype.inner.fields if flat is None or flat[f.name].null_count() < flat.height or f.name in ("role", "content")]
            out.append(pl.col(name).list.eval(pl.struct([pl.element().struct.field(k) for k in keep])).alias(name))
        else:
            out.append(pl.col(name))
    return df.select(out)


def to_trl_dataset(df: pl.DataFrame, kind: str = "sft") -> Any:
    """A ``datasets.Dataset`` ready for TRL's ``SFTTrainer``/``DPOTrainer``/``KTOTrainer``."""
    import datasets

    if kind not in KINDS:
        raise FormatError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    if kind == "sft":
        pairs = df.filter(pl.col("chosen").is_not_null() | pl.col("label").is_not_null())["id"]
        if pairs.len():
            raise capacity_error("trl sft", "preference or KTO records", pairs, "Use kind='dpo' or kind='kto'.")
    enc = get(KINDS[kind]).from_canonical(df, style="conversational")
    dataset = datasets.Dataset(_prune(enc.frame).to_arrow())
    features = _arguments_as_json(dataset.features.copy(), datasets.Json)
    return dataset.cast(features) if features != dataset.features else dataset


def _arguments_as_json(feature: Any, json_type: Any) -> Any:
    """``features`` with every tool call's ``function.arguments`` typed as JSON objects."""
    if isinstance(feature, dict):
        for key, value in feature.items():
            if key == "function" and isinstance(value, dict) and "arguments" in value:
                value["arguments"] = json_type()
            else:
                _arguments_as_json(value, json_type)
    elif hasattr(feature, "feature"):  # List / LargeList / Sequence
        _arguments_as_json(feature.feature, json_type)
    return feature
