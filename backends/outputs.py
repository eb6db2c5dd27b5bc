"""What every stage leaves in its output folder besides the model.

* ``log_history.jsonl``: one JSON object per log (TRL's ``state.log_history``, or PPO's);
* ``curves.png``: one panel per metric family the stage logged (loss, reward, KL,
  accuracy, margins, grad norm...);
* ``summary.json``: steps, tokens seen, wall time, tokens/s, peak memory, final metrics,
  data report and health flags;
* ``stage_config.yaml``: the resolved stage config, every default written out.

The output folder follows ``dataforge.outputs`` (docs/safety.md): new, empty or created
by posttrain, never an input; a rerun replaces what an earlier run wrote there.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from dataforge.fileio import atomic_write, package_versions, write_json_atomic, write_text_atomic
from dataforge.outputs import claim_folder, prepare_outputs, temp_prefix

from .config import StageConfig

LOG_FILE = "log_history.jsonl"
CURVES_FILE = "curves.png"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "stage_config.yaml"

#: metric families plotted, in panel order: (title, substrings a log key must contain)
_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loss", ("loss",)),
    ("reward", ("reward",)),
    ("KL", ("kl",)),
    ("accuracy", ("accurac",)),
    ("margin", ("margin",)),
    ("grad norm", ("grad_norm",)),
)
#: a key matching several families goes to the most specific one (rewards/margins: margin)
_PRIORITY = ("accuracy", "margin", "KL", "grad norm", "reward", "loss")
_SKIP = ("_std", "_min", "_max", "runtime", "per_second", "learning_rate", "epoch", "step", "num_tokens", "total_flos")


def check_output(output_dir: Path, inputs: Sequence[Path]) -> None:
    """Before any work: the folder is new, empty or ours, and neither is, holds nor sits
    inside an input (training data, the model being trained): ``dataforge.outputs``'
    rules, the same as every other command's."""
    prepare_outputs(list(inputs), folders=[output_dir])


def claim_output(output_dir: Path, inputs: Sequence[Path], command: str = "dataforge train") -> Path:
    """Check ``output_dir`` (see :func:`check_output`), create it and mark it ours."""
    check_output(output_dir, inputs)
    return claim_folder(output_dir, command)


def staging_dir(target: Path) -> Path:
    """The folder a new ``target`` is written into before :func:`swap_in`. Named without a
    pid, unlike other temporaries: every process of a distributed run saves through the
    same path (only the main one writes); it lives inside our own output folder."""
    return target.with_name(f".{target.name}.staging")


def swap_in(staged: Path, target: Path) -> Path:
    """Replace ``target`` (ours, by :func:`claim_output`) with the complete ``staged``
    folder; the old one goes only after the new one is in place."""
    old = target.with_name(temp_prefix(target.name, "old") + "dir")
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def peak_memory() -> dict[str, Any]:
    """Peak accelerator memory when a GPU ran the job, else the process's peak RSS."""
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
            return {"peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1), "peak_memory_of": "cuda"}
    except ImportError:  # pragma: no cover - torch is a dependency of every back end
        pass
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform != "darwin" else 1 / 1024  # macOS reports bytes
    return {"peak_memory_mb": round(rss_kb * scale / 1024, 1), "peak_memory_of": "process rss"}


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/Inf as strings (JSON has no such numbers), tensors as floats."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_logs(output_dir: Path, logs: Iterable[Mapping[str, Any]]) -> Path:
    lines = [json.dumps({k: _clean(v) for k, v in entry.items()}, ensure_ascii=False) for entry in logs]
    return write_text_atomic(output_dir / LOG_FILE, "\n".join(lines) + ("\n" if lines else ""))


def final_metrics(logs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The last logged value of every numeric key (train-end aggregates included)."""
    out: dict[str, Any] = {}
    for entry in logs:
        for key, value in entry.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step":
                out[key] = _clean(value)
    return out


def plot_curves(output_dir: Path, logs: Sequence[Mapping[str, Any]], title: str) -> Path | None:
    """One panel per metric family present in the logs; None when nothing was logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    numeric = sorted({
        k for entry in logs for k, v in entry.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not any(s in k for s in _SKIP)
        and not k.startswith("train_")
    })
    needles = dict(_PANELS)
    family = {k: next((n for n in _PRIORITY if any(x in k for x in needles[n])), None) for k in numeric}
    panels = [(name, [k for k in numeric if family[k] == name]) for name, _ in _PANELS]
    panels = [(name, keys) for name, keys in panels if keys]
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, keys) in zip(axes.flat, panels):
        for key in keys:
            pts = [(e["step"], e[key]) for e in logs if key in e and "step" in e and isinstance(e[key], (int, float))]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", markersize=3, label=key)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    path = output_dir / CURVES_FILE
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return path


def write_config(output_dir: Path, config: StageConfig) -> Path:
    data = {"stage": config.stage, **config.model_dump(mode="json")}
    return write_text_atomic(output_dir / CONFIG_FILE, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def write_summary(output_dir: Path, summary: Mapping[str, Any]) -> Path:
    versions = package_versions(["torch", "transformers", "trl", "peft", "accelerate", "posttrain"])
    return write_json_atomic(output_dir / SUMMARY_FILE, {**summary, "versions": versions})
