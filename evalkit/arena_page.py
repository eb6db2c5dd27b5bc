"""The web page of ``evalkit arena``: one prompt, two answers, four verdicts, with keys.

Gradio (the ``arena`` extra) serves it on this machine; the page only ever receives the
prompt and the two answers in the sheet's blind order, never the key, so neither the page
nor its API says which run wrote which answer until the session's summary de-blinds it.

Keyboard: ``1`` or ``←`` response 1 is better, ``2`` or ``→`` response 2, ``t`` or ``=`` a tie,
``s`` skip, ``Backspace`` back to the previous item (to change a verdict); keys typed in the
comment box are text, ``Esc`` leaves the box.
"""

from __future__ import annotations

import html
import json
import os
import time
from typing import Any

from dataforge.errors import UserError

from .arena import ArenaSession
from .report.tables import num

#: Keys -> the buttons they press (elem_ids, the first one shown); see the module docstring.
KEYS = {"1": ["arena-1"], "ArrowLeft": ["arena-1"], "2": ["arena-2"], "ArrowRight": ["arena-2"],
        "t": ["arena-tie"], "T": ["arena-tie"], "=": ["arena-tie"], "s": ["arena-skip"], "S": ["arena-skip"],
        "Backspace": ["arena-back", "arena-done-back"]}

_KEYBOARD = """<script>
const ARENA_KEYS = %s;
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.key === "Escape" && target && target.blur) { target.blur(); return; }
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.isContentEditable)) return;
  const button = (ARENA_KEYS[event.key] || []).map((id) => document.getElementById(id))
    .find((b) => b && b.offsetParent !== null && !b.disabled);
  if (button) { event.preventDefault(); button.click(); }
});
</script>"""

_CSS = """
.arena-text { white-space: pre-wrap; word-break: break-word; background: var(--block-background-fill);
              border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .75rem;
              font-family: var(--font); color: var(--body-text-color); font-size: 1rem; line-height: 1.5;
              margin: 0; }
.arena-label { font-weight: 600; margin: .25rem 0; }
"""


class MissingGradio(UserError, ImportError):
    """``evalkit arena`` without the optional ``arena`` extra."""


