"""``dataforge synth distill | best-of-k | judge-filter | augment``: grow data with a model.

Every command reads any supported input format (prompt-only records included), runs one
step (:mod:`dataforge.synth.steps`) through an engine behind the generation cache, writes
the kept records, writes every rejected row (reader rejections and the step's, with
reasons) to ``<OUT stem>.rejected/`` beside the output (best-of-k: ``OUT/rejected/``),
shows a progress bar while generating and a summary table at the end. Outputs follow the
rules of every command (docs/safety.md): no overlap with the input, replace only what
posttrain wrote, one writer at a time. A killed command rerun with the same arguments
takes every finished chunk from the cache.

Engines: ``--engine KIND --model M -E key=value`` (``-E`` repeats; values are YAML
scalars or lists, e.g. ``-E base_url=[http://a:8000/v1,http://b:8000/v1]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import validate_config
from ..errors import ConfigError
from .app import app, sub_app

synth = sub_app("Grow data with a teacher model: distill answers, best-of-K with scorers, judge filter, augment prompts.")
app.add_typer(synth, name="synth")

console = Console()

# -- shared options ---------------------------------------------------------------------------

_ENGINE = typer.Option("auto", "--engine", "-e",
                       help="engine kind (dataforge engines lists them); auto: llamacpp on CPU for GGUF models, else transformers")
_MODEL = typer.Option(None, "--model", "-m", help="model alias, path, hub id or served name")
_ENGINE_OPT = typer.Option([], "--engine-option", "-E", help="engine option key=value (repeat)")
_MAX_NEW = typer.Option(None, "--max-new-tokens", help="most tokens per sample")
_TEMPERATURE = typer.Option(None, "--temperature", help="0 = greedy")
_TOP_P = typer.Option(None, "--top-p")
_SEED = typer.Option(None, "--seed", help="base seed of the samples")
_STOP = typer.Option([], "--stop", help="stop string (repeat)")
_CHUNK = typer.Option(64, "--chunk-size", help="prompts per engine call (progress and cache advance per chunk)")
_CACHE = typer.Option(True, "--cache/--no-cache", help="reuse cached generations")
_CACHE_PATH = typer.Option(None, "--cache-path", help="generation cache file (default ~/.cache/posttrain/generations.sqlite)")
_FROM = typer.Option(None, "--from", help="input format (default: detect)")
_TO = typer.Option("canonical", "--to", help="output format (canonical Parquet, openai, sharegpt, llamafactory, ...)")
_REJECTED = typer.Option(None, "--rejected", help="rejected folder (default: <OUT stem>.rejected/ beside OUT)")
_OVERWRITE = typer.Option(False, "--overwrite", help="replace outputs that posttrain did not write")
_STATS = typer.Option(None, "--stats-json", help="also write the stats as JSON")
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="draw the progress bar")


def _options(pairs: list[str], flag: str) -> dict[str, Any]:
    """``key=value`` strings -> dict, values read as YAML (numbers, booleans, lists)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {pair!r}: expected key=value")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return out


def _engine_spec(kind: str, model: str | None, options: list[str], flag: str = "-E") -> dict[str, Any]:
    from ..synth.engines import check_engine_options

    opts = _options(options, flag)
    check_engine_options(kind, opts, model)  # a typo fails before any model loads
    return {"kind": kind, "model": model, "options": opts}


def _generation(defaults: Any, max_new_tokens: int | None, temperature: float | None, top_p: float | None,
                seed: int | None, stop: list[str]) -> dict[str, Any]:
    given = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "seed": seed,
             "stop": stop or None}
    return {**defaults.to_dict(), **{k: v for k, v in given.items() if v is not None}}


# -- running one step -------------------------------------------------------------------------


