"""The lm-eval bridge: run lm-evaluation-harness tasks and store the result as an evalkit run.

Standard benchmarks and custom task YAMLs run through lm-eval itself (``simple_evaluate``):
we do not re-implement its prompt formats or metrics. What we add is the run folder, so
``evalkit compare`` treats a benchmark run exactly like a generation run: one metric per
``task/metric`` with lm-eval's own score and stderr, one row per scored sample (prompt,
target, the model's answer, per-sample metric values) and a manifest.

Chat models: ``apply_chat_template`` (True, or the name of one of the tokenizer's
templates) renders every prompt with the model's chat template, and
``fewshot_as_multiturn`` (lm-eval's default whenever a template is applied) makes each
few-shot example its own user/assistant turn instead of one long user message. Both
change the prompts, so both are in every metric's signature.

Task folders given with ``include_path`` are staged in a temporary copy in which relative
``dataset_kwargs.data_files`` paths are made absolute against the YAML's own folder: lm-eval
resolves them against the working directory, which makes a shipped task break as soon as
the user runs from elsewhere.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import polars as pl
import yaml

from dataforge.errors import MissingFileError
from dataforge import models
from dataforge.errors import UserError
from dataforge.schemas.record import MESSAGE_DTYPE

from .store import METRIC_PREFIX, Run, items_sha256, now_iso, package_versions, save_run

_NOT_METRICS = {"alias", "name", "sample_len", "samples"}


def run_harness(
    model: str | None,
    tasks: Sequence[str],
    *,
    include_path: Sequence[str | Path] | None = None,
    limit: int | float | None = None,
    num_fewshot: int | None = None,
    batch_size: int | str = 1,
    device: str | None = None,
    apply_chat_template: bool | str = False,
    fewshot_as_multiturn: bool | None = None,
    output: str | Path | None = None,
) -> Run:
    """Run lm-eval ``tasks`` on ``model`` (alias, path or hub id) and return an evalkit run.

    ``fewshot_as_multiturn``: None follows ``apply_chat_template`` (lm-eval's rule); True
    without a chat template is refused, as lm-eval refuses it.
    """
    if fewshot_as_multiturn is None:
        fewshot_as_multiturn = bool(apply_chat_template)
    if fewshot_as_multiturn and not apply_chat_template:
        raise UserError("fewshot-as-multiturn needs a chat template (--apply-chat-template)")
    import lm_eval
    import torch
    from lm_eval.tasks import TaskManager

    resolved = models.resolve(model)
    started = time.perf_counter()
    with _staged_include_paths(include_path or []) as staged:
        manager = TaskManager(include_path=staged or None)
        results = lm_eval.simple_evaluate(
            model="hf",
            model_args=f"pretrained={resolved},dtype=float32",
            tasks=list(tasks),
            task_manager=manager,
            limit=limit,
            num_fewshot=num_fewshot,
            batch_size=batch_size,
            device=device or ("cuda" if torch.cuda.is_available() else "cpu"),
            apply_chat_template=apply_chat_template,
            fewshot_as_multiturn=fewshot_as_multiturn,
            log_samples=True,
        )
    elapsed = time.perf_counter() - started
    if results is None:  # non-zero ranks in distributed runs return None
        raise RuntimeError("lm-eval returned no results")
    predictions = _predictions(results)
    chat = {"apply_chat_template": apply_chat_template, "fewshot_as_multiturn": fewshot_as_multiturn}
    metrics = _metrics(results, limit, chat)
    manifest = {
        "kind": "lm-eval",
        "model": {"ref": model or models.DEFAULT_CAUSAL_LM, "path": resolved},
        "data": {
            "tasks": list(tasks),
            "include_path": [str(Path(p).resolve()) for p in include_path or []],
            "limit": limit,
            "n": predictions.height,
            "sha256": items_sha256(predictions),
            "n_samples": results.get("n-samples", {}),
        },
        "lm_eval": {
            "versions": results.get("versions", {}),
            "n_shot": results.get("n-shot", {}),
            **chat,
            "batch_size": batch_size,
        },
        "versions": package_versions(),
        "metrics": {name: m["signature"] for name, m in metrics.items()},
        "timings": {"harness_s": round(elapsed, 3)},
        "created_at": now_iso(),
    }
    run = Run(predictions=predictions, metrics=metrics, manifest=manifest)
    return save_run(run, output) if output is not None else run


def _metrics(results: dict[str, Any], limit: int | float | None, chat: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """lm-eval's ``results`` -> one evalkit metric per task/metric(/filter)."""
    template = chat["apply_chat_template"]
    prompt_style = ("chat:" + (template if isinstance(template, str) else "default" if template else "no")
                    + f"|multiturn:{'yes' if chat['fewshot_as_multiturn'] else 'no'}")
    version = results.get("lm_eval_version") or package_versions().get("lm_eval", "?")
    higher = results.get("higher_is_better", {})
    out: dict[str, dict[str, Any]] = {}
    for task, values in results["results"].items():
        for key, score in values.items():
            metric, _, filt = key.partition(",")
            if key in _NOT_METRICS or metric.endswith("_stderr") or not isinstance(score, (int, float)):
                continue
            name = _metric_name(task, metric, filt)
            stderr = values.get(f"{metric}_stderr,{filt}")
            signature = (
                f"lm-eval:{version}|task:{task}|version:{results.get('versions', {}).get(task)}"
                f"|metric:{metric}|filter:{filt or 'none'}|shots:{results.get('n-shot', {}).get(task)}"
                f"|{prompt_style}|limit:{limit}|n:{values.get('sample_len', '?')}"
            )
            out[name] = {
                "score": float(score),
                "signature": signature,
                "stderr": float(stderr) if isinstance(stderr, (int, float)) else None,
                "higher_is_better": higher.get(task, {}).get(metric),
                "task": task,
                "filter": filt or "none",
            }
    return out


def _metric_name(task: str, metric: str, filt: str) -> str:
    return f"{task}/{metric}" if filt in ("", "none") else f"{task}/{metric}@{filt}"


def _predictions(results: dict[str, Any]) -> pl.DataFrame:
    """Logged samples -> the predictions table (one row per task and document)."""
    rows: list[dict[str, Any]] = []
    metric_cols: set[str] = set()
    for task, samples in results.get("samples", {}).items():
        output_type = results.get("configs", {}).get(task, {}).get("output_type", "")
        for sample in samples:
            row = _sample_row(task, sample, output_type)
            metric_cols.update(k for k in row if k.startswith(METRIC_PREFIX))
            rows.append(row)
    schema: dict[str, pl.DataType] = {
        "id": pl.String, "task": pl.String, "prompt": pl.String, "messages": pl.List(MESSAGE_DTYPE),
        "reference": pl.String, "prediction": pl.String, "raw_prediction": pl.String,
    }
    schema.update({c: pl.Float64 for c in sorted(metric_cols)})
    return pl.DataFrame(rows, schema=schema)


def _sample_row(task: str, sample: dict[str, Any], output_type: str) -> dict[str, Any]:
    """One logged lm-eval sample as a predictions row, for any output type."""
    args = sample["arguments"]
    prompt = str(args[0][0])
    filt = sample.get("filter", "none")
    if output_type == "multiple_choice":
        choices = [str(a[1]).strip() for a in args]
        logliks = [float(r[0]) for r in sample["filtered_resps"]]
        prediction = choices[max(range(len(logliks)), key=logliks.__getitem__)]
        target = sample["target"]
        reference = choices[target] if isinstance(target, int) and target < len(choices) else str(target)
        raw = prediction
    else:
        filtered = sample["filtered_resps"]
        prediction = str(filtered[0] if isinstance(filtered, list) and filtered else filtered)
        resps = sample.get("resps") or [[prediction]]
        raw = str(resps[0][0] if isinstance(resps[0], list) else resps[0])
        reference = str(sample["target"])
    row: dict[str, Any] = {
        "id": f"{task}/{sample['doc_id']}",
        "task": task,
        "prompt": prompt,
        "messages": [{"role": "user", "content": prompt, "name": None, "tool_calls": None,
                      "tool_call_id": None}],
        "reference": reference,
        "prediction": prediction,
        "raw_prediction": raw,
    }
    for metric in sample.get("metrics", []):
        value = sample.get(metric)
        if isinstance(value, (int, float)):
            row[METRIC_PREFIX + _metric_name(task, metric, filt)] = float(value)
    return row


# --- include-path staging ------------------------------------------------------------


class _Tagged:
    """A YAML node with a custom tag (``!function utils.f``), kept verbatim for re-dumping."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    pass


_Loader.add_multi_constructor(
    "!", lambda loader, suffix, node: _Tagged("!" + suffix, loader.construct_scalar(node))
)
_Dumper.add_representer(_Tagged, lambda dumper, t: dumper.represent_scalar(t.tag, t.value))


@contextmanager
def _staged_include_paths(paths: Sequence[str | Path]) -> Iterator[list[str]]:
    """Copy each task folder to a temp dir with relative ``data_files`` made absolute."""
    if not paths:
        yield []
        return
    with tempfile.TemporaryDirectory(prefix="evalkit-tasks-") as tmp:
        staged = []
        for i, src in enumerate(paths):
            src_path = Path(src).resolve()
            if not src_path.is_dir():
                raise MissingFileError(f"lm-eval include path {src} is not a folder")
            dst = Path(tmp) / f"{i}-{src_path.name}"
            shutil.copytree(src_path, dst)
            for yaml_file in [*dst.rglob("*.yaml"), *dst.rglob("*.yml")]:
                origin = src_path / yaml_file.relative_to(dst).parent
                _absolutize_data_files(yaml_file, origin)
            staged.append(str(dst))
        yield staged


def _absolutize_data_files(yaml_file: Path, origin: Path) -> None:
    config = yaml.load(yaml_file.read_text(encoding="utf-8"), Loader=_Loader)
    kwargs = config.get("dataset_kwargs") if isinstance(config, dict) else None
    if not isinstance(kwargs, dict) or "data_files" not in kwargs:
        return

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            candidate = origin / value
            return str(candidate) if not Path(value).is_absolute() and candidate.exists() else value
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        return value

    fixed = fix(kwargs["data_files"])
    if fixed != kwargs["data_files"]:
        kwargs["data_files"] = fixed
        yaml_file.write_text(yaml.dump(config, Dumper=_Dumper, allow_unicode=True, sort_keys=False),
                             encoding="utf-8")