def require_gradio() -> Any:
    """Import Gradio, or refuse in one line naming the extra that installs it."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from an offline machine
    try:
        import gradio
    except ImportError:
        raise MissingGradio("`evalkit arena` needs Gradio: pip install 'posttrain[arena]'") from None
    return gradio


def _text(label: str, text: str, elem: str) -> str:
    return (f"<div class='arena-label'>{label}</div>"
            f"<pre class='arena-text' id='{elem}'>{html.escape(text or '')}</pre>")


def build_page(session: ArenaSession) -> Any:
    """The Gradio Blocks of a session; every handler writes through ``session`` at once."""
    gr = require_gradio()

    def status(number: int | None) -> str:
        c = session.counts()
        where = f"Item {number} of {session.size}" if number else f"All {session.size} items done"
        verdict = session.item(number)["preference"] if number else ""
        mark = f" · your verdict: <b>{verdict}</b>" if verdict else ""
        return (f"<div id='arena-status' data-item='{number or 0}' data-verdict='{verdict}' "
                f"data-rated='{c['rated']}' data-skipped='{c['skipped']}'>"
                f"{where} · {c['rated']} rated · {c['skipped']} skipped{mark}</div>")

    def card(number: int) -> str:
        row = session.item(number)
        reference = _text("Reference answer", row["reference"], "arena-reference") if "reference" in row else ""
        return (f"<div id='arena-item' data-item='{number}'>" + _text("Prompt", row["prompt"], "arena-prompt") + reference
                + "<div style='display:grid;grid-template-columns:1fr 1fr;gap:1rem;margin-top:.75rem'>"
                + f"<div>{_text('Response 1', row['response_1'], 'arena-response-1')}</div>"
                + f"<div>{_text('Response 2', row['response_2'], 'arena-response-2')}</div></div></div>")

    def summary_text() -> str:
        s = session.summary()
        h = s["human"]
        lines = [f"### Summary ({s['labelled']} rated, {s['unlabelled']} not)",
                 f"Verdicts are in `{session.folder / 'sheet.csv'}`; `evalkit human import` reads them "
                 f"with `--key {session.folder / 'key.json'}`.", "",
                 f"**Human:** {s['runs']['B']['name']} (B) vs {s['runs']['A']['name']} (A): "
                 f"W/T/L {h['wins']}/{h['ties']}/{h['losses']}, win-rate {num(h['win_rate'])}"]
        agreement = s.get("judge_agreement")
        if agreement is None:
            lines.append("\nNo judge verdicts for this pair: pass `--judge-results REPORT_DIR` "
                         "(a report of `evalkit compare --judge`) to measure agreement.")
        else:
            lines.append(f"\n**Agreement with the judge** on {agreement['items']} items: "
                         f"<span id='arena-agreement'>{num(agreement['agreement'])}</span>, Cohen's kappa "
                         f"<span id='arena-kappa'>{num(agreement['cohen_kappa'])}</span>")
        return "\n".join(lines)

    def show(number: int | None) -> tuple[Any, ...]:
        """Outputs for an item (or the summary when ``number`` is None)."""
        if number is None:
            return (None, status(None), "", "", gr.update(visible=False), gr.update(visible=True),
                    summary_text(), gr.update(visible=bool(session.skipped)))
        return (number, status(number), card(number), session.item(number)["comment"], gr.update(visible=True),
                gr.update(visible=False), "", gr.update(visible=False))

    def verdict(choice: str):
        def handler(number: int | None, comment: str) -> tuple[Any, ...]:
            if number is None:  # the summary is showing: nothing to rate
                return show(None)
            if choice == "skip":
                session.skip(number, comment)
            else:
                session.rate(number, choice, comment)
            return show(session.next_open(after=number))
        return handler

    def back(number: int | None) -> tuple[Any, ...]:
        return show(max(number - 1, 1) if number else session.size)

    def revisit() -> tuple[Any, ...]:
        session.revisit_skipped()
        return show(session.next_open())

    with gr.Blocks(title="Blind side-by-side rating", analytics_enabled=False) as page:
        current = gr.State(None)
        gr.Markdown("## Which response answers the prompt better?\n"
                    "Keys: **1** / **←** response 1 · **2** / **→** response 2 · **t** tie · **s** skip · "
                    "**Backspace** previous item · **Esc** leaves the comment box")
        status_html = gr.HTML(elem_id="arena-status-box")
        with gr.Column(visible=False) as rating:
            card_html = gr.HTML(elem_id="arena-card")
            with gr.Row():
                one = gr.Button("1 is better  [1]", elem_id="arena-1", variant="primary")
                tie = gr.Button("Tie  [t]", elem_id="arena-tie")
                two = gr.Button("2 is better  [2]", elem_id="arena-2", variant="primary")
            with gr.Row():
                skip = gr.Button("Skip  [s]", elem_id="arena-skip", size="sm")
                previous = gr.Button("Back  [Backspace]", elem_id="arena-back", size="sm")
            comment = gr.Textbox(label="Comment (optional, saved with the verdict)", lines=1, elem_id="arena-comment")
        with gr.Column(visible=False) as done:
            summary_md = gr.Markdown(elem_id="arena-summary")
            again = gr.Button("Rate the skipped items", elem_id="arena-revisit", visible=False)
            done_back = gr.Button("Back to the last item  [Backspace]", elem_id="arena-done-back", size="sm")
        outputs = [current, status_html, card_html, comment, rating, done, summary_md, again]
        for button, choice in ((one, "1"), (two, "2"), (tie, "tie"), (skip, "skip")):
            button.click(verdict(choice), [current, comment], outputs)
        previous.click(back, current, outputs)
        done_back.click(back, current, outputs)
        again.click(revisit, None, outputs)
        page.load(lambda: show(session.next_open()), None, outputs)
    return page


def serve(session: ArenaSession, *, host: str = "127.0.0.1", port: int | None = None,
          open_browser: bool = True) -> str:
    """Serve the page until Ctrl-C (or the process is told to stop); returns its URL."""
    gr = require_gradio()
    page = build_page(session)
    theme = gr.themes.Default(  # local fonts: nothing fetched from the internet, CJK included
        font=["system-ui", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "sans-serif"],
        font_mono=["ui-monospace", "Noto Sans Mono CJK SC", "monospace"])
    try:
        _, url, _ = page.launch(server_name=host, server_port=port, inbrowser=open_browser, quiet=True,
                                ssr_mode=False, theme=theme, css=_CSS, head=_KEYBOARD % json.dumps(KEYS),
                                footer_links=[], prevent_thread_lock=True)
    except OSError as error:
        raise UserError(f"cannot serve on {host}:{port or '7860-7959'}: {error}; choose another --port") from None
    print(f"rating {session.size} items at {url} (Ctrl-C to stop); verdicts go to {session.folder / 'sheet.csv'}",
          flush=True)
    if not open_browser and host in ("127.0.0.1", "localhost"):
        print(f"from another machine: ssh -L {page.server_port}:localhost:{page.server_port} THIS_HOST, "
              f"then open http://localhost:{page.server_port}", flush=True)
    try:
        while page.is_running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        page.close()
    return url