def _run(step: str, src: Path, outputs: dict[str, tuple[str, Path]], config: dict[str, Any],
         engine: dict[str, Any], *, fmt: str | None, to: str, rejected_dir: Path | None, overwrite: bool,
         cache: bool, cache_path: Path | None, stats_json: Path | None, progress: bool,
         folder: Path | None = None) -> None:
    """Run one step from ``src`` into ``outputs`` (frame key -> (dataset name, path)),
    inside ``folder`` when the command writes a folder (best-of-k). The output-safety
    rules of every command (docs/safety.md) are checked before anything loads."""
    from ..formats.api import open_writer
    from ..outputs import OutputLock, claim_folder, prepare_outputs
    from ..rejects import RejectedWriter, rejected_folder
    from ..synth.cache import GenerationCache
    from ..synth.inputs import load_prompts
    from ..synth.pipeline import Engines, run_step
    from ..synth.scorers import EngineSpec
    from ..synth.steps import STEPS

    command = f"dataforge synth {step.replace('_', '-')}"
    cfg = validate_config(STEPS[step][0], {**config, "step": step}, command.removeprefix("dataforge "))
    paths = list(dict.fromkeys(path for _, path in outputs.values()))
    sink_folder = rejected_dir or (folder / "rejected" if folder is not None else rejected_folder(paths[0]))
    as_folders = to == "llamafactory"
    prepare_outputs([src], files=[stats_json, *([] if as_folders else paths)],
                    folders=[folder, sink_folder, *(paths if as_folders else [])], overwrite=overwrite)
    with OutputLock(folder if folder is not None else paths[0]):
        if folder is not None:
            claim_folder(folder, command, overwrite=overwrite)
        loaded = load_prompts(src, fmt)
        generation_cache = GenerationCache(cache_path) if cache else None
        try:
            with Engines(validate_config(EngineSpec, engine, "engine"), generation_cache) as engines:
                result = run_step(loaded.records, cfg, engines, progress=progress)
                cache_stats = engines.cache_stats()
        finally:
            if generation_cache is not None:
                generation_cache.close()
        frames = {"kept": result.kept, **result.outputs}
        with RejectedWriter(sink_folder, overwrite=overwrite, command=command) as sink:
            sink(0, f"read:{loaded.format}", loaded.rejected)
            sink(1, f"synth.{step}", result.rejected)
            for key, (name, path) in outputs.items():
                options = {"name": name} if as_folders else {}
                with open_writer(path, to, **options) as writer:
                    writer.write(frames[key])
    read_reasons = loaded.rejected.group_by("reason").len().rows() if loaded.rejected.height else []
    stats = {**result.stats, "read_rejected": loaded.rejected.height,
             "read_reasons": {r: int(c) for r, c in read_reasons}, "cache": cache_stats,
             "outputs": {name: str(path) for name, path in outputs.values()},
             "rejected_folder": str(sink_folder) if sink.total else None}
    if stats_json is not None:
        from ..fileio import write_json_atomic

        write_json_atomic(stats_json, stats)
    _summary(stats, {name: frames[key].height for key, (name, _) in outputs.items()})


def _summary(stats: dict[str, Any], counts: dict[str, int]) -> None:
    table = Table(title=f"synth {stats['step'].replace('_', '-')}")
    for col in ("rows in", "kept", "rejected", "reasons", "samples", "cache hits", "failures", "seconds"):
        table.add_column(col, overflow="fold")
    gen = stats.get("generation", {})
    by_reason = {**stats.get("read_reasons", {})}
    for reason, count in stats.get("reasons", {}).items():
        by_reason[reason] = by_reason.get(reason, 0) + count
    reasons = ", ".join(f"{r}={c}" for r, c in sorted(by_reason.items()))
    table.add_row(str(stats["rows_in"] + stats["read_rejected"]), str(stats["rows_kept"]),
                  str(stats["rows_rejected"] + stats["read_rejected"]), escape(reasons),
                  str(gen.get("samples", stats.get("judged", ""))), str(stats["cache"]["hits"]),
                  str(gen.get("failures", stats.get("unparseable", ""))),
                  f"{gen.get('seconds', stats.get('seconds', 0.0)):.1f}")
    console.print(table)
    for name, count in counts.items():
        console.print(f"{name}: {count} records -> {escape(stats['outputs'][name])}")
    if stats["rejected_folder"]:
        console.print(f"rejected rows with reasons: {escape(stats['rejected_folder'])}")


def _single(out: Path) -> dict[str, tuple[str, Path]]:
    """The one output of distill / judge-filter / augment (named after the file)."""
    return {"kept": (out.name.split(".")[0], out)}


def _sets(folder: Path, to: str) -> dict[str, tuple[str, Path]]:
    """best-of-k's three outputs: sft, dpo, kto files (one LLaMA-Factory folder for all)."""
    def path(name: str) -> Path:
        if to == "llamafactory":
            return folder / "llamafactory"
        return folder / (f"{name}.parquet" if to == "canonical" else f"{name}.jsonl")

    return {"kept": ("sft", path("sft")), "dpo": ("dpo", path("dpo")), "kto": ("kto", path("kto"))}


# -- commands ---------------------------------------------------------------------------------


