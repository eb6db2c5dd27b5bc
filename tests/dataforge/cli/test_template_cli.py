"""``dataforge template patch`` and the patched template ``template.lint`` writes beside
its output: the file TRL's ``assistant_only_loss=True`` needs, without copying strings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataforge import chat_template as ct
from dataforge.cli.app import app
from dataforge.cli.main import _load_commands

REPO = Path(__file__).resolve().parents[3]
EVAL_QA = REPO / "recipes" / "data" / "eval_qa_zh_en.jsonl"


def _cli(*args: str):
    _load_commands()
    return CliRunner().invoke(app, list(args))


def test_patch_writes_a_template_with_generation_markers(tmp_path, smollm_tokenizer):
    out = tmp_path / "smollm.jinja"
    result = _cli("template", "patch", "smollm2", "-o", str(out), "--check", str(EVAL_QA))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert ct.has_generation_markers(text) and "checked on 12 records" in result.output
    conv = [{"role": "user", "content": "中国的首都是哪里？"}, {"role": "assistant", "content": "北京。"}]
    assert ct.render(smollm_tokenizer, [conv], template=text).texts == ct.render(smollm_tokenizer, [conv]).texts
    enc = smollm_tokenizer.apply_chat_template([conv], chat_template=text, tokenize=True, return_dict=True,
                                               return_assistant_tokens_mask=True)
    masked = [t for t, m in zip(enc["input_ids"][0], enc["assistant_masks"][0]) if m]
    assert smollm_tokenizer.decode(masked) == "北京。<|im_end|>"


def test_patch_refuses_to_overwrite_its_input_and_reports_unpatchable(tmp_path):
    tpl = tmp_path / "t.jinja"
    tpl.write_text("{% for m in messages %}{{ m.content }}{% endfor %}", encoding="utf-8")
    same = _cli("template", "patch", "smollm2", "--template", str(tpl), "-o", str(tpl))
    assert same.exit_code == 2 and "is the input" in same.output
    bad = _cli("template", "patch", "smollm2", "--template", str(tpl), "-o", str(tmp_path / "out.jinja"))
    assert bad.exit_code == 2 and "add {% generation %}" in " ".join(bad.output.split())
    assert not (tmp_path / "out.jinja").exists()


def test_template_lint_writes_the_patch_beside_its_output(tmp_path):
    out = tmp_path / "clean.parquet"
    result = _cli("apply", str(EVAL_QA), str(out), "--op", "template.lint:max_seq_len=512")
    assert result.exit_code == 0, result.output
    written = tmp_path / "clean.chat_template.jinja"
    assert ct.has_generation_markers(written.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_trl_assistant_only_loss_works_with_the_written_file(tmp_path, smollm_path):
    """TRL's own SFTTrainer with ``chat_template_path=`` the file: its labels keep exactly
    the assistant reply (dataset preparation only, no training step)."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    out = tmp_path / "t.jinja"
    assert _cli("template", "patch", smollm_path, "-o", str(out)).exit_code == 0
    rows = [json.loads(line) for line in EVAL_QA.read_text(encoding="utf-8").splitlines()[:4]]
    args = SFTConfig(output_dir=str(tmp_path / "trl"), assistant_only_loss=True, chat_template_path=str(out),
                     bf16=False, use_cpu=True, max_length=256, report_to="none")
    trainer = SFTTrainer(model=smollm_path, args=args,
                         train_dataset=datasets.Dataset.from_list([{"messages": r["messages"]} for r in rows]))
    first = trainer.train_dataset[0]
    kept = [t for t in first["labels"] if t != -100]
    answer = rows[0]["messages"][-1]["content"]
    assert trainer.processing_class.decode(kept) == answer + "<|im_end|>"
