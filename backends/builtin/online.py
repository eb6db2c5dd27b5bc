"""``grpo`` and ``rloo``: TRL's sampling trainers, rewarded by ``backends.rewards``.

Prompts are the records' messages up to a final assistant turn, whose text is the
reference answer verifiers compare with (evalkit's convention). Records that offer
``tools`` are rendered to text here, with their own tools, because TRL renders every
conversational prompt with one trainer-wide tool list; rewards still get ``tools``,
``reference`` and a readable ``question`` per completion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dataforge import chat_template as ct

from .. import data as stage_data
from ..base import TrainArtifacts
from ..config import OnlineStage
from ..rewards import prompt_text, reward_functions
from .session import Session


@dataclass
class Prompts:
    """The prompts a sampling stage trains on, checked and measured."""

    records: pl.DataFrame  # canonical columns + reference, _file, _row
    conversations: list[ct.Conversation]
    texts: list[str]  # rendered with the generation prompt and the record's tools

    def columns(self) -> dict[str, list[Any]]:
        """What reward functions receive besides prompts and completions."""
        return {
            "reference": self.records["reference"].to_list(),
            "tools": self.records["tools"].to_list(),
            "question": [prompt_text(c) for c in self.conversations],
        }


def prepare_prompts(session: Session, tokenizer: Any) -> Prompts:
    """Read, check, split into prompt + reference, render and refuse over-long prompts."""
    config = session.config
    assert isinstance(config, OnlineStage)
    config.rewards.check_verifiers()
    train, _ = session.records()
    records = stage_data.split_prompts(train)
    stage_data.check_references(records, config.rewards.needs_reference())
    convs = stage_data.conversations(records)
    texts = stage_data.render_all(tokenizer, None, records, convs, add_generation_prompt=True)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    indexed = records.with_row_index("_i")
    kept = stage_data.apply_overflow(indexed, np.array(lengths), config.max_prompt_length, config.overflow,
                                     session.report, what="max_prompt_length")["_i"].to_list()
    session.report.used = len(kept)
    return Prompts(records[kept], [convs[i] for i in kept], [texts[i] for i in kept])


def _dataset(prompts: Prompts) -> Any:
    import datasets

    with_tools = prompts.records["tools"].is_not_null().any()
    return datasets.Dataset.from_dict({
        "prompt": prompts.texts if with_tools else prompts.conversations, **prompts.columns(),
    })


def _trainer_classes(stage: str) -> tuple[type, type]:
    if stage == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        return GRPOConfig, GRPOTrainer
    from trl import RLOOConfig, RLOOTrainer

    return RLOOConfig, RLOOTrainer


def run(session: Session) -> TrainArtifacts:
    from .session import process_state

    config = session.config
    assert isinstance(config, OnlineStage)
    config_cls, trainer_cls = _trainer_classes(config.stage)
    tokenizer = session.tokenizer()
    prompts = prepare_prompts(session, tokenizer)
    funcs, weights = reward_functions(config.rewards, device=process_state().device)
    model = session.load_model()
    args = session.trl_args(config_cls, reward_weights=weights)
    trainer = session.guarded(trainer_cls)(
        model=model, reward_funcs=funcs, args=args, train_dataset=_dataset(prompts), processing_class=tokenizer,
        peft_config=session.peft_config(), callbacks=session.callbacks(),
    )
    session.train(trainer)
    return session.finish(trainer, tokenizer, flat_key="reward",
                          extra={"rewards": {f.__name__: w for f, w in zip(funcs, weights)}})  # type: ignore[attr-defined]