@synth.command("distill")
def distill_cmd(
    src: Path = typer.Argument(..., exists=True, dir_okay=False, help="prompts (any supported format)"),
    out: Path = typer.Argument(..., help="output file (or folder for --to llamafactory)"),
    engine: str = _ENGINE, model: Optional[str] = _MODEL, engine_option: list[str] = _ENGINE_OPT,
    system: Optional[str] = typer.Option(None, "--system", help="system turn sent to the teacher (not stored)"),
    keep_truncated: bool = typer.Option(False, "--keep-truncated", help="keep answers cut at max_new_tokens"),
    max_new_tokens: Optional[int] = _MAX_NEW, temperature: Optional[float] = _TEMPERATURE,
    top_p: Optional[float] = _TOP_P, seed: Optional[int] = _SEED, stop: list[str] = _STOP,
    chunk_size: int = _CHUNK, cache: bool = _CACHE, cache_path: Optional[Path] = _CACHE_PATH,
    fmt: Optional[str] = _FROM, to: str = _TO, rejected: Optional[Path] = _REJECTED,
    stats_json: Optional[Path] = _STATS, progress: bool = _PROGRESS, overwrite: bool = _OVERWRITE,
) -> None:
    """A teacher writes the assistant turn of every prompt (replacing a final answer)."""
    from ..synth.steps import DistillConfig

    config = {"generation": _generation(DistillConfig().generation, max_new_tokens, temperature, top_p, seed, stop),
              "system_prompt": system, "keep_truncated": keep_truncated, "chunk_size": chunk_size}
    _run("distill", src, _single(out), config, _engine_spec(engine, model, engine_option), fmt=fmt, to=to,
         rejected_dir=rejected, overwrite=overwrite, cache=cache, cache_path=cache_path, stats_json=stats_json,
         progress=progress)


@synth.command("best-of-k")
def best_of_k_cmd(
    src: Path = typer.Argument(..., exists=True, dir_okay=False, help="prompts (any supported format)"),
    out: Path = typer.Argument(..., help="output folder: sft, dpo and kto sets, rejected/"),
    k: int = typer.Option(4, "-k", help="samples per prompt"),
    scorer: list[str] = typer.Option(..., "--scorer", "-s",
                                     help="NAME[:weight=W,option=V,...]: judge, reward_model or a verifier (repeat)"),
    pairs: str = typer.Option("best_vs_worst", "--pairs", help="DPO pairs: best_vs_worst or all"),
    margin: float = typer.Option(0.0, "--margin", help="a DPO pair needs a score gap above this"),
    kto_threshold: float = typer.Option(0.5, "--kto-threshold", help="KTO label: desirable when score >= this"),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="reject prompts whose best score is lower"),
    keep_truncated: bool = typer.Option(False, "--keep-truncated", help="score samples cut at max_new_tokens too"),
    reference_key: Optional[str] = typer.Option(None, "--reference-key", help="meta key of the reference answer"),
    judge_engine: Optional[str] = typer.Option(None, "--judge-engine", help="engine of the judge scorer (default: --engine)"),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="model of the judge scorer"),
    judge_option: list[str] = typer.Option([], "--judge-option", "-J", help="judge engine option key=value"),
    engine: str = _ENGINE, model: Optional[str] = _MODEL, engine_option: list[str] = _ENGINE_OPT,
    max_new_tokens: Optional[int] = _MAX_NEW, temperature: Optional[float] = _TEMPERATURE,
    top_p: Optional[float] = _TOP_P, seed: Optional[int] = _SEED, stop: list[str] = _STOP,
    chunk_size: int = _CHUNK, cache: bool = _CACHE, cache_path: Optional[Path] = _CACHE_PATH,
    fmt: Optional[str] = _FROM, to: str = _TO, rejected: Optional[Path] = _REJECTED,
    stats_json: Optional[Path] = _STATS, progress: bool = _PROGRESS, overwrite: bool = _OVERWRITE,
) -> None:
    """K samples per prompt, scored: the best as SFT, best-vs-worst DPO pairs, KTO labels."""
    from ..ops.chain import parse_op_spec
    from ..synth.scorers import check_scorers
    from ..synth.steps import BestOfKConfig

    scorers: dict[str, Any] = {}
    for spec in scorer:
        name, params = parse_op_spec(spec)
        scorers[name] = params
    if "judge" in scorers and (judge_engine or judge_model or judge_option):
        scorers["judge"] = {**scorers["judge"], "engine": _engine_spec(judge_engine or engine, judge_model,
                                                                         judge_option, "-J")}
    check_scorers(scorers)  # names and options, before any model loads
    defaults = BestOfKConfig.model_fields["generation"].default_factory()  # type: ignore[misc]
    config = {"k": k, "scorers": scorers, "pairs": pairs, "margin": margin, "kto_threshold": kto_threshold,
              "min_score": min_score, "keep_truncated": keep_truncated, "reference_key": reference_key,
              "chunk_size": chunk_size,
              "generation": _generation(defaults, max_new_tokens, temperature, top_p, seed, stop)}
    _run("best_of_k", src, _sets(out, to), config, _engine_spec(engine, model, engine_option), fmt=fmt, to=to,
         rejected_dir=rejected, overwrite=overwrite, cache=cache, cache_path=cache_path, stats_json=stats_json,
         progress=progress, folder=out)


