"""template.lint: render every record with the model's chat template and reject what breaks.

Why: a record that looks fine as JSON can still train badly once rendered. This op catches,
per record, with a precise reason:

* ``invalid_tools_json`` / ``invalid_tool_call_arguments``: ``tools`` or a tool call's
  arguments are not valid JSON (LLaMA-Factory's "invalid tools JSON" failure);
* ``special_token_in_content``: a special or added token string (``<|im_end|>``...) inside
  a message: it would tokenize as a control token and cut the turn short;
* ``template_render_error``: the template raises (e.g. it refuses a system turn);
* ``tools_not_rendered``: the record offers tools or makes tool calls the rendering does
  not contain (the template cannot express them);
* ``missing_eos``: an assistant turn is not followed by the end-of-turn token, the cause of
  endless repetition after training;
* ``empty_assistant_mask``: no assistant token falls under ``{% generation %}`` (checked
  when the template has markers, or with ``patch_template: true``);
* ``too_long``: more tokens than ``max_seq_len`` (``on_overflow: drop``); ``truncate``
  drops trailing turns until the record fits and ends on an assistant turn; ``keep`` only
  counts. Lengths go into a histogram in the stats.

A template without generation markers is a template problem, not a data problem: the op
reports it once in its stats with a patched template (proved byte-identical on the data)
instead of rejecting every row. A preference record is rendered twice (prompt + chosen,
prompt + rejected); it fails if either rendering fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field

from .. import chat_template as ct
from ..chat_template.checks import (
    conversation_views, conversion_check, convert_views, double_encoding_check, eos_check, mask_check,
    no_failures, render_check, special_token_check, tools_check,
)
from ..models import DEFAULT_CAUSAL_LM
from ..schemas.record import COLUMNS
from .base import Operator, OpConfig, OpResult, register_op

#: Reasons in priority order: a record failing several checks is rejected for the first.
REASONS = (
    "invalid_tools_json", "invalid_tool_call_arguments", "special_token_in_content",
    "template_render_error", "tools_not_rendered", "double_encoded_json", "missing_eos", "empty_assistant_mask",
    "too_long",
)
_ID_CAP = 50


@dataclass
class _Setup:
    """What the op decides once: tokenizer, which template renders, what gets checked."""

    tokenizer: Any
    original: str | None
    patched: str | None
    patch_error: str | None
    has_markers: bool
    render_template: str | None
    check_mask: bool
    eos: str
    specials: list[str]
    reported: bool = False


@register_op
class TemplateLint(Operator):
    """Render each record with the model's chat template; reject what would train badly.

    Reasons, first match wins: ``invalid_tools_json``, ``invalid_tool_call_arguments``,
    ``special_token_in_content``, ``template_render_error``, ``tools_not_rendered``,
    ``double_encoded_json`` (JSON rendered as an escaped string: arguments encoded twice),
    ``missing_eos``, ``empty_assistant_mask`` (template with markers, or
    ``patch_template: true``), ``too_long``. A template without ``{% generation %}``
    markers is reported once in the stats with a patched template (checked byte-identical on
    the data). Stats carry a histogram of rendered token lengths.
    """

    name = "template.lint"

    class Config(OpConfig):
        model: str = Field(DEFAULT_CAUSAL_LM, description="tokenizer: alias, local folder or hub id")
        chat_template: str | None = Field(
            None, description="template text or path to a .jinja file, instead of the tokenizer's"
        )
        max_seq_len: int = Field(2048, gt=0, description="most tokens a rendered record may have")
        on_overflow: Literal["drop", "truncate", "keep"] = Field(
            "drop", description="too long: reject, drop trailing turns to fit, or keep and count"
        )
        patch_template: bool = Field(
            False, description="add {% generation %} markers to a ChatML template that lacks them"
        )
        eos_token: str | None = Field(
            None, description="end-of-turn token expected after assistant turns (default: tokenizer EOS)"
        )
        batch_size: int = Field(256, gt=0, description="records rendered and tokenized per batch")

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self._setup: _Setup | None = None

    # -- template set-up (once per op) -------------------------------------------------------

    def setup(self) -> None:
        """Load the tokenizer and settle the template (see ``_template_setup``)."""
        self._template_setup()

    def close(self) -> None:
        self._setup = None

    def _template_setup(self) -> _Setup:
        """Load the tokenizer and decide which template renders (original or patched)."""
        if self._setup is not None:
            return self._setup
        cfg = self.config
        tokenizer = ct.load_tokenizer(cfg.model)
        template = cfg.chat_template
        if template is not None and "{" not in template and Path(template).is_file():
            template = Path(template).read_text(encoding="utf-8")
        template = template if template is not None else tokenizer.chat_template
        has_markers = template is not None and ct.has_generation_markers(template)
        patched, patch_error = None, None
        if template is not None and not has_markers:
            try:
                patched = ct.patch_generation_markers(template, end_token=cfg.eos_token or tokenizer.eos_token)
            except ct.TemplatePatchError as exc:
                patch_error = str(exc)
        self._setup = _Setup(
            tokenizer=tokenizer,
            original=template,
            patched=patched,
            patch_error=patch_error,
            has_markers=has_markers,
            render_template=patched if (cfg.patch_template and patched) else template,
            check_mask=has_markers or bool(cfg.patch_template and patched),
            eos=cfg.eos_token or tokenizer.eos_token,
            specials=ct.special_token_strings(tokenizer),
        )
        return self._setup

    # -- the op ------------------------------------------------------------------------------

    def process(self, records: pl.DataFrame) -> OpResult:
        setup = self._template_setup()
        frame = records.with_row_index("_row")
        checks = [special_token_check(frame, setup.specials)]
        views = conversation_views(frame)
        convs, conv_errors, tools = convert_views(views)
        rendered = self._render_views(views, convs, conv_errors, tools, setup)
        checks += [
            conversion_check(rendered),
            render_check(rendered),
            tools_check(rendered, tools),
            double_encoding_check(rendered),
            eos_check(rendered, setup.eos),
        ]
        if setup.check_mask:
            checks.append(mask_check(rendered))
        lengths = rendered.group_by("_row").agg(pl.col("_tokens").max().alias("_tokens"))
        frame = frame.join(lengths, on="_row", how="left", maintain_order="left")
        stats = self._length_stats(frame)
        frame, overflow = self._overflow(frame, convs, views, tools, setup, stats)
        checks.append(overflow)
        stats.update(self._template_report(setup, convs, rendered))
        return _partition(self, frame, checks, stats)

    def _render_views(
        self, views: pl.DataFrame, convs: list[Any], conv_errors: list[str | None],
        tools: dict[str, list[dict[str, Any]] | None], setup: _Setup,
    ) -> pl.DataFrame:
        """Render and tokenize every view, batched per (tools, generation prompt) group."""
        tokenizer = setup.tokenizer
        n = views.height
        texts: list[str | None] = [None] * n
        errors: list[str | None] = list(conv_errors)
        has_span = [False] * n
        same = [True] * n  # patched template in use: renders like the original?
        patched = setup.render_template is not setup.original
        groups = (
            views.filter(pl.Series(conv_errors, dtype=pl.String).is_null())
            .group_by(["tools", "_prompt_only"], maintain_order=True)
            .agg("_view_id")
        )
        for tools_text, prompt_only, idx in groups.iter_rows():
            for start in range(0, len(idx), self.config.batch_size):
                batch = idx[start : start + self.config.batch_size]
                out = ct.render(
                    tokenizer, [convs[i] for i in batch], template=setup.render_template,
                    tools=tools.get(tools_text) if tools_text is not None else None,
                    add_generation_prompt=prompt_only, with_spans=setup.check_mask,
                )
                for i, text, err, spans in zip(batch, out.texts, out.errors, out.spans):
                    texts[i], errors[i] = text, err
                    has_span[i] = any(e > s for s, e in spans)
                if patched:
                    before = ct.render(
                        tokenizer, [convs[i] for i in batch], template=setup.original,
                        tools=tools.get(tools_text) if tools_text is not None else None,
                        add_generation_prompt=prompt_only,
                    )
                    for i, text in zip(batch, before.texts):
                        same[i] = text is None or text == texts[i]
        ok = [i for i, t in enumerate(texts) if t is not None]
        n_tokens: list[int | None] = [None] * n
        for start in range(0, len(ok), self.config.batch_size):
            batch = ok[start : start + self.config.batch_size]
            ids = tokenizer([texts[i] for i in batch], add_special_tokens=False)["input_ids"]
            for i, seq in zip(batch, ids):
                n_tokens[i] = len(seq)
        return views.with_columns(
            pl.Series("_text", texts, dtype=pl.String),
            pl.Series("_error", errors, dtype=pl.String),
            pl.Series("_tokens", n_tokens, dtype=pl.Int64),
            pl.Series("_has_span", has_span, dtype=pl.Boolean),
            pl.Series("_same", same, dtype=pl.Boolean),
        )

    def _length_stats(self, frame: pl.DataFrame) -> dict[str, Any]:
        """Histogram of rendered lengths (power-of-two bins up to max_seq_len, then over)."""
        max_len = self.config.max_seq_len
        lengths = frame["_tokens"].drop_nulls().to_numpy()
        edges = [e for e in (2 ** k for k in range(5, 31)) if e < max_len] + [max_len]
        labels = [f"<={e}" for e in edges] + [f">{max_len}"]
        counts = np.bincount(np.searchsorted(edges, lengths, side="left"), minlength=len(labels))
        return {
            "tokens_histogram": {lab: int(c) for lab, c in zip(labels, counts)},
            "tokens_max": int(lengths.max()) if lengths.size else 0,
            "tokens_total": int(lengths.sum()),
            "records_measured": int(lengths.size),
        }

    def _overflow(
        self, frame: pl.DataFrame, convs: list[Any], views: pl.DataFrame,
        tools: dict[str, Any], setup: _Setup, stats: dict[str, Any],
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Apply ``on_overflow``: the too_long check, and ``_keep_n`` (turns to keep) for
        records ``truncate`` can shorten (applied to kept rows only, in ``_partition``)."""
        max_len = self.config.max_seq_len
        over = pl.col("_tokens") > max_len
        mode = self.config.on_overflow
        if mode == "keep":
            stats["overflow_kept"] = frame.filter(over).height
            return frame, no_failures()
        detail = pl.format("{} tokens > max_seq_len " + str(max_len), pl.col("_tokens"))
        if mode == "drop":
            return frame, frame.filter(over).select(
                "_row", pl.lit("too_long").alias("_reason"), detail.alias("_detail"),
                pl.lit(None, dtype=pl.String).alias("_field"),
            )
        keep_n = _truncation_points(self, frame.filter(over), convs, views, tools, setup)
        frame = frame.join(keep_n, on="_row", how="left", maintain_order="left")
        failed = frame.filter(over & pl.col("_keep_n").is_null()).select(
            "_row", pl.lit("too_long").alias("_reason"),
            pl.concat_str(
                detail,
                pl.when(pl.col("chosen").is_not_null() | pl.col("rejected").is_not_null() | pl.col("label").is_not_null())
                .then(pl.lit("; preference/KTO records are not truncated"))
                .otherwise(pl.lit("; no prefix ending on an assistant turn fits")),
            ).alias("_detail"),
            pl.lit(None, dtype=pl.String).alias("_field"),
        )
        return frame, failed

    def _template_report(
        self, setup: _Setup, convs: list[Any], rendered: pl.DataFrame
    ) -> dict[str, Any]:
        """Template-level findings. The diagnosis is reported on the first shard only (stats
        of later shards are merged into it); in patch mode every shard counts the records
        the patched template renders differently from the original."""
        report: dict[str, Any] = {}
        ok = rendered.filter(pl.col("_text").is_not_null())
        if setup.patched is not None and self.config.patch_template:
            report["patch_checked"] = ok.height
            differ = ok.filter(~pl.col("_same"))["id"].unique(maintain_order=True)
            report["patch_mismatched"] = differ.len()
            report["patch_mismatched_ids"] = differ.head(_ID_CAP).to_list()
        elif setup.patched is not None and not setup.reported:
            # offer the patch with proof: identical rendering + non-empty mask on this shard
            sample = [convs[i] for i in ok["_view_id"]]
            check = ct.verify_patch(setup.tokenizer, setup.original, setup.patched, sample)
            report["patch_checked"] = check.checked
            report["patch_mismatched"] = len(check.mismatched)
            report["patch_empty_mask"] = len(check.empty_mask)
        if setup.reported:
            return report
        setup.reported = True
        report["template_has_generation_markers"] = setup.has_markers
        if setup.original is None:
            report["template_report"] = "the tokenizer has no chat template; every record fails to render"
        elif setup.has_markers:
            report["template_report"] = "template has {% generation %} markers; assistant masks checked per record"
        elif setup.patched is None:
            report["template_report"] = (
                "template has no {% generation %} markers, so the assistant-only loss mask is empty "
                f"for every record, and it cannot be patched automatically: {setup.patch_error}"
            )
        else:
            missing = (
                "template has no {% generation %} markers, so the assistant-only loss mask is empty for "
                "every record (TRL's assistant_only_loss refuses it). "
            )
            if self.config.patch_template:
                report["template_report"] = missing + (
                    "The patched template (stats.patched_template) is in use: every record is checked for "
                    "an identical rendering (patch_mismatched) and a non-empty assistant mask."
                )
            else:
                n = report["patch_checked"]
                if report["patch_mismatched"] == 0 and report["patch_empty_mask"] == 0:
                    verdict = (f"renders the {n} records of the first shard byte-identically with a non-empty "
                               "assistant mask; set patch_template: true to use it.")
                else:
                    verdict = (f"was checked on {n} records of the first shard and does NOT render like the "
                               "original or leaves masks empty (patch_mismatched, patch_empty_mask): fix it by hand.")
                report["template_report"] = missing + "A patched template (stats.patched_template) " + verdict
            report["patched_template"] = setup.patched
        return report


