"""The ``transformers`` engine: batched generation on CPU or GPU, the embedded default.

It is the fallback that always works (no server, no vLLM), so it favours predictability:

* Prompts are rendered with the model's own chat template (``tools`` passed through), then
  left-padded into batches of similar length.
* Greedy when ``temperature == 0``: the ``n`` samples are copies of one decode.
* Sampling draws every sequence with its own ``torch.Generator`` seeded from
  ``sha256(params.seed, request content, sample index)``. HF's built-in sampler shares one
  RNG across the batch, so a request's text would depend on its batch neighbours and on
  ``batch_size``; here it depends on (model, request, params) only, which is exactly what
  the content-addressed generation cache assumes. Two identical requests in one call get
  identical samples; ask for ``n`` > 1 or another seed for diversity.
* ``stop`` strings end a sequence early and the text is cut before the first of them.
* A request the chat template cannot render (malformed tool-call JSON, roles out of order)
  or whose prompt does not fit ``max_length`` together with ``max_new_tokens`` comes back
  as ``finish_reason="error"`` instead of failing the batch or being silently truncated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList

from ... import models
from ...errors import ConfigError
from ...chat_template import to_hf_conversation
from . import register_engine
from .base import Engine, Generation, GenerationParams, GenerationRequest, drop_incomplete_char, request_seed

#: Files whose bytes decide what the model outputs (architecture, tokenizer, chat template).
_CONTENT_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
#: tokenizers report a huge sentinel when the real context length is unknown.
_NO_LIMIT = 1_000_000


def _model_folder(path: str) -> Path:
    """The local folder holding ``path``'s files (a hub id resolves to its cached snapshot)."""
    if Path(path).is_dir():
        return Path(path)
    from transformers.utils import cached_file

    return Path(cached_file(path, "config.json")).parent  # type: ignore[arg-type]


def model_fingerprint(path: str) -> str:
    """Digest of a model folder's content, independent of where the folder lives.

    Small files that shape the output (config, tokenizer, chat template) are hashed byte
    for byte; weight files contribute name, size and mtime (hashing gigabytes on every
    start would cost more than the cache saves). A fine-tuned checkpoint saved over the
    old one has a new mtime, so its generations never hit the old entries; a copy made
    with ``cp -p``/``rsync -a`` keeps them.
    """
    folder = _model_folder(path)
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.name in _CONTENT_FILES:
            digest.update(f"{file.name}\0".encode())
            digest.update(file.read_bytes())
        elif file.suffix in _WEIGHT_SUFFIXES:
            stat = file.stat()
            digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def _template_text(value: str | None) -> str | None:
    """``chat_template``: the template itself (it has Jinja tags) or a file holding it."""
    if value is None or "{" in value:
        return value
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"engine 'transformers': chat_template {value}: no such file (a .jinja path or the text)")
    return path.read_text(encoding="utf-8")


