"""Chat templates: what a model actually trains on is the rendering of a record.

* ``render``: tokenizer loading, canonical messages -> template input, batch rendering,
  ``{% generation %}`` marker detection and patching, the proof a patch is safe, and the
  template to train with (``training_template``: as given, TRL's, or patched);
* ``checks``: per-record checks over renderings (special tokens smuggled into content,
  render errors, dropped tools, missing end-of-turn token, empty assistant mask), used by
  the ``template.lint`` op and by trainer back ends.

The names below are the module's public surface (``from dataforge import chat_template``).
"""

from .render import (
    Conversation, PatchCheck, Rendered, TemplatePatchError, TrainingTemplate, has_generation_markers,
    load_tokenizer, patch_generation_markers, render, special_token_strings, to_hf_conversation, training_template,
    verify_patch,
)

__all__ = [
    "Conversation", "PatchCheck", "Rendered", "TemplatePatchError", "has_generation_markers",
    "load_tokenizer", "patch_generation_markers", "render", "special_token_strings",
    "to_hf_conversation", "training_template", "TrainingTemplate", "verify_patch",
]
