"""A synthetic messy chat corpus of any size, for the scale benchmark and the executor tests.

ShareGPT JSON Lines, half English (random words), half Chinese (random Han characters),
one to three turns, with a known share of trouble planted at fixed places (same seed,
same file):

* 8% exact copies of an earlier record (re-cased and re-spaced: ``dedup.exact`` after
  normalization catches them), 8% near copies (2% of tokens replaced:
  ``dedup.near``);
* 5% with PII (e-mail, phone, Chinese mobile) for ``pii.mask``;
* 1% broken lines (truncated JSON), 1% with a turn order a reader rejects, 1% with an
  unfilled template placeholder.

Every line has an id (``r<N>``), so kept and rejected rows can be compared by id.

    python bench/scale_corpus.py OUT.jsonl --n 100000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HAN = np.array([chr(c) for c in range(0x4E00, 0x4E00 + 3000)])
PII = ["请发邮件到 wang.fang{}@example.cn", "call me at (415) 555-{:04d}", "我的手机号是1391234{:04d}",
       "mail jane.doe{}@example.com please"]


class _Pools:
    """Long random token sequences; a record's text is a random slice (fast at 1M records)."""

    def __init__(self, rng: np.random.Generator) -> None:
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        self.vocab = ["".join(rng.choice(letters, k)) for k in rng.integers(2, 9, 20000)]
        self.words = [self.vocab[i] for i in rng.integers(0, len(self.vocab), 1 << 20)]
        self.han = "".join(HAN[rng.integers(0, len(HAN), 1 << 21)])
        self.rng = rng

    def text(self, zh: bool) -> list[str]:
        rng = self.rng
        if zh:
            k = int(rng.integers(30, 120))
            start = int(rng.integers(0, len(self.han) - k))
            return list(self.han[start:start + k])
        k = int(rng.integers(15, 60))
        start = int(rng.integers(0, len(self.words) - k))
        return self.words[start:start + k]

    def near(self, tokens: list[str], zh: bool) -> list[str]:
        """A copy with about 2% of tokens (at least one) replaced."""
        out = list(tokens)
        for i in self.rng.choice(len(out), max(1, len(out) // 50), replace=False):
            out[i] = self.han[int(self.rng.integers(len(self.han)))] if zh else self.vocab[int(self.rng.integers(len(self.vocab)))]
        return out


def _join(tokens: list[str], zh: bool) -> str:
    return "".join(tokens) + "。" if zh else " ".join(tokens) + "."


def make_corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` JSON lines (see the module docstring for what is planted where)."""
    rng = np.random.default_rng(seed)
    pools = _Pools(rng)
    kinds = rng.choice(
        ["orig", "exact", "near", "pii", "broken", "order", "placeholder"], n,
        p=[0.76, 0.08, 0.08, 0.05, 0.01, 0.01, 0.01],
    )
    kinds[:10] = "orig"
    originals: list[tuple[list[list[str]], bool]] = []
    lines = []
    for i, kind in enumerate(kinds):
        zh = bool(rng.random() < 0.5)
        if kind in ("exact", "near") and originals:
            turns, zh = originals[int(rng.integers(len(originals)))]
            if kind == "near":
                turns = [pools.near(t, zh) for t in turns]
        else:
            turns = [pools.text(zh) for _ in range(2 * int(rng.integers(1, 4)))]
            originals.append((turns, zh))
        values = [_join(t, zh) for t in turns]
        if kind == "exact":
            values = [("  " + v.upper() + " ") if not zh else ("  " + v + "\u3000") for v in values]
        elif kind == "pii":
            values[0] += " " + PII[i % len(PII)].format(i % 10000)
        elif kind == "placeholder":
            values[0] += " {{customer_name}}"
        convs = [{"from": "human" if k % 2 == 0 else "gpt", "value": v} for k, v in enumerate(values)]
        if kind == "order":
            convs = convs[1:]
        line = json.dumps({"id": f"r{i}", "conversations": convs}, ensure_ascii=False)
        lines.append(line[: len(line) // 2] if kind == "broken" else line)
    return lines


def write_corpus(path: str | Path, n: int, seed: int = 0) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(make_corpus(n, seed)) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_corpus(args.out, args.n, args.seed))
