"""The compare report as a reader sees it: plots without overlapping labels, judge rows that
do not claim certainty from two verdicts, and the HTML page laid out by a real headless
browser (Debian's chromium) without words broken mid-word, plus a screenshot of it.

The runs are real ``evalkit run --predictions`` runs (no model). The judge summary rows
are made by ``evalkit.winrate.win_rate`` from fixed verdicts, exactly as ``judge_pairs``
makes them from a judge's verdicts: the report's rendering is what is under test here.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from evalkit.compare import compare
from evalkit.report import write_report
from evalkit.report import plots
from evalkit.report.tables import judge_table
from evalkit.run import evaluate
from evalkit.store import load_run
from evalkit.winrate import win_rate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NAMES = ("基线模型-baseline-qwen2.5-7b-instruct", "候选模型-candidate-sft-dpo-medical-v2")


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    answers = ["北京是中国的首都。", "水在一百度沸腾。", "温度30℃时请多喝水。", "The cat sat on the mat.", "It is 4."]
    runs = []
    for k, name in enumerate(NAMES):
        rows = [{"id": f"q{i}", "prompt": f"问题 {i}：请回答。", "reference": answers[i % 5],
                 "prediction": answers[(i * (k + 2)) % 5]} for i in range(30)]
        path = root / f"{k}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        runs.append(load_run(evaluate(predictions=path, metrics="bleu,distinct,self_bleu,exact_match,json_valid",
                                      output=root / name).path))
    result = compare(runs, n_boot=100)
    outcomes = ["win", "unparseable", "unparseable", "loss", "unparseable", "unparseable"]  # 2 parseable
    summary = win_rate(outcomes, verdicts_ab=["B", "unparseable", "A", "A", "B", "A"],
                       verdicts_ba=["B", "A", "unparseable", "A", "unparseable", "unparseable"],
                       len_a=[10] * 6, len_b=[12] * 6, n_resamples=100)
    result.judge = pl.DataFrame([{"run": NAMES[1], **summary.to_dict(),
                                  "signature": f"judge:pairwise|model:smollm2||{summary.signature}"}])
    return result, root


def test_judge_row_with_few_verdicts_says_the_ci_is_not_meaningful(comparison):
    result, _ = comparison
    headers, (row,) = judge_table(result)
    cells = dict(zip(headers, row))
    assert cells["95% CI"] == "not meaningful (2 judged)"
    assert cells["position consistency"] == "n/a (2 pairs)"
    assert "0.5000, 0.5000" not in " ".join(row)
    assert "judge:pairwise" not in " ".join(row)  # the long signature lives in the signature table


def _overlaps(a, b, slack: float = 0.5) -> bool:
    return (a.x0 + slack < b.x1 and b.x0 + slack < a.x1 and a.y0 + slack < b.y1 and b.y0 + slack < a.y1)


def _drawn_ticklabels(ax) -> list:
    """Tick labels matplotlib really draws: those of ticks inside the view limits."""
    labels = []
    for ticks, tick_labels, limits in ((ax.get_xticks(), ax.get_xticklabels(), ax.get_xlim()),
                                       (ax.get_yticks(), ax.get_yticklabels(), ax.get_ylim())):
        low, high = sorted(limits)
        labels += [label for tick, label in zip(ticks, tick_labels) if low - 1e-9 <= tick <= high + 1e-9]
    return labels


@pytest.mark.parametrize("stem", ["scores", "deltas", "lengths", "win_tie_loss"])
def test_plot_labels_do_not_overlap(comparison, stem):
    result, _ = comparison
    fig = plots.figures(result)[stem](result)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in (*_drawn_ticklabels(ax), ax.title, ax.xaxis.label, ax.yaxis.label)]
    if fig._suptitle is not None:
        texts.append(fig._suptitle)
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_visible() and t.get_text()]
    clashes = [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if _overlaps(ba, bb)]
    assert not clashes, clashes
    fig_box = fig.get_window_extent(renderer)
    assert all(box.x0 >= fig_box.x0 - 1 and box.x1 <= fig_box.x1 + 1 for _, box in boxes)  # nothing cut off


def test_cjk_fonts_come_first_in_the_plot_font_list(comparison):
    plots._style()
    import matplotlib.pyplot as plt

    families = plt.rcParams["font.sans-serif"]
    assert families[-1] == "DejaVu Sans" and list(families[:-1]) == list(plots.cjk_fonts())
    assert all("last resort" not in f.lower() for f in families)


_MEASURE = """<script>
const split = [];
for (const cell of document.querySelectorAll("th, td")) {
  if (cell.classList.contains("text")) continue;  // prompts and answers may wrap anywhere
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (lines.size > 1) split.push(m[0]);
    }
  }
}
document.body.setAttribute("data-split-words", JSON.stringify(split));
document.body.setAttribute("data-cells", String(document.querySelectorAll("th, td").length));
</script></body>"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--hide-scrollbars"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it with apt)")
def test_report_in_a_headless_browser(comparison, tmp_path):
    result, _ = comparison
    files = write_report(result, tmp_path / "report")
    page = files["report.html"].read_text(encoding="utf-8")
    assert "not meaningful (2 judged)" in page
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", _MEASURE), encoding="utf-8")
    for width in (1280, 820):  # a laptop window and a narrow one
        dom = _chromium("--dump-dom", f"--window-size={width},2000", measured.as_uri(), profile=tmp_path / "p")
        assert dom.returncode == 0, dom.stderr[-2000:]
        cells = int(dom.stdout.split('data-cells="')[1].split('"')[0])
        split = json.loads(dom.stdout.split("data-split-words=\"")[1].split('"')[0].replace("&quot;", '"'))
        assert cells > 50 and split == [], f"words broken across lines at {width}px: {split}"
    shot = tmp_path / "report.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1280,3600", files["report.html"].as_uri(),
                     profile=tmp_path / "p")
    assert done.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
    keep = Path(__file__).resolve().parents[2] / ".pytest_cache" / "evalkit-report.png"
    keep.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, keep)  # for a person to look at
