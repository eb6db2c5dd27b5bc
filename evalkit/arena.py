"""A blind side-by-side rating session: its folder, resume, verdicts and the result.

``evalkit arena RUN_A RUN_B`` shows a person one prompt and the two runs' answers at a
time (the page is :mod:`evalkit.arena_page`); this module is everything but the page, so
it is tested without a browser. The session lives in one folder the command owns
(``dataforge.outputs.claim_folder``: new, empty or created by posttrain)::

    sheet.csv, sheet.html, key.json   what `evalkit human export` writes, the same way:
                                      the page fills sheet.csv's ``preference`` (1, 2, tie)
                                      and ``comment`` as the person rates, so
                                      `evalkit human import sheet.csv --key key.json` reads it
    arena.json                        the skipped items and the judge verdicts' source
    summary.json                      the de-blinded result, as `human import -o` writes it

Every verdict rewrites ``sheet.csv`` atomically at once: closing the page or killing the
command loses nothing, and the same command on the same folder resumes at the first item
neither rated nor skipped. The A/B order is the key's (seeded per item); a resumed session
keeps it, and a ``seed`` that contradicts the key is refused rather than ignored.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import polars as pl

from dataforge.errors import UserError
from dataforge.outputs import claim_folder

from .compare import check_same_data
from .human import PREFERENCES, BadSheet, export_sheet, import_sheet, judge_winners, read_sheet, write_sheet
from .store import Run, write_json

SHEET, KEY, STATE, SUMMARY = "sheet.csv", "key.json", "arena.json", "summary.json"
#: What the page records: response 1 better, response 2 better, or a tie.
VERDICTS = ("1", "2", "tie")


class SessionMismatch(UserError, ValueError):
    """The folder holds a rating session of other runs, or with another seed."""


class ArenaSession:
    """One person's blind ratings of ``run_a`` vs ``run_b``, kept in ``folder``.

    Thread-safe: the page's handlers may run concurrently (two tabs on one session), and
    every change is written to disk before the call returns.
    """

    def __init__(self, folder: Path, sheet: pl.DataFrame, key: dict[str, Any], skipped: set[int],
                 judge_results: Path | None, resumed: bool) -> None:
        self.folder = folder
        self.sheet = sheet
        self.key = key
        self.skipped = skipped
        self.judge_results = judge_results
        self.resumed = resumed
        self._lock = threading.Lock()

    @classmethod
    def open(cls, run_a: Run, run_b: Run, folder: str | Path, *, seed: int | None = None,
             with_reference: bool = False, judge_results: str | Path | None = None,
             overwrite: bool = False) -> "ArenaSession":
        """Start a session in ``folder`` (a new sheet, order seeded by ``seed``, default 0),
        or resume the one already there. ``judge_results`` (a compare report folder or its
        ``judge_verdicts.jsonl``) is checked now, so a wrong file fails before the page opens."""
        check_same_data([run_a, run_b])
        out = claim_folder(folder, "evalkit arena", overwrite=overwrite)
        resumed = (out / KEY).is_file() and (out / SHEET).is_file()
        if resumed:
            key = json.loads((out / KEY).read_text(encoding="utf-8"))
            _check_same_session(out, key, run_a, run_b, seed)
        else:
            export_sheet(run_a, run_b, out, seed=0 if seed is None else seed, with_reference=with_reference,
                         overwrite=overwrite)
            key = json.loads((out / KEY).read_text(encoding="utf-8"))
        sheet = _normalized(read_sheet(out / SHEET), out / SHEET, len(key["items"]))
        state = json.loads((out / STATE).read_text(encoding="utf-8")) if (out / STATE).is_file() else {}
        judge = judge_results if judge_results is not None else state.get("judge_results")
        if judge is not None:
            judge_winners(judge, key["runs"])
        rated = set(sheet.filter(pl.col("preference") != "")["item"].to_list())
        session = cls(out, sheet, key, set(state.get("skipped", [])) - rated,
                      Path(judge) if judge is not None else None, resumed)
        session._save_state()
        return session

    # -- reading -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.sheet.height

    def item(self, number: int) -> dict[str, Any]:
        """Row ``number`` (1-based) of the sheet: prompt, response_1, response_2,
        preference, comment (and reference when the sheet shows it)."""
        return self.sheet.row(number - 1, named=True)

    def counts(self) -> dict[str, int]:
        rated = int((self.sheet["preference"] != "").sum())
        return {"rated": rated, "skipped": len(self.skipped), "open": self.size - rated - len(self.skipped)}

    def next_open(self, after: int = 0) -> int | None:
        """The first item after ``after`` (wrapping around) neither rated nor skipped; None
        when every item is."""
        open_items = [i for i, p in zip(self.sheet["item"].to_list(), self.sheet["preference"].to_list())
                      if p == "" and i not in self.skipped]
        later = [i for i in open_items if i > after]
        return (later or open_items or [None])[0]

    # -- writing -------------------------------------------------------------------------

    def rate(self, number: int, verdict: str, comment: str = "") -> None:
        """Record ``verdict`` (``1``, ``2`` or ``tie``: which response is better) for an item."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
        with self._lock:
            self.skipped.discard(number)
            self._set(number, verdict, comment)

    def skip(self, number: int, comment: str = "") -> None:
        """Leave an item unrated (empty ``preference``, as `human import` counts unlabelled)."""
        with self._lock:
            self.skipped.add(number)
            self._set(number, "", comment)

    def revisit_skipped(self) -> None:
        """Offer the skipped items again."""
        with self._lock:
            self.skipped.clear()
            self._save_state()

    def _set(self, number: int, preference: str, comment: str) -> None:
        row = pl.col("item") == number
        self.sheet = self.sheet.with_columns(
            pl.when(row).then(pl.lit(preference)).otherwise(pl.col("preference")).alias("preference"),
            pl.when(row).then(pl.lit(comment.strip())).otherwise(pl.col("comment")).alias("comment"))
        write_sheet(self.folder / SHEET, self.sheet)
        self._save_state()

    def _save_state(self) -> None:
        write_json(self.folder / STATE, {
            "skipped": sorted(self.skipped),
            "judge_results": str(self.judge_results) if self.judge_results is not None else None,
        })

    # -- the result ------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """De-blind what is rated so far, exactly as `evalkit human import` does (win-rate of
        B over A, and agreement with the judge when its verdicts are known); also written to
        ``summary.json`` with the per-item labels."""
        with self._lock:
            result = import_sheet(self.folder / SHEET, self.folder / KEY, judge_results=self.judge_results)
            write_json(self.folder / SUMMARY, {**result.summary, "labels": result.labels.to_dicts()})
        return result.summary


def _check_same_session(folder: Path, key: dict[str, Any], run_a: Run, run_b: Run, seed: int | None) -> None:
    """Refuse to resume a session of other runs (or the same runs swapped), or with another seed."""
    def same(recorded: dict[str, Any], run: Run) -> bool:
        # the same folder, or one of the same name (the key's path may be relative to
        # where the session started, or the runs may have moved with it)
        if recorded.get("path") and run.path is not None and Path(recorded["path"]).resolve() == run.path.resolve():
            return True
        return recorded.get("name") == run.name

    runs = key.get("runs", {})
    if not (same(runs.get("A", {}), run_a) and same(runs.get("B", {}), run_b)
            and key.get("data_sha256") == run_a.data_hash):
        raise SessionMismatch(
            f"{folder} holds a rating session of {runs.get('A', {}).get('name')!r} (A) vs "
            f"{runs.get('B', {}).get('name')!r} (B), not {run_a.name!r} vs {run_b.name!r}: "
            "give the runs in that order, or choose another --output folder")
    if seed is not None and seed != key.get("seed"):
        raise SessionMismatch(
            f"{folder} holds a session ordered with seed {key.get('seed')}, not {seed}: "
            "drop --seed to resume it, or choose another --output folder")


def _normalized(sheet: pl.DataFrame, path: Path, items: int) -> pl.DataFrame:
    """The sheet with ``preference`` as ``1``/``2``/``tie``/empty (what a person may have
    typed by hand is read the way `human import` reads it) and no null text."""
    needed = {"item", "prompt", "response_1", "response_2", "preference"}
    numbers = sheet["item"].cast(pl.Int64, strict=False) if "item" in sheet.columns else None
    if (not needed <= set(sheet.columns) or numbers is None or numbers.null_count()
            or sorted(numbers.to_list()) != list(range(1, items + 1))):
        raise BadSheet(f"{path} is not the sheet of its key.json (columns {sheet.columns}, {sheet.height} rows, "
                       f"{items} items in the key); choose another --output folder")
    sheet = sheet.with_columns(numbers.alias("item")).sort("item")
    if "comment" not in sheet.columns:
        sheet = sheet.with_columns(pl.lit("").alias("comment"))
    typed = pl.col("preference").fill_null("").str.strip_chars().str.to_lowercase()
    bad = sheet.filter((typed != "") & ~typed.is_in(list(PREFERENCES)))
    if bad.height:
        raise BadSheet(f"{path}: unreadable preference(s) in items {bad['item'].to_list()[:10]}: "
                       f"{sorted(set(bad['preference'].to_list()))}; use 1, 2 or tie")
    return sheet.with_columns(typed.replace_strict(PREFERENCES, default="").alias("preference")).with_columns(
        pl.col(pl.String).fill_null(""))