class _SeededSampler(LogitsProcessor):
    """Samples each row with its own generator, then leaves greedy search one choice.

    It runs after HF's own processors (repetition penalty), applies temperature, top-k and
    top-p, draws the token, and returns scores that are -inf everywhere else.
    """

    def __init__(self, seeds: Sequence[int], params: GenerationParams) -> None:
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.params = params

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logits = scores.float() / self.params.temperature
        if self.params.top_k > 0:
            kth = torch.topk(logits, min(self.params.top_k, logits.shape[-1]), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.params.top_p < 1.0:
            ordered, index = torch.sort(logits, descending=True, dim=-1)
            probs = ordered.softmax(dim=-1)
            # drop a token when the tokens ranked above it already hold top_p of the mass
            drop_sorted = probs.cumsum(dim=-1) - probs >= self.params.top_p
            drop = torch.zeros_like(drop_sorted).scatter(-1, index, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        probs = logits.softmax(dim=-1).cpu()
        picks = torch.stack(
            [torch.multinomial(row, 1, generator=gen) for row, gen in zip(probs, self.generators)]
        ).to(scores.device)
        return torch.full_like(scores, float("-inf")).scatter(1, picks, 0.0)  # type: ignore[return-value]


@register_engine
class TransformersEngine(Engine):
    """Generation with ``transformers`` ``generate``; loads tokenizer and model once.

    Options: ``device`` ("auto" = cuda if available else cpu), ``dtype`` ("auto" = bf16 on
    GPU, fp32 on CPU; or float32/bfloat16/float16), ``batch_size`` (sequences per forward
    pass; a prompt with ``n`` sampled completions takes ``n``), ``max_length`` (prompt +
    completion tokens; default: the model's context length), ``chat_template`` (template
    text or a .jinja file used instead of the tokenizer's, e.g. one that can show tools;
    part of the fingerprint).
    """

    kind = "transformers"

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        chat_template: str | None = None,
    ) -> None:
        super().__init__(model or models.DEFAULT_CAUSAL_LM)
        if batch_size < 1:
            raise ConfigError("engine 'transformers': batch_size must be >= 1")
        self.path = models.resolve(model)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.type == "cuda" else "float32"
        if dtype not in _DTYPES:
            raise ConfigError(f"engine 'transformers': unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}")
        self.dtype = _DTYPES[dtype]
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(
            self.path, padding_side="left", trust_remote_code=trust_remote_code
        )
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        template = _template_text(chat_template)
        if template is not None:
            self.tokenizer.chat_template = template
        self.hf_model = AutoModelForCausalLM.from_pretrained(
            self.path, dtype=self.dtype, trust_remote_code=trust_remote_code
        ).to(self.device).eval()
        self.max_length = max_length or self._context_length()
        self.eos_ids = self._eos_ids()
        self._fingerprint = f"{self.kind}:{model_fingerprint(self.path)}:{str(self.dtype).removeprefix('torch.')}"
        if template is not None:
            self._fingerprint += ":template-" + hashlib.sha256(template.encode("utf-8")).hexdigest()[:12]

    def _context_length(self) -> int:
        limits = [self.tokenizer.model_max_length, getattr(self.hf_model.config, "max_position_embeddings", None)]
        known = [int(x) for x in limits if isinstance(x, int) and 0 < x < _NO_LIMIT]
        return min(known, default=2048)

    def _eos_ids(self) -> set[int]:
        configured = self.hf_model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured])
        ids.add(self.tokenizer.eos_token_id)
        return {i for i in ids if i is not None}

    def fingerprint(self) -> str:
        return self._fingerprint

    def render(self, request: GenerationRequest) -> str:
        """The prompt text the model sees: chat template + generation prompt."""
        tools = json.loads(request.tools) if request.tools else None
        return self.tokenizer.apply_chat_template(
            to_hf_conversation(request.messages), tools=tools, add_generation_prompt=True, tokenize=False
        )

    def _generate(
        self, requests: Sequence[GenerationRequest], params: GenerationParams
    ) -> list[list[Generation]]:
        results: list[list[Generation]] = [[] for _ in requests]
        prompts: list[list[int]] = []
        fitting = []
        for i, request in enumerate(requests):
            ids, error = self._encode(request, params)
            prompts.append(ids)
            if error is None:
                fitting.append(i)
            else:
                results[i] = [Generation("", finish_reason="error", error=error) for _ in range(params.n)]
        samples = 1 if params.greedy else params.n
        per_batch = max(1, self.batch_size // samples)
        fitting.sort(key=lambda i: len(prompts[i]), reverse=True)  # similar lengths pad less
        for start in range(0, len(fitting), per_batch):
            chunk = fitting[start:start + per_batch]
            rows = [prompts[i] for i in chunk for _ in range(samples)]
            seeds = None if params.greedy else [
                request_seed(requests[i], params.seed, j) for i in chunk for j in range(samples)
            ]
            generations = self._decode_batch(rows, params, seeds)
            for k, i in enumerate(chunk):
                mine = generations[k * samples:(k + 1) * samples]
                results[i] = mine if samples == params.n else [
                    dataclasses.replace(mine[0]) for _ in range(params.n)
                ]
        return results

    def _encode(self, request: GenerationRequest, params: GenerationParams) -> tuple[list[int], str | None]:
        """Prompt token ids, or why this request cannot run (the rest of the batch still does)."""
        try:
            text = self.render(request)
        except Exception as exc:  # noqa: BLE001 - a template error (bad tool JSON, role order) is per request
            return [], f"chat template failed: {type(exc).__name__}: {exc}"
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) + params.max_new_tokens > self.max_length:
            return ids, (f"prompt has {len(ids)} tokens; with max_new_tokens={params.max_new_tokens} "
                         f"it exceeds max_length={self.max_length}")
        return ids, None

    def _decode_batch(
        self, rows: list[list[int]], params: GenerationParams, seeds: list[int] | None
    ) -> list[Generation]:
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for r, ids in enumerate(rows):
            input_ids[r, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention[r, width - len(ids):] = 1
        with torch.inference_mode():
            out = self.hf_model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                max_new_tokens=params.max_new_tokens,
                do_sample=False,
                num_beams=1,
                temperature=None,
                top_p=None,
                top_k=None,
                repetition_penalty=params.repetition_penalty,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=sorted(self.eos_ids),
                stop_strings=list(params.stop) or None,
                tokenizer=self.tokenizer if params.stop else None,
                logits_processor=LogitsProcessorList([_SeededSampler(seeds, params)]) if seeds else None,
            )
        return [self._to_generation(tokens, params) for tokens in out[:, width:].tolist()]

    def _to_generation(self, tokens: list[int], params: GenerationParams) -> Generation:
        """Decode one row; count generated tokens up to and including the closing eos."""
        ends = self.eos_ids | {self.tokenizer.pad_token_id}
        end = next((k for k, t in enumerate(tokens) if t in ends), len(tokens))
        text = self.tokenizer.decode(tokens[:end], skip_special_tokens=True)
        cuts = [text.find(s) for s in params.stop if s in text]
        if cuts:
            return Generation(text[:min(cuts)], finish_reason="stop", completion_tokens=end)
        if end < len(tokens) and tokens[end] in self.eos_ids:
            return Generation(text, finish_reason="stop", completion_tokens=end + 1)
        return Generation(drop_incomplete_char(text), finish_reason="length", completion_tokens=end)
