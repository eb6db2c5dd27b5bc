"""The stages a recipe runs (see ``base.py`` for the contract) and how a recipe becomes a
plan: an ordered list of stages.

Order: every dataset (``data`` or ``data.<name>``), ``synth``, each ``train.<name>`` in
the recipe's order, then for every evaluated model (the baseline first) one
``eval.<model>.<set>`` per eval set (and ``eval.<model>.lm_eval``), then ``report``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Stage, StageContext, StageOutcome, fingerprint, versions
from .data import Data
from .evaluate import Eval, EvalModel, LmEval, eval_model
from .report import Report
from .synth import Synth
from .train import Train

if TYPE_CHECKING:
    from ..model import Recipe


def evaluated_models(recipe: "Recipe") -> list[EvalModel]:
    """The baseline (when there is one) then the candidates, each once."""
    names = [recipe.eval_baseline(), *recipe.eval_models()] if recipe.eval is not None else []
    found: dict[str, EvalModel] = {}
    for name in names:
        if name is not None:
            model = eval_model(recipe, name)
            found.setdefault(model.label, model)
    return list(found.values())


def plan(recipe: "Recipe") -> list[Stage]:
    """The stages of ``recipe`` in the order they run."""
    single = recipe.data is not None
    stages: list[Stage] = [Data(section, None if single else name) for name, section in
                           recipe.dataset_sections().items()]
    refs = recipe.data_refs()
    if recipe.synth is not None:
        stages.append(Synth(recipe.synth, refs.get(recipe.synth.input)))
    models = evaluated_models(recipe)
    evaluated = {m.ref for m in models if m.kind == "stage"}
    for i, spec in enumerate(recipe.train):
        merge = spec.merge if spec.merge is not None else spec.label in evaluated
        stages.append(Train(recipe, i, merge))
    if recipe.eval is not None:
        for model in models:
            stages += [Eval(recipe.eval, item, model, refs) for item in recipe.eval.sets]
            if recipe.eval.lm_eval is not None:
                stages.append(LmEval(recipe.eval.lm_eval, model))
        stages.append(Report(recipe, [s.name for s in stages]))
    return stages


__all__ = ["Data", "Eval", "EvalModel", "LmEval", "Report", "Synth", "Stage", "StageContext", "StageOutcome", "Train",
           "evaluated_models", "fingerprint", "plan", "versions"]
