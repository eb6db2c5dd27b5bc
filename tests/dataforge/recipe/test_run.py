"""The main job end to end: `dataforge run` on the shipped medical recipe (real model,
real presidio, real datasketch), then resume, rerun-skip and crash atomicity."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands
from dataforge.outputs import MARKER
from dataforge.rejects import read_rejected
from dataforge.recipe.schema_files import generated
from dataforge.recipe import RecipeRunner, load_recipe, stages

REPO = Path(__file__).resolve().parents[3]
_load_commands()  # register every command, as the `dataforge` entry point does


@pytest.fixture()
def recipe_file(tmp_path: Path) -> Path:
    """The shipped recipe, made small: 3 eval rows, 12 new tokens, a private cache."""
    spec = yaml.safe_load((REPO / "recipes" / "medical_qa.yaml").read_text(encoding="utf-8"))
    spec["data"]["inputs"][0]["path"] = str(REPO / "recipes" / spec["data"]["inputs"][0]["path"])
    spec["eval"].update(limit=3, cache_path=str(tmp_path / "gen.sqlite"))
    spec["eval"]["generation"]["max_new_tokens"] = 12
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def _run(recipe: Path, runs: Path):
    return CliRunner().invoke(app, ["run", str(recipe), "--runs-dir", str(runs)], env={"COLUMNS": "200"})


@pytest.mark.slow
def test_recipe_cleans_splits_evaluates_and_resumes(recipe_file: Path, tmp_path: Path):
    runs = tmp_path / "runs"
    first = _run(recipe_file, runs)
    assert first.exit_code == 0, first.output
    run_dir = runs / "medical_qa"

    # data: 30 lines in; the truncated line, the broken conversation, the placeholder,
    # two exact and one near duplicate out; the rest split 18/6.
    rejected = read_rejected(run_dir / "data" / "rejected")
    assert sorted(rejected["reason"].to_list()) == sorted(
        ["invalid_json", "role_order", "placeholder", "exact_duplicate", "exact_duplicate", "near_duplicate"]
    )
    assert rejected.filter(pl.col("reason") == "invalid_json")["source_row"].to_list() == [8]
    train = pl.read_parquet(run_dir / "data" / "train.parquet")
    test = pl.read_parquet(run_dir / "data" / "test.parquet")
    assert (train.height, test.height) == (18, 6)
    kept_text = "\n".join(
        m["content"] or "" for df in (train, test) for msgs in df["messages"].to_list() for m in msgs
    )
    for secret in ("jane.doe@example.com", "212-555-0187", "13812345678", "11010519491231002X"):
        assert secret not in kept_text
    assert "<EMAIL>" in kept_text and "<ID_CARD>" in kept_text

    # eval: every metric scored on the 3 held-out rows with the embedded model
    eval_run = run_dir / "eval" / "run"
    predictions = pl.read_parquet(eval_run / "predictions.parquet")
    assert predictions.height == 3 and predictions["prediction"].str.len_chars().min() > 0
    manifest = yaml.safe_load((run_dir / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.validate(manifest, generated()["manifest.schema.json"])  # the published schema holds
    assert [s["name"] for s in manifest["stages"]] == ["data", "eval"]
    scores = manifest["stages"][1]["stats"]["metrics"]
    assert set(scores) == {"bleu", "distinct", "ppl", "exact_match"} and scores["ppl"] > 1

    # rerun: both stages are up to date and skipped, outputs untouched
    mtime = (run_dir / "data" / "train.parquet").stat().st_mtime_ns
    again = _run(recipe_file, runs)
    assert again.exit_code == 0 and again.output.count("skipped") >= 2, again.output
    assert (run_dir / "data" / "train.parquet").stat().st_mtime_ns == mtime

    # a change to the eval stage reruns only eval
    spec = yaml.safe_load(recipe_file.read_text(encoding="utf-8"))
    spec["eval"]["metrics"] = ["distinct"]
    recipe_file.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    outcomes = RecipeRunner(*load_recipe(recipe_file), runs_dir=runs, log=lambda m: None).run()
    assert [(o.name, o.skipped) for o in outcomes] == [("data", True), ("eval", False)]


def test_a_crashed_stage_leaves_nothing_and_the_run_resumes(recipe_file: Path, tmp_path: Path, monkeypatch):
    runs = tmp_path / "runs"
    spec = yaml.safe_load(recipe_file.read_text(encoding="utf-8"))
    del spec["eval"]  # data stage only: this test is about the stage machinery
    recipe_file.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    recipe, folder = load_recipe(recipe_file)

    def crash(self, ctx, out: Path):
        (out / "train.parquet").write_bytes(b"half written")
        raise KeyboardInterrupt  # as if the run were killed mid-stage

    monkeypatch.setattr(stages.Data, "run", crash)
    with pytest.raises(KeyboardInterrupt):
        RecipeRunner(recipe, folder, runs_dir=runs, log=lambda m: None).run()
    # no stage folder, no temp leftovers, no lock: only the marker saying the folder is ours
    assert [p.name for p in (runs / "medical_qa").iterdir()] == [MARKER]

    monkeypatch.undo()
    outcomes = RecipeRunner(recipe, folder, runs_dir=runs, log=lambda m: None).run()
    assert [(o.name, o.skipped) for o in outcomes] == [("data", False)]
    assert pl.read_parquet(runs / "medical_qa" / "data" / "train.parquet").height > 0
