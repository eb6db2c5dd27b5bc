"""The generation engine interface shared by synthesis and evaluation.

Every engine (transformers on CPU/GPU, vLLM in-process, any OpenAI-compatible server)
takes the same requests and params and returns the same result shape, so a recipe or an
eval run switches engines by changing one word. ``generate`` returns, for each request,
``params.n`` samples, in request order.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, ClassVar, Sequence

from pydantic import ConfigDict, Field

from ...config import Config, config_from_signature


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters, the same for every engine; the defaults are greedy decoding of
    one sample. Recipes validate their ``generation:`` section against this class (pydantic
    reads the constraints in the annotations; unknown keys are errors)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    max_new_tokens: Annotated[int, Field(gt=0, description="most tokens generated per sample")] = 256
    temperature: Annotated[float, Field(ge=0.0, description="0 means greedy decoding")] = 0.0
    top_p: Annotated[float, Field(gt=0.0, le=1.0, description="nucleus sampling mass")] = 1.0
    top_k: Annotated[int, Field(ge=0, description="0 means disabled")] = 0
    n: Annotated[int, Field(gt=0, description="samples per prompt")] = 1
    seed: Annotated[int, Field(description="base seed; each sample's seed also depends on its prompt")] = 0
    repetition_penalty: Annotated[float, Field(gt=0.0)] = 1.0
    stop: Annotated[tuple[str, ...], Field(description="stop strings (not included in the text)")] = ()

    def __post_init__(self) -> None:
        # Recipes and CLIs hand over lists (or one string); a list would make the frozen
        # params unhashable and a bare string would later be iterated character by character.
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        object.__setattr__(self, "stop", stop)

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt: canonical messages (role/content dicts) and optional tools JSON text."""

    messages: tuple[dict[str, Any], ...]
    tools: str | None = None
    id: str | None = None

    @classmethod
    def from_messages(cls, messages: Sequence[dict[str, Any]], tools: str | None = None,
                      id: str | None = None) -> "GenerationRequest":
        clean = tuple({k: v for k, v in m.items() if v is not None} for m in messages)
        return cls(messages=clean, tools=tools, id=id)


@dataclass
class Generation:
    """One sample. ``tool_calls`` holds the calls a server returned as structured data
    (canonical shape: ``{"id", "name", "arguments"}`` with arguments as JSON text); engines
    that only produce text leave it None and any call stays in ``text``."""

    text: str
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None
    tool_calls: list[dict[str, str]] | None = None


def drop_incomplete_char(text: str) -> str:
    """``text`` without the U+FFFD a decoder writes for a multi-byte character that the
    token limit cut in half (a Chinese character is 3 UTF-8 bytes, often 2-3 tokens).

    Every engine applies it to generations that end at ``max_new_tokens``
    (``finish_reason == "length"``), so no sample ends in a replacement character.
    """
    return text.rstrip("\ufffd")


def request_seed(request: GenerationRequest, seed: int, sample: int) -> int:
    """The RNG seed of one sampled sequence: a function of content, ``seed`` and index only.

    Every engine seeds sample ``sample`` of a request this way, so a request's samples do
    not depend on its position in a batch (its cache key does not either).
    """
    payload = json.dumps(
        {"messages": request.messages, "tools": request.tools, "seed": seed, "sample": sample},
        sort_keys=True,
        ensure_ascii=False,
    )
    return int.from_bytes(hashlib.sha256(payload.encode("utf-8")).digest()[:8], "big") >> 1


class Engine(ABC):
    """Base of all engines. Subclasses set ``kind`` and implement ``_generate``."""

    kind: ClassVar[str] = ""

    def __init__(self, model: str) -> None:
        self.model = model

    @classmethod
    def config_model(cls) -> type[Config]:
        """The engine's options as a config model: its ``Config`` class when it declares
        one, else derived from the keyword parameters of ``__init__`` (after ``model``)."""
        declared = cls.__dict__.get("Config")
        if isinstance(declared, type) and issubclass(declared, Config):
            return declared
        return config_from_signature(cls.__init__, f"{cls.kind}_engine", skip=2)

    def close(self) -> None:
        """Release what the engine holds (connections, GPU memory); safe to call twice."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @abstractmethod
    def _generate(
        self, requests: Sequence[GenerationRequest], params: GenerationParams
    ) -> list[list[Generation]]:
        """Generate ``params.n`` samples for each request, in order."""

    def generate(
        self, requests: Sequence[GenerationRequest], params: GenerationParams | None = None
    ) -> list[list[Generation]]:
        params = params or GenerationParams()
        out = self._generate(list(requests), params)
        if len(out) != len(requests) or any(len(s) != params.n for s in out):
            raise AssertionError(f"engine {self.kind} returned a wrongly shaped result")
        return out

    def fingerprint(self) -> str:
        """What identifies this engine's outputs in the cache (model identity, not path)."""
        return f"{self.kind}:{self.model}"

    def cache_key(self, request: GenerationRequest, params: GenerationParams) -> str:
        payload = json.dumps(
            {
                "engine": self.fingerprint(),
                "messages": request.messages,
                "tools": request.tools,
                "params": params.to_dict(),
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()
