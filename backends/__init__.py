"""Trainer back ends behind one interface.

.. code-block:: python

    import backends

    config = backends.stage_config("sft", {"max_steps": 100}, file="sft.yaml", sets=["adapter.rank=8"])
    artifacts = backends.train(config, ["data/train.parquet"], "smollm2", "runs/sft")
    artifacts.model_dir, artifacts.summary["final_metrics"], artifacts.health
    backends.merge("runs/sft", "runs/sft-merged")   # a standalone model plain transformers loads

Stages: sft, dpo, kto, orpo, rm, grpo, rloo, ppo (``STAGES``); each has a documented
config class (``backends.config``). ``BACKENDS`` holds the back ends: the built-in
``trl`` (TRL + peft, PPO of our own) and any registered under the ``posttrain.backends``
entry-point group. ``train`` runs unchanged under ``accelerate launch``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence

from dataforge.errors import UnknownNameError, UserError

from .base import BACKENDS, Backend, PathLike, TrainArtifacts, TrainProgress, register_backend
from .config import STAGE_CONFIGS, STAGES, StageConfig, config_yaml, stage_config

ENTRY_POINT_GROUP = BACKENDS.group
DEFAULT_BACKEND = "trl"
ACCELERATE_CONFIGS = ("zero2", "zero3", "fsdp")


def get_backend(name: str = DEFAULT_BACKEND) -> Backend:
    """An instance of the back end registered as ``name``."""
    return BACKENDS.get(name)()


def train(
    config: StageConfig,
    data: PathLike | Sequence[PathLike],
    model: str,
    output_dir: PathLike,
    *,
    backend: str = DEFAULT_BACKEND,
    eval_data: PathLike | Sequence[PathLike] | None = None,
    progress: TrainProgress | None = None,
) -> TrainArtifacts:
    """Train ``model`` for ``config.stage`` on canonical records; see :class:`Backend.train`."""
    chosen = get_backend(backend)
    if config.stage not in chosen.stages:
        raise UnknownNameError(f"{backend} stage", config.stage, chosen.stages)
    return chosen.train(config, data, model, output_dir, eval_data=eval_data, progress=progress)


def merge(adapter: PathLike, output_dir: PathLike) -> Path:
    """Fold a stage's LoRA adapter (and any adapters under it) into its base; save a
    standalone model + tokenizer that plain ``transformers`` and vLLM load."""
    from .merging import merge_adapter  # not "merge": a submodule of that name would replace this function

    return merge_adapter(adapter, output_dir)


def load_reward_model(ref: PathLike) -> tuple[Any, Any]:
    """(model, tokenizer) of an ``rm`` stage output, ready to score."""
    from .loading import load_reward_model as load

    return load(ref)


def accelerate_config(name: str) -> Path:
    """Path of a shipped ``accelerate`` config: ``zero2``, ``zero3`` (DeepSpeed) or ``fsdp``."""
    if name not in ACCELERATE_CONFIGS:
        raise UnknownNameError("accelerate config", name, ACCELERATE_CONFIGS)
    path = Path(str(files(__name__) / "accelerate" / f"{name}.yaml"))
    if not path.is_file():
        raise UserError(f"{path} is missing from the installation")
    return path


__all__ = [
    "ACCELERATE_CONFIGS", "BACKENDS", "Backend", "DEFAULT_BACKEND", "ENTRY_POINT_GROUP", "STAGES", "STAGE_CONFIGS",
    "StageConfig", "TrainArtifacts", "TrainProgress", "accelerate_config", "config_yaml", "get_backend",
    "load_reward_model", "merge", "register_backend", "stage_config", "train",
]
