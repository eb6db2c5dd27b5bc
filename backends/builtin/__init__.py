"""The built-in back end ``trl``: TRL + peft for sft, dpo, kto, orpo, rm, grpo and rloo,
and a compact PPO of our own on transformers + peft + accelerate (TRL dropped PPO).

Importing this package is cheap (no torch): each stage's module, and TRL with it, is
imported when that stage runs.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..base import Backend, TrainArtifacts, TrainProgress, register_backend
from ..config import STAGES, StageConfig

#: stage -> module (in this package) whose ``run(session)`` trains it
_MODULES = {
    "sft": "sft", "dpo": "preference", "kto": "preference", "orpo": "preference", "rm": "reward_model",
    "grpo": "online", "rloo": "online", "ppo": "ppo",
}


@register_backend
class TRLBackend(Backend):
    """TRL + peft (LoRA, QLoRA on CUDA, full); PPO is our own loop (TRL has none)."""

    name = "trl"
    stages = STAGES

    def train(
        self, config: StageConfig, data: Any, model: str, output_dir: Any, *, eval_data: Any = None,
        progress: TrainProgress | None = None,
    ) -> TrainArtifacts:
        from .session import Session

        module = importlib.import_module(f"{__name__}.{_MODULES[config.stage]}")
        session = Session(config, data, model, output_dir, eval_data, progress)
        try:
            return module.run(session)
        finally:
            session.close()
