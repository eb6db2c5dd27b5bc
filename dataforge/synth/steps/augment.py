"""``augment``: new prompts rewritten from existing ones by an engine.

Modes (each a plain-text template in ``dataforge/synth/augment_templates``; ``template``
replaces it, with the same ``{fields}``):

* ``paraphrase``: the last user turn asked in other words (``{prompt}``);
* ``evolve``: a harder or more constrained variant, Evol-Instruct style; each variant
  uses one of ``evolve_methods`` (add constraints, deepen, concretize, more reasoning
  steps), chosen from the record id and variant index (``{prompt}``, ``{method}``);
* ``multi_turn``: the user's next message after the record's final assistant answer
  (``{conversation}``); the new record is the old conversation plus that turn;
* ``translate``: the last user turn translated en <-> zh (``target: auto`` picks the
  other language of each prompt; ``{prompt}``, ``{language}``).

The new record is the prompt with its last user turn replaced (or, for multi_turn, one
user turn added) and no answer: a ``distill`` step writes the answers. Every input makes
``variants`` candidates; after generation the new prompts are near-deduplicated
(``dedup.near``, MinHash on CJK-aware shingles) against the original prompts and each
other. Rows in = candidates (+ the originals when ``keep_originals``) = kept + rejected;
rejected reasons: ``generation_error``, ``truncated``, ``empty_generation``,
``wrong_language`` (a translation not in the target language), ``near_duplicate`` (with
the id it repeats), ``no_answer_to_follow`` (multi_turn on a record without an answer),
``no_prompt``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, model_validator

from ...schemas.record import MESSAGE_DTYPE
from ...text import cjk_share
from ...schemas.record import conform
from ..engines.base import Engine, Generation, GenerationParams, GenerationRequest
from ..judge import load_template, render_template
from ..progress import StepProgress, generate_chunked
from ..prompts import with_turn
from .common import (
    StepConfig, StepResult, add_lineage, engine_lineage, failure_reason, finish, generation_lineage,
    rejected_rows, sample_seed, with_prompts,
)

NAME = "augment"
TEMPLATES = Path(__file__).resolve().parent.parent / "augment_templates"
Mode = Literal["paraphrase", "evolve", "multi_turn", "translate"]
_FIELDS: dict[str, tuple[str, ...]] = {
    "paraphrase": ("prompt",), "evolve": ("prompt", "method"), "multi_turn": ("conversation",),
    "translate": ("prompt", "language"),
}
EVOLVE_METHODS: dict[str, str] = {
    "add_constraints": "Add one or two concrete constraints or requirements to the request.",
    "deepen": "Make the request ask for deeper understanding of the same topic.",
    "concretize": "Replace general concepts in the request with more specific ones.",
    "reasoning": "Rewrite the request so that answering it needs several explicit steps of reasoning.",
}
_LANGUAGES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}
#: a leading "Rewritten request:" / "改写后的问题：" label that small models like to add
_LABEL = re.compile(r"^\s*(?:(?:rewritten|paraphrased|new|evolved|translated|follow-up)\s+)?"
                    r"(?:request|prompt|question|message|instruction|translation)\s*[:：]\s*"
                    r"|^\s*(?:改写后的|新的|翻译后的)?(?:问题|请求|指令|译文)\s*[:：]\s*", re.IGNORECASE)
_QUOTES = {'"': '"', "“": "”", "'": "'", "「": "」", "《": "》"}


class AugmentConfig(StepConfig):
    """Options of the augment step."""

    step: Literal["augment"] = "augment"
    mode: Mode = Field(description="paraphrase, evolve, multi_turn or translate")
    variants: int = Field(1, ge=1, description="new prompts per input record")
    generation: GenerationParams = Field(
        default_factory=lambda: GenerationParams(max_new_tokens=256, temperature=0.7),
        description="sampling parameters of the rewriting engine (n is set per mode)",
    )
    target: Literal["auto", "en", "zh"] = Field("auto", description="translate: target language; auto = the other one")
    evolve_methods: list[Literal["add_constraints", "deepen", "concretize", "reasoning"]] = Field(
        default_factory=lambda: list(EVOLVE_METHODS), min_length=1, description="evolve: operations to draw from"
    )
    template: str | None = Field(None, description="prompt template file replacing the mode's shipped one")
    dedup_threshold: float = Field(0.8, gt=0, lt=1, description="Jaccard similarity that makes a new prompt a duplicate")
    keep_originals: bool = Field(False, description="also output the input records, before the new ones")
    keep_truncated: bool = Field(False, description="keep rewrites cut at max_new_tokens")

    @model_validator(mode="after")
    def _sampling(self) -> "AugmentConfig":
        if self.variants > 1 and self.mode != "evolve" and self.generation.greedy:
            raise ValueError("variants > 1 needs generation.temperature > 0 (greedy rewrites are all the same)")
        return self


def augment(records: pl.DataFrame, engine: Engine, config: AugmentConfig | dict[str, Any],
            *, progress: bool = True) -> StepResult:
    """New prompts from ``records`` (see module docstring)."""
    cfg = config if isinstance(config, AugmentConfig) else AugmentConfig.model_validate(config)
    template = load_template(cfg.template, str(TEMPLATES / f"{cfg.mode}.txt"), _FIELDS[cfg.mode])
    frame = with_prompts(records).with_columns(_last_user().alias("_last_user"))
    usable = pl.col("_askable") & (pl.col("_answer").is_not_null() if cfg.mode == "multi_turn" else True)
    inputs = frame.filter(usable)
    unusable = frame.filter(~usable)

    jobs, params = _jobs(inputs, cfg, template)
    requests = [request for _, _, _, request in jobs]
    with StepProgress(NAME, len(jobs), enabled=progress) as bar:
        outputs = generate_chunked(engine, requests, params, bar, cfg.chunk_size)

    candidates = []  # (row, variant, method, generation, seed)
    for (row, first_variant, method, request), samples in zip(jobs, outputs):
        for j, generation in enumerate(samples):
            candidates.append((row, first_variant + j, method, generation, sample_seed(request, params, j)))
    texts = [_clean(c[3].text) for c in candidates]
    problems = [_problem(c[3], t, cfg, inputs["_last_user"][c[0]]) for c, t in zip(candidates, texts)]
    new = _new_records(inputs, candidates, texts, cfg)
    dup = _near_duplicates(inputs, new, [p is None for p in problems], cfg.dedup_threshold)
    for k, of in dup.items():
        problems[k] = ("near_duplicate", f"a near duplicate of {of}")

    base = engine_lineage(NAME, engine, params)
    good = [k for k, p in enumerate(problems) if p is None]
    bad = [k for k, p in enumerate(problems) if p is not None]
    entries = [{**base, "mode": cfg.mode, "method": candidates[k][2], "source_id": inputs["id"][candidates[k][0]],
                "seed": candidates[k][4], "sample": candidates[k][1], **generation_lineage(candidates[k][3])}
               for k in good]
    kept = new[good].with_columns(add_lineage(new[good]["meta"].to_list(), entries))
    if cfg.keep_originals:
        kept = pl.concat([frame.select(kept.columns), kept], how="vertical")
    rejected = [
        rejected_rows(new[bad], NAME, [problems[k][0] for k in bad], [problems[k][1] for k in bad]),  # type: ignore[index]
        rejected_rows(_unusable_candidates(unusable, cfg.variants), NAME,
                      [_why_unusable(cfg.mode)] * unusable.height * cfg.variants,
                      ["nothing to rewrite: " + ("no final assistant answer to follow up" if cfg.mode == "multi_turn"
                                                 else "no user turn with text")] * unusable.height * cfg.variants),
    ]
    rows_in = records.height * cfg.variants + (records.height if cfg.keep_originals else 0)
    stats = {"mode": cfg.mode, "inputs": records.height, "candidates": records.height * cfg.variants,
             "originals_kept": records.height if cfg.keep_originals else 0,
             "near_duplicates": len(dup), "generation": bar.stats(), "engine": engine.fingerprint()}
    return finish(NAME, rows_in, kept, rejected, stats)


def _last_user() -> pl.Expr:
    """Text of the last user turn of the prompt."""
    users = pl.col("_prompt").list.eval(
        pl.element().filter(pl.element().struct.field("role") == "user").struct.field("content"))
    return users.list.last()


def _jobs(inputs: pl.DataFrame, cfg: AugmentConfig, template: str
          ) -> tuple[list[tuple[int, int, str | None, GenerationRequest]], GenerationParams]:
    """(row, first variant, evolve method, request) per request, and the params of all.

    One request per record with n = variants; for evolve one per (record, variant) with
    n = 1, since each variant has its own method and hence its own prompt."""
    jobs: list[tuple[int, int, str | None, GenerationRequest]] = []
    rows = zip(inputs["id"].to_list(), inputs["_last_user"].to_list(), inputs["messages"].to_list())
    for row, (rid, prompt, conversation) in enumerate(rows):
        if cfg.mode == "evolve":
            for v in range(cfg.variants):
                method = _pick(cfg.evolve_methods, rid, v)
                text = render_template(template, {"prompt": prompt, "method": EVOLVE_METHODS[method]})
                jobs.append((row, v, method, _ask(text)))
            continue
        values = {"prompt": prompt, "conversation": _transcript(conversation)}
        if cfg.mode == "translate":
            values["language"] = _LANGUAGES[_target(prompt, cfg.target)]
        jobs.append((row, 0, None, _ask(render_template(template, values))))
    n = 1 if cfg.mode == "evolve" else cfg.variants
    return jobs, GenerationParams(**{**cfg.generation.to_dict(), "n": n})


def _ask(text: str) -> GenerationRequest:
    return GenerationRequest.from_messages([{"role": "user", "content": text}])


def _pick(methods: list[str], record_id: str, variant: int) -> str:
    digest = hashlib.sha256(f"{record_id}\0{variant}".encode()).digest()
    return methods[int.from_bytes(digest[:4], "big") % len(methods)]


def _transcript(messages: list[dict[str, Any]]) -> str:
    names = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}
    return "\n\n".join(f"{names.get(m['role'], m['role'])}: {m.get('content') or ''}" for m in messages)


def _is_chinese(text: str) -> bool:
    return pl.select(cjk_share(pl.lit(text))).item() >= 0.3


def _target(prompt: str, target: str) -> str:
    if target != "auto":
        return target
    return "en" if _is_chinese(prompt) else "zh"


def _clean(text: str) -> str:
    """The rewritten prompt without a leading label or wrapping quotes."""
    text = _LABEL.sub("", text.strip(), count=1).strip()
    if len(text) > 1 and text[0] in _QUOTES and text.endswith(_QUOTES[text[0]]):
        text = text[1:-1].strip()
    return text


def _problem(generation: Generation, text: str, cfg: AugmentConfig, original: str) -> tuple[str, str | None] | None:
    failed = failure_reason(generation, not cfg.keep_truncated)
    if failed is not None:
        return failed
    if not text:
        return "empty_generation", "nothing left after removing labels and quotes"
    if cfg.mode == "translate":
        want = _target(original, cfg.target)
        if _is_chinese(text) != (want == "zh"):
            return "wrong_language", f"expected {_LANGUAGES[want]}: {text[:80]}"
    return None


def _new_records(inputs: pl.DataFrame, candidates: list[tuple[Any, ...]], texts: list[str],
                 cfg: AugmentConfig) -> pl.DataFrame:
    """One record per candidate: the prompt with its last user turn rewritten (or a
    follow-up turn added), no answer."""
    rows = [c[0] for c in candidates]
    base = inputs[rows]
    ids = [f"{rid}:{cfg.mode}:{c[1]}" for rid, c in zip(base["id"].to_list(), candidates)]
    if cfg.mode == "multi_turn":
        messages = with_turn(base["messages"], "user", texts)
    else:
        messages = pl.Series("messages", [_replace_last_user(p, t) for p, t in
                                          zip(base["_prompt"].to_list(), texts)], dtype=pl.List(MESSAGE_DTYPE))
    return base.with_columns(pl.Series("id", ids, dtype=pl.String), messages.alias("messages"),
                             pl.lit(None, dtype=pl.Boolean).alias("label"))


def _replace_last_user(prompt: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    last = max(i for i, m in enumerate(prompt) if m["role"] == "user")
    return [*prompt[:last], {**prompt[last], "content": text}, *prompt[last + 1:]]


def _near_duplicates(inputs: pl.DataFrame, new: pl.DataFrame, usable: list[bool], threshold: float) -> dict[int, str]:
    """Candidate index -> id of the original (or earlier new prompt) it nearly repeats.

    ``dedup.near`` runs over two shards: the original prompts, then the new ones; it
    remembers the first shard, so a new prompt is compared with every original and every
    earlier new prompt. Only the new text is compared (the last user turn)."""
    from ...ops.dedup import NearDedup

    index = [k for k, ok in enumerate(usable) if ok]
    if not index:
        return {}
    op = NearDedup(threshold=threshold, key="prompt")
    originals = _one_turn(inputs["id"].to_list(), inputs["_last_user"].fill_null("").to_list())
    fresh = _one_turn([new["id"][k] for k in index], [_last_user_text(new["messages"][k].to_list()) for k in index])
    op(originals)
    result = op(fresh)
    duplicate_of = dict(zip(result.rejected["id"].to_list(), result.rejected["duplicate_of"].to_list()))
    position = {new["id"][k]: k for k in index}
    return {position[i]: of for i, of in duplicate_of.items()}


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    return next((m.get("content") or "" for m in reversed(messages) if m["role"] == "user"), "")


def _one_turn(ids: list[str], texts: list[str]) -> pl.DataFrame:
    empty = pl.Series("messages", [[] for _ in ids], dtype=pl.List(MESSAGE_DTYPE))
    return conform(pl.DataFrame({"id": pl.Series(ids, dtype=pl.String)}).with_columns(
        with_turn(empty, "user", texts)))


def _unusable_candidates(unusable: pl.DataFrame, variants: int) -> pl.DataFrame:
    """Each unusable input once per variant it would have made (rows in = candidates)."""
    return pl.concat([unusable] * variants, how="vertical") if unusable.height else unusable


def _why_unusable(mode: str) -> str:
    return "no_answer_to_follow" if mode == "multi_turn" else "no_prompt"
