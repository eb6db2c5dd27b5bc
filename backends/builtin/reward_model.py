"""``rm``: a reward model (one-label sequence classifier) on preference pairs, TRL's
``RewardTrainer``. The score head trains in full beside the LoRA adapter
(``modules_to_save``); pairwise accuracy on the held-out pairs goes into the summary.

The output loads with ``backends.load_reward_model`` (and so as a ``reward_model``
reward of grpo/rloo/ppo), or merged (``dataforge train merge``) with plain
``AutoModelForSequenceClassification``.
"""

from __future__ import annotations

from ..base import TrainArtifacts
from .. import data as stage_data
from .preference import rendered_lengths, trl_dataset
from .session import Session


def run(session: Session) -> TrainArtifacts:
    from trl import RewardConfig, RewardTrainer

    config = session.config
    train, held = session.records()
    tokenizer = session.tokenizer()
    lengths = rendered_lengths(tokenizer, train)
    train = stage_data.apply_overflow(train, lengths, config.max_length, config.overflow, session.report)
    session.report.used = train.height
    eval_ds = trl_dataset(held, "rm") if held is not None else None

    model = session.load_model(kind="classifier")
    model.config.pad_token_id = tokenizer.pad_token_id
    peft = session.peft_config(task_type="SEQ_CLS")
    if peft is not None:
        peft.modules_to_save = sorted({*(peft.modules_to_save or []), "score"})
    trainer = session.guarded(RewardTrainer)(
        model=model, args=session.trl_args(RewardConfig), train_dataset=trl_dataset(train, "rm"),
        eval_dataset=eval_ds, processing_class=tokenizer, peft_config=peft, callbacks=session.callbacks(),
    )
    session.train(trainer)
    eval_metrics = trainer.evaluate() if eval_ds is not None and not session.stopped_early else {}
    extra = {"pairwise_accuracy": eval_metrics.get("eval_accuracy"), "held_out_pairs": len(eval_ds or [])}
    return session.finish(trainer, tokenizer, eval_metrics=eval_metrics, extra=extra)
