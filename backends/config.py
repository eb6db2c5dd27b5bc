"""Stage configs: one documented pydantic model per training stage (TRL's habit).

The config *is* the interface: ``dataforge train config sft`` prints it as YAML with every
default, ``docs/reference/stages.md`` lists it (generated), and unknown keys are errors with a "did you mean".
Field names follow TRL's (``learning_rate``, ``beta``, ``num_generations``...) so TRL's
documentation applies; every field not in a stage's ``own_fields`` goes to the TRL config
under the same name. ``trl_args`` passes any other TRL argument through (checked against
the TRL config class when training starts).

Defaults are TRL 1.16's, except where a default is wrong for this toolkit: ``bf16`` is
decided by the hardware (TRL's ``True`` fails on CPU), ``logging_steps`` is 1 (health
checks need every step), ``max_length`` is enforced before training (``overflow``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping, Sequence

import yaml
from pydantic import Field, model_validator

from dataforge.config import Config, validate_config
from dataforge.errors import ConfigError, UnknownNameError

STAGES: tuple[str, ...] = ("sft", "dpo", "kto", "orpo", "rm", "grpo", "rloo", "ppo")
#: stages trained on chosen/rejected pairs
PREFERENCE_STAGES: tuple[str, ...] = ("dpo", "orpo", "rm")
#: stages that generate from prompts and score the samples with rewards
ONLINE_STAGES: tuple[str, ...] = ("grpo", "rloo", "ppo")


class AdapterConfig(Config):
    """Which weights train: a LoRA adapter, QLoRA (4-bit base; CUDA + bitsandbytes) or all."""

    kind: Literal["lora", "qlora", "full"] = Field("lora", description="lora, qlora (GPU only) or full fine-tuning")
    rank: int = Field(16, gt=0, description="LoRA rank r")
    alpha: int = Field(32, gt=0, description="LoRA alpha (scale = alpha / rank)")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="dropout on the LoRA path")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="module names to adapt, or all-linear (every linear layer but the output head)"
    )
    modules_to_save: list[str] | None = Field(
        None, description="modules trained in full beside the adapter (rm adds the score head itself)"
    )


class HealthConfig(Config):
    """When a run is flagged as unhealthy (see docs/training.md, "Health flags")."""

    stop_on_nonfinite: bool = Field(True, description="stop at the first NaN/Inf loss, naming the step and batch")
    spike_factor: float = Field(3.0, gt=1.0, description="loss spike: loss > factor x median of the previous window")
    spike_window: int = Field(5, ge=2, description="steps in the spike window")
    grad_norm_limit: float = Field(1e3, gt=0, description="exploding gradient: grad norm above this")
    grad_norm_factor: float = Field(10.0, gt=1.0, description="exploding gradient: grad norm > factor x running median")
    flat_tolerance: float = Field(
        1e-4, ge=0.0, description="flat loss: max - min of the logged loss below this fraction of its mean"
    )


class StageConfig(Config):
    """What every stage shares: the adapter, the template, lengths and the optimiser."""

    stage: ClassVar[str] = ""
    #: fields this toolkit consumes; all others go to the TRL config under the same name
    own_fields: ClassVar[frozenset[str]] = frozenset(
        {"adapter", "chat_template", "overflow", "health", "trl_args", "eval_fraction", "save_steps"}
    )

    adapter: AdapterConfig = Field(default_factory=AdapterConfig, description="LoRA / QLoRA / full")
    chat_template: str | None = Field(
        None, description="chat template text or .jinja path used instead of the tokenizer's"
    )
    max_length: int = Field(1024, gt=0, description="most tokens of a rendered record")
    overflow: Literal["error", "truncate", "drop"] = Field(
        "error", description="records over max_length: refuse the data, train on the first max_length tokens, or skip them"
    )
    learning_rate: float = Field(2e-5, gt=0, description="peak learning rate")
    num_train_epochs: float = Field(1.0, gt=0, description="passes over the data (when max_steps is -1)")
    max_steps: int = Field(-1, description="stop after this many optimizer steps (-1: num_train_epochs decides)")
    per_device_train_batch_size: int = Field(8, gt=0, description="records per device per micro-batch")
    gradient_accumulation_steps: int = Field(1, gt=0, description="micro-batches per optimizer step")
    lr_scheduler_type: str = Field("linear", description="any transformers scheduler name")
    warmup_steps: float = Field(0.0, ge=0, description="warm-up steps, or a fraction of all steps when < 1")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping")
    gradient_checkpointing: bool = Field(True, description="trade compute for memory")
    bf16: bool | None = Field(None, description="bf16 mixed precision; default: on where the GPU supports it")
    seed: int = Field(42, description="seed of initialisation, shuffling, held-out split and sampling")
    logging_steps: float = Field(1, gt=0, description="log every n steps (health checks read each log)")
    save_steps: int = Field(0, ge=0, description="checkpoint every n steps into checkpoints/ (0: none); a rerun resumes")
    eval_fraction: float = Field(0.0, ge=0.0, lt=1.0, description="records held out for evaluation")
    health: HealthConfig = Field(default_factory=HealthConfig, description="when to flag or stop a run")
    trl_args: dict[str, Any] = Field(
        default_factory=dict, description="any other argument of the TRL config class, passed through"
    )


class SFTStage(StageConfig):
    """Supervised fine-tuning on conversations (TRL ``SFTTrainer``).

    Loss on the assistant turns only (tool-call turns included): records are rendered
    with a template whose assistant turns sit inside ``{% generation %}`` markers (the
    tokenizer's, TRL's training version of a known template, or ours patched and proved
    byte-identical on the data), and the mask is checked non-empty per record.
    """

    stage: ClassVar[str] = "sft"
    own_fields: ClassVar[frozenset[str]] = StageConfig.own_fields | {"assistant_only_loss", "patch_template"}

    assistant_only_loss: bool = Field(True, description="loss on assistant tokens only (else on every token)")
    patch_template: bool = Field(
        True, description="add {% generation %} markers to a template without them (proved safe on the data)"
    )
    packing: bool = Field(False, description="pack several records per sequence (padding-free, no cross-attention)")
    padding_free: bool = Field(False, description="concatenate the batch without padding (flash-attention kernels)")
    truncation_mode: Literal["keep_start", "keep_end"] = Field(
        "keep_start", description="which end overflow: truncate keeps"
    )


class DPOStage(StageConfig):
    """Direct preference optimisation on chosen/rejected pairs (TRL ``DPOTrainer``).

    Under LoRA the reference model is the base with the adapter disabled (no copy).
    ``loss_type`` takes any loss TRL's DPO offers (sigmoid, ipo, hinge, robust, bco_pair,
    sppo_hard, nca_pair, aot, apo_zero, discopop, sft...), several with ``loss_weights``.
    """

    stage: ClassVar[str] = "dpo"

    learning_rate: float = Field(1e-6, gt=0, description="peak learning rate")
    beta: float = Field(0.1, gt=0, description="strength of the KL to the reference")
    loss_type: list[str] = Field(default_factory=lambda: ["sigmoid"], description="DPO loss(es)")
    loss_weights: list[float] | None = Field(None, description="weight per loss_type")
    label_smoothing: float = Field(0.0, ge=0.0, le=0.5, description="conservative DPO / robust noise rate")
    truncation_mode: Literal["keep_start", "keep_end"] = Field("keep_start", description="which end overflow: truncate keeps")

    @model_validator(mode="after")
    def _weights_match(self) -> DPOStage:
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise ValueError(f"loss_weights has {len(self.loss_weights)} values for {len(self.loss_type)} loss_type(s)")
        return self


class KTOStage(StageConfig):
    """Kahneman-Tversky optimisation on unpaired feedback (TRL ``KTOTrainer``).

    Records carry ``label`` (true = desirable); chosen/rejected pairs are unpaired into
    one desirable and one undesirable record each.
    """

    stage: ClassVar[str] = "kto"

    learning_rate: float = Field(1e-6, gt=0, description="peak learning rate")
    beta: float = Field(0.1, gt=0, description="strength of the KL to the reference")
    loss_type: Literal["kto", "apo_zero_unpaired"] = Field("kto", description="KTO loss")
    desirable_weight: float = Field(1.0, gt=0, description="weight of desirable records' loss")
    undesirable_weight: float = Field(1.0, gt=0, description="weight of undesirable records' loss")


class ORPOStage(StageConfig):
    """Odds-ratio preference optimisation: SFT + preference in one loss, no reference
    model (TRL ``trl.experimental.orpo.ORPOTrainer``)."""

    stage: ClassVar[str] = "orpo"

    learning_rate: float = Field(1e-6, gt=0, description="peak learning rate")
    beta: float = Field(0.1, gt=0, description="weight of the odds-ratio term (lambda in the paper)")


class RMStage(StageConfig):
    """Reward model: a sequence classifier trained on pairs (TRL ``RewardTrainer``).

    The score head trains in full beside the LoRA adapter. Pairwise accuracy on the
    held-out ``eval_fraction`` is in the summary. Load the output with
    ``backends.load_reward_model`` or plain ``AutoModelForSequenceClassification``.
    """

    stage: ClassVar[str] = "rm"

    learning_rate: float = Field(1e-4, gt=0, description="peak learning rate")
    eval_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="pairs held out for pairwise accuracy")
    center_rewards_coefficient: float | None = Field(None, description="push rewards towards zero mean (0.01 in the paper)")


class JudgeReward(Config):
    """An LLM judge as a reward: a pointwise rubric score, mapped to [0, 1]."""

    engine: str = Field("transformers", description="generation engine kind (dataforge engines)")
    model: str | None = Field(None, description="judge model (default: the engine's)")
    options: dict[str, Any] = Field(default_factory=dict, description="engine options")
    rubric: str | None = Field(None, description="what the judge rates (default: the shipped rubric)")
    scale: tuple[float, float] = Field((1.0, 10.0), description="the judge's score range")
    max_new_tokens: int = Field(256, gt=0, description="longest judge reply")


class RewardSpec(Config):
    """Where rewards come from: rule verifiers, a reward model, an LLM judge, weighted."""

    verifiers: dict[str, float] = Field(
        default_factory=dict, description="verifier name -> weight (dataforge verifiers; weighted mean of those that apply)"
    )
    verifier_params: dict[str, dict[str, Any]] = Field(default_factory=dict, description="verifier name -> its params")
    reward_model: str | None = Field(None, description="an rm stage output folder (or any sequence-classification model)")
    judge: JudgeReward | None = None
    weights: dict[Literal["verifiers", "reward_model", "judge"], float] = Field(
        default_factory=dict, description="weight of each source (default 1.0)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> RewardSpec:
        if not (self.verifiers or self.reward_model or self.judge):
            raise ValueError("give at least one reward source: verifiers, reward_model or judge")
        for name in self.verifier_params:
            if name not in self.verifiers:
                raise ValueError(f"verifier_params names {name!r}, which is not in verifiers")
        return self

    def check_verifiers(self) -> None:
        """Build each verifier once: an unknown name or parameter fails here, before any
        model loads, with the nearest valid name."""
        from dataforge.verifiers import make_verifier

        for name in self.verifiers:
            make_verifier(name, self.verifier_params.get(name))

    def needs_reference(self) -> list[str]:
        """Verifiers that compare with the record's reference answer."""
        from dataforge.verifiers import VERIFIERS

        return [n for n in self.verifiers if VERIFIERS.get(n).needs_reference]


