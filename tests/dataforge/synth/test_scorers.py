"""Best-of-K scorers: the reward model (real forward passes of a small randomly
initialised sequence-classification model built from the embedded model's config and
saved with its tokenizer), verifiers through the same registry, and config checks."""

from __future__ import annotations

import pytest

from dataforge.errors import ConfigError, UnknownNameError
from dataforge.synth.scorers import Items, WeightedScorers, check_scorers, make_scorer, scorer_names


@pytest.fixture(scope="module")
def reward_model_path(smollm_path, tmp_path_factory):
    """A 2-layer, 64-wide LlamaForSequenceClassification (one label), random weights."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(smollm_path)
    config.update({"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "num_labels": 1})
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config)
    folder = tmp_path_factory.mktemp("reward_model")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(smollm_path).save_pretrained(folder)
    return str(folder)


def items(completions, references=None):
    n = len(completions)
    return Items(prompts=[[{"role": "user", "content": "What is 6*7?"}]] * n, questions=["What is 6*7?"] * n,
                 completions=list(completions), references=references or [None] * n, tools=[None] * n)


@pytest.mark.slow
def test_reward_model_scores_are_probabilities_independent_of_the_batch(reward_model_path):
    scorer = make_scorer("reward_model", {"path": reward_model_path, "batch_size": 3}, engine_for=None)
    answers = ["42", "The answer is 42 because six times seven is forty-two.", "不知道", "7"]
    batched = scorer.score(items(answers))
    single = [scorer.score(items([a]))[0] for a in answers]
    assert all(0.0 < s.value < 1.0 for s in batched)
    assert [s.value for s in batched] == pytest.approx([s.value for s in single], abs=1e-5)
    assert len({round(s.value, 6) for s in batched}) > 1  # the model reads the text
    assert "reward_model" in scorer.signature()


@pytest.mark.slow
def test_weighted_scorers_combine_a_reward_model_and_a_verifier(reward_model_path):
    combined = WeightedScorers({"reward_model": {"weight": 1.0, "path": reward_model_path},
                                "math_answer": 3.0}, engine_for=None)
    right, wrong = combined.score(items(["#### 42", "#### 41"], references=["#### 42", "#### 42"]))
    assert right.parts["math_answer"] == 1.0 and wrong.parts["math_answer"] == 0.0
    assert right.total == pytest.approx((right.parts["reward_model"] + 3.0) / 4)
    assert wrong.total == pytest.approx(wrong.parts["reward_model"] / 4)
    assert right.extra["reward"] == right.parts["reward_model"]


def test_every_verifier_is_a_scorer_and_bad_specs_fail_with_hints():
    assert {"judge", "reward_model", "math_answer", "json", "regex", "tool_call", "length"} <= set(scorer_names())
    with pytest.raises(UnknownNameError, match="did you mean 'math_answer'"):
        check_scorers({"math_anwser": 1.0})
    with pytest.raises(ConfigError, match="did you mean 'max_chars'"):
        check_scorers({"length": {"max_char": 3}})
    with pytest.raises(ConfigError, match="positive"):
        check_scorers({"length": -1})
    with pytest.raises(ConfigError, match="at least one scorer"):
        check_scorers({})
    with pytest.raises(ConfigError, match="required parameter missing"):
        check_scorers({"reward_model": 1.0})
