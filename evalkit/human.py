"""Blind pairwise human evaluation: export an annotation sheet, import the filled sheet.

``export_sheet(run_a, run_b, out)`` writes

* ``sheet.csv``: item, prompt, (reference), response_1, response_2, preference, comment;
  annotators fill ``preference`` with ``1``, ``2`` or ``tie``. UTF-8 with a BOM, so Excel
  opens Chinese text correctly.
* ``sheet.html``: the same items, readable (long answers, Chinese), for the annotator.
* ``key.json``: which run is behind response 1 for every item. A/B order is randomized per
  item with ``seed`` so annotators cannot learn "response 1 is the new model"; the key is
  what de-blinds the answers afterwards, so keep it away from the annotators.

``import_sheet(sheet, key)`` de-blinds the preferences into A/B/tie (A = ``run_a``, the
baseline), computes B's win-rate with a bootstrap CI (``evalkit.winrate``), and with the
judge verdicts that ``evalkit compare --judge`` wrote (``judge_verdicts.jsonl``) the
agreement between humans and the judge: raw agreement and Cohen's kappa.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dataforge.errors import UserError
from dataforge.outputs import claim_folder

from .agreement import cohen_kappa
from .compare import check_same_data
from .store import Run, now_iso, write_json, write_text
from .winrate import win_rate

#: What annotators may write in ``preference`` (case-insensitive) -> blind label.
PREFERENCES = {"1": "1", "2": "2", "tie": "tie", "t": "tie", "=": "tie", "0": "tie", "平": "tie", "平局": "tie"}
_OUTCOME_OF_WINNER = {"B": "win", "A": "loss", "tie": "tie"}
LABELS = ("A", "B", "tie")


def export_sheet(run_a: Run, run_b: Run, out_dir: str | Path, *, seed: int = 0,
                 with_reference: bool = False, overwrite: bool = False) -> dict[str, Path]:
    """Write sheet.csv, sheet.html and key.json for a blind A/B comparison of two runs."""
    check_same_data([run_a, run_b])
    a = run_a.predictions.select("id", "prompt", "reference", "prediction")
    b = a.select("id").join(run_b.predictions.select("id", "prediction"), on="id", how="left",
                            maintain_order="left")
    b_first = np.random.default_rng(seed).random(a.height) < 0.5
    sheet = pl.DataFrame({
        "item": np.arange(1, a.height + 1),
        "prompt": a["prompt"],
        "reference": a["reference"],
        "response_1": np.where(b_first, b["prediction"].fill_null(""), a["prediction"].fill_null("")),
        "response_2": np.where(b_first, a["prediction"].fill_null(""), b["prediction"].fill_null("")),
        "preference": pl.Series([""] * a.height, dtype=pl.String),
        "comment": pl.Series([""] * a.height, dtype=pl.String),
    })
    if not with_reference:
        sheet = sheet.drop("reference")
    key = {
        "seed": seed,
        "created_at": now_iso(),
        "data_sha256": run_a.data_hash,
        "runs": {label: {"name": r.name, "path": str(r.path) if r.path else None}
                 for label, r in (("A", run_a), ("B", run_b))},
        "items": [{"item": i + 1, "id": id_, "response_1": "B" if flip else "A"}
                  for i, (id_, flip) in enumerate(zip(a["id"].to_list(), b_first.tolist()))],
    }
    out = claim_folder(out_dir, "evalkit human export", overwrite=overwrite)
    files = {"sheet.csv": out / "sheet.csv", "sheet.html": out / "sheet.html", "key.json": out / "key.json"}
    write_text(files["sheet.csv"], "\ufeff" + sheet.write_csv())
    write_text(files["sheet.html"], _sheet_html(sheet))
    write_json(files["key.json"], key)
    return files


def _sheet_html(sheet: pl.DataFrame) -> str:
    cards = []
    for row in sheet.iter_rows(named=True):
        reference = (f"<p><b>Reference</b></p><pre>{html.escape(row['reference'] or '')}</pre>"
                     if "reference" in row else "")
        cards.append(
            f"<section><h2>Item {row['item']}</h2><p><b>Prompt</b></p><pre>{html.escape(row['prompt'] or '')}</pre>"
            f"{reference}<div class='pair'><div><p><b>Response 1</b></p><pre>{html.escape(row['response_1'])}</pre></div>"
            f"<div><p><b>Response 2</b></p><pre>{html.escape(row['response_2'])}</pre></div></div></section>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Pairwise annotation sheet</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem}"
        "pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.5rem}"
        ".pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}section{border-bottom:1px solid #ccc}"
        "</style></head><body><h1>Pairwise annotation sheet</h1>"
        "<p>For every item, decide which response answers the prompt better, and write "
        "<code>1</code>, <code>2</code> or <code>tie</code> in the <code>preference</code> column of "
        "<code>sheet.csv</code> (the item numbers match). 请在 sheet.csv 的 preference 列填写 1、2 或 tie。</p>"
        + "".join(cards) + "</body></html>\n"
    )


@dataclass
class HumanResult:
    """De-blinded labels (one row per item) and the summary (win-rate, agreement)."""

    labels: pl.DataFrame
    summary: dict[str, Any]


class BadSheet(UserError, ValueError):
    """A filled annotation sheet that cannot be de-blinded (columns, labels, items)."""


def read_sheet(path: str | Path) -> pl.DataFrame:
    """A filled sheet (CSV, with or without BOM), every column as text."""
    text = Path(path).read_text(encoding="utf-8-sig")
    return pl.read_csv(text.encode("utf-8"), infer_schema=False)


def import_sheet(sheet: str | Path, key: str | Path, *, judge_results: str | Path | None = None,
                 n_boot: int = 1000, confidence: float = 0.95, seed: int = 0) -> HumanResult:
    """De-blind a filled sheet; win-rate of run B over run A, and agreement with a judge."""
    keyed = json.loads(Path(key).read_text(encoding="utf-8"))
    key_frame = pl.DataFrame(keyed["items"]).with_columns(pl.col("item").cast(pl.String))
    filled = read_sheet(sheet)
    if "preference" not in filled.columns or "item" not in filled.columns:
        raise BadSheet(f"{sheet} needs `item` and `preference` columns")
    raw = filled.select("item", pl.col("preference").fill_null("").str.strip_chars().str.to_lowercase())
    bad = raw.filter((pl.col("preference") != "") & ~pl.col("preference").is_in(list(PREFERENCES)))
    if bad.height:
        raise BadSheet(f"unreadable preference(s) in items {bad['item'].to_list()[:10]}: "
                         f"{sorted(set(bad['preference'].to_list()))}; use 1, 2 or tie")
    unknown = set(raw["item"].to_list()) - set(key_frame["item"].to_list())
    if unknown:
        raise BadSheet(f"items {sorted(unknown)[:10]} are not in the key {key}: wrong key file?")
    blind = pl.col("preference").replace_strict(PREFERENCES, default=None)
    labels = key_frame.join(raw, on="item", how="left").with_columns(
        pl.when(blind == "tie").then(pl.lit("tie"))
        .when(blind == "1").then(pl.col("response_1"))
        .when(blind == "2").then(pl.when(pl.col("response_1") == "A").then(pl.lit("B")).otherwise(pl.lit("A")))
        .alias("winner")
    ).with_columns(pl.col("winner").replace_strict(_OUTCOME_OF_WINNER, default=None).alias("outcome"))
    judged = labels.filter(pl.col("outcome").is_not_null())
    result = win_rate(judged["outcome"].to_list(), n_resamples=n_boot, confidence=confidence, seed=seed)
    summary: dict[str, Any] = {
        "runs": keyed["runs"], "labelled": judged.height, "unlabelled": labels.height - judged.height,
        "human": result.to_dict(),
    }
    if judge_results is not None:
        labels, summary["judge_agreement"] = _agreement(labels, judge_results, keyed["runs"]["B"]["name"])
    return HumanResult(labels=labels, summary=summary)


def _agreement(labels: pl.DataFrame, judge_results: str | Path, run_b: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Join the judge's per-example winners and measure human-judge agreement."""
    verdicts = pl.read_ndjson(judge_results)
    if "run" in verdicts.columns and verdicts["run"].n_unique() > 1:
        verdicts = verdicts.filter(pl.col("run") == run_b)
    labels = labels.join(verdicts.select("id", pl.col("winner").alias("judge_winner")), on="id", how="left")
    both = labels.filter(pl.col("winner").is_in(LABELS) & pl.col("judge_winner").is_in(LABELS))
    human, judge = both["winner"].to_list(), both["judge_winner"].to_list()
    kappa = cohen_kappa(human, judge, labels=LABELS) if both.height else float("nan")
    return labels, {
        "items": both.height,
        "agreement": float((both["winner"] == both["judge_winner"]).mean()) if both.height else None,
        "cohen_kappa": None if np.isnan(kappa) else kappa,
        "judge_results": str(judge_results),
    }