class OnlineStage(StageConfig):
    """What the sampling stages share: prompts in, completions scored by rewards."""

    own_fields: ClassVar[frozenset[str]] = StageConfig.own_fields | {"rewards", "max_prompt_length"}

    rewards: RewardSpec = Field(..., description="verifiers / reward model / judge, weighted")
    learning_rate: float = Field(1e-6, gt=0, description="peak learning rate")
    max_prompt_length: int = Field(512, gt=0, description="most prompt tokens (overflow: error or drop)")
    overflow: Literal["error", "drop"] = Field("error", description="prompts over max_prompt_length: refuse or skip")
    max_completion_length: int = Field(256, gt=0, description="most sampled tokens per completion")
    temperature: float = Field(1.0, gt=0, description="sampling temperature")


class GRPOStage(OnlineStage):
    """Group relative policy optimisation (TRL ``GRPOTrainer``): several completions per
    prompt, advantages relative to the group."""

    stage: ClassVar[str] = "grpo"

    num_generations: int = Field(8, ge=2, description="completions per prompt (the group)")
    beta: float = Field(0.0, ge=0, description="KL to the reference (0: no reference model, TRL's default)")
    epsilon: float = Field(0.2, gt=0, description="clipping range")
    num_iterations: int = Field(1, gt=0, description="updates per generation batch")
    loss_type: str = Field("dapo", description="grpo, dr_grpo, dapo, bnpo, ...")
    scale_rewards: str = Field("group", description="group, batch or none")


