"""filter.placeholders: reject records with leftover template placeholders."""

from __future__ import annotations

import polars as pl
from pydantic import Field, field_validator

from ...text import strip_code
from ..base import Operator, OpConfig, OpResult, register_op
from ._common import Role, ListName, explode_turns, turn_label, turn_field, first_per_row, reject, found_rows


#: Built-in placeholder patterns (Rust regex syntax, as polars uses), by name.
PLACEHOLDER_PATTERNS: dict[str, str] = {
    # {{name}}, {{ user.name }}, {{姓名}}: mustache / Jinja variables.
    "mustache": r"\{\{\s*[\p{L}_][\p{L}\p{N}_.\-]*\s*\}\}",
    # [Insert name], [Your Name], [enter date], [TODO], [placeholder: ...]
    "bracket_en": r"\[(?i:insert|enter|add|your|placeholder|todo|tbd|fill in)\b[^\]\n]{0,80}\]",
    # <YOUR_API_KEY>, <FIRST_NAME>, <PLACEHOLDER>, <NAME>
    "angle_caps": r"<(?:[A-Z][A-Z0-9]*_)+[A-Z0-9]+>|<(?:PLACEHOLDER|INSERT[^>\n]{0,60}|NAME|DATE|TODO)>",
    # 【插入公司名称】, [您的姓名], [请输入地址]
    "bracket_zh": r"[【\[](?:插入|填写|填入|输入|请输入|你的|您的|此处)[^】\]\n]{0,40}[】\]]",
    # {name}: Python str.format fields. Off by default: LaTeX (\frac{a}{b}) and code are full of them.
    "format_brace": r"\{[A-Za-z_][A-Za-z0-9_]*\}",
}
DEFAULT_PLACEHOLDERS = ["mustache", "bracket_en", "angle_caps", "bracket_zh"]
#: Markdown links and images: "[Your account](https://...)" is link text, not a placeholder.
_MARKDOWN_LINK = r"!?\[[^\]\n]*\]\([^)\n]*\)"


@register_op
class PlaceholderFilter(Operator):
    """Reject records with leftover template placeholders ({{name}}, [Insert name], <YOUR_KEY>)."""

    name = "filter.placeholders"

    class Config(OpConfig):
        patterns: list[str] = Field(
            DEFAULT_PLACEHOLDERS,
            description=f"built-in pattern names ({', '.join(PLACEHOLDER_PATTERNS)}) or regexes (Rust syntax)",
        )
        ignore_code: bool = Field(True, description="skip fenced/inline code, where braces are syntax")
        roles: list[Role] = Field(
            ["system", "user", "assistant"], description="roles checked (tool results are machine output)"
        )
        columns: list[ListName] = Field(["messages", "chosen"], description="message lists checked")

        @field_validator("patterns")
        @classmethod
        def _compiles(cls, patterns: list[str]) -> list[str]:
            for p in patterns:
                try:
                    pl.Series([""]).str.contains(PLACEHOLDER_PATTERNS.get(p, p))
                except pl.exceptions.ComputeError as exc:
                    raise ValueError(f"pattern {p!r} is not a valid regex: {exc}") from exc
            return patterns

    def process(self, records: pl.DataFrame) -> OpResult:
        cfg = self.config
        combined = "|".join(f"(?:{PLACEHOLDER_PATTERNS.get(p, p)})" for p in cfg.patterns)
        turns = explode_turns(records, cfg.columns).filter(pl.col("role").is_in(cfg.roles))
        text = pl.col("content").fill_null("").str.replace_all(_MARKDOWN_LINK, " ")
        if cfg.ignore_code:
            text = strip_code(text)
        hits = turns.with_columns(text.str.extract(f"({combined})", 1).alias("hit")).filter(
            pl.col("hit").is_not_null()
        )
        found = found_rows(
            hits, "placeholder", pl.format("{} has leftover placeholder '{}'", turn_label(), pl.col("hit")),
            turn_field(),
        )
        return reject(self, records, first_per_row(found), {"turns_with_placeholders": hits.height})
