"""End to end through the CLI: two real runs of the embedded model, compare, judge, human eval.

One module-scoped pair of runs (10 prompts, 24 new tokens) is shared by every test; the
numbers the report shows are checked against the per-example data in the run folders,
recomputed here independently (numpy resampling, sacrebleu corpus BLEU, scikit-learn kappa).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sacrebleu.metrics import BLEU
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.store import load_run

pytestmark = pytest.mark.slow

EVAL_SET = Path(__file__).resolve().parents[2] / "recipes" / "data" / "eval_qa_zh_en.jsonl"
N_BOOT = 200
runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("evalkit")
    lines = EVAL_SET.read_text(encoding="utf-8").splitlines()[:10]
    (root / "eval10.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def runs(work: Path) -> tuple[Path, Path]:
    """Run A: greedy, 24 new tokens; run B: sampled (temperature 0.8, seed 3)."""
    # the eval set is half Chinese: BERTScore needs its encoder named (MiniLM is English-only)
    common = ["run", "--data", work / "eval10.jsonl", "--metrics", "all", "--max-new-tokens", "24",
              "--batch-size", "10", "--cache-path", work / "gen.sqlite",
              "--metric-param", "bertscore.model=all-minilm-l6-v2"]
    invoke(*common, "-o", work / "runs" / "a")
    invoke(*common, "--temperature", "0.8", "--seed", "3", "-o", work / "runs" / "b")
    return work / "runs" / "a", work / "runs" / "b"


@pytest.fixture(scope="module")
def report(work: Path, runs: tuple[Path, Path]) -> tuple[Path, str]:
    out = work / "report"
    output = invoke("compare", *runs, "-o", out, "--n-boot", N_BOOT, "--top-k", "3")
    return out, output


def test_run_folder_records_everything(work: Path, runs: tuple[Path, Path]) -> None:
    run = load_run(runs[0])
    preds = run.predictions
    assert preds.height == 10
    assert {"id", "prompt", "messages", "reference", "prediction", "metric:bleu", "metric:bertscore"} <= set(preds.columns)
    assert preds["prediction"].str.len_chars().min() > 0
    # prompt = messages minus the final assistant turn; reference = that turn's content
    source = [json.loads(x) for x in (work / "eval10.jsonl").read_text(encoding="utf-8").splitlines()]
    assert preds["reference"].to_list() == [r["messages"][-1]["content"] for r in source]
    assert [[m["role"] for m in ms] for ms in preds["messages"].to_list()] == \
        [[m["role"] for m in r["messages"][:-1]] for r in source]
    m = run.manifest
    assert m["data"]["file_sha256"] == hashlib.sha256((work / "eval10.jsonl").read_bytes()).hexdigest()
    assert m["engine"]["params"]["max_new_tokens"] == 24 and m["engine"]["params"]["temperature"] == 0.0
    assert m["model"]["ref"] == "smollm2-135m-instruct" and Path(m["model"]["path"]).is_dir()
    assert m["metrics"] == {k: v["signature"] for k, v in run.metrics.items()}
    assert {"torch", "transformers", "polars"} <= set(m["versions"])
    assert m["timings"]["generate_s"] > 0 and "bleu" in m["timings"]["metrics_s"]
    # the stored corpus BLEU is sacrebleu's on the stored predictions
    tok = dict(p.split(":", 1) for p in run.metrics["bleu"]["signature"].split("|"))["tok"]
    expected = BLEU(tokenize=tok).corpus_score(preds["prediction"].to_list(), [preds["reference"].to_list()])
    assert run.metrics["bleu"]["score"] == pytest.approx(expected.score, abs=1e-9)
    # BERTScore used its own encoder, not the evaluated model
    assert "all-minilm-l6-v2" in run.metrics["bertscore"]["signature"]
    # run B records its sampling settings
    assert load_run(runs[1]).manifest["engine"]["params"]["seed"] == 3


def test_rerun_is_served_from_the_generation_cache(work: Path, runs: tuple[Path, Path]) -> None:
    out = work / "runs" / "a_again"
    invoke("run", "--data", work / "eval10.jsonl", "--metrics", "exact_match", "--max-new-tokens", "24",
           "--batch-size", "10", "--cache-path", work / "gen.sqlite", "-o", out)
    again, first = load_run(out), load_run(runs[0])
    assert again.manifest["engine"]["cache"] == {**again.manifest["engine"]["cache"], "hits": 10, "misses": 0}
    assert again.predictions["prediction"].to_list() == first.predictions["prediction"].to_list()


def _per_example(run_dir: Path, metric: str) -> np.ndarray:
    return load_run(run_dir).predictions[f"metric:{metric}"].cast(pl.Float64).to_numpy()


def _ci(samples: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(samples, [0.025, 0.975])
    return float(lo), float(hi)


def test_report_files_and_rows(report: tuple[Path, str], runs: tuple[Path, Path]) -> None:
    out, console = report
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    metrics = load_run(runs[0]).metrics
    for name in ("bleu", "bertscore", "distinct", "self_bleu", "exact_match", "ppl"):
        assert name in metrics and metrics[name].get("score") is not None, metrics[name]
        assert f"| {name} " in md and f"<td>{name} " in page and name in console
    assert page.count("data:image/png;base64,") == 4 and "<img" in page and 'src="http' not in page
    for stem in ("scores", "deltas", "lengths", "win_tie_loss"):
        png = (out / "plots" / f"{stem}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and f"plots/{stem}.png" in md
    assert "## Examples that got worse" in md


def test_mean_metric_delta_and_ci_match_the_per_example_data(report: tuple[Path, str],
                                                             runs: tuple[Path, Path]) -> None:
    table = json.loads((report[0] / "comparison.json").read_text(encoding="utf-8"))["table"]
    a, b = (_per_example(r, "bertscore") for r in runs)
    row = next(r for r in table if r["metric"] == "bertscore" and r["run"] == "b")
    assert row["method"] == "mean"
    assert row["delta"] == pytest.approx(b.mean() - a.mean(), abs=1e-6)
    idx = np.random.default_rng(0).integers(0, a.size, size=(N_BOOT, a.size))
    lo, hi = _ci((b - a)[idx].mean(axis=1))
    assert (row["delta_low"], row["delta_high"]) == pytest.approx((lo, hi), abs=1e-9)
    assert row["significant"] == (lo > 0 or hi < 0)
    base = next(r for r in table if r["metric"] == "bertscore" and r["run"] == "a")
    assert (base["score_low"], base["score_high"]) == pytest.approx(_ci(a[idx].mean(axis=1)), abs=1e-9)


def test_bleu_ci_is_corpus_bleu_over_resampled_sentences(report: tuple[Path, str],
                                                        runs: tuple[Path, Path]) -> None:
    table = json.loads((report[0] / "comparison.json").read_text(encoding="utf-8"))["table"]
    row = next(r for r in table if r["metric"] == "bleu" and r["run"] == "b")
    assert row["method"] == "corpus"
    run_a, run_b = load_run(runs[0]), load_run(runs[1])
    assert row["delta"] == pytest.approx(run_b.metrics["bleu"]["score"] - run_a.metrics["bleu"]["score"])
    tok = dict(p.split(":", 1) for p in run_a.metrics["bleu"]["signature"].split("|"))["tok"]
    bleu = BLEU(tokenize=tok)
    refs = run_a.predictions["reference"].to_list()
    hyp_a, hyp_b = run_a.predictions["prediction"].to_list(), run_b.predictions["prediction"].to_list()
    idx = np.random.default_rng(0).integers(0, len(refs), size=(N_BOOT, len(refs)))
    diffs = np.array([
        bleu.corpus_score([hyp_b[i] for i in rows], [[refs[i] for i in rows]]).score
        - bleu.corpus_score([hyp_a[i] for i in rows], [[refs[i] for i in rows]]).score
        for rows in idx
    ])
    assert (row["delta_low"], row["delta_high"]) == pytest.approx(_ci(diffs), abs=1e-6)


def test_worst_examples_are_the_largest_per_example_drops(report: tuple[Path, str],
                                                         runs: tuple[Path, Path]) -> None:
    data = json.loads((report[0] / "comparison.json").read_text(encoding="utf-8"))
    ids = load_run(runs[0]).predictions["id"].to_numpy()
    for metric, sign in (("bertscore", 1.0), ("self_bleu", -1.0)):
        change = (_per_example(runs[1], metric) - _per_example(runs[0], metric)) * sign
        worse = np.argsort(change, kind="stable")
        expected = [ids[i] for i in worse if change[i] < -1e-12][:3]
        listed = [r["id"] for r in data["regressions"] if r["metric"] == metric]
        assert listed == expected
        outcome = next(o for o in data["outcomes"] if o["metric"] == metric)
        assert outcome["losses"] == int((change < -1e-12).sum())
        assert outcome["wins"] == int((change > 1e-12).sum())
    bert = [r for r in data["regressions"] if r["metric"] == "bertscore"]
    if bert:  # the listing carries what a reader needs to judge the example
        first = bert[0]
        assert first["prompt"] and first["reference"] and first["baseline_prediction"] is not None


def test_compare_refuses_runs_on_different_data(work: Path, runs: tuple[Path, Path]) -> None:
    other = work / "other.jsonl"
    other.write_text(json.dumps({"prompt": "1+1?", "reference": "2", "prediction": "2"}) + "\n", encoding="utf-8")
    invoke("run", "--predictions", other, "--metrics", "exact_match", "-o", work / "runs" / "other")
    result = runner.invoke(app, ["compare", str(runs[0]), str(work / "runs" / "other")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert load_run(runs[0]).data_hash in text.replace(" ", "")
    assert load_run(work / "runs" / "other").data_hash in text.replace(" ", "")
    assert "different eval data" in text


def test_scoring_existing_predictions_matches_the_model_run(work: Path, runs: tuple[Path, Path]) -> None:
    run_a = load_run(runs[0])
    by_id = work / "preds_by_id.jsonl"
    by_id.write_text(run_a.predictions.select("id", "prediction").write_ndjson(), encoding="utf-8")
    invoke("run", "--predictions", by_id, "--data", work / "eval10.jsonl", "--metrics", "bleu,exact_match",
           "-o", work / "runs" / "scored")
    scored = load_run(work / "runs" / "scored")
    assert scored.manifest["kind"] == "predictions" and scored.data_hash == run_a.data_hash
    for name in ("bleu", "exact_match"):
        assert scored.metrics[name]["score"] == run_a.metrics[name]["score"]
    # self-contained file: prompt / reference / prediction columns, no eval set needed
    flat = work / "preds_flat.csv"
    run_a.predictions.select("prompt", "reference", "prediction").write_csv(flat)
    invoke("run", "--predictions", flat, "--metrics", "bleu", "-o", work / "runs" / "flat")
    assert load_run(work / "runs" / "flat").metrics["bleu"]["score"] == pytest.approx(run_a.metrics["bleu"]["score"])
    # scored predictions compare like any run: same answers, zero deltas
    out = invoke("compare", runs[0], work / "runs" / "scored", "--n-boot", "50")
    assert "+0.0000" in out


JUDGED = 4  # the judge reads long prompts on CPU: judge the two runs' first items only


@pytest.fixture(scope="module")
def judged(work: Path, runs: tuple[Path, Path]) -> Path:
    """Both runs' answers to the first items, re-scored as --predictions runs, then judged."""
    subset = work / "eval_judge.jsonl"
    subset.write_text("".join((work / "eval10.jsonl").read_text(encoding="utf-8").splitlines(True)[:JUDGED]),
                      encoding="utf-8")
    for run in runs:
        preds = work / f"{run.name}_judge_preds.jsonl"
        preds.write_text(load_run(run).predictions.head(JUDGED).select("id", "prediction").write_ndjson(),
                         encoding="utf-8")
        invoke("run", "--predictions", preds, "--data", subset, "--metrics", "exact_match",
               "-o", work / "judge_runs" / run.name)
    out = work / "report_judge"
    invoke("compare", work / "judge_runs" / "a", work / "judge_runs" / "b", "-o", out, "--n-boot", N_BOOT,
           "--judge", "transformers", "--judge-max-new-tokens", "8", "--judge-retries", "0",
           "--cache-path", work / "gen.sqlite")
    return out


