"""``dataforge ops | apply | split | mix``: operators from the command line.

``apply`` streams any input format shard by shard through a chain of ops into a writer;
every row that does not reach the output lands in ``rejected/`` beside it with its stage
and reason (reader rejections included), and the per-stage stats print as a table.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, Optional

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..compose import mix, split
from ..fileio import write_text_atomic
from ..formats.api import count_rows, iter_load, open_writer, write_warnings
from ..ops import registry
from ..errors import ConfigError, UserError
from ..executors import EXECUTORS
from ..executors.local import iter_apply
from ..formats.splits import expand_inputs
from ..ops.specs import build_ops
from ..progress import track_rows
from ..outputs import OutputLock, claim_folder, prepare_outputs
from ..rejects import RejectedWriter, rejected_folder
from ..schemas import empty_table
from .app import app
from .formats import print_warnings

_STANDARD = {"op", "rows_in", "rows_kept", "rows_rejected", "reasons", "seconds", "warnings"}

# -- reference ------------------------------------------------------------------------------

_HEADER = """# Operators reference

Generated from the registry by `dataforge ops --markdown --output docs/ops/README.md`;
edit the op's docstring and `Config` field descriptions, then regenerate.

An operator maps a table of canonical records to kept + rejected rows + stats; rows in =
kept + rejected for every op (tests/dataforge/ops/test_contract.py checks it for each registered op).

## Running a chain

* CLI: `dataforge apply IN OUT --op NAME[:k=v,...] --op ...` reads any supported format
  shard by shard, writes OUT (canonical Parquet by default, `--to FORMAT` for others),
  writes every removed row to `<OUT stem>.rejected/` beside OUT (one Parquet file per stage,
  `NN-<stage>.parquet`, with `stage`, `reason`, `field`, `detail` columns; reader
  rejections are stage `read:<format>`), and prints per-stage stats.
* Python: `dataforge.apply(df_or_shards, ops) -> ChainResult(kept, rejected, stats)`.
* Op specs: `"NAME"`, `"NAME:k=v,k2=v2"` or `{"op": NAME, **params}`. Values are YAML
  scalars: `n=13` is an int, `x=0.5` a float, `flag=true` a bool, `roles=[user,assistant]`
  a list.
* Every op has a scope: `batch` (row-local: any executor may run it on any partition),
  `stream` (state across shards, e.g. dedup: the local executor feeds it shards in input
  order, the Ray executor has a distributed version) or `global` (receives the whole table
  once). Stats of the shards are merged: counts add up, `*_max`/`*_min` keys take the
  max/min, dicts (reason counts, histograms) merge, lists concatenate, other values and
  the keys an op reports once (its set-up) keep the first shard's.
* `--executor ray` runs the chain on Ray Data (a local runtime, or a cluster with
  `--ray-address`); see docs/scale.md.
* An op whose config has required fields defines a classmethod `example_params()`
  returning a small valid config, so the every-op contract test can build it.

## split and mix are not operators

They produce several outputs (train + test; one table out of several inputs), so they
are functions in `dataforge/compose.py` and CLI commands rather than kept/rejected ops:

* `dataforge split IN OUTDIR --test-ratio 0.1 --stratify source --seed 0` writes
  `OUTDIR/train.*` and `OUTDIR/test.*`; every stratum sends `round(size * ratio)` rows to
  test; rows in = train + test. Python: `compose.split(df, test_ratio, stratify=, seed=)`.
* `dataforge mix OUT --input new.parquet:0.8 --input old.parquet:0.2 [--size N]
  [--replace] [--seed 0]` samples by weight (`name=path:weight` names an input);
  without `--size`, the largest mix with exact ratios and no replacement. Rows record
  their input in `source` (when null) and `meta.mix_input`. Python: `compose.mix(...)`.

## Operators
"""


def _params(cls: Any) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) per config field, types spelled in full.

    ``Operator.describe`` gives ``Literal``/``list`` for parametrized types; the reference
    should show the allowed values (``Literal['drop', 'truncate', 'keep']``, ``list[str]``).
    """
    rows = []
    for pname, info in cls.describe()["params"].items():
        f = cls.Config.model_fields[pname]
        plain = isinstance(f.annotation, type) and not getattr(f.annotation, "__args__", None)
        type_name = f.annotation.__name__ if plain else str(f.annotation).replace("typing.", "")
        default = "required" if info["required"] else json.dumps(info["default"], ensure_ascii=False, default=str)
        rows.append((pname, type_name, default, info["description"]))
    return rows


