"""``sft``: TRL's ``SFTTrainer`` on conversations, loss on the assistant tokens only.

We tokenize the records ourselves (TRL's path for pre-tokenized data: it builds labels
from our ``assistant_masks``, truncates, packs) for three reasons: tool-call arguments
reach the template as objects (``chat_template.to_hf_conversation``), not as the JSON
text Arrow stores, so ``tojson`` templates do not double-encode them; the token counts
behind the ``max_length`` check are exactly the sequences trained on; and every
record's mask is checked non-empty before the model loads, naming the record.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from dataforge import chat_template as ct

from .. import data as stage_data
from ..base import TrainArtifacts
from ..config import SFTStage
from .session import Session


class TemplateError(stage_data.DataError):
    """The model's chat template cannot give an assistant-only loss mask."""


def training_template(tokenizer: Any, config: SFTStage, model_ref: str) -> tuple[str, str]:
    """(template text, where it came from) for this run, or a refusal that offers the patch."""
    template = tokenizer.chat_template
    if not config.assistant_only_loss:
        return template, "as given (assistant_only_loss=false)"
    if template and ct.has_generation_markers(template):
        return template, "as given"
    fix = (f"write one with `dataforge template patch {model_ref} -o template.jinja`, add the markers by hand if "
           "needed, and pass chat_template=template.jinja; or set assistant_only_loss=false to train on every token")
    if not config.patch_template:
        raise TemplateError(
            f"the chat template of {model_ref} has no {{% generation %}} markers, so the assistant-only loss mask "
            f"would be empty: set patch_template=true, or {fix}"
        )
    try:
        found = ct.training_template(tokenizer, template=None if config.chat_template is None else template)
    except ct.TemplatePatchError as exc:
        raise TemplateError(f"the chat template of {model_ref} cannot be patched automatically ({exc}): {fix}") from None
    return found.text, found.source


def encode(
    tokenizer: Any, template: str | None, records: pl.DataFrame, *, with_mask: bool,
) -> tuple[list[list[int]], list[list[int]] | None]:
    """Token ids (and assistant masks) of every record, rendered with its tools; the first
    record the template cannot render, or whose mask is empty, is refused."""
    convs = stage_data.conversations(records)
    tools = stage_data.tools_per_record(records)
    ids: list[list[int]] = [[] for _ in convs]
    masks: list[list[int]] = [[] for _ in convs]
    for batch in stage_data.tool_groups(records):
        batch_convs = [convs[i] for i in batch]
        try:
            enc = tokenizer.apply_chat_template(
                batch_convs, tools=tools[batch[0]], chat_template=template, tokenize=True, return_dict=True,
                return_assistant_tokens_mask=with_mask,
            )
        except Exception:  # noqa: BLE001 - a template error is about one record: find and name it
            errors = ct.render(tokenizer, batch_convs, template=template, tools=tools[batch[0]]).errors
            bad = [i for i, err in zip(batch, errors) if err is not None]
            if not bad:
                raise
            first = next(err for err in errors if err is not None)
            raise stage_data.refuse(records[bad], f"the chat template cannot render it ({first})",
                                    records.height) from None
        for j, i in enumerate(batch):
            ids[i] = list(enc["input_ids"][j])
            if with_mask:
                masks[i] = list(enc["assistant_masks"][j])
    if with_mask:
        empty = [i for i, m in enumerate(masks) if not any(m)]
        if empty:
            raise stage_data.refuse(records[empty], "the chat template marks no assistant token in it", records.height,
                                    "its assistant turns render outside {% generation %}")
    return ids, masks if with_mask else None


def _verify_patch(tokenizer: Any, original: str, patched: str, records: pl.DataFrame) -> None:
    """Our patched template must render every record byte-identically to the original."""
    convs = stage_data.conversations(records)
    check = ct.verify_patch(tokenizer, original, patched, convs)
    if check.mismatched:
        raise stage_data.refuse(
            records[check.mismatched], "the patched chat template renders it differently from the original",
            records.height, "pass a template with {% generation %} markers written by hand (chat_template=FILE)",
            error=TemplateError,
        )


def _dataset(ids: list[list[int]], masks: list[list[int]] | None) -> Any:
    import datasets

    columns: dict[str, Any] = {"input_ids": ids}
    if masks is not None:
        columns["assistant_masks"] = masks
    return datasets.Dataset.from_dict(columns)


def run(session: Session) -> TrainArtifacts:
    from trl import SFTConfig, SFTTrainer

    config = session.config
    assert isinstance(config, SFTStage)
    train, held = session.records()
    tokenizer = session.tokenizer()
    original = tokenizer.chat_template
    template, source = training_template(tokenizer, config, session.model_ref)
    if source == "patched" and original:
        _verify_patch(tokenizer, original, template, train)
    ids, masks = encode(tokenizer, template, train, with_mask=config.assistant_only_loss)
    lengths = np.array([len(x) for x in ids])
    kept = stage_data.apply_overflow(train.with_row_index("_i"), lengths, config.max_length, config.overflow,
                                     session.report)
    keep = kept["_i"].to_list()
    ids = [ids[i] for i in keep]
    masks = [masks[i] for i in keep] if masks is not None else None
    if masks is not None and config.overflow == "truncate":
        lost = sum(1 for m in masks if not any(m[: config.max_length]))
        if lost:
            session.report.notes.append(f"{lost} records keep no assistant token after truncation; TRL skips them")
    session.report.used = len(ids)
    eval_ds = None
    if held is not None:
        eval_ids, eval_masks = encode(tokenizer, template, held, with_mask=config.assistant_only_loss)
        eval_ds = _dataset(eval_ids, eval_masks)

    model = session.load_model()
    args = session.trl_args(SFTConfig)
    trainer = session.guarded(SFTTrainer)(
        model=model, args=args, train_dataset=_dataset(ids, masks), eval_dataset=eval_ds, processing_class=tokenizer,
        peft_config=session.peft_config(), callbacks=session.callbacks(),
    )
    if not config.packing:  # a NaN loss then names the records of its batch
        cut = config.max_length if config.truncation_mode == "keep_start" else -config.max_length
        trainer.record_ids = {
            tuple(seq[:cut] if cut > 0 else seq[cut:]): rid for seq, rid in zip(ids, kept["id"].to_list())
        }
    session.train(trainer)
    eval_metrics = trainer.evaluate() if eval_ds is not None and not session.stopped_early else {}
    tokenizer.chat_template = template
    return session.finish(trainer, tokenizer, eval_metrics=eval_metrics, extra={"chat_template": source})
