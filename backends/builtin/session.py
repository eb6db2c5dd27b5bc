"""One training run of the built-in back end, from refusal checks to summary.

Every stage goes through the same steps, in an order that refuses bad input cheaply:

1. config checks that need no data (QLoRA without a GPU, ``trl_args`` names);
2. the output folder is checked (never one with foreign content, never an input);
3. records are read and checked for the stage (``backends.data``), the tokenizer loads,
   the stage renders and measures them: all before the model loads, and before the
   output folder is created, so a refused run leaves nothing behind;
4. model, peft config, TRL config; the trainer runs with a NaN/Inf guard and a progress
   callback; a rerun resumes from the last checkpoint when ``save_steps`` wrote some;
5. the adapter or model is saved with the tokenizer and the template it trained with,
   then the log, the curves, the health flags and the summary.

Stage modules (``sft.py``, ``preference.py``, ``reward_model.py``, ``online.py``,
``ppo.py``) only say what differs: how records become a dataset and which trainer runs.
Only the main process writes files when ``accelerate launch`` runs several.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from dataforge.errors import ConfigError, UserError, did_you_mean
from dataforge.outputs import OutputLock

from .. import data as stage_data
from .. import outputs
from ..base import TrainArtifacts, TrainProgress, as_paths
from ..config import StageConfig
from ..health import NonFiniteLoss, check_logs, describe_batch
from ..loading import adapter_base, load_model, load_tokenizer, model_folder

#: TRL / transformers arguments the back end decides; setting them in trl_args is an error
MANAGED_ARGS = frozenset({
    "output_dir", "report_to", "logging_nan_inf_filter", "disable_tqdm",
    "save_strategy", "use_cpu", "eval_strategy",
})


class QLoRAUnavailable(UserError):
    """QLoRA asked for where it cannot run."""


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def check_adapter(config: StageConfig, model_ref: str) -> None:
    """QLoRA needs a CUDA GPU, bitsandbytes and a plain base: refuse with one line before
    anything loads."""
    if config.adapter.kind != "qlora":
        return
    if not cuda_available():
        raise QLoRAUnavailable(
            "adapter.kind=qlora needs a CUDA GPU (4-bit bitsandbytes kernels); this machine has none: "
            "use adapter.kind=lora"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise QLoRAUnavailable("adapter.kind=qlora needs bitsandbytes: pip install bitsandbytes") from None
    if adapter_base(model_folder(model_ref)) is not None:
        raise QLoRAUnavailable(f"{model_ref} is an adapter: merge it first (dataforge train merge) to train QLoRA on it")


def process_state() -> Any:
    """accelerate's process state, as the trainers will set it up: on CPU it must be
    asked for ``cpu=True`` to see a ``torchrun`` / ``accelerate launch`` job of several
    processes (without it every process believes it is the main one)."""
    from accelerate import PartialState

    return PartialState(cpu=not cuda_available())


def barrier() -> None:
    process_state().wait_for_everyone()


def template_text(value: str | None) -> str | None:
    """``chat_template``: the template text itself (it has Jinja tags), or a file path."""
    if value is None or "{" in value:
        return value
    path = Path(value)
    if not path.is_file():
        raise UserError(f"chat_template {value}: no such file (give a .jinja path or the template text)")
    return path.read_text(encoding="utf-8")


class Session:
    """The shared steps of one stage run (see the module docstring)."""

    def __init__(
        self,
        config: StageConfig,
        data: Any,
        model: str,
        output_dir: Any,
        eval_data: Any = None,
        progress: TrainProgress | None = None,
    ) -> None:
        self.config = config
        self.model_ref = str(model)
        self.out = Path(output_dir)
        self.paths = as_paths(data)
        self.eval_paths = as_paths(eval_data)
        self.progress = progress
        self.started = time.time()
        check_adapter(config, self.model_ref)
        self.precision()  # bf16 without a GPU is refused here, before anything loads
        folder = Path(model_folder(self.model_ref))
        self.inputs = [*self.paths, *self.eval_paths, *([folder] if folder.exists() else [])]
        outputs.check_output(self.out, self.inputs)  # claimed once the data passed, before the model loads
        self.report = stage_data.DataReport(files=[str(p) for p in self.paths], records=0)
        self.flags: list[dict[str, Any]] = []
        self.stopped_early = False
        self.lock: OutputLock | None = None

    def close(self) -> None:
        """Release the output folder (the run ended, finished or not)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # -- data --------------------------------------------------------------------------------

    @property
    def main(self) -> bool:
        """True in the process that prints and writes (the only one outside a launch)."""
        return bool(process_state().is_main_process)

    def records(self) -> tuple[pl.DataFrame, pl.DataFrame | None]:
        """(train, eval) records checked for the stage; eval from ``eval_data`` or the
        held-out ``eval_fraction``."""
        stage = self.config.stage
        raw = stage_data.read_records(self.paths)
        records = stage_data.check_stage(stage, raw)
        self.report.records = raw.height
        self.report.unpaired = records.height - raw.height if stage == "kto" else 0
        if self.eval_paths:
            return records, stage_data.check_stage(stage, stage_data.read_records(self.eval_paths))
        train, held = stage_data.hold_out(records, self.config.eval_fraction, self.config.seed)
        self.report.held_out = 0 if held is None else held.height
        return train, held

    def tokenizer(self) -> Any:
        """The model's tokenizer; ``chat_template`` in the config replaces its template."""
        tokenizer = load_tokenizer(self.model_ref)
        override = template_text(self.config.chat_template)
        if override is not None:
            tokenizer.chat_template = override
        return tokenizer

    # -- model ---------------------------------------------------------------------------------

    def precision(self) -> dict[str, Any]:
        import torch

        cuda = cuda_available()
        bf16 = self.config.bf16 if self.config.bf16 is not None else bool(cuda and torch.cuda.is_bf16_supported())
        if bf16 and not cuda:
            raise ConfigError("bf16=true needs a GPU with bf16 support; this machine has none: set bf16=false")
        return {"bf16": bf16, "use_cpu": not cuda}

    def load_model(self, kind: str = "causal") -> Any:
        """The policy (with any adapter chain merged in); 4-bit for QLoRA. The data has
        passed its checks by now, so the output folder is created here."""
        import torch

        if self.main and self.lock is None:
            outputs.claim_output(self.out, self.inputs)
            self.lock = OutputLock(self.out).acquire()  # one writer per output folder
        barrier()
        kwargs: dict[str, Any] = {}
        if self.config.adapter.kind == "qlora":
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.bfloat16,
            )
        kwargs["dtype"] = torch.bfloat16 if self.precision()["bf16"] else torch.float32
        return load_model(self.model_ref, kind=kind, **kwargs)

    def peft_config(self, task_type: str = "CAUSAL_LM") -> Any:
        """LoRA settings of the config, or None for full fine-tuning."""
        adapter = self.config.adapter
        if adapter.kind == "full":
            return None
        from peft import LoraConfig

        return LoraConfig(
            r=adapter.rank, lora_alpha=adapter.alpha, lora_dropout=adapter.dropout,
            target_modules=adapter.target_modules, modules_to_save=adapter.modules_to_save, task_type=task_type,
        )

    def trl_args(self, cls: type, **stage_args: Any) -> Any:
        """The TRL config: every non-own field of the stage config by name, ``stage_args``,
        the checked ``trl_args``, and what the back end manages."""
        cfg = self.config
        fields = {f.name for f in dataclasses.fields(cls)}
        what = f"stage {cfg.stage!r}: trl_args"
        for key in cfg.trl_args:
            if key not in fields:
                raise ConfigError(f"{what}: {cls.__name__} has no argument {key!r}{did_you_mean(key, fields)}")
            if key in MANAGED_ARGS:
                raise ConfigError(f"{what}: {key!r} is set by the back end")
            if key in type(cfg).model_fields:
                raise ConfigError(f"{what}: {key!r} is a stage parameter; set it directly ({key}: ...)")
        ours = {k: v for k, v in cfg.model_dump().items() if k not in cfg.own_fields and k in fields}
        save = {"save_strategy": "steps", "save_steps": cfg.save_steps} if cfg.save_steps else {"save_strategy": "no"}
        managed = {
            "output_dir": str(self.out / "checkpoints"), "report_to": "none", "logging_nan_inf_filter": False,
            "disable_tqdm": self.progress is not None,
            "eval_strategy": "no", **save, **self.precision(),
        }
        return cls(**{**ours, **stage_args, **cfg.trl_args, **managed})

    # -- running ---------------------------------------------------------------------------------

    def callbacks(self) -> list[Any]:
        return [_ProgressCallback(self.progress, self.config.stage)] if self.progress is not None and self.main else []

    def guarded(self, trainer_cls: type) -> type:
        """``trainer_cls`` whose training step counts the tokens it trains on and, with
        ``health.stop_on_nonfinite``, stops on a NaN/Inf loss before the optimizer applies it."""
        return type(trainer_cls.__name__, (_Monitored, trainer_cls), {"_stop_on_nonfinite": self.config.health.stop_on_nonfinite})

    def train(self, trainer: Any) -> None:
        """Run (resuming from the newest checkpoint of an earlier run of this folder)."""
        if self.progress is not None:  # our bar replaces the trainer's printed dicts
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        checkpoints = sorted((self.out / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
        try:
            trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
        except NonFiniteLoss as exc:
            self.flags.append(exc.flag())
            self.stopped_early = True
        finally:
            if self.progress is not None and self.main:
                self.progress.finish()

    def finish(
        self, trainer: Any, tokenizer: Any, *, log_history: Sequence[dict[str, Any]] | None = None,
        eval_metrics: dict[str, Any] | None = None, flat_key: str = "loss", extra: dict[str, Any] | None = None,
        save: Callable[[Path], None] | None = None,
    ) -> TrainArtifacts:
        """Save the model, then the log, curves, health flags and summary."""
        logs = list(log_history if log_history is not None else trainer.state.log_history)
        tokens = tokens_seen(trainer, outputs.final_metrics(logs))  # a collective call: every process
        model_dir = self.out / ("model" if self.config.adapter.kind == "full" else "adapter")
        staged = outputs.staging_dir(model_dir)
        if self.main:
            shutil.rmtree(staged, ignore_errors=True)
        barrier()
        # every process calls save: under DeepSpeed/FSDP it gathers the weights; only the main one writes
        (save or (lambda tmp: trainer.save_model(str(tmp))))(staged)
        barrier()
        if not self.main:
            return TrainArtifacts(self.out, model_dir)
        tokenizer.save_pretrained(str(staged))
        self._record_base(staged)
        outputs.swap_in(staged, model_dir)
        checkpoints = self.out / "checkpoints"
        if checkpoints.is_dir() and not any(checkpoints.iterdir()):
            checkpoints.rmdir()
        health = self.flags + check_logs(logs, self.config.health, flat_key=flat_key)
        log_file = outputs.write_logs(self.out, logs)
        curves = outputs.plot_curves(self.out, logs, f"{self.config.stage} - {Path(self.model_ref).name}")
        outputs.write_config(self.out, self.config)
        summary = self._summary(trainer, logs, tokens, eval_metrics or {}, health, extra or {})
        summary_file = outputs.write_summary(self.out, summary)
        return TrainArtifacts(self.out, model_dir, log_file, curves, summary_file, summary)

    def _record_base(self, folder: Path) -> None:
        """Name the model this adapter was trained on, as given (resolved to a folder
        when local), so loading and ``merge`` find it (and its own adapters) again."""
        config = folder / "adapter_config.json"
        if config.is_file():
            data = json.loads(config.read_text(encoding="utf-8"))
            base = model_folder(self.model_ref)
            data["base_model_name_or_path"] = str(Path(base).resolve()) if Path(base).exists() else base
            config.write_text(json.dumps(data, indent=2), encoding="utf-8")

    def _summary(self, trainer: Any, logs: list[dict[str, Any]], tokens: int | None, eval_metrics: dict[str, Any],
                 health: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
        wall = time.time() - self.started
        state = getattr(trainer, "state", None)
        metrics = outputs.final_metrics(logs)
        train_time = metrics.get("train_runtime") or wall
        return {
            "stage": self.config.stage,
            "backend": "trl",
            "model": self.model_ref,
            "adapter": self.config.adapter.kind,
            "steps": int(getattr(state, "global_step", 0) or max((e.get("step", 0) for e in logs), default=0)),
            "tokens_seen": int(tokens) if tokens else None,
            "wall_time_s": round(wall, 2),
            "train_time_s": round(float(train_time), 2),
            "tokens_per_s": round(float(tokens) / float(train_time), 2) if tokens and train_time else None,
            **outputs.peak_memory(),
            "stopped_early": self.stopped_early,
            "final_metrics": metrics,
            "eval_metrics": eval_metrics,
            "health": health,
            "data": self.report.to_dict(),
            **extra,
        }


def count_tokens(inputs: Any) -> int:
    """Non-padding tokens of a collated batch: the sum of its attention masks (prompt and
    completion masks for sampling trainers), else every token id (padding-free batches).
    Sampling trainers pass raw rows here (they generate inside the step): 0, and the
    summary falls back to the trainer's own ``num_tokens`` log."""
    import torch

    if not isinstance(inputs, dict):
        return 0
    masks = [v for k, v in inputs.items()
             if torch.is_tensor(v) and (k.endswith("attention_mask") or k in ("prompt_mask", "completion_mask"))]
    if masks:
        return int(sum(int(m.sum()) for m in masks))
    ids = [v for k, v in inputs.items() if torch.is_tensor(v) and k.endswith("input_ids")]
    return int(sum(v.numel() for v in ids))


class _Monitored:
    """Mixin for TRL trainers: count tokens per micro-batch; raise on a NaN/Inf loss
    before the optimizer step applies its gradient."""

    _micro_batch = 0
    _tokens_seen = 0
    _stop_on_nonfinite = True
    #: token ids of a training sequence -> record id, when the stage tokenized the records
    record_ids: dict[tuple[int, ...], str] | None = None

    def training_step(self, model: Any, inputs: Any, num_items_in_batch: Any = None) -> Any:
        import torch

        self._tokens_seen += count_tokens(inputs)
        loss = super().training_step(model, inputs, num_items_in_batch)  # type: ignore[misc]
        self._micro_batch += 1
        if self._stop_on_nonfinite and not bool(torch.isfinite(loss).all()):
            tokenizer = getattr(self, "processing_class", None)
            raise NonFiniteLoss(
                step=self.state.global_step + 1,  # type: ignore[attr-defined]
                batch=describe_batch(inputs, tokenizer, self._micro_batch, self.record_ids),
                value=float(loss.detach().float().item()),
            )
        return loss


def tokens_seen(trainer: Any, metrics: dict[str, Any]) -> int | None:
    """Tokens trained on, summed over processes: our count from the training steps, else
    the trainer's ``num_tokens`` log (sampling trainers count prompt + completion)."""
    counted = getattr(trainer, "_tokens_seen", 0)
    if counted:
        accelerator = getattr(trainer, "accelerator", None)
        if accelerator is not None and accelerator.num_processes > 1:
            import torch

            counted = int(accelerator.gather(torch.tensor([counted], device=accelerator.device)).sum())
        return counted
    value = metrics.get("num_tokens")
    return int(value) if value else None


def _progress_callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class _ProgressCallback(_progress_callback_base()):  # type: ignore[misc]
    """Forwards the trainer's step count and logs to a :class:`TrainProgress`."""

    def __init__(self, progress: TrainProgress, stage: str) -> None:
        self.progress, self.stage = progress, stage

    def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self.progress.start(int(state.max_steps), f"{self.stage}")

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        self.progress.update(int(state.global_step), logs or {})

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self.progress.update(int(state.global_step), {})
