"""``dataforge template patch MODEL -o FILE``: the chat template to train with, as a file.

TRL's ``assistant_only_loss=True`` needs a template whose assistant turns sit inside
``{% generation %}`` markers; most shipped templates have none. This writes one: the
model's own template when it has markers, TRL's training version of a template TRL
knows, or the template patched by ``dataforge.chat_template`` (byte-identical rendering;
``--check DATA`` proves it on your records and shows the masks are non-empty). Use it with
``dataforge train sft --set chat_template=FILE`` or TRL's
``SFTConfig(assistant_only_loss=True, chat_template_path=FILE)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .. import chat_template as ct
from ..errors import UserError
from ..fileio import write_text_atomic
from ..models import DEFAULT_CAUSAL_LM
from ..outputs import prepare_outputs
from .app import app, sub_app

template_app = sub_app("Chat templates for training: patch in {% generation %} markers.")
app.add_typer(template_app, name="template")


def _check(tokenizer: object, original: str, found: ct.TrainingTemplate, data: Path, console: Console) -> None:
    """Render the records with both templates; refuse a patch that changes a rendering."""
    from ..formats.api import read

    records = read(data)
    convs = [ct.to_hf_conversation(m) for m in records["messages"].to_list()]
    check = ct.verify_patch(tokenizer, original, found.text, convs)
    ids = records["id"].to_list()
    if check.mismatched and found.source == "patched":
        raise UserError(f"{data}: row {check.mismatched[0]} (id {ids[check.mismatched[0]]!r}): the patched template "
                        f"renders it differently from the original ({len(check.mismatched)} of {check.checked} "
                        "records); add the markers by hand")
    if check.empty_mask:
        raise UserError(f"{data}: row {check.empty_mask[0]} (id {ids[check.empty_mask[0]]!r}): no assistant token "
                        f"falls inside {{% generation %}} ({len(check.empty_mask)} of {check.checked} records)")
    differ = f", {len(check.mismatched)} render differently (TRL's training template)" if check.mismatched else ""
    console.print(f"checked on {check.checked} records of {data}: assistant masks non-empty{differ}")


@template_app.command("patch")
def patch_cmd(
    model: str = typer.Argument(DEFAULT_CAUSAL_LM, help="alias, local folder or hub id whose template to patch"),
    output: Path = typer.Option(..., "-o", "--output", help="file to write the template to (.jinja)"),
    template: Optional[Path] = typer.Option(None, "--template", exists=True, dir_okay=False,
                                            help="patch this template file instead of the model's"),
    check: Optional[Path] = typer.Option(None, "--check", exists=True, dir_okay=False,
                                         help="records to prove the template on (any format dataforge reads)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an output file posttrain did not write"),
) -> None:
    """Write the model's chat template with {% generation %} markers (for assistant-only loss)."""
    prepare_outputs([template, check], files=[output], overwrite=overwrite)
    tokenizer = ct.load_tokenizer(model)
    original = template.read_text(encoding="utf-8") if template is not None else tokenizer.chat_template
    try:
        found = ct.training_template(tokenizer, template=original if template is not None else None)
    except ct.TemplatePatchError as exc:
        raise UserError(f"{model}: {exc}") from None
    console = Console(stderr=True)
    if check is not None and original:
        _check(tokenizer, original, found, check, console)
    write_text_atomic(output, found.text)
    how = {"as given": "already has {% generation %} markers", "trl": "TRL's training template for this model",
           "patched": "patched: assistant content + end token inside {% generation %}"}[found.source]
    console.print(f"wrote {output} ({how})")
    console.print(f"use it: dataforge train sft --set chat_template={output}   |   "
                  f"TRL: SFTConfig(assistant_only_loss=True, chat_template_path={str(output)!r})", soft_wrap=True)
