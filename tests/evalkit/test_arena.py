"""`evalkit arena`: blind side-by-side rating in a real browser, saved as a human sheet.

The runs are real ``evalkit run --predictions`` runs (no model); the compare report is
real (``compare`` + ``write_report``) but its judge verdicts are fixed: the judge itself is
tested in test_run_compare.py; here the subject is the arena's de-blinding and its
agreement with whatever the judge said. The page is served by the real CLI (Gradio) and
driven in Debian's headless chromium with real key presses and clicks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from evalkit.arena import ArenaSession, SessionMismatch
from evalkit.cli import app
from evalkit.compare import compare
from evalkit.human import JudgeMismatch, import_sheet, judge_winners, read_sheet
from evalkit.report import write_report
from evalkit.run import evaluate
from evalkit.store import load_run
from evalkit.winrate import win_rate
from dataforge.errors import UnsafeOutputError
from headless_browser import CHROMIUM, Browser
from http_servers import free_port

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["A", "B", "tie"]
PROMPTS = ["中国的首都是哪里？", "水的沸点是多少？", "天热时该注意什么？", "Name a small pet.", "2 + 2 = ?",
           "请用一句话介绍长城。"]
ANSWERS = {
    "base": ["北京。", "一百度。", "多喝水。", "A cat.", "4", "长城很长。"],
    "sft": ["中国的首都是北京。", "标准大气压下是100℃。", "注意防暑，多喝水，避免正午外出。", "A hamster is a small pet.",
            "2 + 2 = 4.", "长城是中国古代修建的防御工程，绵延上万里。"],
}
#: what the judge said per item (A = the compare's baseline, base)
JUDGE = ["B", "B", "A", "tie", "B", "unparseable"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Two runs on six bilingual prompts and a compare report (base vs sft) with judge verdicts."""
    root = tmp_path_factory.mktemp("arena")
    paths = []
    for name, answers in ANSWERS.items():
        rows = [{"id": f"q{i}", "prompt": p, "reference": ANSWERS["sft"][i], "prediction": a}
                for i, (p, a) in enumerate(zip(PROMPTS, answers))]
        source = root / f"{name}.jsonl"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        paths.append(evaluate(predictions=source, metrics="exact_match", output=root / "runs" / name).path)
    comparison = compare([load_run(p) for p in paths], n_boot=50)
    outcomes = [{"B": "win", "A": "loss", "tie": "tie"}.get(w, "unparseable") for w in JUDGE]
    comparison.judge = pl.DataFrame([{"run": "sft", **win_rate(outcomes, n_resamples=50).to_dict(),
                                      "signature": "judge:fixed"}])
    comparison.judge_verdicts = pl.DataFrame({"run": "sft", "id": [f"q{i}" for i in range(6)], "winner": JUDGE})
    write_report(comparison, root / "report")
    return paths[0], paths[1], root / "report"


def _winner(preference: str, response_1: str) -> str | None:
    """De-blind one verdict the way a reader of key.json would."""
    if preference == "tie":
        return "tie"
    if preference in ("1", "2"):
        return response_1 if preference == "1" else ("B" if response_1 == "A" else "A")
    return None


def _kappa(winners: dict[str, str | None]) -> float:
    """Cohen's kappa of the person vs the judge, by scikit-learn, over the items both labelled."""
    judge = dict(zip([f"q{i}" for i in range(6)], JUDGE))
    pairs = [(w, judge[i]) for i, w in winners.items() if w in LABELS and judge[i] in LABELS]
    return float(cohen_kappa_score(*zip(*pairs), labels=LABELS))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it with apt)")
