"""Chat templates: what a model actually trains on is the rendering of a record.

* ``render``: tokenizer loading, canonical messages -> template input, batch rendering,
  ``{% generation %}`` marker detection and patching, and the proof a patch is safe;
* ``checks``: per-record checks over renderings (special tokens smuggled into content,
  render errors, dropped tools, missing end-of-turn token, empty assistant mask), used by
  the ``template.lint`` op and by trainer back ends.

The names below are the module's public surface (``from dataforge import chat_template``).
"""

from .render import (
    Conversation, PatchCheck, Rendered, TemplatePatchError, has_generation_markers, load_tokenizer,
    patch_generation_markers, render, special_token_strings, to_hf_conversation, verify_patch,
)

__all__ = [
    "Conversation", "PatchCheck", "Rendered", "TemplatePatchError", "has_generation_markers",
    "load_tokenizer", "patch_generation_markers", "render", "special_token_strings",
    "to_hf_conversation", "verify_patch",
]
