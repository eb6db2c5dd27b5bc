"""The run folder: what an eval run leaves on disk, and how it is read back.

A run is a folder with three files (and a fourth when some input rows were refused)::

    predictions.parquet  one row per example: id, prompt, messages, reference (the first
                         one), references (all of them, only when some example has
                         several), prediction, one ``metric:<name>`` column per metric with
                         per-example values, ``detail:<name>.<key>`` columns with
                         per-example details (reasons, counts the bootstrap reuses)
    metrics.json         {name: {score, signature, higher_is_better, ...extra}} per metric
    manifest.json        model, data (file + content hashes, rows in = scored + refused),
                         engine + params, versions, metric signatures, timings, created_at
    rejected.parquet     the eval-set rows that could not be read as records, with the
                         reader's reason, field and line (dataforge's rejected table)

Every file is written atomically (temp file in the same folder, then ``os.replace``) and the
manifest is written last, so a folder with a manifest is a complete run: a killed run never
looks finished. ``evalkit compare`` and the report only ever read runs through
:func:`load_run`, whether they came from ``evalkit run`` or the lm-eval bridge.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dataforge import fileio
from dataforge.errors import UserError
from dataforge.outputs import claim_folder, owns_folder

PREDICTIONS_FILE = "predictions.parquet"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
REJECTED_FILE = "rejected.parquet"
#: Prefix of the per-example metric columns in ``predictions.parquet``.
METRIC_PREFIX = "metric:"
#: Prefix of per-example metric details (e.g. why a JSON check failed): ``detail:<metric>.<key>``.
DETAIL_PREFIX = "detail:"
#: The columns every predictions table has (metric columns come after them).
BASE_COLUMNS = ("id", "prompt", "reference", "prediction")

_VERSIONED_PACKAGES = (
    "posttrain", "polars", "pyarrow", "numpy", "torch", "transformers", "sacrebleu",
    "bert-score", "lm_eval",
)


class RunNotFound(UserError, FileNotFoundError):
    """A path is not a complete run folder (no manifest: missing or interrupted)."""


@dataclass
class Run:
    """An eval run in memory; the same object whether just computed or loaded from disk."""

    predictions: pl.DataFrame
    metrics: dict[str, dict[str, Any]]
    manifest: dict[str, Any] = field(default_factory=dict)
    #: eval-set rows that could not be read as records (dataforge's rejected table)
    rejected: pl.DataFrame | None = None
    path: Path | None = None
    label: str | None = None  # display name override (compare sets it to tell runs apart)

    @property
    def name(self) -> str:
        """Display name: the label, else the folder name (a renamed copy is a new name),
        else the name recorded at write time."""
        return self.label or (self.path.name if self.path else str(self.manifest.get("name") or "run"))

    @property
    def data_hash(self) -> str:
        """Content hash of the eval items (ids, prompts, references); equal data <=> equal hash."""
        return str(self.manifest.get("data", {}).get("sha256", ""))

    def metric_frame(self) -> pl.DataFrame:
        """One row per metric: name, score, signature (for notebooks and tables)."""
        rows = [{"metric": k, "score": v.get("score"), "signature": v.get("signature", "")}
                for k, v in self.metrics.items()]
        return pl.DataFrame(rows, schema={"metric": pl.String, "score": pl.Float64,
                                          "signature": pl.String})

    def per_example(self, metric: str) -> pl.Series | None:
        """Per-example values of ``metric`` aligned with ``predictions`` (None if corpus-only)."""
        col = METRIC_PREFIX + metric
        return self.predictions[col] if col in self.predictions.columns else None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_text(path: Path | str, text: str) -> None:
    fileio.write_text_atomic(path, text)


def write_bytes(path: Path | str, data: bytes) -> None:
    fileio.atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: Path | str, obj: Any) -> None:
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def write_parquet(path: Path | str, df: pl.DataFrame) -> None:
    fileio.atomic_write(path, df.write_parquet)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def save_run(run: Run, path: Path | str, *, overwrite: bool = False) -> Run:
    """Write ``run`` into folder ``path`` (manifest last) and return it bound to that path.

    The folder must be new, empty or one posttrain created (an earlier run: replaced);
    ``overwrite`` allows a folder of the user's (only the run's files are written).
    """
    folder = claim_folder(path, "evalkit run", overwrite=overwrite)
    # an older run's manifest must not vouch for files that are being replaced
    (folder / MANIFEST_FILE).unlink(missing_ok=True)
    write_parquet(folder / PREDICTIONS_FILE, run.predictions)
    write_json(folder / METRICS_FILE, run.metrics)
    if run.rejected is not None and run.rejected.height:
        write_parquet(folder / REJECTED_FILE, run.rejected)
    elif owns_folder(folder):  # an older run's list, not this one's (never a file of the user's)
        (folder / REJECTED_FILE).unlink(missing_ok=True)
    manifest = {"name": folder.name, **run.manifest}
    write_json(folder / MANIFEST_FILE, manifest)
    return Run(predictions=run.predictions, metrics=run.metrics, manifest=manifest, rejected=run.rejected,
               path=folder)


def load_run(path: Path | str) -> Run:
    """Read a run folder written by :func:`save_run` (refuses a folder without a manifest)."""
    folder = Path(path)
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise RunNotFound(f"{folder} is not a complete evalkit run (no {MANIFEST_FILE})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    metrics = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
    predictions = pl.read_parquet(folder / PREDICTIONS_FILE)
    rejected = pl.read_parquet(folder / REJECTED_FILE) if (folder / REJECTED_FILE).is_file() else None
    return Run(predictions=predictions, metrics=metrics, manifest=manifest, rejected=rejected, path=folder)


def reference_lists(frame: pl.DataFrame) -> list[list[str]]:
    """Each example's references (all of them; empty when it has none)."""
    if "references" in frame.columns:
        return [[r for r in refs or [] if r is not None] for refs in frame["references"].to_list()]
    if "reference" not in frame.columns:  # a reference-free table
        return [[] for _ in range(frame.height)]
    return [[] if r is None else [r] for r in frame["reference"].to_list()]


def items_sha256(predictions: pl.DataFrame) -> str:
    """Order-independent hash of the eval items (id, prompt, reference(s)), not the predictions.

    Two runs compare only when this matches: it is the same for a JSONL and a Parquet copy
    of one eval set, and for a model run and a ``--predictions`` run on the same items.
    Extra references count only where an example has them, so single-reference sets hash
    as they always did.
    """
    fields = [pl.col(c).cast(pl.String) for c in ("id", "prompt", "reference")]
    if "references" in predictions.columns:
        fields.append(pl.col("references"))
    rows = (
        predictions.select(pl.struct(fields).struct.json_encode().alias("row"))["row"]
        .sort()
    )
    return hashlib.sha256("\n".join(rows.to_list()).encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages that can change a score (recorded in every manifest)."""
    return fileio.package_versions(_VERSIONED_PACKAGES)
