"""The main job end to end: ``dataforge run recipes/medical_qa.yaml`` (kept short with
``--set``) cleans, splits, trains a LoRA adapter with TRL, evaluates the base and the
trained model on the test split and the general set, and writes the report; all real (the
embedded model, presidio, datasketch, TRL, bert-score). Then: a rerun skips every stage,
``--dry-run`` shows what a changed argument would rerun, ``dataforge runs`` lists the run,
the report renders in a real headless browser, and a run killed by SIGKILL in every stage
resumes to exactly the outputs of the uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from typer.testing import CliRunner

from dataforge.cli.app import app
from dataforge.cli.main import _load_commands
from dataforge.outputs import MARKER
from dataforge.recipe import RecipeRunner, load_recipe, stages
from dataforge.recipe.schema_files import generated
from dataforge.recipe.status import run_status
from dataforge.rejects import read_rejected

REPO = Path(__file__).resolve().parents[3]
RECIPE = REPO / "recipes" / "medical_qa.yaml"
STAGES = ["data", "train.sft", "eval.base.test", "eval.base.general", "eval.sft.test", "eval.sft.general", "report"]
_load_commands()  # register every command, as the `dataforge` entry point does


def tiny(cache: Path) -> list[str]:
    """Overrides that keep the shipped recipe short: one training step, three eval rows per
    set, eight new tokens, a private generation cache (nothing is reused from other runs)."""
    return ["train.0.args.max_steps=1", "eval.sets.0.limit=3", "eval.sets.1.limit=3",
            "eval.generation.max_new_tokens=8", "eval.judge.max_new_tokens=2", "eval.bootstrap.n_boot=200",
            f"eval.cache_path={cache}"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def run_args(runs: Path, sets: list[str]) -> list[str]:
    return ["run", str(RECIPE), "--runs-dir", str(runs), *[x for s in sets for x in ("--set", s)]]


@pytest.fixture(scope="module")
def medical_run(tmp_path_factory) -> Path:
    """One uninterrupted run of the shipped recipe (the reference of the tests below)."""
    root = tmp_path_factory.mktemp("medical")
    result = invoke(*run_args(root / "runs", tiny(root / "gen.sqlite")))
    assert result.exit_code == 0, result.output
    return root / "runs" / "medical_qa"


@pytest.mark.slow
def test_raw_data_to_trained_and_evaluated_model(medical_run: Path):
    run = medical_run
    # data: 30 lines in; the truncated line, the broken conversation, the placeholder, two
    # exact and one near duplicate out; the rest split 18/6; PII masked
    rejected = read_rejected(run / "data" / "rejected")
    assert sorted(rejected["reason"].to_list()) == sorted(
        ["invalid_json", "role_order", "placeholder", "exact_duplicate", "exact_duplicate", "near_duplicate"])
    train = pl.read_parquet(run / "data" / "train.parquet")
    assert (train.height, pl.read_parquet(run / "data" / "test.parquet").height) == (18, 6)
    kept = "\n".join(m["content"] or "" for msgs in train["messages"].to_list() for m in msgs)
    assert "jane.doe@example.com" not in kept and "13812345678" not in kept

    # train: a LoRA adapter, its curves and summary, and the merged model evaluation loads
    sft = run / "train.sft"
    assert (sft / "adapter" / "adapter_config.json").is_file() and (sft / "curves.png").is_file()
    assert (sft / "merged" / "config.json").is_file() and not (sft / "merged" / "adapter_config.json").exists()
    summary = json.loads((sft / "summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 1 and summary["stage"] == "sft"

    # eval: one evalkit run per model and set, on the same items
    for model in ("base", "sft"):
        for eval_set in ("test", "general"):
            preds = pl.read_parquet(run / f"eval.{model}.{eval_set}" / "run" / "predictions.parquet")
            assert preds.height == 3 and preds["prediction"].str.len_chars().min() > 0
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.validate(manifest, generated()["manifest.schema.json"])  # the published schema holds
    assert manifest["status"] == "complete" and [s["name"] for s in manifest["stages"]] == STAGES
    assert [(m["label"], m["role"]) for m in manifest["evaluated"]] == [("base", "baseline"), ("sft", "candidate")]
    assert manifest["evaluated"][1]["model"] == str(sft / "merged")
    assert manifest["recipe"]["train"][0]["args"]["max_steps"] == 1  # the override, recorded
    train_record = manifest["stages"][1]
    assert train_record["config"]["spec"]["args"]["max_steps"] == 1 and train_record["seconds"] > 0
    assert train_record["artifacts"]["model"] == str(sft / "merged") and "final_metrics" in train_record["stats"]
    assert {"torch", "transformers", "trl", "peft"} <= set(manifest["versions"])
    eval_stats = {s["name"]: s["stats"] for s in manifest["stages"]}["eval.sft.test"]
    assert set(eval_stats["metrics"]) == {"ppl", "bleu", "bertscore", "distinct", "self_bleu"}

    # report: both sets compared with paired-bootstrap CIs, the judge in both orders, forgetting
    report = run / "report"
    headline = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert headline["baseline"] == "base" and headline["candidates"] == ["sft"]
    assert set(headline["sets"]) == {"test", "general"} and headline["sets"]["general"]["role"] == "general"
    ppl = headline["sets"]["test"]["deltas"]["sft"]["ppl"]
    assert ppl["low"] <= ppl["delta"] <= ppl["high"]
    assert all(f["set"] == "general" for f in headline["forgetting"])
    verdicts = [json.loads(line) for line in (report / "sets" / "test" / "judge_verdicts.jsonl").open()]
    assert len(verdicts) == 3 and all(v["verdict_ba"] is not None for v in verdicts)  # asked in both orders
    assert not (report / "sets" / "general" / "judge_verdicts.jsonl").exists()  # domain sets only
    markdown = (report / "report.md").read_text(encoding="utf-8")
    for heading in ("## Summary", "## Forgetting", "## Data", "Rejected rows", "## Training", "training curves",
                    "## Eval set: test (domain)", "### Judge win-rate", "### Examples that got worse",
                    "## Eval set: general (general)"):
        assert heading in markdown, heading
    assert "invalid_json" in markdown and "{{patient_name}}" in markdown  # rejected examples shown


@pytest.mark.slow
def test_a_second_run_skips_every_stage_and_a_change_reruns_only_what_depends_on_it(medical_run: Path):
    runs, cache = medical_run.parent, medical_run.parent.parent / "gen.sqlite"
    before = (medical_run / "train.sft" / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns
    again = invoke(*run_args(runs, tiny(cache)))
    assert again.exit_code == 0, again.output
    assert again.output.count("up to date") == len(STAGES), again.output
    assert (medical_run / "train.sft" / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns == before

    changed = invoke(*run_args(runs, [*tiny(cache), "train.0.args.learning_rate=1e-4"]), "--dry-run")
    assert changed.exit_code == 0, changed.output
    would = {line.split("│")[1].strip(): line.split("│")[2].strip()
             for line in changed.output.splitlines() if line.count("│") >= 4 and line.split("│")[1].strip()}
    assert {k: v.startswith("skip") for k, v in would.items() if k in STAGES} == {
        "data": True, "train.sft": False, "eval.base.test": True, "eval.base.general": True,
        "eval.sft.test": False, "eval.sft.general": False, "report": False}


@pytest.mark.slow
def test_runs_lists_status_stages_and_headline(medical_run: Path):
    result = invoke("runs", str(medical_run.parent))
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "medical_qa" in line)
    assert "complete" in line and f"{len(STAGES)}/{len(STAGES)}" in line
    assert "sft vs base" in result.output


@pytest.mark.slow
def test_report_is_one_self_contained_page_in_a_headless_browser(medical_run: Path, tmp_path: Path):
    from headless_browser import CHROMIUM, Browser

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt)")
    page = medical_run / "report" / "report.html"
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # nothing to fetch: one file to mail
    with Browser(tmp_path / "profile", width=1280, height=1000) as browser:
        browser.goto(page.as_uri())
        shown = browser.wait_for("""(() => {
            const imgs = [...document.images];
            if (!imgs.length || !imgs.every(i => i.complete)) return null;
            return {images: imgs.length, drawn: imgs.filter(i => i.naturalWidth > 100).length,
                    headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
                    wide: document.documentElement.scrollWidth, view: window.innerWidth,
                    cells: document.querySelectorAll('td').length};
        })()""")
        assert shown["images"] == shown["drawn"] >= 8  # curves, scores, deltas... all decoded from base64
        assert shown["headings"][:4] == ["Summary", "Forgetting", "Data", "Training"]
        assert "Eval set: test (domain)" in shown["headings"] and shown["cells"] > 100
        assert shown["wide"] <= shown["view"] + 1  # tables wrap their text: no sideways scrolling
        shot = tmp_path / "report.png"
        browser.screenshot(shot)
    assert shot.read_bytes().startswith(b"\x89PNG")


KILLER = """
import os, signal, sys
from dataforge import progress
from dataforge.recipe import stages