class RLOOStage(OnlineStage):
    """REINFORCE leave-one-out (TRL ``RLOOTrainer``): the baseline of each completion is the
    mean reward of the other completions of its prompt."""

    stage: ClassVar[str] = "rloo"

    num_generations: int = Field(2, ge=2, description="completions per prompt")
    beta: float = Field(0.05, ge=0, description="KL to the reference")
    epsilon: float = Field(0.2, gt=0, description="clipping range")
    num_iterations: int = Field(1, gt=0, description="updates per generation batch")
    normalize_advantages: bool = Field(False, description="normalise advantages over the batch")


class PPOStage(OnlineStage):
    """Proximal policy optimisation with a value head, our own loop (TRL has no PPO since
    1.13); see ``backends/builtin/ppo.py`` for the algorithm and its references.

    One step: sample a completion for each of ``per_device_train_batch_size`` prompts,
    score it, subtract ``kl_coef`` x per-token KL to the reference, GAE, then
    ``ppo_epochs`` passes of clipped policy + value updates over mini-batches.
    """

    stage: ClassVar[str] = "ppo"

    per_device_train_batch_size: int = Field(8, gt=0, description="prompts sampled per PPO step (the rollout)")
    mini_batch_size: int = Field(4, gt=0, description="rollout rows per gradient update")
    ppo_epochs: int = Field(4, gt=0, description="passes over each rollout")
    kl_coef: float = Field(0.05, ge=0, description="per-token KL penalty to the reference in the reward")
    cliprange: float = Field(0.2, gt=0, description="policy ratio clip")
    cliprange_value: float = Field(0.2, gt=0, description="value prediction clip")
    vf_coef: float = Field(0.1, ge=0, description="weight of the value loss")
    gamma: float = Field(1.0, ge=0, le=1, description="discount over completion tokens")
    lam: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    whiten_advantages: bool = Field(True, description="normalise advantages over each rollout")
    missing_eos_penalty: float | None = Field(
        None, description="subtract this from the score of completions that never end (N+ details, #4)"
    )
    max_steps: int = Field(100, gt=0, description="PPO steps (rollout + updates)")
    gradient_checkpointing: bool = Field(False, description="trade compute for memory")

    @model_validator(mode="after")
    def _no_trl_args(self) -> PPOStage:
        if self.trl_args:
            raise ValueError("ppo is not a TRL trainer; trl_args does not apply")
        if self.save_steps:
            raise ValueError("ppo writes no intermediate checkpoints; save_steps does not apply")
        if self.gradient_accumulation_steps != 1 or self.eval_fraction:
            raise ValueError("ppo updates per mini_batch_size; gradient_accumulation_steps and eval_fraction do not apply")
        return self


