"""Per-op stats, merged across shards (and across worker processes) the same way.

Each call of an op returns one stats dict; a chain stage reports them merged: ``*_max``
keys take the maximum, ``*_min`` the minimum, other numbers (counts, seconds) add up,
dicts merge recursively (reason counts, histograms), lists concatenate (capped), anything
else keeps the first value (a one-time report such as a template diagnosis). Keys an op
names in ``report_once`` (facts about its set-up, like an eval set's size) keep the first
value too, so a run over many shards or many processes reports them once.
"""

from __future__ import annotations

from typing import Any, Collection, Mapping

_LIST_CAP = 1000


def merge_stats(acc: dict[str, Any], new: Mapping[str, Any], once: Collection[str] = ()) -> dict[str, Any]:
    """Fold one shard's stats into the running total (rules in the module docstring)."""
    for key, value in new.items():
        if key not in acc:
            acc[key] = dict(value) if isinstance(value, dict) else (
                list(value)[:_LIST_CAP] if isinstance(value, list) else value
            )
            continue
        old = acc[key]
        if key in once or isinstance(value, bool) or value is None or old is None:
            continue
        if isinstance(value, (int, float)) and isinstance(old, (int, float)):
            if key.endswith("_max"):
                acc[key] = max(old, value)
            elif key.endswith("_min"):
                acc[key] = min(old, value)
            else:
                acc[key] = old + value
        elif isinstance(value, dict) and isinstance(old, dict):
            merge_stats(old, value)
        elif isinstance(value, list) and isinstance(old, list):
            old.extend(value[: max(0, _LIST_CAP - len(old))])
    return acc


class StatsBook:
    """One merged stats dict per chain stage, in chain order (reader stages first)."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, Any]] = {}

    def add(self, key: str, stats: Mapping[str, Any], once: Collection[str] = ()) -> None:
        merge_stats(self.stages.setdefault(key, {}), stats, once)

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.stages.values())


def reader_stats(stage: str, loaded: Any) -> dict[str, Any]:
    """A reader's shard (a ``LoadResult``) in the shape of an op's stats (stage
    ``read:<format>``), with what the read could not keep as warnings."""
    from ..formats.api import read_warnings

    records, rejected = loaded.records, loaded.rejected
    reasons = (
        {r: int(c) for r, c in rejected.group_by("reason").len().rows()} if rejected.height else {}
    )
    # warning -> number of shards it came from (dicts of counts merge by adding up)
    warnings = {w: 1 for w in read_warnings(loaded.stats, loaded.format)}
    return {
        "op": stage, "rows_in": records.height + rejected.height, "rows_kept": records.height,
        "rows_rejected": rejected.height, "reasons": reasons, "seconds": 0.0,
        **({"warnings": warnings} if warnings else {}),
    }


__all__ = ["StatsBook", "merge_stats", "reader_stats"]