def test_rating_in_a_headless_browser(runs, tmp_path):
    pytest.importorskip("gradio", reason="the `arena` extra is not installed")
    base, sft, report = runs
    session, port = tmp_path / "session", free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "200"}
    server = subprocess.Popen(
        [sys.executable, "-m", "evalkit.cli", "arena", str(base), str(sft), "-o", str(session), "--port", str(port),
         "--no-browser", "--seed", "3", "--judge-results", str(report)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while not any(line.startswith("rating 6 items at") for line in lines):
            assert server.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        key = json.loads((session / "key.json").read_text(encoding="utf-8"))
        first = {str(i["item"]): i["response_1"] for i in key["items"]}
        assert set(first.values()) == {"A", "B"}  # the order really is shuffled (seed 3)
        status = "document.querySelector('#arena-status')"
        with Browser(tmp_path / "profile") as browser:
            browser.goto(f"http://127.0.0.1:{port}/")

            def on(item: int) -> None:
                """Wait until the page shows ``item`` (0: the summary)."""
                card = "document.querySelector('#arena-item')"
                shown = f"{card} && {card}.dataset.item === '{item}'" if item else "!!document.getElementById('arena-kappa')"
                browser.wait_for(f"{status} && {status}.dataset.item === '{item}' && {shown}")

            on(1)
            shown = browser.evaluate("[1, 2].map(n => document.getElementById('arena-response-' + n).textContent)")
            answer_a = ANSWERS["base"][0]
            assert shown == ([answer_a, ANSWERS["sft"][0]] if first["1"] == "A" else [ANSWERS["sft"][0], answer_a])
            assert browser.evaluate("document.getElementById('arena-prompt').textContent") == PROMPTS[0]
            browser.press("1")                    # item 1: response 1 (key)
            on(2)
            browser.click("#arena-2")             # item 2: response 2 (button)
            on(3)
            browser.press("s")                    # item 3: skipped
            on(4)
            browser.click("#arena-comment textarea")
            browser.type_text("两个都对")
            browser.press("t")                    # typed into the comment box: not a verdict
            browser.press("Escape")
            browser.press("t")                    # item 4: tie, with the comment
            on(5)
            browser.press("ArrowLeft")            # item 5: response 1
            on(6)
            browser.press("ArrowRight")           # item 6: response 2 -> every item rated or skipped
            on(0)
            choices = {"1": "1", "2": "2", "3": "", "4": "tie", "5": "1", "6": "2"}
            winners = {f"q{int(i) - 1}": _winner(c, first[i]) for i, c in choices.items()}
            assert browser.wait_for("document.getElementById('arena-kappa').textContent") == f"{_kappa(winners):.4f}"
            browser.press("Backspace")            # back to item 6 to change the verdict
            on(6)
            assert browser.evaluate(f"{status}.dataset.verdict") == "2"
            browser.press("1")
            on(0)
            choices["6"] = "1"
            winners["q5"] = _winner("1", first["6"])
            assert browser.wait_for("document.getElementById('arena-kappa').textContent") == f"{_kappa(winners):.4f}"
            assert "sft (B) vs base (A)" in browser.evaluate("document.getElementById('arena-summary').innerText")
            browser.screenshot(tmp_path / "arena.png")
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        reader.join(timeout=10)
    output = "".join(lines)
    assert server.returncode == 0, output
    assert f"Cohen's kappa {_kappa(winners):.4f}" in output
    sheet = read_sheet(session / "sheet.csv")
    assert sheet["preference"].fill_null("").to_list() == [choices[str(i)] for i in range(1, 7)]
    assert sheet["comment"].fill_null("").to_list()[3] == "两个都对t"  # the t typed in the box is text
    # what `evalkit human import` reads from the saved sheet: the same de-blinded winners
    result = CliRunner().invoke(app, ["human", "import", str(session / "sheet.csv"), "--key",
                                      str(session / "key.json"), "--judge-results", str(report / "judge_verdicts.jsonl"),
                                      "-o", str(tmp_path / "result.json")])
    assert result.exit_code == 0, result.output
    imported = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert {r["id"]: r["winner"] for r in imported["labels"]} == winners
    assert imported["unlabelled"] == 1
    assert imported["judge_agreement"]["cohen_kappa"] == pytest.approx(_kappa(winners))
    summary = json.loads((session / "summary.json").read_text(encoding="utf-8"))
    assert summary["judge_agreement"] == {**imported["judge_agreement"], "judge_results": str(report)}


def test_a_session_resumes_where_it_stopped(runs, tmp_path):
    base, sft, report = (load_run(runs[0]), load_run(runs[1]), runs[2])
    folder = tmp_path / "s"
    session = ArenaSession.open(base, sft, folder, seed=5, judge_results=report)
    assert session.next_open() == 1 and not session.resumed
    session.rate(1, "2", "第二个更完整")
    session.skip(2)
    session.rate(3, "tie")
    order = json.loads((folder / "key.json").read_text(encoding="utf-8"))["items"]
    # a new process: same runs, same folder, no seed and no judge given
    again = ArenaSession.open(base, sft, folder)
    assert again.resumed and again.counts() == {"rated": 2, "skipped": 1, "open": 3}
    assert again.next_open() == 4 and again.judge_results == report
    assert json.loads((folder / "key.json").read_text(encoding="utf-8"))["items"] == order
    assert again.item(1)["comment"] == "第二个更完整" and again.item(1)["preference"] == "2"
    again.revisit_skipped()
    assert again.next_open() == 2
    # the sheet on disk is what `human import` reads, at any moment
    labelled = import_sheet(folder / "sheet.csv", folder / "key.json").summary
    assert labelled["labelled"] == 2 and labelled["unlabelled"] == 4


def test_a_session_of_other_runs_or_another_seed_is_refused(runs, tmp_path):
    base, sft = load_run(runs[0]), load_run(runs[1])
    folder = tmp_path / "s"
    ArenaSession.open(base, sft, folder, seed=1)
    with pytest.raises(SessionMismatch, match="seed 1, not 2"):
        ArenaSession.open(base, sft, folder, seed=2)
    with pytest.raises(SessionMismatch, match="give the runs in that order"):
        ArenaSession.open(sft, base, folder)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UnsafeOutputError, match="not created by posttrain"):
        ArenaSession.open(base, sft, mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_judge_verdicts_follow_the_compare_baseline(runs, tmp_path):
    """The report compared base (A) with sft: a sheet with the runs the other way round gets
    the judge's winners swapped; a report about other runs is refused."""
    base, sft, report = runs
    as_compared = {"A": {"name": "base", "path": str(base)}, "B": {"name": "sft", "path": str(sft)}}
    swapped = {"A": as_compared["B"], "B": as_compared["A"]}
    straight = judge_winners(report, as_compared)["judge_winner"].to_list()
    assert straight == JUDGE
    flipped = judge_winners(report, swapped)["judge_winner"].to_list()
    assert flipped == [{"A": "B", "B": "A"}.get(w, w) for w in JUDGE]
    other = {"A": as_compared["A"], "B": {"name": "dpo", "path": str(tmp_path / "dpo")}}
    with pytest.raises(JudgeMismatch, match="not 'base' with 'dpo'"):
        judge_winners(report, other)
    with pytest.raises(JudgeMismatch, match="holds no judge verdicts"):
        judge_winners(tmp_path, as_compared)


def test_arena_without_gradio_names_the_extra(runs):
    """A Python where ``import gradio`` fails, as without the ``arena`` extra."""
    code = ("import sys; sys.modules['gradio'] = None; from evalkit.cli import main; "
            f"sys.argv = ['evalkit', 'arena', {str(runs[0])!r}, {str(runs[1])!r}]; main()")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stdout + done.stderr
    assert "pip install 'posttrain[arena]'" in lines[0]