def test_judge_win_rate_in_report(judged: Path) -> None:
    data = json.loads((judged / "comparison.json").read_text(encoding="utf-8"))
    (summary,) = data["judge"]
    assert summary["wins"] + summary["ties"] + summary["losses"] + summary["unparseable"] == JUDGED
    assert "judge:pairwise" in summary["signature"] and "swap:both-orders" in summary["signature"]
    verdicts = pl.read_ndjson(judged / "judge_verdicts.jsonl")
    assert verdicts.height == JUDGED
    # the judge's raw replies are kept, so an unparseable verdict can be read
    assert verdicts["judgment_ab"].str.len_chars().min() > 0 and verdicts["judgment_ba"].is_not_null().all()
    assert (verdicts["attempts_ab"] >= 1).all()
    assert set(verdicts["winner"].to_list()) <= {"A", "B", "tie", "unparseable"}
    assert "## Judge win-rate" in (judged / "report.md").read_text(encoding="utf-8")


def test_human_sheet_round_trip(work: Path, runs: tuple[Path, Path], judged: Path) -> None:
    sheet_dir = work / "sheet"
    invoke("human", "export", *runs, "-o", sheet_dir, "--seed", "7")
    raw = (sheet_dir / "sheet.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert len(rows) == 10 and "中国的首都是哪里" in raw and "response_1" in rows[0]
    key = json.loads((sheet_dir / "key.json").read_text(encoding="utf-8"))
    assert {i["response_1"] for i in key["items"]} == {"A", "B"}  # order really randomized
    # an annotator who prefers the longer answer (tie when equal)
    for row in rows:
        d = len(row["response_1"]) - len(row["response_2"])
        row["preference"] = "1" if d > 0 else "2" if d < 0 else "tie"
    filled = sheet_dir / "filled.csv"
    with filled.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # what de-blinding must give, computed from the runs themselves
    a = dict(zip(*load_run(runs[0]).predictions.select("id", "prediction").to_dict(as_series=False).values()))
    b = dict(zip(*load_run(runs[1]).predictions.select("id", "prediction").to_dict(as_series=False).values()))
    expected = {i: "B" if len(b[i]) > len(a[i]) else "A" if len(b[i]) < len(a[i]) else "tie" for i in a}
    judge_file = sheet_dir / "judge.jsonl"  # a judge that agrees on the first 6 items only
    judge_rows = [{"id": i, "winner": w if n < 6 else "tie"} for n, (i, w) in enumerate(expected.items())]
    judge_file.write_text("".join(json.dumps(r) + "\n" for r in judge_rows), encoding="utf-8")
    result_file = sheet_dir / "result.json"
    invoke("human", "import", filled, "--key", sheet_dir / "key.json", "--judge-results", judge_file,
           "-o", result_file)
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert {r["id"]: r["winner"] for r in result["labels"]} == expected
    wins = sum(w == "B" for w in expected.values())
    ties = sum(w == "tie" for w in expected.values())
    assert result["human"]["win_rate"] == pytest.approx((wins + ties / 2) / 10)
    labels = ["A", "B", "tie"]
    kappa = cohen_kappa_score(list(expected.values()), [r["winner"] for r in judge_rows], labels=labels)
    assert result["judge_agreement"]["cohen_kappa"] == pytest.approx(kappa)
    # and against the real judge verdicts that compare --judge wrote
    invoke("human", "import", filled, "--key", sheet_dir / "key.json", "--judge-results",
           judged / "judge_verdicts.jsonl", "-o", result_file)
    real = json.loads(result_file.read_text(encoding="utf-8"))
    pairs = [(r["winner"], r["judge_winner"]) for r in real["labels"] if r["judge_winner"] in labels]
    assert real["judge_agreement"]["items"] == len(pairs)
    if len({p for pair in pairs for p in pair}) > 1:
        assert real["judge_agreement"]["cohen_kappa"] == pytest.approx(
            cohen_kappa_score(*zip(*pairs), labels=labels))


def test_human_import_rejects_unreadable_preferences(work: Path, runs: tuple[Path, Path]) -> None:
    sheet_dir = work / "sheet_bad"
    invoke("human", "export", *runs, "-o", sheet_dir)
    text = (sheet_dir / "sheet.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    rows[0]["preference"] = "maybe"
    bad = sheet_dir / "bad.csv"
    with bad.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(app, ["human", "import", str(bad), "--key", str(sheet_dir / "key.json")])
    assert result.exit_code == 2 and "maybe" in result.output
