"""Synthesis: generation engines, the generation cache, judges (shared with evalkit)."""