def ops_markdown() -> str:
    """The operator reference (docs/ops/README.md), generated from the registry."""
    lines = [_HEADER]
    for name, cls in registry().items():
        lines.append(f"### `{name}`\n")
        doc = inspect.cleandoc(cls.__doc__ or "").replace("``", "`")  # RST literals -> Markdown
        lines.append(f"{doc}\n")
        lines.append(f"Scope: `{cls.scope}`.\n")
        params = _params(cls)
        if params:
            lines.append("| parameter | type | default | description |")
            lines.append("|---|---|---|---|")
            for pname, type_name, default, desc in params:
                shown = "*required*" if default == "required" else f"`{default}`"
                cells = [f"`{pname}`", f"`{type_name}`", shown, desc]
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
            lines.append("")
        else:
            lines.append("No parameters.\n")
    return "\n".join(lines).rstrip() + "\n"


@app.command("ops")
def list_ops(
    markdown: bool = typer.Option(False, "--markdown", help="print the Markdown reference"),
    output: Optional[Path] = typer.Option(None, "--output", help="write the Markdown reference here"),
) -> None:
    """List the registered operators and their parameters."""
    if markdown or output:
        text = ops_markdown()
        if output:
            write_text_atomic(output, text)
        else:
            typer.echo(text, nl=False)
        return
    table = Table(title="dataforge operators", show_lines=True)
    for col in ("op", "summary", "parameters"):
        table.add_column(col, overflow="fold")
    for name, cls in registry().items():
        params = "\n".join(f"{p}: {t} = {d}" for p, t, d, _ in _params(cls))
        table.add_row(name, escape(cls.describe()["summary"]), escape(params))
    Console().print(table)


# -- apply ------------------------------------------------------------------------------------