def _truncation_points(
    op: TemplateLint, over: pl.DataFrame, convs: list[Any], views: pl.DataFrame,
    tools: dict[str, Any], setup: _Setup,
) -> pl.DataFrame:
    """For over-long plain SFT records: the longest prefix ending on an assistant turn that fits.

    Candidates are rendered and tokenized in one batch per tool set; returns (_row, _keep_n)
    for records that can be truncated (preference/KTO records cannot: their label or
    continuation is about the end of the conversation).
    """
    plain = over.filter(
        pl.col("chosen").is_null() & pl.col("rejected").is_null() & pl.col("label").is_null()
    )
    cands = (
        plain.select(
            "_row", "tools", pl.col("messages").list.len().alias("_n"),
            pl.col("messages").list.eval(pl.element().struct.field("role")).alias("_role"),
        )
        .with_columns(pl.int_ranges(pl.col("_n")).alias("_i"))
        .explode("_role", "_i")
        .filter((pl.col("_role") == "assistant") & (pl.col("_i") + 1 < pl.col("_n")))
        .with_columns((pl.col("_i") + 1).alias("_keep_n"))
    )
    measured = []
    if cands.height:
        view_of_row = dict(zip(views["_row"].to_list(), views["_view_id"].to_list()))
        tokenizer = setup.tokenizer
        for (tools_text,), group in cands.group_by(["tools"], maintain_order=True):
            rows, keep = group["_row"].to_list(), group["_keep_n"].to_list()
            out = ct.render(
                tokenizer, [convs[view_of_row[r]][:k] for r, k in zip(rows, keep)],
                template=setup.render_template,
                tools=tools.get(tools_text) if tools_text is not None else None,
            )
            ids = tokenizer([t or "" for t in out.texts], add_special_tokens=False)["input_ids"]
            measured += [
                (r, k, len(x)) for r, k, x, t in zip(rows, keep, ids, out.texts) if t is not None
            ]
    schema = {"_row": pl.UInt32, "_keep_n": pl.Int64, "_len": pl.Int64}
    return (
        pl.DataFrame(measured, schema=schema, orient="row")
        .filter(pl.col("_len") <= op.config.max_seq_len)
        .group_by("_row")
        .agg(pl.col("_keep_n").max())
    )


