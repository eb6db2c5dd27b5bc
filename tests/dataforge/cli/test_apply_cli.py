"""``dataforge apply`` / ``dataforge ops`` end to end, on real files and the real ops.

The headline test runs the shipped messy sample (recipes/data/messy.jsonl) through the
cleaning chain: exactly the clean rows survive, every planted PII item is masked, and
every removed row sits in rejected/ with its stage and reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands
from dataforge.cli.ops import ops_markdown
from dataforge.formats.api import iter_load
from dataforge.ops.chain import apply
from dataforge.rejects import read_rejected, rejected_folder

REPO = Path(__file__).resolve().parents[3]
MESSY = REPO / "recipes" / "data" / "messy.jsonl"
MESSY_EVAL = REPO / "recipes" / "data" / "messy_eval.jsonl"

CHAIN = [
    "normalize", "filter.role_order", "filter.empty_turns", "filter.placeholders",
    "dedup.exact", "dedup.near:threshold=0.7", f"decontaminate:eval_set={MESSY_EVAL}",
    "template.lint:max_seq_len=512", "pii.mask",
]
CLEAN = [
    "clean-en-sleep", "clean-en-interest", "clean-en-python", "clean-en-travel",
    "clean-zh-sleep", "clean-zh-interest", "clean-zh-books", "clean-zh-multiturn",
]
WITH_PII = ["pii-en-contact", "pii-en-card", "pii-zh-contact", "pii-zh-id"]
PLANTED_PII = {
    "john.smith@example.com": "<EMAIL>", "(415) 555-0134": "<PHONE>", "4111 1111 1111 1111": "<CREDIT_CARD>",
    "203.0.113.42": "<IP>", "13812345678": "<PHONE>", "zhangwei@example.cn": "<EMAIL>",
    "11010519491231002X": "<ID_CARD>", "6222021234567890128": "<BANK_CARD>",
}
#: id -> (stage, reason) for every row the chain must remove.
REMOVED = {
    "bad-order-starts-gpt": ("read:sharegpt", "role_order"),
    "bad-order-ends-user": ("read:sharegpt", "role_order"),
    "empty-answer": ("read:sharegpt", "empty_turn"),
    "placeholder-en": ("filter.placeholders", "placeholder"),
    "placeholder-mustache": ("filter.placeholders", "placeholder"),
    "placeholder-zh": ("filter.placeholders", "placeholder"),
    "dup-exact-en": ("dedup.exact", "exact_duplicate"),
    "dup-exact-zh": ("dedup.exact", "exact_duplicate"),
    "dup-near-en": ("dedup.near", "near_duplicate"),
    "dup-near-zh": ("dedup.near", "near_duplicate"),
    "contaminated-eval": ("decontaminate", "eval_contamination"),
    "special-token": ("template.lint", "special_token_in_content"),
    "too-long-en": ("template.lint", "too_long"),
    "too-long-zh": ("template.lint", "too_long"),
}


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    _load_commands()
    return CliRunner()


@pytest.fixture(scope="module")
def messy_run(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("messy") / "clean.parquet"
    args = ["apply", str(MESSY), str(out), "--stats-json", str(out.with_suffix(".stats.json"))]
    for spec in CHAIN:
        args += ["--op", spec]
    res = cli.invoke(app, args)
    assert res.exit_code == 0, res.output
    return out, res


def _contents(messages: list[dict]) -> list[str]:
    return [m["content"] for m in messages]


@pytest.mark.slow
def test_messy_sample_keeps_exactly_the_clean_rows(messy_run):
    out, _ = messy_run
    assert pl.read_parquet(out)["id"].to_list() == CLEAN + WITH_PII


@pytest.mark.slow
def test_messy_sample_leaves_clean_rows_untouched(messy_run):
    out, _ = messy_run
    kept = pl.read_parquet(out)
    source = {json.loads(line).get("id"): json.loads(line) for line in MESSY.read_text("utf-8").splitlines()
              if line.endswith("}")}
    for row in kept.filter(pl.col("id").is_in(CLEAN)).iter_rows(named=True):
        original = [t["value"] for t in source[row["id"]]["conversations"]]
        system = [source[row["id"]]["system"]] if "system" in source[row["id"]] else []
        assert _contents(row["messages"]) == system + original, row["id"]


@pytest.mark.slow
def test_messy_sample_masks_every_planted_pii_item(messy_run):
    out, _ = messy_run
    kept = pl.read_parquet(out).filter(pl.col("id").is_in(WITH_PII))
    text = "\n".join("\n".join(_contents(msgs)) for msgs in kept["messages"].to_list())
    for value, placeholder in PLANTED_PII.items():
        assert value not in text, value
        assert placeholder in text, placeholder
    assert "我的身份证号是<ID_CARD>，银行卡号<BANK_CARD>，帮我查一下余额。" in text


@pytest.mark.slow
def test_messy_sample_every_removed_row_is_in_rejected_with_its_reason(messy_run):
    out, res = messy_run
    rejected = read_rejected(rejected_folder(out))
    by_id = {r["id"]: (r["stage"], r["reason"]) for r in rejected.iter_rows(named=True) if r["id"]}
    assert by_id == REMOVED
    (broken,) = rejected.filter(pl.col("id").is_null()).iter_rows(named=True)
    assert (broken["stage"], broken["reason"], broken["source_row"]) == ("read:sharegpt", "invalid_json", 13)
    assert '"id": "truncated-line"' in broken["raw"]
    assert rejected["detail"].null_count() == 0
    lines = MESSY.read_text("utf-8").splitlines()
    assert len(lines) == pl.read_parquet(out).height + rejected.height  # rows in = kept + rejected
    files = sorted(p.name for p in rejected_folder(out).glob("*.parquet"))
    assert files == ["00-read_sharegpt.parquet", "04-filter.placeholders.parquet", "05-dedup.exact.parquet",
                     "06-dedup.near.parquet", "07-decontaminate.parquet", "08-template.lint.parquet"]
    stats = json.loads(out.with_suffix(".stats.json").read_text("utf-8"))
    assert [s["op"] for s in stats] == ["read:sharegpt"] + [c.split(":")[0] for c in CHAIN]
    assert sum(s["rows_rejected"] for s in stats) == rejected.height
    assert "per-stage stats" in res.stdout and "near_duplicate=2" in res.stdout


@pytest.mark.slow
def test_messy_sample_result_does_not_depend_on_shard_size(cli, messy_run, tmp_path):
    out, _ = messy_run
    small = tmp_path / "small.parquet"
    args = ["apply", str(MESSY), str(small), "--shard-rows", "4"] + [a for spec in CHAIN for a in ("--op", spec)]
    assert cli.invoke(app, args).exit_code == 0
    assert pl.read_parquet(small).equals(pl.read_parquet(out))
    # details may differ ("... (earlier shard)"); who was removed, where and why may not
    left = read_rejected(rejected_folder(out)).sort("stage", "id").select("id", "stage", "reason", "field")
    right = read_rejected(rejected_folder(small)).sort("stage", "id").select("id", "stage", "reason", "field")
    assert left.equals(right)


def test_apply_writes_other_formats_and_replaces_stale_rejections(cli, tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "好的。"}]}
            for q in ("你好", "你好", "Hello there")]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    first = cli.invoke(app, ["apply", str(src), str(out), "--op", "dedup.exact", "--op", "filter.language:lang=en"])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in rejected_folder(out).glob("*.parquet")) == [
        "01-dedup.exact.parquet", "02-filter.language.parquet"]
    res = cli.invoke(app, ["apply", str(src), str(out), "--op", "dedup.exact", "--to", "sharegpt"])
    assert res.exit_code == 0, res.output
    written = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["conversations"][0]["value"] for r in written] == ["你好", "Hello there"]
    # the earlier run's rejected folder was ours: replaced, no stale stage file left
    assert sorted(p.name for p in rejected_folder(out).glob("*.parquet")) == ["01-dedup.exact.parquet"]


@pytest.mark.parametrize(
    ("ops", "message"),
    [(["no.such.op"], "unknown op 'no.such.op'"), (["dedup.near:threshold=high"], "threshold")],
)
def test_apply_refuses_bad_ops_before_writing(cli, tmp_path, ops, message):
    out = tmp_path / "out.parquet"
    args = ["apply", str(MESSY), str(out)] + [a for spec in ops for a in ("--op", spec)]
    res = cli.invoke(app, args)
    assert res.exit_code == 2 and message in res.output
    assert not out.exists() and not (tmp_path / "rejected").exists()


def test_apply_missing_eval_set_is_a_user_error(cli, tmp_path):
    out = tmp_path / "out.parquet"
    missing = tmp_path / "no_eval.jsonl"
    res = cli.invoke(app, ["apply", str(MESSY), str(out), "--op", f"decontaminate:eval_set={missing}"])
    assert res.exit_code == 2 and "does not exist" in res.output
    assert not out.exists() and not (tmp_path / "rejected").exists()


def test_apply_strict_fails_on_the_broken_line(cli, tmp_path):
    res = cli.invoke(app, ["apply", str(MESSY), str(tmp_path / "o.parquet"), "--op", "normalize", "--strict"])
    assert res.exit_code == 2 and not (tmp_path / "o.parquet").exists()


def test_python_api_counts_reader_rejections():
    result = apply(iter_load(MESSY, shard_rows=10), ["dedup.exact"])
    assert [s["op"] for s in result.stats] == ["read:sharegpt", "dedup.exact"]
    assert result.stats[0]["rows_in"] == len(MESSY.read_text("utf-8").splitlines())
    assert result.kept.height + result.rejected.height == result.stats[0]["rows_in"]


def test_ops_lists_every_op(cli):
    res = cli.invoke(app, ["ops"])
    assert res.exit_code == 0
    for name in ("template.lint", "decontaminate", "dedup.near", "pii.mask"):
        assert name in res.stdout


def test_ops_reference_is_up_to_date(cli, tmp_path):
    """docs/ops/README.md is generated: regenerate with `dataforge ops --markdown --output docs/ops/README.md`."""
    res = cli.invoke(app, ["ops", "--output", str(tmp_path / "ops.md")])
    assert res.exit_code == 0
    generated = (tmp_path / "ops.md").read_text("utf-8")
    assert generated == ops_markdown()
    assert "### `template.lint`" in generated and "| `max_seq_len` | `int` | `2048` |" in generated
    assert (REPO / "docs" / "ops" / "README.md").read_text("utf-8") == generated