def _short(value: Any, limit: int = 160) -> str:
    """One line, at most ``limit`` characters (long reports are in --stats-json)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", "\\n")
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def print_stats(stats: list[dict[str, Any]], console: Console) -> None:
    """Per-stage table (rows in/kept/rejected, reasons, time), then op-specific extras."""
    table = Table(title="per-stage stats")
    for col in ("stage", "in", "kept", "rejected", "reasons", "seconds"):
        table.add_column(col, overflow="fold")
    for s in stats:
        reasons = ", ".join(f"{r}={c}" for r, c in sorted(s.get("reasons", {}).items()))
        table.add_row(
            str(s["op"]), str(s["rows_in"]), str(s["rows_kept"]), str(s["rows_rejected"]),
            reasons, f"{s.get('seconds', 0.0):.2f}",
        )
    console.print(table)
    for s in stats:
        for key, value in s.items():
            if key not in _STANDARD:
                console.print(f"[bold]{s['op']}[/bold] {key}: {_short(value)}", soft_wrap=True)
    print_warnings([w for s in stats for w in s.get("warnings", {})], console)


@app.command("apply")
def apply_cmd(
    paths: list[str] = typer.Argument(..., help="input files or glob patterns (any supported format), then OUT", metavar="IN... OUT"),
    op: list[str] = typer.Option(..., "--op", help="op spec NAME[:k=v,...]; repeat, in order"),
    from_format: Optional[str] = typer.Option(None, "--from", help="input format (default: detect)"),
    to_format: str = typer.Option("canonical", "--to", help="output format"),
    rejected_dir: Optional[Path] = typer.Option(None, "--rejected", help="rejected folder (default: <OUT stem>.rejected/ beside OUT)"),
    stats_json: Optional[Path] = typer.Option(None, "--stats-json", help="also write the stats as JSON"),
    shard_rows: int = typer.Option(50_000, "--shard-rows", help="records per shard (per batch on Ray)"),
    shard_mb: float = typer.Option(4.0, "--shard-mb", min=0.01, help="input MB per shard (memory bound)"),
    strict: bool = typer.Option(False, "--strict", help="fail on the first unreadable row"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace outputs that posttrain did not write"),
    executor: str = typer.Option("local", "--executor", help="local (one process) or ray (Ray Data; OUT is a folder of Parquet parts)"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster: auto (the one this machine joined) or host:port; default: a local runtime"),
    ray_cpus: Optional[int] = typer.Option(None, "--ray-cpus", min=1, help="CPUs of the local Ray runtime (default: all)"),
) -> None:
    """Run a chain of ops over IN (one or more files), write kept rows to OUT and rejected rows beside it."""
    if len(paths) < 2:
        raise typer.BadParameter("give at least one input and the output: IN... OUT")
    inputs, output = expand_inputs(paths[:-1]), Path(paths[-1])
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    if executor == "local" and (ray_address or ray_cpus):
        raise ConfigError("--ray-address and --ray-cpus need --executor ray")
    if executor == "ray" and to_format != "canonical":
        raise ConfigError(f"--executor ray writes canonical Parquet parts; --to {to_format} needs the local executor")
    folder = rejected_dir or rejected_folder(output)
    ops = build_ops(op)  # a typo fails here, before any data is read
    template_file = _template_file(output) if any(o.name == "template.lint" for o in ops) else None
    files, folders = ([stats_json, template_file], [folder, output]) if executor == "ray" else (
        [output, stats_json, template_file], [folder])
    prepare_outputs(inputs, files=files, folders=folders, overwrite=overwrite)
    shard_bytes = int(shard_mb * 2**20)
    warnings: list[str] = []
    with OutputLock(output):
        sink = RejectedWriter(folder, overwrite=overwrite, command="dataforge apply")
        with sink:
            if executor == "ray":
                from ..executors.ray_executor import run_files

                run = run_files(inputs, ops, sink, output=output, formats=[from_format] * len(inputs),
                                overwrite=overwrite, command="dataforge apply", address=ray_address,
                                num_cpus=ray_cpus, strict=strict, shard_rows=shard_rows, shard_bytes=shard_bytes)
                all_stats = run.stats
            else:
                loads = (s for path in inputs
                         for s in iter_load(path, from_format, strict=strict, shard_rows=shard_rows, shard_bytes=shard_bytes))
                counts = [count_rows(path) for path in inputs]
                label = inputs[0].name + (f" (+{len(inputs) - 1} files)" if len(inputs) > 1 else "")
                shards = track_rows(loads, f"{label}: {' → '.join(o.name for o in ops)}",
                                    None if None in counts else sum(counts))  # type: ignore[arg-type]
                kept, stats = iter_apply(shards, ops, sink)
                with open_writer(output, to_format) as writer:
                    for shard in kept:
                        writer.write(shard)
                all_stats = stats()
                warnings = write_warnings(writer, to_format)
    print_stats(all_stats, Console())
    print_warnings(warnings, Console())
    _write_patched_template(all_stats, template_file)
    if stats_json:
        write_text_atomic(stats_json, json.dumps(all_stats, ensure_ascii=False, indent=2, default=str))
    n_kept = next((s["rows_kept"] for s in reversed(all_stats)), 0)
    n_rejected = sum(s["rows_rejected"] for s in all_stats)
    where = f" -> {folder}/" if n_rejected else ""
    written = f"{output}/part-*.parquet" if executor == "ray" else str(output)
    Console(stderr=True).print(f"kept {n_kept} rows -> {written}; rejected {n_rejected}{where}")


def _template_file(output: Path) -> Path:
    """Where ``template.lint``'s patched chat template goes: ``OUT-stem.chat_template.jinja``."""
    return output.with_name(f"{output.stem}.chat_template.jinja")


def _write_patched_template(stats: list[dict[str, Any]], path: Path | None) -> None:
    """template.lint found a template without {% generation %} markers and patched it:
    write the patch beside OUT, ready for ``dataforge train sft --set chat_template=...``
    or TRL's ``chat_template_path``."""
    for s in stats:
        if path is not None and s.get("patched_template"):
            write_text_atomic(path, s["patched_template"])
            Console(stderr=True).print(f"{s['op']}: patched chat template -> {path}")
            return


# -- split / mix ------------------------------------------------------------------------------


def _read_all(path: Path, fmt: Optional[str], sink: Any) -> pl.DataFrame:
    """Every record of ``path``; reader rejections go to ``sink`` (nothing is lost)."""
    kept, _ = iter_apply(iter_load(path, fmt), [], sink)
    frames = list(kept)
    return pl.concat(frames, how="vertical") if frames else empty_table()


def _suffix(fmt: str) -> str:
    return ".parquet" if fmt in ("canonical", "parquet") else ".jsonl"


def _write(df: pl.DataFrame, path: Path, fmt: str) -> None:
    with open_writer(path, fmt) as writer:
        writer.write(df)