# -- assemble ---------------------------------------------------------------------------------


def _partition(
    op: TemplateLint, frame: pl.DataFrame, checks: list[pl.DataFrame], stats: dict[str, Any]
) -> OpResult:
    """One verdict per record: the highest-priority failing check wins."""
    priority = {r: i for i, r in enumerate(REASONS)}
    failures = pl.concat([c.cast({"_row": pl.UInt32}) for c in checks], how="vertical")
    verdict = (
        failures.with_columns(pl.col("_reason").replace_strict(priority, return_dtype=pl.Int32).alias("_p"))
        .sort("_p", "_row")
        .group_by("_row", maintain_order=True)
        .agg(pl.all().first(), pl.col("_reason").n_unique().alias("_n"))
    )
    frame = frame.join(verdict, on="_row", how="left", maintain_order="left")
    result = op.split(
        frame, pl.col("_reason").is_not_null(), reason=pl.col("_reason"), field=pl.col("_field"),
        detail=pl.when(pl.col("_n") > 1)
        .then(pl.format("{} (and {} other check(s) failed)", pl.col("_detail"), pl.col("_n") - 1))
        .otherwise(pl.col("_detail")),
        stats=stats,
    )
    kept = result.kept
    if "_keep_n" in kept.columns:  # on_overflow: truncate; rejected rows stay as they came
        truncated = kept.filter(pl.col("_keep_n").is_not_null())
        result.stats["truncated"] = truncated.height
        result.stats["truncated_ids"] = truncated["id"].head(_ID_CAP).to_list()
        kept = kept.with_columns(
            pl.when(pl.col("_keep_n").is_not_null())
            .then(pl.col("messages").list.slice(0, pl.col("_keep_n")))
            .otherwise(pl.col("messages"))
        )
    result.kept = kept.select(COLUMNS)
    return result
