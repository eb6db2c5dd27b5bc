"""A recipe's ``synth:`` section: validated at load (file:line), run as a stage between data
and eval, skipped when up to date, generation cache shared across reruns. The teacher is
the real ``openai`` engine against :class:`ScriptedServer` (a real local HTTP server)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import polars as pl
import pytest

from dataforge.rejects import read_rejected
from dataforge.recipe import RecipeError, RecipeRunner, load_recipe, stages
from http_servers import ScriptedServer

QA = [
    {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]}
    for i in range(4)
]


def write_recipe(folder: Path, synth: str) -> Path:
    data = folder / "qa.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in QA) + "\n", encoding="utf-8")
    path = folder / "recipe.yaml"
    path.write_text(textwrap.dedent("""\
        name: grow
        data:
          inputs:
            - path: qa.jsonl
        """) + textwrap.dedent(synth), encoding="utf-8")
    return path


def synth_section(url: str, cache: Path) -> str:
    return f"""\
        synth:
          engine:
            kind: openai
            options: {{base_url: "{url}"}}
          cache_path: {cache}
          steps:
            - step: distill
              generation: {{max_new_tokens: 8}}
            - step: best_of_k
              k: 2
              generation: {{max_new_tokens: 8, temperature: 1.0}}
              scorers:
                length: {{weight: 1.0, max_chars: 12, slack: 3.0}}
        """


def test_synth_stage_runs_between_data_and_eval_and_is_skipped_when_done(tmp_path):
    with ScriptedServer(reply=lambda body: "answer " + "z" * (body.get("seed", 0) % 9)) as server:
        recipe, folder = load_recipe(write_recipe(tmp_path, synth_section(server.url, tmp_path / "g.sqlite")))
        assert [s.name for s in stages.plan(recipe)] == ["data", "synth"]
        runner = RecipeRunner(recipe, folder, tmp_path / "runs", log=lambda _: None)
        first = runner.run()
        calls = server.calls
        again = RecipeRunner(recipe, folder, tmp_path / "runs", log=lambda _: None).run()
        forced = RecipeRunner(recipe, folder, tmp_path / "runs", log=lambda _: None).run(force=True)
    synth = first[1]
    assert not synth.skipped and again[1].skipped and server.calls == calls  # forced rerun: all from the cache
    assert forced[1].stats["cache"]["misses"] == 0 and forced[1].stats["cache"]["hits"] > 0
    run = tmp_path / "runs" / "grow" / "synth"
    sft = pl.read_parquet(run / "train.parquet")
    assert sft.height == 4 and {"dpo", "kto", "train", "rejected"} <= set(synth.artifacts)
    steps = [json.loads(m)["synth"] for m in sft["meta"]]
    assert all([e["step"] for e in s] == ["distill", "best_of_k"] for s in steps)
    assert [s["step"] for s in synth.stats["steps"]] == ["distill", "best_of_k"]
    assert read_rejected(run / "rejected").height == 0
    manifest = json.loads((tmp_path / "runs" / "grow" / "manifest.json").read_text())
    assert [s["name"] for s in manifest["stages"]] == ["data", "synth"]


@pytest.mark.parametrize("bad, where", [
    ("""\
        synth:
          steps:
            - step: best_of_k
              scorers: {math_anwser: 1.0}
        """, r"recipe.yaml:8: synth.steps.0.scorers: unknown scorer 'math_anwser' \(did you mean 'math_answer'\?\)"),
    ("""\
        synth:
          engine: {kind: openai, options: {base_ur: "http://x/v1"}}
          steps:
            - step: distill
        """, r"recipe.yaml:6: synth.engine.options: engine 'openai': unknown parameter 'base_ur'"),
    ("""\
        synth:
          steps:
            - step: distil
        """, r"recipe.yaml:7: synth.steps.0: Input tag 'distil' found using 'step' does not match"),
    ("""\
        synth:
          steps:
            - step: augment
              mode: paraphrase
              template: missing.txt
        """, r"recipe.yaml:9: synth.steps.0.template: no such file"),
    ("""\
        synth:
          steps:
            - step: judge_filter
              threshold: 12
        """, r"recipe.yaml:7: synth.steps.0.judge_filter: Value error, threshold 12.0 is outside the scale 1-10"),
])
def test_synth_section_errors_name_the_line(tmp_path, bad, where):
    with pytest.raises(RecipeError, match=where):
        load_recipe(write_recipe(tmp_path, bad))
