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
    write_sheet(files["sheet.csv"], sheet)
    write_text(files["sheet.html"], _sheet_html(sheet))
    write_json(files["key.json"], key)
    return files


def write_sheet(path: str | Path, sheet: pl.DataFrame) -> None:
    """Write a sheet atomically as CSV, UTF-8 with a BOM (Excel then reads Chinese right)."""
    write_text(path, "\ufeff" + sheet.write_csv())


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
        labels, summary["judge_agreement"] = _agreement(labels, judge_results, keyed["runs"])
    return HumanResult(labels=labels, summary=summary)


class JudgeMismatch(UserError, ValueError):
    """Judge verdicts that are not about the two runs of the sheet."""


def judge_winners(judge_results: str | Path, runs: dict[str, dict[str, Any]]) -> pl.DataFrame:
    """The judge's winner per item id (``id``, ``judge_winner``), in the sheet's A/B labels.

    ``judge_results`` is the ``judge_verdicts.jsonl`` of ``evalkit compare --judge`` or the
    report folder holding it; ``runs`` is the key's ``{"A": {name, path}, "B": {...}}``. The
    judge's A is the compare's baseline, which need not be the sheet's A: when
    ``comparison.json`` lies beside the verdicts, the sheet's runs are found among the
    compared ones (by folder, else by name) and the winners are swapped when the sheet's B
    was the baseline. Without it (a bare verdicts file), the sheet's A is taken to be the
    baseline, and verdicts about several runs are narrowed to the sheet's B by name.
    """
    source = Path(judge_results)
    path = source / "judge_verdicts.jsonl" if source.is_dir() else source
    if not path.is_file():
        raise JudgeMismatch(f"{source} holds no judge verdicts (judge_verdicts.jsonl of `evalkit compare --judge`)")
    verdicts = pl.read_ndjson(path)
    missing = {"id", "winner"} - set(verdicts.columns)
    if missing:
        raise JudgeMismatch(f"{path} has no {sorted(missing)} column(s): not judge verdicts")
    compared = path.parent / "comparison.json"
    swap, candidate = False, runs["B"]["name"]
    if compared.is_file():
        entries = json.loads(compared.read_text(encoding="utf-8"))["runs"]
        baseline, others = entries[0], entries[1:]
        a, b = (_find_run(run, entries) for run in (runs["A"], runs["B"]))
        if a is baseline and b in others:
            candidate = b["name"]
        elif b is baseline and a in others:
            swap, candidate = True, a["name"]
        else:
            raise JudgeMismatch(
                f"the judge verdicts in {path.parent} compare {baseline['name']!r} with "
                f"{[e['name'] for e in others]}, not {runs['A']['name']!r} with {runs['B']['name']!r}")
    if "run" in verdicts.columns and (compared.is_file() or verdicts["run"].n_unique() > 1):
        if candidate not in set(verdicts["run"].to_list()):
            raise JudgeMismatch(f"{path} has no verdicts for run {candidate!r} "
                                f"(runs: {sorted(set(verdicts['run'].to_list()))})")
        verdicts = verdicts.filter(pl.col("run") == candidate)
    winner = pl.col("winner")
    if swap:
        winner = winner.replace({"A": "B", "B": "A"})
    return verdicts.select(pl.col("id").cast(pl.String), winner.alias("judge_winner")).unique("id", keep="first", maintain_order=True)


def _find_run(run: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The compared run that is ``run``: the same folder, else the same name."""
    if run.get("path"):
        here = Path(run["path"]).resolve()
        for entry in entries:
            if entry.get("path") and Path(entry["path"]).resolve() == here:
                return entry
    return next((e for e in entries if e["name"] == run["name"]), None)


def _agreement(labels: pl.DataFrame, judge_results: str | Path,
               runs: dict[str, dict[str, Any]]) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Join the judge's per-example winners and measure human-judge agreement."""
    labels = labels.join(judge_winners(judge_results, runs), on="id", how="left")
    both = labels.filter(pl.col("winner").is_in(LABELS) & pl.col("judge_winner").is_in(LABELS))
    human, judge = both["winner"].to_list(), both["judge_winner"].to_list()
    kappa = cohen_kappa(human, judge, labels=LABELS) if both.height else float("nan")
    return labels, {
        "items": both.height,
        "agreement": float((both["winner"] == both["judge_winner"]).mean()) if both.height else None,
        "cohen_kappa": None if np.isnan(kappa) else kappa,
        "judge_results": str(judge_results),
    }
