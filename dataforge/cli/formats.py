"""``dataforge convert | inspect | schema``: the formats commands.

``convert`` streams shard by shard (bounded memory), prints rejection counts by reason
and writes the rejected rows to ``<output stem>.rejected/`` beside the output (the layout
every command shares, ``dataforge.rejects``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import polars as pl
import typer

from ..outputs import OutputLock, prepare_outputs
from ..progress import track_rows
from ..rejects import RejectedWriter, rejected_folder
from .app import LazyConsole, app, escape

if TYPE_CHECKING:
    from rich.panel import Panel
    from rich.table import Table

# rich is imported when something beyond convert's one-line summary is printed
console = LazyConsole()

TO_HELP = "canonical, alpaca, sharegpt, openai, preference, kto, glaive or llamafactory (OUT is a folder)"


def format_location(rej: dict[str, Any]) -> str:
    """``file:line: field: reason: detail``, the way compilers point at a problem.

    The stored detail often names the field too (it must stand alone in the rejected
    table); on screen the field is said once, up front."""
    where = Path(rej["source_file"]).name if rej.get("source_file") else "?"
    if rej.get("source_row") is not None:
        where += f":{rej['source_row']}"
    field = rej.get("field") or ""
    detail = rej.get("detail") or ""
    if field:
        detail = detail.removeprefix(f"{field}: ").removeprefix(f"{field} ")
        detail = detail.replace(f" (at {field})", "").replace(f" at {field} ", " ")
    return f"{where}:{f' {field}:' if field else ''} {rej['reason']}: {detail}".rstrip(": ")


def _options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--option expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = {"true": True, "false": False}.get(value.strip().lower(), value.strip())
    return out


def print_warnings(lines: list[str], console: Any) -> None:
    """Data a command could not keep, one yellow line each (never silent)."""
    for line in lines:
        console.print(f"[yellow]warning:[/yellow] {escape(line)}", soft_wrap=True)


def reasons_table(reasons: dict[str, int], title: str) -> Table:
    from rich.table import Table

    from ..formats.readers.validate import REASONS

    table = Table(title=title)
    table.add_column("reason")
    table.add_column("rows", justify="right")
    table.add_column("meaning")
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        table.add_row(reason, str(n), REASONS.get(reason, ""))
    return table


@app.command()
def convert(
    src: Path = typer.Argument(..., help="input file (.jsonl/.json/.parquet/.csv, optionally .gz)"),
    out: Path = typer.Argument(..., help="output file (type by extension) or folder for llamafactory"),
    to: str = typer.Option("canonical", "--to", help=TO_HELP),
    fmt: Optional[str] = typer.Option(None, "--format", help="input format (default: auto-detect)"),
    strict: bool = typer.Option(False, "--strict", help="fail at the first rejected row"),
    option: list[str] = typer.Option([], "--option", "-o", help="writer option KEY=VALUE (style=standard, system=turn, name=..., formatting=alpaca, include_source=true)"),
    shard_rows: int = typer.Option(50_000, help="rows per shard (memory bound)"),
    shard_mb: float = typer.Option(4.0, "--shard-mb", min=0.01, help="input MB per shard (memory bound)"),
    show_rejected: int = typer.Option(10, "--show-rejected", help="print this many rejected rows with their location"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output that posttrain did not write"),
) -> None:
    """Convert a dataset between formats, streaming; bad rows go to <out stem>.rejected/."""
    from ..formats.api import count_rows, iter_load, merge_stats, open_writer, read_warnings, text_bytes, write_warnings

    opts = _options(option)
    if to == "llamafactory":
        opts.setdefault("name", src.name.split(".")[0])
    rejected = rejected_folder(out)
    folder_out = to == "llamafactory"
    # a LLaMA-Factory folder may hold other datasets: only <name>.jsonl is ours to replace
    # (its dataset_info.json entry is merged, other entries kept)
    data_file = out / f"{opts['name']}.jsonl" if folder_out else out
    prepare_outputs([src], files=[data_file], folders=[rejected], overwrite=overwrite)
    sink = RejectedWriter(rejected, overwrite=overwrite, command="dataforge convert", keep_examples=show_rejected)
    stats: list[dict[str, Any]] = []
    detected = fmt or ""  # stays so for a file with no rows
    with OutputLock(out):
        writer = open_writer(out, to, **opts)
        with writer, sink:
            for part in track_rows(iter_load(src, fmt, strict=strict, shard_rows=shard_rows, shard_bytes=int(shard_mb * 2**20)),
                                   f"converting {src.name}", count_rows(src), text_bytes(src)):
                detected = part.format
                writer.write(part.records)
                sink.write(part.rejected)
                stats.append(part.stats)
        path = writer.path if not folder_out else out
        lost = write_warnings(writer, to if not folder_out else opts.get("formatting", "sharegpt"))
    total = merge_stats(stats)
    bold = lambda text: typer.style(text, bold=True)  # noqa: E731 - echo drops styles off a terminal
    typer.echo(  # one line, however long the paths (scripts grep it)
        f"{src} ({bold(detected)}{' ' + total['variant'] if total['variant'] else ''}) -> "
        f"{path} ({bold(to)}): {total['rows_in']} rows in, {total['rows_out']} written, {total['rejected']} rejected"
    )
    if total["rejected"]:
        console.print(reasons_table(total["reasons"], "rejected rows by reason"))
        for ex in sink.examples:
            console.print(escape(format_location(ex)))
        if total["rejected"] > len(sink.examples):
            console.print(f"... {total['rejected'] - len(sink.examples)} more")
        console.print(f"all rejected rows with file/line/field/detail/raw text: {escape(str(rejected))}/")
    print_warnings(read_warnings(total, detected) + lost, console)


def _render_record(rec: dict[str, Any]) -> Panel:
    from rich.panel import Panel

    lines = []
    for col in ("messages", "chosen", "rejected"):
        if rec.get(col) is None:
            continue
        if col != "messages":
            lines.append(f"[bold magenta]-- {col} --[/bold magenta]")
        for m in rec[col]:
            text = m.get("content") or ""
            for call in m.get("tool_calls") or []:
                text += f"\n  -> {call['name']}({call['arguments']})"
            short = text if len(text) <= 400 else text[:397] + "..."
            lines.append(f"[bold cyan]{m.get('role')}[/bold cyan]: {escape(short)}")
    if rec.get("label") is not None:
        lines.append(f"[bold]label[/bold]: {rec['label']}")
    if rec.get("tools"):
        lines.append(f"[bold]tools[/bold]: {escape(rec['tools'][:300])}")
    if rec.get("meta"):
        lines.append(f"[bold]meta[/bold]: {escape(rec['meta'][:300])}")
    return Panel("\n".join(lines), title=f"record {escape(str(rec.get('id')))}", expand=False)


@app.command()
def inspect(
    src: Path = typer.Argument(..., help="any supported data file"),
    fmt: Optional[str] = typer.Option(None, "--format", help="input format (default: auto-detect)"),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON"),
) -> None:
    """Detected format, rows, turns, roles, lengths, tools, preference/KTO counts, one record."""
    from rich.table import Table

    from ..formats.api import count_rows, iter_load, merge_stats, read_warnings, text_bytes
    from ..formats.summary import summarize

    parts, stats, fmt_name = [], [], ""
    for part in track_rows(iter_load(src, fmt), f"reading {src.name}", count_rows(src), text_bytes(src)):
        parts.append(part.records)
        stats.append(part.stats)
        fmt_name = part.format
    records = pl.concat(parts) if parts else pl.DataFrame()
    total = merge_stats(stats)
    summary = {"format": fmt_name, "variant": total["variant"], "rows_in": total["rows_in"],
               "rejected": total["rejected"], "reasons": total["reasons"],
               "warnings": read_warnings(total, fmt_name), **summarize(records)} if parts else {}
    if as_json:
        console.print_json(json.dumps(summary, ensure_ascii=False, default=str))
        return
    head = Table(show_header=False, title=f"{escape(str(src))}")
    for key in ("format", "variant", "rows_in", "rows", "rejected", "with_tools", "tool_calls", "pairs",
                "kto_desirable", "kto_undesirable", "with_cjk"):
        head.add_row(key.replace("rows", "records") if key == "rows" else key, escape(str(summary.get(key, ""))))
    t = summary.get("turns", {})
    head.add_row("turns", f"min {t.get('min')} / median {t.get('p50')} / p95 {t.get('p95')} / max {t.get('max')}")
    head.add_row("turns histogram", escape(json.dumps(t.get("histogram", {}))))
    head.add_row("roles", escape(json.dumps(summary.get("roles", {}))))
    head.add_row("tool names", escape(json.dumps(summary.get("tool_names", {}), ensure_ascii=False)))
    console.print(head)
    lengths = Table(title="content length (characters)")
    for col in ("role", "min", "median", "p95", "max", "mean"):
        lengths.add_column(col, justify="right" if col != "role" else "left")
    for role, q in summary.get("content_chars", {}).items():
        lengths.add_row(role, str(q["min"]), str(q["p50"]), str(q["p95"]), str(q["max"]), str(q["mean"]))
    console.print(lengths)
    if total["rejected"]:
        console.print(reasons_table(total["reasons"], "rows that would be rejected"))
    print_warnings(summary.get("warnings", []), console)
    if records.height:
        from ..schemas.record import records as as_dicts

        console.print(_render_record(as_dicts(records.head(1))[0]))


FIELD_NOTES = {
    "id": "stable: given, or a content hash",
    "messages": "the conversation (the prompt when chosen/rejected are set)",
    "tools": "JSON array of function schemas",
    "chosen": "preferred continuation of messages",
    "rejected": "dispreferred continuation of messages",
    "label": "KTO: is the last assistant turn desirable",
    "source": "provenance (default: input file name)",
    "meta": "JSON object: extra input columns, scores, rationale",
    "message.role": "system / user / assistant / tool",
    "message.content": "null for an assistant turn that only calls tools",
    "message.tool_call_id": "on a tool result: the call it answers",
    "tool_call.id": "call id (OpenAI); tool results refer to it",
    "tool_call.arguments": "JSON object as text",
}


def _type_name(t: Any) -> str:
    from ..schemas.record import MESSAGES_TYPE, TOOL_CALL_TYPE

    if t == MESSAGES_TYPE:
        return "list<message>"
    if t == TOOL_CALL_TYPE:
        return "tool_call"
    if hasattr(t, "value_type"):
        return f"list<{_type_name(t.value_type)}>"
    return str(t)


def canonical_table(schema_: Any) -> Table:
    """The canonical Arrow schema as a readable table (nested types named once)."""
    from rich.table import Table

    from ..schemas.record import MESSAGE_TYPE, TOOL_CALL_TYPE

    table = Table(title="canonical record (Arrow schema)")
    for col in ("field", "type", "null", "meaning"):
        table.add_column(col)
    for f in schema_:
        table.add_row(f.name, _type_name(f.type), "" if not f.nullable else "yes", FIELD_NOTES.get(f.name, ""))
    for label, struct in (("message", MESSAGE_TYPE), ("tool_call", TOOL_CALL_TYPE)):
        table.add_section()
        for i in range(struct.num_fields):
            sub = struct.field(i)
            key = f"{label}.{sub.name}"
            table.add_row(key, _type_name(sub.type), "yes", FIELD_NOTES.get(key, ""))
    return table


@app.command()
def schema(name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="a format, or rejected / recipe / manifest; none: the canonical schema and the list")) -> None:
    """Print the canonical Arrow schema and the list of schemas, or one JSON Schema."""
    from rich.table import Table

    from ..formats.base import all_formats
    from ..formats.published import schema_path
    from ..recipe.schema_files import generated
    from ..schemas.record import CANONICAL_SCHEMA

    formats = all_formats()
    own = {n.removesuffix(".schema.json"): n for n in generated()}
    if name is None:
        console.print(canonical_table(CANONICAL_SCHEMA))
        table = Table(title="JSON Schemas (`dataforge schema NAME` prints one; files in schemas/)")
        table.add_column("name")
        table.add_column("what")
        table.add_column("detected by")
        for fmt_name, f in sorted(formats.items()):
            table.add_row(fmt_name, f.title, escape(f.detection_keys))
        table.add_row("llamafactory", "LLaMA-Factory dataset folder (write only)", "-")
        for own_name, title in (("rejected", "a row of a rejected folder"), ("recipe", "a recipe YAML file"),
                                ("manifest", "runs/<name>/manifest.json")):
            table.add_row(own_name, title, "-")
        console.print(table)
        return
    if name in own:
        console.print_json(json.dumps(generated()[own[name]], ensure_ascii=False))
        return
    from ..formats.base import FORMATS

    FORMATS.get(name)  # an unknown name is refused with the nearest names
    console.print_json(schema_path(name).read_text("utf-8"))
