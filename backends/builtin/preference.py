"""``dpo``, ``kto``, ``orpo``: TRL's preference trainers on canonical pairs / feedback.

Records become TRL's conversational layouts through ``dataforge``'s TRL export
(``prompt``/``chosen``/``rejected``, or ``prompt``/``completion``/``label``); TRL applies
the chat template. Under LoRA the DPO/KTO reference model is the policy with the adapter
disabled (TRL's behaviour with a ``peft_config`` and no ``ref_model``); ORPO needs none.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dataforge.formats.api import to_trl_dataset
from dataforge.schemas.record import COLUMNS

from .. import data as stage_data
from ..base import TrainArtifacts
from .session import Session


def _trainer_classes(stage: str) -> tuple[type, type]:
    if stage == "dpo":
        from trl import DPOConfig, DPOTrainer

        return DPOConfig, DPOTrainer
    if stage == "kto":
        from trl import KTOConfig, KTOTrainer

        return KTOConfig, KTOTrainer
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    return ORPOConfig, ORPOTrainer


def rendered_lengths(tokenizer: Any, records: pl.DataFrame) -> Any:
    """Tokens of the longest rendering of each record (prompt + chosen / + rejected for a
    pair, the whole conversation for KTO feedback)."""
    if records["chosen"].is_not_null().any():
        lengths = [
            stage_data.token_lengths(tokenizer, None, records, stage_data.conversations(records, side, prefix="messages"))
            for side in ("chosen", "rejected")
        ]
        return lengths[0].clip(min=lengths[1])
    return stage_data.token_lengths(tokenizer, None, records, stage_data.conversations(records))


def trl_dataset(records: pl.DataFrame, stage: str) -> Any:
    """Canonical records -> TRL's conversational preference (or KTO) dataset."""
    return to_trl_dataset(records.select(COLUMNS), "kto" if stage == "kto" else "dpo")


def run(session: Session) -> TrainArtifacts:
    config = session.config
    config_cls, trainer_cls = _trainer_classes(config.stage)
    train, held = session.records()
    tokenizer = session.tokenizer()
    lengths = rendered_lengths(tokenizer, train)
    train = stage_data.apply_overflow(train, lengths, config.max_length, config.overflow, session.report)
    session.report.used = train.height
    eval_ds = trl_dataset(held, config.stage) if held is not None else None

    model = session.load_model()
    args = session.trl_args(config_cls)
    trainer = session.guarded(trainer_cls)(
        model=model, args=args, train_dataset=trl_dataset(train, config.stage), eval_dataset=eval_ds,
        processing_class=tokenizer, peft_config=session.peft_config(), callbacks=session.callbacks(),
    )
    session.train(trainer)
    eval_metrics = trainer.evaluate() if eval_ds is not None and not session.stopped_early else {}
    return session.finish(trainer, tokenizer, eval_metrics=eval_metrics)
