"""Benchmark: our ``sft`` stage against the same TRL ``SFTTrainer`` script written by hand.

    python bench/train_overhead.py            # 64 records, 16 steps (minutes on 2 cores)
    python bench/train_overhead.py --quick    # 8 records, 2 steps

Both train the embedded SmolLM2-135M with the same LoRA (rank 8, all-linear), the same
records, order, batch size, learning rate, seed and steps, with assistant-only loss under
the same patched chat template (written once with ``chat_template.training_template``,
passed to TRL as ``chat_template_path``, what a hand-written script would do). Ours adds
the data checks, its own tokenization, the health monitor, curves and summary. Prints
wall time of each (model load + training + saving), the ratio and the final losses; the
goal is within 10% and the same loss.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

import backends  # noqa: E402
from dataforge import chat_template as ct  # noqa: E402
from dataforge import models  # noqa: E402
from dataforge.formats.api import read, to_trl_dataset, write  # noqa: E402

SAMPLE = REPO / "recipes" / "data" / "eval_qa_zh_en.jsonl"  # 12 short Chinese/English Q&A records

ARGS = {"per_device_train_batch_size": 4, "learning_rate": 2e-4, "max_length": 256, "seed": 0,
        "gradient_checkpointing": False, "lr_scheduler_type": "linear", "logging_steps": 1}
LORA = {"rank": 8, "alpha": 16, "dropout": 0.05}


def records(n: int) -> pl.DataFrame:
    """``n`` chat records: the shipped Chinese/English Q&A sample, repeated."""
    base = read(SAMPLE)
    reps = -(-n // base.height)
    rows = pl.concat([base.with_columns(pl.col("id") + f"-{i}") for i in range(reps)], how="vertical")
    return rows.head(n)


def by_hand(data: pl.DataFrame, template: Path, steps: int, out: Path) -> tuple[float, float]:
    """The TRL script a user writes: conversational dataset, LoRA, assistant-only loss."""
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    start = time.perf_counter()
    args = SFTConfig(output_dir=str(out), max_steps=steps, assistant_only_loss=True, chat_template_path=str(template),
                     bf16=False, use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True, **ARGS)
    peft = LoraConfig(r=LORA["rank"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                      target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=str(models.smollm_path()), args=args, train_dataset=to_trl_dataset(data, "sft"),
                         peft_config=peft)
    trainer.train()
    trainer.save_model(str(out / "adapter"))
    loss = [e["loss"] for e in trainer.state.log_history if "loss" in e][-1]
    return time.perf_counter() - start, loss


def ours(data_file: Path, steps: int, out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    config = backends.stage_config("sft", {**ARGS, "max_steps": steps, "adapter": LORA, "bf16": False})
    artifacts = backends.train(config, data_file, "smollm2", out)
    return time.perf_counter() - start, artifacts.summary["final_metrics"]["loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 records, 2 steps")
    parser.add_argument("--records", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    opts = parser.parse_args()
    n, steps = (8, 2) if opts.quick else (opts.records, opts.steps)
    data = records(n)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data_file = write(data, folder / "sft.parquet")
        tokenizer = ct.load_tokenizer("smollm2")
        template = folder / "template.jinja"
        template.write_text(ct.training_template(tokenizer).text, encoding="utf-8")
        by_hand(data.head(4), template, 1, folder / "warm")  # first-use costs (imports, file cache) off the clock
        t_peer, loss_peer = by_hand(data, template, steps, folder / "peer")
        t_ours, loss_ours = ours(data_file, steps, folder / "ours")
    print(f"SFT, {n} records, {steps} steps, LoRA r={LORA['rank']}, batch {ARGS['per_device_train_batch_size']}")
    print(f"  TRL by hand : {t_peer:8.2f} s   final loss {loss_peer:.6f}")
    print(f"  backends sft: {t_ours:8.2f} s   final loss {loss_ours:.6f}")
    print(f"  ratio ours/peer {t_ours / t_peer:.3f} (goal <= 1.10); |loss diff| {abs(loss_ours - loss_peer):.2e}")


if __name__ == "__main__":
    main()
