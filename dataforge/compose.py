"""Split and mix: steps with several outputs, so functions rather than operators.

An operator maps one table to kept + rejected. ``split`` makes train + test and ``mix``
makes one table out of several inputs; forcing either into kept/rejected would lie about
what "rejected" means. Both are pure functions over canonical polars frames, seeded with
numpy's PCG64 (stable across numpy versions), vectorized: the random key of every row is
drawn in one call and the selection is a polars window expression.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import polars as pl

from .errors import ConfigError, DataError
from .schemas.record import conform


@dataclass
class SplitResult:
    train: pl.DataFrame
    test: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    def items(self) -> list[tuple[str, pl.DataFrame]]:
        """``[("train", df), ("test", df)]``: the outputs by name, e.g. to write one file each."""
        return [("train", self.train), ("test", self.test)]


def split(
    df: pl.DataFrame, test_ratio: float = 0.1, *, stratify: str | None = "source", seed: int = 0
) -> SplitResult:
    """Train/test split by ratio, stratified, seeded; rows in = train + test.

    Each stratum (distinct value of ``stratify``, nulls one stratum of their own) sends
    ``round(size * test_ratio)`` of its rows to test, chosen by a seeded random key, so
    every source is represented in test in proportion. ``stratify=None`` splits the table
    as one stratum. Input row order is kept within each output.
    """
    if not 0.0 <= test_ratio <= 1.0:
        raise ConfigError(f"test_ratio must be within [0, 1], got {test_ratio}")
    if stratify is not None and stratify not in df.columns:
        raise DataError(f"cannot stratify by {stratify!r}: not a column ({', '.join(df.columns)})")
    key = pl.Series("_key", np.random.default_rng(seed).random(df.height))
    group = pl.col(stratify) if stratify else pl.lit(0)
    rank = pl.col("_key").rank("ordinal").over(group)
    n_test = (pl.len().over(group) * test_ratio).round().cast(pl.Int64)
    marked = df.with_columns(key).with_columns((rank <= n_test).alias("_test"))
    train = marked.filter(~pl.col("_test")).drop("_key", "_test")
    test = marked.filter(pl.col("_test")).drop("_key", "_test")
    strata: dict[str, dict[str, int]] = {}
    if stratify:
        counts = marked.group_by(stratify, maintain_order=True).agg(
            (~pl.col("_test")).sum().alias("train"), pl.col("_test").sum().alias("test")
        )
        strata = {str(k): {"train": int(a), "test": int(b)} for k, a, b in counts.rows()}
    stats = {
        "rows_in": df.height, "train": train.height, "test": test.height,
        "test_ratio": test_ratio, "stratify": stratify, "seed": seed, "strata": strata,
    }
    return SplitResult(train, test, stats)


@dataclass
class MixResult:
    mixed: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


def _allocate(weights: Mapping[str, float], size: int) -> dict[str, int]:
    """Integer counts proportional to ``weights`` summing exactly to ``size`` (largest remainder)."""
    names = list(weights)
    total = sum(weights.values())
    exact = np.array([weights[n] / total * size for n in names])
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: size - counts.sum()]] += 1
    return dict(zip(names, counts.tolist()))


def _with_provenance(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """Fill a null ``source`` with the input name; add ``"mix_input": name`` to ``meta``.

    ``meta`` is JSON text; the key is appended last, so if a record was mixed before the
    newest value wins when the object is parsed.
    """
    tag = f'"mix_input": {json.dumps(name, ensure_ascii=False)}'
    meta = pl.col("meta").str.strip_chars()
    new_meta = (
        pl.when(meta.is_null() | (meta == "") | (meta.str.replace_all(r"\s", "") == "{}"))
        .then(pl.lit("{" + tag + "}"))
        .when(meta.str.starts_with("{"))
        .then(pl.concat_str(meta.str.strip_suffix("}"), pl.lit(", " + tag + "}")))
        .otherwise(pl.concat_str(pl.lit('{"meta": '), meta, pl.lit(", " + tag + "}")))
    )
    return df.with_columns(
        pl.coalesce(pl.col("source"), pl.lit(name)).alias("source"), new_meta.alias("meta")
    )


def _sample(df: pl.DataFrame, n: int, rng: np.random.Generator, replace: bool, name: str) -> pl.DataFrame:
    """``n`` rows of ``df``: without replacement while possible; beyond, whole copies + a remainder."""
    if n <= df.height:
        return df[np.sort(rng.choice(df.height, size=n, replace=False))]
    if df.height == 0:
        raise DataError(f"input {name!r} has no rows but the mix needs {n}: give it weight 0 or drop it")
    if not replace:
        raise DataError(
            f"input {name!r} has {df.height} rows but the mix needs {n}: lower --size, "
            "change the weights, or allow sampling with replacement (--replace)"
        )
    copies, rest = divmod(n, df.height)
    idx = np.concatenate([np.tile(np.arange(df.height), copies), np.sort(rng.choice(df.height, rest, replace=False))])
    return df[idx]


def mix(
    inputs: Mapping[str, pl.DataFrame],
    weights: Mapping[str, float],
    *,
    size: int | None = None,
    seed: int = 0,
    replace: bool = False,
    shuffle: bool = True,
) -> MixResult:
    """Weighted mix of datasets, e.g. ``{"new": 0.8, "old_replay": 0.2}`` for replay.

    ``size`` is the total row count; without it, the largest mix that keeps the exact
    ratios without replacement (the input that runs out first sets it), or with
    ``replace=True`` the smallest mix that uses every row of every input. Counts are
    allocated by largest remainder so they sum to ``size`` exactly. An input asked for more
    rows than it has is upsampled (whole copies, then a random remainder) only when
    ``replace`` is set; otherwise it is an error naming the input. Each row records where
    it came from: ``source`` (if null) and ``meta.mix_input``.
    """
    if set(inputs) != set(weights):
        raise DataError(f"inputs {sorted(inputs)} and weights {sorted(weights)} name different datasets")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ConfigError(f"weights must be non-negative and not all zero, got {dict(weights)}")
    if size is not None and size < 0:
        raise ConfigError(f"size must be >= 0, got {size}")
    total = sum(weights.values())
    share = {k: w / total for k, w in weights.items() if w > 0}
    if size is None:
        ratios = [inputs[k].height / s for k, s in share.items()]
        size = int(np.ceil(max(ratios))) if replace else int(np.floor(min(ratios) + 1e-9))
    counts = _allocate(share, size)
    rng = np.random.default_rng(seed)
    parts = [
        _with_provenance(_sample(conform(inputs[k]), counts[k], rng, replace, k), k) for k in share
    ]
    mixed = pl.concat(parts, how="vertical")
    if shuffle and mixed.height:
        mixed = mixed[rng.permutation(mixed.height)]
    stats = {
        "size": mixed.height, "seed": seed, "replace": replace,
        "inputs": {k: {"rows_available": inputs[k].height, "weight": weights[k], "rows_taken": counts.get(k, 0)} for k in inputs},
    }
    return MixResult(mixed, stats)