@app.command("split")
def split_cmd(
    input: Path = typer.Argument(..., exists=True, help="input file (any supported format)"),
    outdir: Path = typer.Argument(..., help="folder for train.* and test.*"),
    test_ratio: float = typer.Option(0.1, "--test-ratio", min=0.0, max=1.0),
    stratify: str = typer.Option("source", "--stratify", help="column to stratify by; 'none' for no strata"),
    seed: int = typer.Option(0, "--seed"),
    from_format: Optional[str] = typer.Option(None, "--from", help="input format (default: detect)"),
    to_format: str = typer.Option("canonical", "--to", help="output format"),
    overwrite: bool = typer.Option(False, "--overwrite", help="write into an existing folder posttrain did not create"),
) -> None:
    """Split IN into OUTDIR/train and OUTDIR/test, stratified and seeded."""
    parts = {name: outdir / f"{name}{_suffix(to_format)}" for name in ("train", "test")}
    prepare_outputs([input], files=list(parts.values()), folders=[outdir], overwrite=overwrite)
    with OutputLock(outdir):
        claim_folder(outdir, "dataforge split", overwrite=overwrite)
        with RejectedWriter(outdir / "rejected", overwrite=overwrite, command="dataforge split") as sink:
            df = _read_all(input, from_format, sink)
            result = split(df, test_ratio, stratify=None if stratify.lower() == "none" else stratify, seed=seed)
            _write(result.train, parts["train"], to_format)
            _write(result.test, parts["test"], to_format)
    table = Table(title=f"split {input.name} (seed {seed}, test ratio {test_ratio})")
    for col in ("stratum", "train", "test"):
        table.add_column(col)
    for name, c in result.stats["strata"].items():
        table.add_row(name, str(c["train"]), str(c["test"]))
    table.add_row("[bold]total[/bold]", str(result.train.height), str(result.test.height))
    Console().print(table)


def _parse_input(spec: str) -> tuple[str, Path, float]:
    """``[name=]path:weight`` -> (name, path, weight); the name defaults to the file stem."""
    body, sep, weight = spec.rpartition(":")
    if not sep:
        raise typer.BadParameter(f"{spec!r}: expected PATH:WEIGHT or NAME=PATH:WEIGHT")
    try:
        w = float(weight)
    except ValueError as exc:
        raise typer.BadParameter(f"{spec!r}: weight {weight!r} is not a number") from exc
    name, eq, path = body.partition("=")
    if not eq:
        name, path = Path(body).stem, body
    return name, Path(path), w


@app.command("mix")
def mix_cmd(
    output: Path = typer.Argument(..., help="output file"),
    input: list[str] = typer.Option(..., "--input", help="[name=]path:weight; repeat"),
    size: Optional[int] = typer.Option(None, "--size", min=0, help="total rows (default: largest exact mix)"),
    seed: int = typer.Option(0, "--seed"),
    replace: bool = typer.Option(False, "--replace", help="allow sampling with replacement (upsampling)"),
    shuffle: bool = typer.Option(True, "--shuffle/--no-shuffle"),
    to_format: str = typer.Option("canonical", "--to", help="output format"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace outputs that posttrain did not write"),
) -> None:
    """Weighted mix of several inputs (e.g. new data + replay of old), seeded."""
    specs = [_parse_input(s) for s in input]
    names = [n for n, _, _ in specs]
    if len(set(names)) != len(names):
        raise typer.BadParameter(f"input names must differ, got {names}; use name=path:weight")
    missing = [str(p) for _, p, _ in specs if not p.is_file()]
    if missing:
        raise UserError(f"mix: no such input file: {', '.join(missing)}")
    folder = rejected_folder(output)
    prepare_outputs([p for _, p, _ in specs], files=[output], folders=[folder], overwrite=overwrite)
    with OutputLock(output), RejectedWriter(folder, overwrite=overwrite, command="dataforge mix") as sink:
        frames = {n: _read_all(p, None, sink) for n, p, _ in specs}
        result = mix(frames, {n: w for n, _, w in specs}, size=size, seed=seed, replace=replace, shuffle=shuffle)
        _write(result.mixed, output, to_format)
    table = Table(title=f"mix -> {output.name} ({result.stats['size']} rows, seed {seed})")
    for col in ("input", "available", "weight", "taken"):
        table.add_column(col)
    for name, c in result.stats["inputs"].items():
        table.add_row(name, str(c["rows_available"]), str(c["weight"]), str(c["rows_taken"]))
    Console().print(table)
