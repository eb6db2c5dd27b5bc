"""Per-record checks over chat-template renderings, free of the op machinery.

The ``template.lint`` op runs them; a trainer back end can run the same checks before it
trains (an empty assistant-only mask, a missing end-of-turn token or a tool the template
drops all train badly without an error). They work column-wise on frames:

* :func:`conversation_views` turns records (``_row``, ``id``, ``tools``, ``messages``, ``chosen``,
  ``rejected``) into one conversation per rendering (``_conv``, ``_view``, ``_n_prompt``,
  ``_prompt_only``, ``_view_id``): prompt + chosen and prompt + rejected for preference
  records, else the messages;
* :func:`convert_views` makes them template-ready (:func:`~.render.to_hf_conversation`);
* the caller renders them (:func:`~.render.render`) and adds ``_text``, ``_error``,
  ``_tokens``, ``_has_span`` columns;
* each ``*_check`` returns ``(_row, _reason, _detail, _field)`` for the records that fail,
  one row per record; reasons are the ``template.lint`` reason codes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from ..schemas.exprs import MESSAGE_LISTS, conversation_text, turn_texts
from .render import to_hf_conversation


# -- views: one rendering per record, two per preference record --------------------------------


def conversation_views(frame: pl.DataFrame) -> pl.DataFrame:
    """(record, conversation) pairs to render: prompt + chosen / rejected, else messages."""
    pref = pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null()
    base = ["_row", "id", "tools", pl.col("messages").list.len().alias("_n_prompt")]
    parts = [
        frame.filter(~pref).select(*base, pl.col("messages").alias("_conv"), pl.lit("messages").alias("_view")),
        *(
            frame.filter(pl.col(c).is_not_null()).select(
                *base, pl.concat_list("messages", c).alias("_conv"), pl.lit(c).alias("_view")
            )
            for c in ("chosen", "rejected")
        ),
    ]
    views = pl.concat(parts, how="vertical")
    last_role = pl.col("_conv").list.eval(pl.element().struct.field("role")).list.last()
    return views.with_columns((last_role != "assistant").fill_null(True).alias("_prompt_only")).with_row_index("_view_id")


def parse_tools(text: str) -> list[dict[str, Any]] | None:
    """A ``tools`` value as a list of function schemas, or None when it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(t, dict) for t in value) else None


def convert_views(
    views: pl.DataFrame,
) -> tuple[list[Any], list[str | None], dict[str, list[dict[str, Any]] | None]]:
    """Views -> template-ready conversations, conversion errors, parsed ``tools`` by text.

    Python per message (rendering is per record by nature); ``tools`` is parsed once per
    distinct value, since a dataset usually offers the same few tool sets.
    """
    tools = {t: parse_tools(t) for t in views["tools"].drop_nulls().unique().to_list()}
    convs: list[Any] = []
    errors: list[str | None] = []
    for msgs, tools_text in zip(views["_conv"].to_list(), views["tools"].to_list()):
        error = None
        if tools_text is not None and tools[tools_text] is None:
            error = "invalid_tools_json: `tools` is not a JSON array of function schemas"
        try:
            convs.append(to_hf_conversation(msgs))
        except ValueError as exc:
            convs.append([])
            error = error or f"invalid_tool_call_arguments: {exc}"
        errors.append(error)
    return convs, errors, tools


# -- checks: each returns (_row, _reason, _detail, _field) for failing records ---------------


def no_failures() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"_row": pl.UInt32, "_reason": pl.String, "_detail": pl.String, "_field": pl.String}
    )


