"""ppl: equal to plain torch losses on the same tokens, and to the HF sliding-window loop.

Uses the real embedded SmolLM2-135M-Instruct; the model is loaded once (the metric's cache).
"""

from __future__ import annotations

import math

import pytest
import torch

from evalkit.metrics import MetricInputs, get_metric
from evalkit.metrics.ppl import assistant_tokens, load_causal_lm

pytestmark = pytest.mark.slow  # every test loads the embedded model

PROMPTS = ["What is 2+2?", "法国的首都是哪里？", "Name a pet."]
ANSWERS = ["It is 4.", "巴黎是法国的首都。", "A cat is a popular pet, and so is a dog."]
LONG = (
    "The quick brown fox jumps over the lazy dog. It was a sunny day in the park, "
    "and children played football while their parents talked. 今天天气很好，我们去公园散步。"
)


@pytest.fixture(scope="module")
def lm(smollm_path):
    return load_causal_lm(smollm_path, "cpu")


def loss_ppl(model, ids: list[int], first_target: int) -> tuple[float, int]:
    """Reference: exp of the model's own mean loss with non-targets masked out."""
    input_ids = torch.tensor([ids])
    labels = input_ids.clone()
    labels[0, :first_target] = -100
    with torch.no_grad():
        loss = model(input_ids=input_ids, labels=labels).loss
    return math.exp(loss.item()), len(ids) - max(first_target, 1)


def sliding_window_nll(model, ids: list[int], max_length: int, stride: int) -> tuple[float, int]:
    """The Hugging Face perplexity guide's loop, counting the scored tokens exactly."""
    input_all = torch.tensor([ids])
    nll_sum, n_tokens, prev_end = 0.0, 0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        target_len = end - prev_end
        input_ids = input_all[:, begin:end]
        target_ids = input_ids.clone()
        target_ids[:, :-target_len] = -100
        with torch.no_grad():
            loss = model(input_ids=input_ids, labels=target_ids).loss
        scored = int((target_ids[:, 1:] != -100).sum())
        nll_sum += loss.item() * scored
        n_tokens += scored
        prev_end = end
        if end == len(ids):
            break
    return nll_sum, n_tokens


def test_assistant_target_equals_plain_loss(lm, smollm_path):
    tokenizer, model = lm
    result = get_metric("ppl")(
        MetricInputs(predictions=[""] * 3, references=ANSWERS, prompts=PROMPTS, model=smollm_path)
    )
    nll, tokens = 0.0, 0
    for prompt, answer, value in zip(PROMPTS, ANSWERS, result.per_example):
        ids, first = assistant_tokens(tokenizer, [{"role": "user", "content": prompt}], answer)
        assert tokenizer.decode(ids[first:]) == answer + "<|im_end|>"
        expected, count = loss_ppl(model, ids, first)
        assert value == pytest.approx(expected, rel=1e-4)
        nll, tokens = nll + math.log(expected) * count, tokens + count
    assert result.extra["scored_tokens"] == tokens
    assert result.score == pytest.approx(math.exp(nll / tokens), rel=1e-4)  # token-weighted
    assert "target:assistant|window:1024|stride:512" in result.signature


def test_messages_render_like_prompts(lm):
    # canonical messages carry None fields; a system turn changes the rendered prompt
    canonical = [
        [{"role": "user", "content": p, "name": None, "tool_calls": None, "tool_call_id": None}]
        for p in PROMPTS
    ]
    by_messages = get_metric("ppl")(MetricInputs(predictions=[], references=ANSWERS, messages=canonical))
    by_prompts = get_metric("ppl")(MetricInputs(predictions=[], references=ANSWERS, prompts=PROMPTS))
    assert by_messages.per_example == pytest.approx(by_prompts.per_example, rel=1e-6)
    system = [[{"role": "system", "content": "Answer in French."}, *m] for m in canonical]
    with_system = get_metric("ppl")(MetricInputs(predictions=[], references=ANSWERS, messages=system))
    tokenizer, model = lm
    ids, first = assistant_tokens(tokenizer, [system[0][0], {"role": "user", "content": PROMPTS[0]}], ANSWERS[0])
    assert with_system.per_example[0] == pytest.approx(loss_ppl(model, ids, first)[0], rel=1e-4)


def test_whole_target_and_batching_invariance(lm):
    tokenizer, model = lm
    inputs = MetricInputs(predictions=[], references=ANSWERS + [LONG])
    result = get_metric("ppl")(inputs, target="whole")
    for text, value in zip(inputs.references, result.per_example):
        assert value == pytest.approx(loss_ppl(model, tokenizer(text).input_ids, 0)[0], rel=1e-4)
    one_by_one = get_metric("ppl")(inputs, target="whole", batch_tokens=1)
    assert one_by_one.per_example == pytest.approx(result.per_example, rel=1e-4)


def test_sliding_window_equals_hf_guide_loop(lm):
    tokenizer, model = lm
    ids = tokenizer(LONG).input_ids
    assert len(ids) > 40
    for max_length, stride in [(24, 10), (20, 20)]:
        result = get_metric("ppl")(
            MetricInputs(predictions=[LONG], references=[]), target="whole", column="predictions",
            max_length=max_length, stride=stride,
        )
        nll, count = sliding_window_nll(model, ids, max_length, stride)
        assert result.extra["scored_tokens"] == count
        # overlapping windows score every token but the first; disjoint ones (stride ==
        # max_length) leave each window's first token without context, as the guide does
        assert count == len(ids) - (1 if stride < max_length else math.ceil(len(ids) / stride))
        assert result.score == pytest.approx(math.exp(nll / count), rel=1e-4)


def test_ppl_errors_and_empty_targets():
    inputs = MetricInputs(predictions=[], references=["x"])
    with pytest.raises(ValueError, match="needs prompts or messages"):
        get_metric("ppl")(inputs)
    with pytest.raises(ValueError, match="target must be"):
        get_metric("ppl")(inputs, target="prompt")
    with pytest.raises(ValueError, match="stride"):
        get_metric("ppl")(inputs, target="whole", max_length=8, stride=16)
    with pytest.raises(ValueError, match="column"):
        get_metric("ppl")(MetricInputs(predictions=["x"]), target="whole")
    missing = get_metric("ppl")(
        MetricInputs(predictions=[], references=[ANSWERS[0], None], prompts=PROMPTS[:2])
    )
    alone = get_metric("ppl")(MetricInputs(predictions=[], references=ANSWERS[:1], prompts=PROMPTS[:1]))
    assert missing.per_example == [alone.per_example[0], None]
    one_token = get_metric("ppl")(MetricInputs(predictions=[], references=["Hi", "Hello world"]), target="whole")
    assert one_token.per_example[0] is None  # a single token has nothing to predict it from
    assert one_token.extra["scored_tokens"] == 1