@synth.command("judge-filter")
def judge_filter_cmd(
    src: Path = typer.Argument(..., exists=True, dir_okay=False, help="records ending with an assistant answer"),
    out: Path = typer.Argument(..., help="output file of the records kept"),
    threshold: float = typer.Option(..., "--threshold", help="keep records scored at least this"),
    scale_min: float = typer.Option(1, "--scale-min"), scale_max: float = typer.Option(10, "--scale-max"),
    rubric: Optional[str] = typer.Option(None, "--rubric", help="what the judge looks at"),
    template: Optional[Path] = typer.Option(None, "--template", help="judge prompt template file"),
    retries: int = typer.Option(2, "--retries", help="re-asks when a reply has no score"),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", help="length of the judge's reply"),
    engine: str = _ENGINE, model: Optional[str] = _MODEL, engine_option: list[str] = _ENGINE_OPT,
    chunk_size: int = _CHUNK, cache: bool = _CACHE, cache_path: Optional[Path] = _CACHE_PATH,
    fmt: Optional[str] = _FROM, to: str = _TO, rejected: Optional[Path] = _REJECTED,
    stats_json: Optional[Path] = _STATS, progress: bool = _PROGRESS, overwrite: bool = _OVERWRITE,
) -> None:
    """Score records with the pointwise judge; keep those at or over --threshold."""
    config = {"threshold": threshold, "scale": (scale_min, scale_max), "rubric": rubric,
              "template": str(template) if template else None, "retries": retries,
              "max_new_tokens": max_new_tokens, "chunk_size": chunk_size}
    _run("judge_filter", src, _single(out), config, _engine_spec(engine, model, engine_option), fmt=fmt, to=to,
         rejected_dir=rejected, overwrite=overwrite, cache=cache, cache_path=cache_path, stats_json=stats_json,
         progress=progress)


@synth.command("augment")
def augment_cmd(
    src: Path = typer.Argument(..., exists=True, dir_okay=False, help="records whose prompts are rewritten"),
    out: Path = typer.Argument(..., help="output file of the new prompts"),
    mode: str = typer.Option(..., "--mode", help="paraphrase, evolve, multi_turn or translate"),
    variants: int = typer.Option(1, "--variants", help="new prompts per record"),
    target: str = typer.Option("auto", "--target", help="translate: en, zh or auto (the other language)"),
    method: list[str] = typer.Option([], "--method", help="evolve: add_constraints, deepen, concretize, reasoning"),
    template: Optional[Path] = typer.Option(None, "--template", help="prompt template file of the mode"),
    dedup_threshold: float = typer.Option(0.8, "--dedup-threshold", help="Jaccard that makes a near duplicate"),
    keep_originals: bool = typer.Option(False, "--keep-originals", help="output the input records too"),
    engine: str = _ENGINE, model: Optional[str] = _MODEL, engine_option: list[str] = _ENGINE_OPT,
    max_new_tokens: Optional[int] = _MAX_NEW, temperature: Optional[float] = _TEMPERATURE,
    top_p: Optional[float] = _TOP_P, seed: Optional[int] = _SEED, stop: list[str] = _STOP,
    chunk_size: int = _CHUNK, cache: bool = _CACHE, cache_path: Optional[Path] = _CACHE_PATH,
    fmt: Optional[str] = _FROM, to: str = _TO, rejected: Optional[Path] = _REJECTED,
    stats_json: Optional[Path] = _STATS, progress: bool = _PROGRESS, overwrite: bool = _OVERWRITE,
) -> None:
    """New prompts: paraphrases, harder variants, follow-up turns or en<->zh translations."""
    from ..synth.steps import AugmentConfig

    defaults = AugmentConfig.model_fields["generation"].default_factory()  # type: ignore[misc]
    config: dict[str, Any] = {
        "mode": mode, "variants": variants, "target": target, "template": str(template) if template else None,
        "dedup_threshold": dedup_threshold, "keep_originals": keep_originals, "chunk_size": chunk_size,
        "generation": _generation(defaults, max_new_tokens, temperature, top_p, seed, stop),
    }
    if method:
        config["evolve_methods"] = method
    _run("augment", src, _single(out), config, _engine_spec(engine, model, engine_option), fmt=fmt, to=to,
         rejected_dir=rejected, overwrite=overwrite, cache=cache, cache_path=cache_path, stats_json=stats_json,
         progress=progress)