def _first_per_row(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by("_row", maintain_order=True).first().select("_row", "_reason", "_detail", "_field")


def special_token_check(frame: pl.DataFrame, specials: list[str]) -> pl.DataFrame:
    """Which records carry a special/added token string in any message content (vectorized)."""
    if not specials:
        return no_failures()
    parts = []
    for column in MESSAGE_LISTS:
        hits = turn_texts(column).list.eval(pl.element().str.contains_any(specials))
        text = conversation_text(column)
        parts.append(
            frame.filter(hits.list.any().fill_null(False)).select(
                "_row",
                pl.lit("special_token_in_content").alias("_reason"),
                pl.format(
                    "content contains the special token {}; it would tokenize as a control token",
                    text.str.extract_many(specials).list.first(),
                ).alias("_detail"),
                pl.format(f"{column}[{{}}].content", hits.list.arg_max()).alias("_field"),
            )
        )
    return _first_per_row(pl.concat(parts, how="vertical").sort("_row", maintain_order=True))


def conversion_check(rendered: pl.DataFrame) -> pl.DataFrame:
    """invalid tools JSON / tool-call arguments (found while converting, before rendering)."""
    bad = rendered.filter(pl.col("_error").str.starts_with("invalid_"))
    reason = pl.col("_error").str.extract(r"^(\w+): ", 1)
    return _first_per_row(
        bad.select(
            "_row", reason.alias("_reason"),
            pl.col("_error").str.replace(r"^\w+: ", "").alias("_detail"),
            pl.when(reason == "invalid_tools_json").then(pl.lit("tools"))
            .otherwise(pl.col("_error").str.extract(r"(messages\[\d+\]\.tool_calls\[\d+\]\.arguments)", 1))
            .alias("_field"),
        )
    )


def render_check(rendered: pl.DataFrame) -> pl.DataFrame:
    bad = rendered.filter(pl.col("_error").is_not_null() & ~pl.col("_error").str.starts_with("invalid_"))
    return _first_per_row(
        bad.select(
            "_row", pl.lit("template_render_error").alias("_reason"),
            pl.format("chat template raised {}", pl.col("_error")).alias("_detail"),
            pl.lit(None, dtype=pl.String).alias("_field"),
        )
    )


def tools_check(rendered: pl.DataFrame, tools: dict[str, Any]) -> pl.DataFrame:
    """Offered tools and tool calls must appear (by function name) in the rendering."""
    ok = rendered.filter(pl.col("_text").is_not_null())
    names_of = pl.DataFrame(
        {
            "tools": list(tools),
            "_name": [[(t.get("function") or t).get("name") for t in v or []] for v in tools.values()],
        },
        schema={"tools": pl.String, "_name": pl.List(pl.String)},
    )
    offered = ok.join(names_of, on="tools", how="inner").select(
        "_row", "_text", "_name", pl.lit("tools").alias("_field"), pl.lit("offered tool").alias("_what"),
    )
    called = ok.select(
        "_row", "_text",
        pl.col("_conv").list.eval(
            pl.element().struct.field("tool_calls").list.eval(pl.element().struct.field("name")).explode()
        ).alias("_name"),
        pl.lit("messages.tool_calls").alias("_field"), pl.lit("tool call").alias("_what"),
    )
    names = pl.concat([offered, called], how="vertical").explode("_name").drop_nulls("_name")
    missing = names.filter(~pl.col("_text").str.contains(pl.col("_name"), literal=True))
    return _first_per_row(
        missing.select(
            "_row", pl.lit("tools_not_rendered").alias("_reason"),
            pl.format("the chat template dropped {} `{}`: it cannot express tools", pl.col("_what"), pl.col("_name")).alias("_detail"),
            "_field",
        )
    )


#: a JSON object or array written as a JSON *string* (``"{\"a\": 1}"``): what a template
#: renders when it applies ``tojson`` to arguments that are already JSON text
_DOUBLE_ENCODED = r'"[\[{]\s*\\"'


def double_encoding_check(rendered: pl.DataFrame) -> pl.DataFrame:
    """JSON rendered as a quoted, escaped string (tool-call arguments encoded twice)."""
    ok = rendered.filter(pl.col("_text").is_not_null())
    bad = ok.filter(pl.col("_text").str.contains(_DOUBLE_ENCODED))
    return _first_per_row(
        bad.select(
            "_row", pl.lit("double_encoded_json").alias("_reason"),
            pl.format(
                "the rendering holds JSON as an escaped string ({}...): tool-call arguments were "
                "encoded twice (JSON text of JSON text), the model would learn to emit strings",
                pl.col("_text").str.extract(r'("[\[{]\s*\\"[^\n]{0,40})', 1),
            ).alias("_detail"),
            pl.lit("messages.tool_calls").alias("_field"),
        )
    )


def eos_check(rendered: pl.DataFrame, eos: str) -> pl.DataFrame:
    """Each assistant turn's text must be followed (after whitespace) by the EOS token."""
    turns = (
        rendered.filter(pl.col("_text").is_not_null())
        .select("_row", "_text", "_view", "_n_prompt", pl.col("_conv").alias("_turn"))
        .with_columns(pl.int_ranges(pl.col("_turn").list.len()).alias("_idx"))
        .explode("_turn", "_idx")
        .filter(pl.col("_turn").struct.field("role") == "assistant")
        .with_columns(pl.col("_turn").struct.field("content").fill_null("").str.strip_chars().alias("_c"))
        .filter(pl.col("_c") != "")
    )
    pattern = pl.concat_str(pl.col("_c").str.escape_regex(), pl.lit(r"\s*" + re.escape(eos)))
    missing = turns.filter(~pl.col("_text").str.contains(pattern))
    return _first_per_row(
        missing.select(
            "_row", pl.lit("missing_eos").alias("_reason"),
            pl.lit(f"the rendering has no {eos} after this assistant turn: the model would not learn to stop").alias("_detail"),
            pl.when(pl.col("_idx") < pl.col("_n_prompt"))
            .then(pl.format("messages[{}].content", pl.col("_idx")))
            .otherwise(pl.format("{}[{}].content", pl.col("_view"), pl.col("_idx") - pl.col("_n_prompt")))
            .alias("_field"),
        )
    )


def mask_check(rendered: pl.DataFrame) -> pl.DataFrame:
    has_assistant = pl.col("_conv").list.eval(pl.element().struct.field("role") == "assistant").list.any()
    bad = rendered.filter(pl.col("_text").is_not_null() & has_assistant & ~pl.col("_has_span"))
    return _first_per_row(
        bad.select(
            "_row", pl.lit("empty_assistant_mask").alias("_reason"),
            pl.lit("no assistant token falls inside {% generation %}: assistant-only loss would train on nothing").alias("_detail"),
            pl.lit(None, dtype=pl.String).alias("_field"),
        )
    )
