"""Benchmark: our vectorized Self-BLEU and Distinct-n against the loops they replace, and
the exact bootstrap of every corpus metric against recomputing the metric per resample.

    python bench/eval_metrics.py            # Self-BLEU 1,000 generations (the nltk loop: ~3 min);
                                            # bootstrap 1,000 resamples x 1,000 examples
    python bench/eval_metrics.py --quick    # Self-BLEU 150 generations, bootstrap 200 x 200: seconds

Distinct-n always runs on 10,000 generations (a few seconds either way).

* Self-BLEU: ``self_bleu_scores`` vs the Texygen loop, nltk ``sentence_bleu`` of every
  generation against all others (weights 0.25 x 4, ``SmoothingFunction().method1``), on the
  same tokens (``evalkit.text``: 13a words for English, characters for Chinese). The Chinese
  variant always runs at the quick size (its job is the equality check).
* Distinct-1..4: the ``distinct`` metric (tokenizing included) vs a plain Python set of
  n-gram tuples over the same tokens (tokenizing included, with the same tokenizer).

* Exact bootstrap (what ``evalkit compare`` runs): for BLEU, Distinct-2, Self-BLEU and PPL, the
  statistic built once from counts and evaluated on all resamples, vs calling the metric
  itself on each resampled corpus (timed on a few resamples and extrapolated; for PPL the
  recomputation from stored sums is the peer, the model is not rerun). sacrebleu's own
  ``corpus_score(n_bootstrap=...)`` is shown for BLEU too. The values of the first resamples
  are compared where both ways define the same number (BLEU, Distinct-n).

Prints times, speed-up and the largest absolute difference. Generations are synthetic and
seeded: Zipf-distributed words from a fixed vocabulary, so n-grams repeat as in real
model outputs. The goal: Self-BLEU >= 100x with equal values, Distinct-n >= 2x.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from evalkit import text
from evalkit.metrics import MetricInputs, get_metric
from evalkit.metrics.diversity import self_bleu_scores

#: Common Chinese characters, most frequent first (the Zipf ranks below follow this order).
ZH_CHARS = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
    "同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自"
    "二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日"
    "那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变"
    "条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总"
    "次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指"
    "几九区强放决西被干做必战先回则任取据处理府研"
)
WORDS = [f"w{i}" for i in range(2000)]


def generations(count: int, lang: str, seed: int = 0) -> list[str]:
    """Synthetic outputs: ~20 Zipf-distributed words (English) or ~30 characters (Chinese)."""
    rng = np.random.default_rng(seed)
    vocab = WORDS if lang == "en" else list(ZH_CHARS)
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    mean_len, sep = (20, " ") if lang == "en" else (30, "")
    out = []
    for _ in range(count):
        picks = rng.choice(len(vocab), size=max(1, int(rng.normal(mean_len, 4))), p=weights)
        out.append(sep.join(vocab[i] for i in picks) + ("." if lang == "en" else "。"))
    return out


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def nltk_self_bleu(tokens: list[list[str]]) -> np.ndarray:
    smoothing = SmoothingFunction().method1
    return np.array(
        [
            sentence_bleu(tokens[:i] + tokens[i + 1 :], hyp, smoothing_function=smoothing)
            for i, hyp in enumerate(tokens)
        ]
    )


def set_distinct(texts: list[str], lang: str) -> list[float]:
    tokens = text.tokenize(texts, lang)
    out = []
    for n in range(1, 5):
        grams = [g for row in tokens for g in zip(*(row[i:] for i in range(n)))]
        out.append(len(set(grams)) / len(grams) if grams else 0.0)
    return out


def bench_self_bleu(count: int, lang: str) -> None:
    texts = generations(count, lang)
    ours_s, ours = timed(lambda: self_bleu_scores(text.encode(texts, lang)), repeat=3)
    ref_s, ref = timed(lambda: nltk_self_bleu(text.tokenize(texts, lang)))
    diff = float(np.max(np.abs(ours - ref)))
    print(
        f"self-bleu {lang} n={count:>5}: ours {ours_s:8.3f} s  nltk loop {ref_s:8.2f} s  "
        f"speed-up {ref_s / ours_s:8.0f}x  max|diff| {diff:.1e}  (self-bleu {ours.mean():.4f})"
    )


def bench_distinct(count: int, lang: str) -> None:
    texts = generations(count, lang, seed=1)
    metric = get_metric("distinct")
    ours_s, result = timed(lambda: metric(MetricInputs(predictions=texts), lang=lang), repeat=3)
    ref_s, ref = timed(lambda: set_distinct(texts, lang), repeat=3)
    ours = [result.extra[f"distinct_{n}"] for n in range(1, 5)]
    diff = max(abs(a - b) for a, b in zip(ours, ref))
    print(
        f"distinct  {lang} n={count:>5}: ours {ours_s:8.3f} s  python sets {ref_s:8.3f} s  "
        f"speed-up {ref_s / ours_s:8.1f}x  max|diff| {diff:.1e}  "
        f"(distinct-1..4 {', '.join(f'{v:.3f}' for v in ours)})"
    )


def bench_bootstrap(n: int, n_boot: int, direct_resamples: int) -> None:
    """Exact resampled statistic of every corpus metric vs recomputing the metric per resample."""
    import polars as pl
    from sacrebleu.metrics import BLEU

    from evalkit.bootstrap import resample_weights, statistic_for

    hyps, refs = generations(n, "en", seed=2), generations(n, "en", seed=3)
    weights = resample_weights(n, n_boot, seed=0)
    idx = np.random.default_rng(0).integers(0, n, size=(n_boot, n))
    cases = {
        "bleu": (dict(references=refs), {}),
        "distinct": ({}, {"n": 2, "lang": "en"}),
        "self_bleu": ({}, {"lang": "en"}),
    }
    for name, (columns, params) in cases.items():
        metric = get_metric(name)
        result = metric(MetricInputs(predictions=hyps, **columns), **params)
        frame = pl.DataFrame({"prediction": hyps, "reference": columns.get("references"),
                              f"metric:{name}": result.per_example}, strict=False)
        ours_s, values = timed(lambda: statistic_for(name, result.to_dict(), frame,
                                                     np.array(result.per_example, dtype=float))(weights))
        start = time.perf_counter()
        direct = []
        for rows in idx[:direct_resamples]:
            sub = {k: [v[i] for i in rows] for k, v in columns.items()}
            direct.append(metric(MetricInputs(predictions=[hyps[i] for i in rows], **sub), **params).score)
        direct_s = (time.perf_counter() - start) / direct_resamples * n_boot
        same = name != "self_bleu"  # a resampled copy is "another generation" only to the direct way
        diff = f"max|diff| {np.max(np.abs(values[:direct_resamples] - direct)):.1e}" if same else "(definitions differ)"
        print(f"bootstrap {name:<9} {n_boot}x{n}: exact {ours_s:7.2f} s  metric per resample "
              f"~{direct_s:8.1f} s  speed-up {direct_s / ours_s:7.0f}x  {diff}")
    bleu = BLEU(tokenize="13a")
    sacre_s, _ = timed(lambda: bleu.corpus_score(hyps, [refs], n_bootstrap=n_boot))
    print(f"bootstrap bleu      sacrebleu corpus_score(n_bootstrap={n_boot}): {sacre_s:.2f} s (unpaired, one system)")
    nll, tokens = np.random.default_rng(1).gamma(2.0, 20.0, n), np.random.default_rng(2).integers(5, 60, n)
    frame = pl.DataFrame({"prediction": hyps, "detail:ppl.nll": nll, "detail:ppl.tokens": tokens})
    info = {"score": float(np.exp(nll.sum() / tokens.sum()))}
    ours_s, values = timed(lambda: statistic_for("ppl", info, frame, None)(weights))
    loop_s, loop = timed(lambda: np.array([np.exp(nll[r].sum() / tokens[r].sum()) for r in idx]))
    print(f"bootstrap ppl       {n_boot}x{n}: exact {ours_s:7.3f} s  python loop {loop_s:7.3f} s  "
          f"speed-up {loop_s / ours_s:5.1f}x  max|diff| {np.max(np.abs(values - loop)):.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 generations for Self-BLEU, bootstrap 200 x 200")
    args = parser.parse_args()
    if args.quick:
        bench_bootstrap(200, 200, direct_resamples=3)
    else:
        bench_bootstrap(1000, 1000, direct_resamples=5)
    bench_self_bleu(150 if args.quick else 1000, "en")
    bench_self_bleu(150, "zh")
    bench_distinct(10_000, "en")
    bench_distinct(10_000, "zh")


if __name__ == "__main__":
    main()
