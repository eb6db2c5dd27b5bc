"""``ppo``: proximal policy optimisation for language models, a compact loop of our own.

TRL removed its ``PPOTrainer`` in 1.13; this file follows the standard LLM-RLHF recipe on
transformers + peft + accelerate, as written down in:

* Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences"
  (arXiv:1909.08593): a reward for the whole completion, a per-token KL penalty to the
  initial (reference) policy folded into the reward;
* Ouyang et al. 2022, "Training language models to follow instructions with human
  feedback" (InstructGPT, arXiv:2203.02155): PPO against a reward model, KL to the SFT
  policy;
* Huang et al. 2024, "The N+ Implementation Details of RLHF with PPO: A Case Study on
  TL;DR Summarization" (arXiv:2403.17031): the details that make it work: score the
  completion at its last token, truncate completions after EOS (and optionally
  penalise ones that never end, ``missing_eos_penalty``), divide logits by the sampling
  temperature when computing log-probs, whiten advantages, clip both the policy ratio
  and the value prediction, Adam eps 1e-5;
* Schulman et al. 2016/2017 (GAE, arXiv:1506.02438; PPO, arXiv:1707.06347).

One PPO step:

1. **rollout**: sample one completion for each of ``per_device_train_batch_size``
   prompts (``temperature``, at most ``max_completion_length`` tokens);
2. **score**: the reward functions of ``backends.rewards`` (verifiers, reward model,
   judge; weighted sum) give one score per completion;
3. **per-token reward**: ``-kl_coef * (log pi(t) - log pi_ref(t))`` at every token, plus
   the score at the last one. The reference is the policy with the LoRA adapter
   disabled (a frozen copy under full fine-tuning);
4. **GAE** (``gamma``, ``lam``) on the value head's estimates; returns = advantages +
   values; advantages whitened over the rollout;
5. **update**: ``ppo_epochs`` passes over shuffled mini-batches of ``mini_batch_size``:
   clipped policy loss (``cliprange``) + ``vf_coef`` x clipped value loss
   (``cliprange_value``), gradient clipping at ``max_grad_norm``.

The value head is a linear layer on the policy's last hidden state (policy and critic
share the backbone and the adapter). Logs per step: loss, policy/value loss, reward
(score) mean and std, each reward source, KL, non-score reward, entropy, clip fractions,
approximate KL, grad norm, learning rate, completion length.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from ..base import TrainArtifacts
from ..config import PPOStage
from ..health import NonFiniteLoss
from ..rewards import reward_functions
from .online import Prompts, prepare_prompts
from .session import Session


def _torch() -> Any:
    import torch

    return torch


@dataclass
class Rollout:
    """One batch of sampled completions with everything the updates need (no grad)."""

    input_ids: Any  # (B, P + T): left-padded prompt + completion
    attention_mask: Any  # (B, P + T)
    mask: Any  # (B, T): 1 on completion tokens up to and including EOS
    logprobs: Any  # (B, T) of the sampling policy
    values: Any  # (B, T)
    advantages: Any  # (B, T)
    returns: Any  # (B, T)
    prompt_length: int


def make_value_model(policy: Any) -> Any:
    """The policy with a value head on its last hidden state: ``forward -> (logits, values)``."""
    torch = _torch()
    nn = torch.nn

    class PolicyAndValue(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = policy
            hidden = policy.config.hidden_size
            self.value_head = nn.Linear(hidden, 1)
            nn.init.normal_(self.value_head.weight, std=1 / math.sqrt(hidden + 1))
            nn.init.zeros_(self.value_head.bias)

        def forward(self, input_ids: Any, attention_mask: Any) -> tuple[Any, Any]:
            position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
            out = self.policy(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                              output_hidden_states=True, use_cache=False)
            hidden = out.hidden_states[-1].to(self.value_head.weight.dtype)
            return out.logits, self.value_head(hidden).squeeze(-1)

    return PolicyAndValue()


def token_logprobs(logits: Any, tokens: Any, temperature: float) -> Any:
    """log p(token) under ``logits / temperature`` (the distribution that sampled it)."""
    torch = _torch()
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return torch.gather(logp, 2, tokens.unsqueeze(-1)).squeeze(-1)


def masked_mean(x: Any, mask: Any) -> Any:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(x: Any, mask: Any) -> Any:
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) * _torch().rsqrt(var + 1e-8) * mask


def gae(rewards: Any, values: Any, mask: Any, gamma: float, lam: float) -> tuple[Any, Any]:
    """Generalized advantage estimation over the completion tokens (vectorized over the batch)."""
    torch = _torch()
    values = values * mask
    steps = rewards.shape[1]
    last = torch.zeros_like(rewards[:, 0])
    advantages = torch.zeros_like(rewards)
    for t in reversed(range(steps)):
        next_value = values[:, t + 1] if t + 1 < steps else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    advantages = advantages * mask
    return advantages, advantages + values


class PPOLoop:
    """The PPO training loop (see the module docstring)."""

    def __init__(self, session: Session, config: PPOStage, tokenizer: Any, prompts: Prompts) -> None:
        from accelerate import Accelerator

        torch = _torch()
        self.session, self.config, self.tokenizer, self.prompts = session, config, tokenizer, prompts
        self.accelerator = Accelerator(cpu=session.precision()["use_cpu"],
                                       mixed_precision="bf16" if session.precision()["bf16"] else "no")
        torch.manual_seed(config.seed + self.accelerator.process_index)
        self.rng = random.Random(config.seed + self.accelerator.process_index)
        self.funcs, self.weights = reward_functions(config.rewards, device=self.accelerator.device)
        policy = session.load_model()
        self.reference = None
        peft = session.peft_config()
        if peft is None:
            self.reference = copy.deepcopy(policy).eval().requires_grad_(False)
        else:
            from peft import get_peft_model, prepare_model_for_kbit_training

            if config.adapter.kind == "qlora":
                policy = prepare_model_for_kbit_training(policy)
            policy = get_peft_model(policy, peft)
        self.model = make_value_model(policy)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=config.learning_rate, eps=1e-5, weight_decay=config.weight_decay)
        updates_per_step = config.ppo_epochs * math.ceil(config.per_device_train_batch_size / config.mini_batch_size)
        from transformers import get_scheduler

        total = config.max_steps * updates_per_step
        warmup = int(config.warmup_steps * total) if config.warmup_steps < 1 else int(config.warmup_steps)
        self.scheduler = get_scheduler(config.lr_scheduler_type, self.optimizer, num_warmup_steps=warmup,
                                       num_training_steps=total)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(self.model, self.optimizer, self.scheduler)
        if self.reference is not None:
            self.reference.to(self.accelerator.device)
        self.order: list[int] = []
        self.log_history: list[dict[str, Any]] = []
        self._tokens_seen = 0

    # -- rollout ------------------------------------------------------------------------------

    def _next_prompts(self) -> list[int]:
        picked = []
        for _ in range(self.config.per_device_train_batch_size):
            if not self.order:
                self.order = list(range(len(self.prompts.texts)))
                self.rng.shuffle(self.order)
            picked.append(self.order.pop())
        return picked

    def _policy(self) -> Any:
        return self.accelerator.unwrap_model(self.model)

    def _reference_logprobs(self, input_ids: Any, attention_mask: Any, completion: Any, start: int) -> Any:
        torch = _torch()
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            if self.reference is not None:
                logits = self.reference(input_ids=input_ids, attention_mask=attention_mask,
                                        position_ids=position_ids, use_cache=False).logits
            else:
                with self._policy().policy.disable_adapter():
                    logits, _ = self._policy()(input_ids, attention_mask)
        return token_logprobs(logits[:, start - 1 : -1], completion, self.config.temperature)

    def rollout(self, step: int) -> tuple[Rollout, dict[str, Any]]:
        torch = _torch()
        cfg, tok = self.config, self.tokenizer
        idx = self._next_prompts()
        tok.padding_side = "left"
        enc = tok([self.prompts.texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(self.accelerator.device)
        prompt_length = enc["input_ids"].shape[1]
        policy = self._policy()
        policy.eval()
        with torch.no_grad():
            generated = policy.policy.generate(
                **enc, do_sample=True, temperature=cfg.temperature, top_k=0, top_p=1.0,
                max_new_tokens=cfg.max_completion_length, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
            )
        completion = generated[:, prompt_length:]
        is_eos = completion == tok.eos_token_id
        ended = is_eos.any(dim=1)
        first_eos = torch.where(ended, is_eos.int().argmax(dim=1), torch.full_like(ended, completion.shape[1], dtype=torch.long))
        positions = torch.arange(completion.shape[1], device=completion.device).unsqueeze(0)
        mask = (positions <= first_eos.unsqueeze(1)).float()
        completion = torch.where(mask.bool(), completion, torch.full_like(completion, tok.pad_token_id))
        input_ids = torch.cat([enc["input_ids"], completion], dim=1)
        attention_mask = torch.cat([enc["attention_mask"], mask.long()], dim=1)

        texts = tok.batch_decode(completion, skip_special_tokens=True)
        columns = {k: [v[i] for i in idx] for k, v in self.prompts.columns().items()}
        convs = [self.prompts.conversations[i] for i in idx]
        per_source: dict[str, Any] = {}
        score = torch.zeros(len(idx), device=self.accelerator.device)
        for fn, weight in zip(self.funcs, self.weights):
            values = [math.nan if v is None else float(v) for v in fn(prompts=convs, completions=texts, **columns)]
            tensor = torch.tensor(values, device=score.device)
            per_source[fn.__name__] = tensor  # type: ignore[attr-defined]
            score = score + weight * torch.nan_to_num(tensor, nan=0.0)
        if cfg.missing_eos_penalty is not None:
            score = score - cfg.missing_eos_penalty * (~ended).float()

        with torch.no_grad():
            policy.eval()
            logits, values = policy(input_ids, attention_mask)
            start = prompt_length
            logprobs = token_logprobs(logits[:, start - 1 : -1], completion, cfg.temperature)
            values = values[:, start - 1 : -1].float()
            ref_logprobs = self._reference_logprobs(input_ids, attention_mask, completion, start)
        kl = (logprobs - ref_logprobs) * mask
        rewards = -cfg.kl_coef * kl
        last = (mask.sum(dim=1).long() - 1).clamp(min=0)
        rewards[torch.arange(len(idx)), last] += score
        advantages, returns = gae(rewards, values, mask, cfg.gamma, cfg.lam)
        if cfg.whiten_advantages:
            advantages = masked_whiten(advantages, mask)
        self._tokens_seen += int(attention_mask.sum().item())
        stats = {
            "reward": float(score.mean()), "reward_std": float(score.std()) if len(idx) > 1 else 0.0,
            **{f"rewards/{name}": float(torch.nanmean(t)) if not torch.isnan(t).all() else math.nan
               for name, t in per_source.items()},
            "kl": float(kl.sum(dim=1).mean()), "non_score_reward": float((-cfg.kl_coef * kl).sum(dim=1).mean()),
            "completion_length": float(mask.sum(dim=1).mean()), "ended_with_eos": float(ended.float().mean()),
        }
        return Rollout(input_ids, attention_mask, mask, logprobs, values, advantages, returns, prompt_length), stats

    # -- update -------------------------------------------------------------------------------

    def update(self, batch: Rollout, step: int) -> dict[str, Any]:
        torch = _torch()
        cfg = self.config
        self.model.train()
        sums: dict[str, float] = {}
        count = 0
        start = batch.prompt_length
        n = batch.input_ids.shape[0]
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(n, device=batch.input_ids.device)
            for lo in range(0, n, cfg.mini_batch_size):
                mb = order[lo : lo + cfg.mini_batch_size]
                mask = batch.mask[mb]
                logits, vpred = self.model(batch.input_ids[mb], batch.attention_mask[mb])
                logits = logits[:, start - 1 : -1]
                vpred = vpred[:, start - 1 : -1].float()
                new_logprobs = token_logprobs(logits, batch.input_ids[mb][:, start:], cfg.temperature)
                ratio = torch.exp(new_logprobs - batch.logprobs[mb])
                adv = batch.advantages[mb]
                pg_losses = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.cliprange, 1 + cfg.cliprange))
                policy_loss = masked_mean(pg_losses, mask)
                old_values = batch.values[mb]
                v_clipped = old_values + (vpred - old_values).clamp(-cfg.cliprange_value, cfg.cliprange_value)
                returns = batch.returns[mb]
                vf_losses = torch.max((vpred - returns) ** 2, (v_clipped - returns) ** 2)
                value_loss = 0.5 * masked_mean(vf_losses, mask)
                loss = policy_loss + cfg.vf_coef * value_loss
                if not bool(torch.isfinite(loss)):
                    from ..health import describe_batch

                    raise NonFiniteLoss(step, describe_batch({"input_ids": batch.input_ids[mb]}, self.tokenizer,
                                                             count + 1), float(loss.detach()))
                self.accelerator.backward(loss)
                grad_norm = self.accelerator.clip_grad_norm_(
                    [p for p in self.model.parameters() if p.requires_grad], cfg.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad()
                with torch.no_grad():
                    logp = torch.log_softmax(logits.float() / cfg.temperature, dim=-1)
                    entropy = masked_mean(-(logp.exp() * logp).sum(-1), mask)
                    parts = {
                        "loss": loss, "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
                        "clipfrac": masked_mean(((ratio - 1).abs() > cfg.cliprange).float(), mask),
                        "value_clipfrac": masked_mean(((vpred - old_values).abs() > cfg.cliprange_value).float(), mask),
                        "approx_kl": 0.5 * masked_mean((new_logprobs - batch.logprobs[mb]) ** 2, mask),
                        "grad_norm": grad_norm,
                    }
                for key, value in parts.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach() if hasattr(value, "detach") else value)
                count += 1
        return {k: v / count for k, v in sums.items()}

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        progress = self.session.progress if self.accelerator.is_main_process else None
        if progress is not None:
            progress.start(self.config.max_steps, "ppo")
        started = time.time()
        try:
            for step in range(1, self.config.max_steps + 1):
                learning_rate = float(self.scheduler.get_last_lr()[0])
                batch, stats = self.rollout(step)
                stats.update(self.update(batch, step))
                stats["learning_rate"] = learning_rate
                stats["num_tokens"] = float(self._tokens_seen)
                stats["step"] = step
                self.log_history.append(stats)
                if progress is not None:
                    progress.update(step, stats)
        finally:
            elapsed = time.time() - started
            self.log_history.append({"train_runtime": round(elapsed, 4), "step": len(self.log_history)})

    def save(self, folder: Any) -> None:
        """The policy's adapter (or full weights) and the value head beside it."""
        torch = _torch()
        self.accelerator.wait_for_everyone()
        if not self.accelerator.is_main_process:
            return
        model = self._policy()
        model.policy.save_pretrained(str(folder))
        torch.save(model.value_head.state_dict(), str(folder / "value_head.pt"))


def run(session: Session) -> TrainArtifacts:
    config = session.config
    assert isinstance(config, PPOStage)
    tokenizer = session.tokenizer()
    prompts = prepare_prompts(session, tokenizer)
    loop = PPOLoop(session, config, tokenizer, prompts)
    try:
        loop.run()
    except NonFiniteLoss as exc:
        session.flags.append(exc.flag())
        session.stopped_early = True
    finally:
        if session.progress is not None and session.main:
            session.progress.finish()
    tokenizer.padding_side = "right"
    return session.finish(loop, tokenizer, log_history=loop.log_history, flat_key="reward", save=loop.save,
                          extra={"rewards": {f.__name__: w for f, w in zip(loop.funcs, loop.weights)}})  # type: ignore[attr-defined]