STAGE_CONFIGS: dict[str, type[StageConfig]] = {
    cls.stage: cls for cls in (SFTStage, DPOStage, KTOStage, ORPOStage, RMStage, GRPOStage, RLOOStage, PPOStage)
}


def config_class(stage: str) -> type[StageConfig]:
    try:
        return STAGE_CONFIGS[stage]
    except KeyError:
        raise UnknownNameError("stage", stage, STAGES) from None


def parse_sets(sets: Sequence[str]) -> dict[str, Any]:
    """``["adapter.rank=8", "max_steps=4"]`` -> nested dict; values are YAML scalars."""
    out: dict[str, Any] = {}
    for item in sets:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE (e.g. adapter.rank=8)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: value is not valid YAML ({exc.__class__.__name__})") from None
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is set to a value and used as a section")
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def stage_config(
    stage: str,
    params: Mapping[str, Any] | None = None,
    *,
    file: str | Path | None = None,
    sets: Sequence[str] = (),
) -> StageConfig:
    """A validated stage config from a YAML file, a dict and ``--set key=value`` items
    (later ones win). A ``stage:`` key in the file must name the same stage."""
    cls = config_class(stage)
    data: dict[str, Any] = {}
    if file is not None:
        path = Path(file)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of stage parameters, got {type(loaded).__name__}")
        named = loaded.pop("stage", stage)
        if named != stage:
            raise ConfigError(f"{path}: the file configures stage {named!r}, not {stage!r}")
        data = loaded
    data = _merge(_merge(data, params or {}), parse_sets(sets))
    config = validate_config(cls, data, f"stage {stage!r}")
    if isinstance(config, OnlineStage):
        config.rewards.check_verifiers()
    return config


def config_yaml(stage: str) -> str:
    """The stage's config with every default, as commented YAML (``dataforge train config``)."""
    cls = config_class(stage)
    lines = [f"# {stage} stage config: {summary(cls)}", f"stage: {stage}"]
    for name, f in cls.model_fields.items():
        if f.is_required():
            default: Any = _example_required(cls, name)
        else:
            value = f.get_default(call_default_factory=True)
            default = value.model_dump(mode="json") if isinstance(value, Config) else value
        text = yaml.safe_dump({name: default}, allow_unicode=True, sort_keys=False, default_flow_style=False).rstrip()
        if f.description:
            lines.append(f"# {f.description}")
        lines.append(text)
    return "\n".join(lines) + "\n"


def summary(cls: type) -> str:
    """The first sentence of a class docstring, on one line."""
    text = " ".join((cls.__doc__ or "").split("\n\n")[0].split()).replace("``", "`")
    head, dot, _ = text.partition(". ")
    return head + ("." if dot else "")


def _example_required(cls: type[StageConfig], name: str) -> Any:
    if name == "rewards":
        return {"verifiers": {"math_answer": 1.0}}
    raise RuntimeError(f"{cls.__name__}.{name} is required: add an example here")


__all__ = [
    "AdapterConfig", "DPOStage", "GRPOStage", "HealthConfig", "JudgeReward", "KTOStage", "ONLINE_STAGES",
    "ORPOStage", "PPOStage", "PREFERENCE_STAGES", "RLOOStage", "RMStage", "RewardSpec", "SFTStage", "STAGES",
    "STAGE_CONFIGS", "StageConfig", "config_class", "config_yaml", "parse_sets", "stage_config", "summary",
]
