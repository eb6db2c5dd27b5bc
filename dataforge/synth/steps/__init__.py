"""Synthesis steps, one module each: ``distill``, ``best_of_k``, ``judge_filter``,
``augment``. Each is a function on canonical polars frames returning a
:class:`~dataforge.synth.steps.common.StepResult` (kept + rejected + stats, rows in =
kept + rejected), a ``dataforge synth`` command and a step of a recipe's ``synth:``
section (:mod:`dataforge.synth.pipeline`)."""

from __future__ import annotations

from typing import Annotated, Any, Callable, Union

from pydantic import Field

from .augment import AugmentConfig, augment
from .best_of_k import BestOfKConfig, best_of_k
from .common import StepConfig, StepResult
from .distill import DistillConfig, distill
from .judge_filter import JudgeFilterConfig, judge_filter

#: step name -> (config model, function)
STEPS: dict[str, tuple[type[StepConfig], Callable[..., StepResult]]] = {
    "distill": (DistillConfig, distill),
    "best_of_k": (BestOfKConfig, best_of_k),
    "judge_filter": (JudgeFilterConfig, judge_filter),
    "augment": (AugmentConfig, augment),
}

#: one step of a recipe's ``synth.steps`` list, told apart by its ``step:`` key
StepSpec = Annotated[
    Union[DistillConfig, BestOfKConfig, JudgeFilterConfig, AugmentConfig], Field(discriminator="step")
]

__all__: list[Any] = [
    "STEPS", "AugmentConfig", "BestOfKConfig", "DistillConfig", "JudgeFilterConfig", "StepConfig", "StepResult",
    "StepSpec", "augment", "best_of_k", "distill", "judge_filter",
]
