"""Chat-template helpers shared by ``template.lint`` and the training back end.

Why this module exists: what a model trains on is the *rendering* of a record under the
tokenizer's chat template, not the record. Three things go wrong there silently in peer
tools: the template has no ``{% generation %}`` markers, so the assistant-only loss mask is
empty (TRL refuses it, other trainers train on nothing or on everything); the rendering
lacks the end-of-turn token after an assistant turn, so the model never learns to stop;
the template drops tools or tool calls it cannot express. The functions here render in
batches, patch ChatML-style templates with generation markers, and prove the patch safe.

Rendering goes through ``transformers``' own ``render_jinja_template`` (the function
``apply_chat_template`` uses), so what we check is byte-for-byte what trainers see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

from .. import models

Conversation = list[dict[str, Any]]

#: The tag transformers itself looks for; note ``add_generation_prompt`` must not match.
_MARKER_RE = re.compile(r"\{%-?\s*generation\s*-?%\}")
#: One ``{{ ... }}`` output tag, with its whitespace-control dashes.
_OUTPUT_RE = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
#: ``message['content']``, ``message["content"]`` or ``message.content``, optional filters.
_CONTENT_RE = re.compile(
    r"""^(?P<var>[A-Za-z_]\w*)(?:\[\s*(['"])content\2\s*\]|\.content)(?:\s*\|\s*\w+(?:\(\))?)*$"""
)


class TemplatePatchError(ValueError):
    """The template cannot be patched automatically; the message says why."""


def load_tokenizer(ref: str | None = None) -> Any:
    """Tokenizer for a model reference (alias, folder, hub id), loaded once per process."""
    return _load_tokenizer(models.resolve(ref))


@lru_cache(maxsize=4)
def _load_tokenizer(resolved: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolved)


def has_generation_markers(template: str) -> bool:
    """True when the template marks assistant output with ``{% generation %}``."""
    return bool(_MARKER_RE.search(template))


def _split_plus(expr: str) -> list[str]:
    """Split a Jinja expression on top-level ``+`` (outside strings and brackets)."""
    parts, depth, quote, start, escaped = [], 0, "", 0, False
    for i, ch in enumerate(expr):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "+" and depth == 0:
            parts.append(expr[start:i].strip())
            start = i + 1
    parts.append(expr[start:].strip())
    return parts


def _split_end_literal(term: str, end_token: str) -> tuple[str, str] | None:
    """``'<|im_end|>\\n'`` -> (``'<|im_end|>'``, ``'\\n'``): the end token and what follows it."""
    if len(term) < 2 or term[0] not in "'\"" or term[-1] != term[0]:
        return None
    body, quote = term[1:-1], term[0]
    if not body.startswith(end_token):
        return None
    rest = body[len(end_token) :]
    return f"{quote}{end_token}{quote}", (f"{quote}{rest}{quote}" if rest else "")


def _patch_output_tag(match: re.Match[str], end_token: str) -> str | None:
    """Rewrite one ``{{ A + content + END + B }}`` tag, or None when it is not a turn tag."""
    lstrip, expr, rstrip = match.group(1), match.group(2), match.group(3)
    terms = _split_plus(expr)
    for i, term in enumerate(terms[:-1]):
        content = _CONTENT_RE.match(term)
        end = _split_end_literal(terms[i + 1], end_token)
        if content is None or end is None:
            continue
        var = content.group("var")
        pre, post = terms[:i], [t for t in (end[1], *terms[i + 2 :]) if t]
        assistant = (
            (f"{{{{ {' + '.join(pre)} }}}}" if pre else "")
            + f"{{% generation %}}{{{{ {term} + {end[0]} }}}}{{% endgeneration %}}"
            + (f"{{{{ {' + '.join(post)} }}}}" if post else "")
        )
        # `+` keeps trim_blocks/lstrip_blocks from eating whitespace the {{ }} tag kept.
        open_tag = "{%-" if lstrip else "{%+"
        close_tag = "-%}" if rstrip else "+%}"
        return (
            f"{open_tag} if {var}['role'] == 'assistant' %}}{assistant}"
            f"{{% else %}}{{{{ {expr.strip()} }}}}{{% endif {close_tag}"
        )
    return None


def patch_generation_markers(template: str, end_token: str = "<|im_end|>") -> str:
    """Wrap each assistant turn's content + end token in ``{% generation %}`` markers.

    Works on ChatML-style templates that write a turn as one output expression,
    ``{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}``
    (SmolLM2, Qwen2 and many fine-tunes): that tag becomes an ``if`` that emits the same
    pieces for every role, with the assistant's content + end token inside the markers.
    A template that already has markers is returned unchanged. Always confirm with
    ``verify_patch`` on real data before trusting the result.
    """
    if has_generation_markers(template):
        return template
    patched_any = False

    def replace(match: re.Match[str]) -> str:
        nonlocal patched_any
        new = _patch_output_tag(match, end_token)
        if new is None:
            return match.group(0)
        patched_any = True
        return new

    patched = _OUTPUT_RE.sub(replace, template)
    if not patched_any:
        raise TemplatePatchError(
            f"no output expression of the form `... + message['content'] + '{end_token}' ...` "
            "found; add {% generation %}...{% endgeneration %} around the assistant content "
            "and end token by hand"
        )
    return patched


# -- canonical records -> what templates expect -------------------------------------------


def to_hf_conversation(messages: Sequence[dict[str, Any]]) -> Conversation:
    """Canonical messages -> the dicts chat templates read (OpenAI/HF shape).

    Null fields are dropped (templates test ``is defined``), null content becomes ``""``
    (a tool-call-only turn; many templates concatenate content), and tool-call arguments
    are parsed from JSON text, since templates ``tojson`` them. Raises ``ValueError`` naming
    the turn when arguments are not valid JSON (LLaMA-Factory's "invalid tools JSON").
    """
    out = []
    for i, m in enumerate(messages):
        msg: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
        for key in ("name", "tool_call_id"):
            if m.get(key) is not None:
                msg[key] = m[key]
        if m.get("tool_calls"):
            calls = []
            for j, call in enumerate(m["tool_calls"]):
                try:
                    arguments = json.loads(call.get("arguments") or "{}")
                except json.JSONDecodeError as exc:
                    raise ValueError(
                        f"messages[{i}].tool_calls[{j}].arguments is not valid JSON: {exc}"
                    ) from None
                fn = {"name": call.get("name"), "arguments": arguments}
                calls.append({"type": "function", "function": fn, **({"id": call["id"]} if call.get("id") else {})})
            msg["tool_calls"] = calls
        out.append(msg)
    return out


# -- rendering ------------------------------------------------------------------------------


@dataclass
class Rendered:
    """Batch rendering: per conversation, the text or the error, and generation spans."""

    texts: list[str | None]
    errors: list[str | None]
    spans: list[list[tuple[int, int]]] = field(default_factory=list)


def render(
    tokenizer: Any,
    conversations: Sequence[Conversation],
    *,
    template: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool = False,
    with_spans: bool = False,
) -> Rendered:
    """Render a batch; a conversation that makes the template raise gets its error instead.

    The whole batch renders in one call; only when that raises do we retry one by one to
    find which conversations fail (so one bad record costs one retry, not the batch).
    ``with_spans`` returns the character spans inside ``{% generation %}`` (needs markers).
    """
    from transformers.utils.chat_template_utils import render_jinja_template

    template = template if template is not None else tokenizer.chat_template
    n = len(conversations)
    if template is None:
        return Rendered([None] * n, ["tokenizer has no chat template"] * n, [[] for _ in range(n)])
    kwargs = dict(
        tools=tools, chat_template=template, add_generation_prompt=add_generation_prompt,
        return_assistant_tokens_mask=with_spans, **tokenizer.special_tokens_map,
    )
    try:
        texts, spans = render_jinja_template(list(conversations), **kwargs)
        return Rendered(list(texts), [None] * n, spans if with_spans else [[] for _ in range(n)])
    except Exception:  # noqa: BLE001 - isolate the failing conversations below
        pass
    out = Rendered([], [], [])
    for conv in conversations:
        try:
            texts, spans = render_jinja_template([conv], **kwargs)
        except Exception as exc:  # noqa: BLE001 - template errors are data, reported per row
            out.texts.append(None)
            out.errors.append(f"{type(exc).__name__}: {exc}")
            out.spans.append([])
            continue
        out.texts.append(texts[0])
        out.errors.append(None)
        out.spans.append(spans[0] if with_spans else [])
    return out


def special_token_strings(tokenizer: Any) -> list[str]:
    """Every special or added token string (longest first), minus whitespace-only ones."""
    tokens = set(tokenizer.all_special_tokens)
    tokens |= {t.content for t in tokenizer.added_tokens_decoder.values()}
    return sorted((t for t in tokens if t and not t.isspace()), key=lambda t: (-len(t), t))


@dataclass
class PatchCheck:
    """Outcome of ``verify_patch``: identical rendering and a non-empty assistant mask."""

    checked: int
    mismatched: list[int]
    empty_mask: list[int]

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.mismatched and not self.empty_mask


def verify_patch(
    tokenizer: Any, original: str, patched: str, conversations: Sequence[Conversation]
) -> PatchCheck:
    """Prove a patched template safe on real data.

    Both templates must render every conversation byte-identically, and
    ``apply_chat_template(..., return_assistant_tokens_mask=True)`` (the path TRL's
    ``assistant_only_loss`` takes) must mark at least one token of every conversation that
    has an assistant turn. Conversations the original template cannot render are skipped.
    """
    before = render(tokenizer, conversations, template=original)
    after = render(tokenizer, conversations, template=patched)
    ok = [i for i, t in enumerate(before.texts) if t is not None]
    mismatched = [i for i in ok if after.texts[i] != before.texts[i]]
    same = set(ok).difference(mismatched)
    with_assistant = [
        i for i in ok if i in same and any(m["role"] == "assistant" for m in conversations[i])
    ]
    empty: list[int] = []
    if with_assistant:
        encoded = tokenizer.apply_chat_template(
            [conversations[i] for i in with_assistant], chat_template=patched, tokenize=True,
            return_dict=True, return_assistant_tokens_mask=True,
        )
        empty = [i for i, mask in zip(with_assistant, encoded["assistant_masks"]) if not any(mask)]
    return PatchCheck(checked=len(ok), mismatched=mismatched, empty_mask=empty)


# -- the template to train with -------------------------------------------------------------


@dataclass
class TrainingTemplate:
    """A chat template whose assistant turns sit inside ``{% generation %}`` markers.

    ``source`` says where it came from: ``"as given"`` (it had markers), ``"trl"`` (TRL's
    training version of a template it knows, e.g. Qwen2.5/Qwen3/Llama 3), or ``"patched"``
    (ours, see :func:`patch_generation_markers`; prove it with :func:`verify_patch`).
    """

    text: str
    source: str


def training_template(tokenizer: Any, template: str | None = None) -> TrainingTemplate:
    """The template to train with assistant-only loss: ``template`` (or the tokenizer's)
    when it has markers, else TRL's training version of a known template (when TRL is
    installed), else the template patched here. Raises :class:`TemplatePatchError`
    saying what to do when none of these works.
    """
    text = template if template is not None else tokenizer.chat_template
    if isinstance(text, dict):  # named variants: the default one renders conversations
        text = text.get("default")
    if not text:
        raise TemplatePatchError("the tokenizer has no chat template; pass one (a .jinja file)")
    if has_generation_markers(text):
        return TrainingTemplate(text, "as given")
    if template is None:
        known = _trl_training_template(tokenizer)
        if known is not None:
            return TrainingTemplate(known, "trl")
    return TrainingTemplate(patch_generation_markers(text, end_token=tokenizer.eos_token or "<|im_end|>"), "patched")


def _trl_training_template(tokenizer: Any) -> str | None:
    """TRL's hand-written training template for a template it recognises, else None."""
    try:
        from trl.chat_template_utils import get_training_chat_template
    except ImportError:  # TRL is the `train` extra; the patch below needs nothing
        return None
    try:
        return get_training_chat_template(tokenizer)
    except ValueError:  # not one of TRL's known templates
        return None