target, mode = sys.argv[1], sys.argv[2]

def killed(original):
    def run(self, ctx, out):
        if self.name == target and mode == "mid":  # inside training, after its first step
            update = progress.StepsBar.update
            def kill_after(bar, step, logs):
                update(bar, step, logs)
                os.kill(os.getpid(), signal.SIGKILL)
            progress.StepsBar.update = kill_after
        result = original(self, ctx, out)
        if self.name == target:  # its output complete in the temporary, not yet in place
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return run

for cls in (stages.Data, stages.Train, stages.Eval, stages.Report):
    cls.run = killed(cls.run)
from dataforge.cli.main import main
sys.argv = ["dataforge", *sys.argv[3:]]
main()
"""


def _frame(path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    frame = pl.read_parquet(path)
    return frame.select(columns) if columns else frame


@pytest.mark.slow
def test_killed_in_every_stage_the_run_resumes_to_the_uninterrupted_outputs(medical_run: Path, tmp_path: Path):
    """Real SIGKILLs, one per stage (the train stage twice: in a training step, and after
    it finished but before its folder moved into place); each rerun resumes where the last
    one died. The outputs then equal the uninterrupted run's, value for value."""
    runs = tmp_path / "runs"
    args = run_args(runs, tiny(tmp_path / "gen.sqlite"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "POSTTRAIN_PROGRESS": "0", "COLUMNS": "200"}
    run = runs / "medical_qa"
    for target, mode in [("data", "after"), ("train.sft", "mid"), ("train.sft", "after"),
                         *[(name, "after") for name in STAGES[2:]]]:
        done = subprocess.run([sys.executable, "-c", KILLER, target, mode, *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == -signal.SIGKILL, done.stdout[-2000:] + done.stderr[-3000:]
        assert not (run / target / "_stage.json").exists()  # never half in place
        assert any(p.name.startswith(f".{target}.") for p in run.iterdir())  # the dead run's temporary
        assert run_status(run).status == "interrupted"
    resumed = subprocess.run([sys.executable, "-m", "dataforge.cli.main", *args], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stderr.count("up to date") == len(STAGES) - 1  # only the report was left to do
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == [MARKER]  # temporaries swept
    assert run_status(run).status == "complete"

    reference = medical_run
    for split in ("train", "test"):
        assert _frame(run / "data" / f"{split}.parquet").equals(_frame(reference / "data" / f"{split}.parquet"))
    from safetensors.numpy import load_file

    ours = load_file(run / "train.sft" / "adapter" / "adapter_model.safetensors")
    theirs = load_file(reference / "train.sft" / "adapter" / "adapter_model.safetensors")
    assert ours.keys() == theirs.keys() and all((ours[k] == theirs[k]).all() for k in ours)
    for name in STAGES[2:-1]:
        columns = ["id", "prediction"]
        a, b = (_frame(r / name / "run" / "predictions.parquet") for r in (run, reference))
        metric_columns = [c for c in a.columns if c.startswith("metric:")]
        assert a.select(columns + metric_columns).equals(b.select(columns + metric_columns)), name
    for file in ("summary.json", "sets/test/comparison.json", "sets/general/comparison.json"):
        a, b = (_without_paths(json.loads((r / "report" / file).read_text(encoding="utf-8"))) for r in (run, reference))
        assert a == b, file


def _without_paths(value):
    """The report's data minus what names the run folder (run paths, and metric signatures,
    which name the evaluated model's folder): the numbers must match, the paths cannot."""
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items() if k not in ("path", "signature")}
    if isinstance(value, list):
        return [_without_paths(v) for v in value]
    return value


def test_a_crashed_stage_leaves_nothing_and_the_run_resumes(tmp_path: Path, monkeypatch):
    recipe, folder = load_recipe(RECIPE, ["eval=null", "train=[]"])  # the data stage alone
    runs = tmp_path / "runs"

    def crash(self, ctx, out: Path):
        (out / "train.parquet").write_bytes(b"half written")
        raise KeyboardInterrupt  # as if the run were interrupted mid-stage

    monkeypatch.setattr(stages.Data, "run", crash)
    with pytest.raises(KeyboardInterrupt):
        RecipeRunner(recipe, folder, runs_dir=runs, log=lambda m: None).run()
    # no stage folder, no temp leftovers, no lock; the manifest says it failed
    assert sorted(p.name for p in (runs / "medical_qa").iterdir()) == [MARKER, "manifest.json"]
    assert run_status(runs / "medical_qa").status == "failed"

    monkeypatch.undo()
    outcomes = RecipeRunner(recipe, folder, runs_dir=runs, log=lambda m: None).run()
    assert [(o.name, o.skipped) for o in outcomes] == [("data", False)]
    assert pl.read_parquet(runs / "medical_qa" / "data" / "train.parquet").height > 0


@pytest.mark.slow
def test_an_earlier_run_as_the_baseline_and_lm_eval_tasks(medical_run: Path, tmp_path: Path):
    """A follow-up recipe compares the base model with what an earlier run trained, on a
    general set and on lm-eval tasks (whose per-item results the comparison bootstraps)."""
    recipe = tmp_path / "follow_up.yaml"
    recipe.write_text(f"""\
name: follow_up
data: {{inputs: [{{path: {REPO / 'recipes' / 'data' / 'medical_qa.jsonl'}}}]}}
eval:
  models: [base]
  baseline: {medical_run}
  sets: [{{name: general, data: {REPO / 'recipes' / 'data' / 'general_eval.jsonl'}, role: general, limit: 2}}]
  metrics: [bleu]
  generation: {{max_new_tokens: 4}}
  lm_eval: {{tasks: [posttrain_tiny_mc], include_path: [{REPO / 'recipes' / 'lm_eval_tasks'}], limit: 4}}
  bootstrap: {{n_boot: 100}}
  cache_path: {tmp_path / 'gen.sqlite'}
""", encoding="utf-8")
    result = invoke("run", str(recipe), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "follow_up"
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in manifest["stages"]] == [
        "data", "eval.baseline.general", "eval.baseline.lm_eval", "eval.base.general", "eval.base.lm_eval", "report"]
    evaluated = json.loads((run / "eval.baseline.general" / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert evaluated["model"]["ref"] == str(medical_run / "train.sft" / "merged")  # the earlier run's model
    head = json.loads((run / "report" / "summary.json").read_text(encoding="utf-8"))
    assert head["baseline"] == "baseline" and head["candidates"] == ["base"]
    lm_eval = head["sets"]["lm_eval"]
    assert lm_eval["role"] == "general" and any(m.startswith("posttrain_tiny_mc/") for m in lm_eval["deltas"]["base"])
