"""dedup.exact and dedup.near: drop records whose key text repeats an earlier record's.

Both ops remember what they have seen on the op instance (scope ``stream``), so running
one instance over shard after shard dedups the whole stream: a record is compared with
the records of its own shard and of every earlier shard. The key (prompt / conversation
/ record, see :mod:`dataforge.dedup.keys`) is the same for both. Records whose key has no
text are kept and counted (``skipped_no_text``): "nothing" is not a duplicate of "nothing".

The per-record parts (key hashes; signatures, shingles and survivor worth) are pure
batch functions here, and the rules that decide (:func:`first_of_each_key`; the candidate
pairs and their verification in :mod:`dataforge.dedup.lsh`) are shared: the Ray executor
runs them around its shuffles (:mod:`dataforge.executors.ray_dedup`), so both executors
decide with the same code.

``dedup.near`` is MinHash (datasketch's scheme) + banded LSH + the exact Jaccard of each
candidate pair's shingle sets, computed for a whole shard at once (:mod:`dataforge.dedup`);
see docs/ops/dedup.md.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from ..dedup.keys import KeyMode, key_text
from ..dedup.jaccard import ShingleRuns
from ..dedup.lsh import NearDupIndex, lsh_params, recall_params
from ..dedup.minhash import signatures
from ..schemas.exprs import record_text
from ..text import Tokenization, nfkc, normalize_for_matching, shingle_hashes
from .base import Operator, OpConfig, OpResult, register_op


class _KeyConfig(OpConfig):
    """The dedup key, shared by both ops (see :mod:`dataforge.dedup.keys`)."""

    key: KeyMode = Field(
        "conversation",
        description="what must repeat: prompt (user turns), conversation (all of messages) or record (+ chosen/rejected)",
    )
    include_system: bool = Field(
        False, description="count system turns in the key (off: a shared system prompt would make everything alike)"
    )


def _has_text(text: pl.Expr) -> pl.Expr:
    return text.str.contains(r"[^\s\x1e]")


#: the 128-bit fingerprint of an exact-dedup key: two seeded 64-bit polars hashes
EXACT_KEY = ["_h1", "_h2"]


def first_of_each_key() -> pl.Expr:
    """For rows in input order: null for the first row of each key, else that first row's id."""
    return pl.when(pl.int_range(pl.len()).over(EXACT_KEY) > 0).then(pl.col("id").first().over(EXACT_KEY))


@register_op
class ExactDedup(Operator):
    """Reject records whose normalized key text equals an earlier record's (first one kept)."""

    name = "dedup.exact"
    scope = "stream"

    class Config(_KeyConfig):
        strip_punctuation: bool = Field(
            False, description="also ignore punctuation and symbols when comparing"
        )

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        # 128-bit fingerprints (two seeded 64-bit polars hashes) of every key kept so far,
        # with the kept record's id. polars' hash is stable within a run, which is all
        # the cross-shard memory needs.
        self._seen = pl.DataFrame(schema={"h1": pl.UInt64, "h2": pl.UInt64, "first_id": pl.String})

    def key_hashes(self, records: pl.DataFrame) -> pl.DataFrame:
        """``_h1, _h2`` (the key's fingerprint) and ``_has`` (the key has text) per record."""
        cfg = self.config
        text = normalize_for_matching(
            key_text(cfg.key, cfg.include_system), strip_punctuation=cfg.strip_punctuation
        )
        return records.select(
            text.hash(0x9E3779B9).alias("_h1"), text.hash(0x85EBCA6B).alias("_h2"), _has_text(text).alias("_has")
        )

    def process(self, records: pl.DataFrame) -> OpResult:
        keyed = pl.concat([records, self.key_hashes(records)], how="horizontal")
        keyed = keyed.join(
            self._seen.rename({"h1": "_h1", "h2": "_h2", "first_id": "_prior"}),
            on=EXACT_KEY, how="left", maintain_order="left",
        ).with_columns(
            pl.when(pl.col("_has")).then(pl.coalesce(pl.col("_prior"), first_of_each_key())).alias("_dup")
        )
        new = keyed.filter(pl.col("_has") & pl.col("_dup").is_null() & pl.col("_prior").is_null())
        fresh = new.select(pl.col("_h1").alias("h1"), pl.col("_h2").alias("h2"), pl.col("id").alias("first_id"))
        self._seen = pl.concat([self._seen, fresh])
        if self._seen.n_chunks() > 32:  # many shards: keep joins on few chunks
            self._seen = self._seen.rechunk()
        return self.reject_duplicates(
            keyed, records.columns, earlier=pl.col("_prior").is_not_null(),
            stats={
                "skipped_no_text": int((~keyed["_has"]).sum()),
                "duplicates_of_earlier_shards": int(keyed["_prior"].is_not_null().sum()),
                "new_keys": fresh.height,
            },
        )

    def reject_duplicates(
        self, marked: pl.DataFrame, columns: list[str], *, earlier: pl.Expr, stats: dict[str, Any]
    ) -> OpResult:
        """Reject the rows whose ``_dup`` (the id of the kept record) is set; kept rows
        keep ``columns``. ``earlier`` marks duplicates of a record from an earlier shard."""
        result = self.split(
            marked, pl.col("_dup").is_not_null(), reason="exact_duplicate",
            detail=pl.format(
                "normalized {} text equals that of {}{}", pl.lit(self.config.key), pl.col("_dup"),
                pl.when(earlier).then(pl.lit(" (earlier shard)")).otherwise(pl.lit("")),
            ),
            duplicate_of=pl.col("_dup"),
            stats=stats,
        )
        result.kept = result.kept.select(columns)
        return result


#: Text shingled at once by dedup.near (see ``NearDedup._sketch``).
SKETCH_BYTES = 1 << 20


@register_op
class NearDedup(Operator):
    """Reject near-duplicate records: MinHash + LSH, candidates verified by exact Jaccard,
    one kept per cluster."""

    name = "dedup.near"
    scope = "stream"
    reason = "near_duplicate"

    class Config(_KeyConfig):
        threshold: float = Field(
            0.8, gt=0.0, lt=1.0, description="Jaccard similarity above which records are duplicates"
        )
        num_perm: int = Field(128, ge=2, description="MinHash permutations (signature length)")
        weights: tuple[float, float] | None = Field(
            None, description="(false positive, false negative) weights: pick bands x rows with datasketch's "
            "optimizer instead (default: verify=true bands for 99% recall at the threshold; verify=false "
            "datasketch's (0.5, 0.5))"
        )
        bands: int | None = Field(None, ge=2, description="LSH bands; set with rows to bypass the optimizer")
        rows: int | None = Field(None, ge=1, description="values per band; set with bands")
        ngram_words: int = Field(3, ge=1, description="shingle size in words (space-delimited text)")
        ngram_chars: int = Field(5, ge=1, description="shingle size in characters (Chinese/Japanese text)")
        tokenization: Tokenization = Field(
            "auto", description="auto: per record, characters when most tokens are Han/kana, else words"
        )
        keep: Literal["first", "longest", "highest_score"] = Field(
            "first", description="which record of a cluster survives (longest: most text in the record)"
        )
        score_field: str = Field(
            "score", description="meta JSON field (dotted path) read by keep: highest_score"
        )
        verify: bool = Field(
            True, description="link LSH candidates only when the exact Jaccard of their shingle sets "
            ">= threshold (off: every candidate is linked, as datasketch's MinHashLSH would)"
        )
        seed: int = Field(1, description="MinHash permutation seed (datasketch's default is 1)")

        @model_validator(mode="after")
        def _lsh_params(self) -> "NearDedup.Config":
            if self.weights is not None and (min(self.weights) < 0 or abs(sum(self.weights) - 1.0) > 1e-9):
                raise ValueError(f"weights {self.weights} must be >= 0 and sum to 1")
            if (self.bands is None) != (self.rows is None):
                raise ValueError("set both bands and rows, or neither (then datasketch's optimizer picks them)")
            if self.bands is not None and self.bands * (self.rows or 0) > self.num_perm:
                raise ValueError(f"bands * rows = {self.bands * (self.rows or 0)} exceeds num_perm {self.num_perm}")
            return self

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        cfg = self.config
        if cfg.bands is not None and cfg.rows is not None:
            self.bands, self.rows = cfg.bands, cfg.rows
        elif cfg.weights is None and cfg.verify:
            self.bands, self.rows = recall_params(cfg.threshold, cfg.num_perm)
        else:
            fp_weight = float(cfg.weights[0]) if cfg.weights is not None else 0.5
            self.bands, self.rows = lsh_params(cfg.threshold, cfg.num_perm, (fp_weight, 1.0 - fp_weight))
        self._index = NearDupIndex(
            cfg.num_perm, self.bands, self.rows, cfg.threshold if cfg.verify else None
        )
        # Choosing the longest / best-scored record of a cluster needs the whole cluster,
        # hence the whole table; with "first", shards stream.
        if cfg.keep != "first":
            self.scope = "global"

    def sketch(self, records: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, ShingleRuns | None]:
        """Per record of the batch: MinHash signature, whether its key has shingles (a key
        without is never a duplicate), and (to verify) its shingles."""
        cfg = self.config
        text = nfkc(records.select(key_text(cfg.key, cfg.include_system)).to_series()).str.to_lowercase()
        return self._sketch(text)

    def process(self, records: pl.DataFrame) -> OpResult:
        sig, active, runs = self.sketch(records)
        found = self._index.assign(sig, records["id"], active, self._priority(records), runs)
        marked = records.with_columns(
            found.duplicate_of.alias("_dup"), found.partner.alias("_partner"),
            pl.Series("_sim", found.similarity), pl.Series("_earlier", found.earlier),
        )
        return self.reject_duplicates(
            marked, records.columns,
            stats={
                "lsh": f"{self.bands} bands x {self.rows} rows",
                "skipped_no_text": int((~active).sum()),
                **found.stats,
            },
        )

    def reject_duplicates(self, marked: pl.DataFrame, columns: list[str], stats: dict[str, Any]) -> OpResult:
        """Reject the rows whose ``_dup`` (the id of the cluster's kept record) is set,
        naming the record that linked them (``_partner``, ``_sim``, ``_earlier``: from an
        earlier shard); kept rows keep ``columns``."""
        measure = "Jaccard" if self.config.verify else "estimated Jaccard"
        sim = pl.col("_sim").round(3)
        where = pl.when(pl.col("_earlier")).then(pl.lit(" (earlier shard)")).otherwise(pl.lit(""))
        result = self.split(
            marked, pl.col("_dup").is_not_null(), reason=self.reason,
            detail=pl.when(sim.is_nan())
            .then(pl.format("LSH candidate of {}{}", pl.col("_partner"), where))
            .otherwise(pl.format("{} {} with {}{}", pl.lit(measure), sim, pl.col("_partner"), where)),
            duplicate_of=pl.col("_dup"),
            stats=stats,
        )
        result.kept = result.kept.select(columns)
        return result

    def _sketch(self, text: pl.Series) -> tuple[np.ndarray, np.ndarray, ShingleRuns | None]:
        """Signatures, which rows have shingles, and (to verify) the shingles themselves.

        Shingling holds every token as a string plus several 8-byte arrays per shingle,
        about 30 bytes per character of text, so it runs on slices of about
        :data:`SKETCH_BYTES` of text: only signatures and shingle hashes (4 bytes each)
        outlive a slice, and memory does not grow with the shard.
        """
        cfg = self.config
        size = np.cumsum(text.str.len_bytes().fill_null(0).to_numpy())
        cuts = np.searchsorted(size, np.arange(SKETCH_BYTES, int(size[-1]) if len(size) else 0, SKETCH_BYTES))
        bounds = np.unique(np.concatenate([[0], cuts, [len(text)]]))
        sigs, active, runs = [], [], []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            shingles = shingle_hashes(
                text.slice(int(lo), int(hi - lo)), ngram_words=cfg.ngram_words,
                ngram_chars=cfg.ngram_chars, tokenization=cfg.tokenization,
            )
            sigs.append(signatures(shingles, cfg.num_perm, cfg.seed))
            active.append(shingles.counts() > 0)
            if cfg.verify:
                runs.append(ShingleRuns.of(shingles))
        if not sigs:
            return np.zeros((0, cfg.num_perm), np.uint32), np.zeros(0, bool), ShingleRuns.empty() if cfg.verify else None
        return np.concatenate(sigs), np.concatenate(active), ShingleRuns.concat(runs) if cfg.verify else None

    def worth(self, records: pl.DataFrame) -> np.ndarray:
        """How much each record deserves to survive its cluster (higher wins; ties go to
        the earlier record): 0 for ``keep: first``, text length or score otherwise."""
        if self.config.keep == "first":
            return np.zeros(records.height)
        if self.config.keep == "longest":
            goodness = records.select(record_text().str.len_chars().cast(pl.Float64)).to_series()
        else:
            goodness = records.select(
                pl.col("meta").str.json_path_match(f"$.{self.config.score_field}").cast(pl.Float64, strict=False)
            ).to_series()
        return goodness.fill_nan(None).fill_null(-np.inf).to_numpy()

    def _priority(self, records: pl.DataFrame) -> np.ndarray:
        """Survivor order within a new cluster: lower wins; ties go to the earlier row."""
        n = records.height
        if self.config.keep == "first":
            return np.arange(n)
        order = np.lexsort((np.arange(n), -self.worth(records)))
        priority = np.empty(n, np.int64)
        priority[order] = np.arange(n)
        return priority
