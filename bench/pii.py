"""Benchmark pii.mask's fast path against presidio's AnalyzerEngine, side by side.

    OMP_WAIT_POLICY=PASSIVE python bench/pii.py            # 5,000 texts + 2,000 realistic records
    OMP_WAIT_POLICY=PASSIVE python bench/pii.py --quick    # a smoke run

Two corpora (``--corpus synthetic|realistic|both``):

* synthetic (the project's own): English and Chinese customer-service sentences with
  planted PII (email, phone in US/UK/DE/international formats, Luhn-valid cards, Chinese
  mobiles, resident IDs and UnionPay cards, IPv4/IPv6, URLs, IBANs), Luhn-invalid card
  numbers as decoys, and clean sentences full of dates, prices and order numbers (20%);
* realistic (``bench/corpus.py``): every turn of long multi-turn ShareGPT conversations
  (45% Chinese), PII planted in 12% of the records, and decoys in 6%: Luhn-invalid
  card-shaped numbers (16-digit, Amex-shaped 15-digit starting 34/37, UnionPay-shaped
  19-digit) and +1 numbers with unassigned area codes.

Compared, on the same texts, with the same entity list:

* ``fast``: ``FastAnalyzer.analyze`` over the whole column (what ``pii.mask`` runs);
* ``presidio (same recognizers)``: ``AnalyzerEngine.analyze`` per text with our registry
  (what ``engine: presidio`` runs); findings must be identical to ``fast``;
* ``presidio (stock)``: ``AnalyzerEngine.analyze`` per text, language ``en``, with
  presidio's own recognizers (phone = ``PhoneRecognizer``, phonenumbers' matcher over 8
  regions) plus our Chinese recognizers, since presidio ships none.

Printed: docs/s and the speed-up of fast over each; per label, recall (a plant counts as
found when a finding of a compatible label covers it) and precision (a finding is true when
it overlaps a plant it may stand for); how many decoys were masked as a card and as
anything (both must be 0 for ours).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataforge.pii.engine import build_setup, text_languages, use_offline_tldextract  # noqa: E402
from dataforge.pii.entities import DEFAULT_LABELS, PATTERN_ENTITIES  # noqa: E402
from dataforge.pii.fast import FastAnalyzer  # noqa: E402
from dataforge.pii.phone import is_valid_phone  # noqa: E402
from dataforge.ops.pii import PiiMask  # noqa: E402
from dataforge.pii.reference import analyzer_findings  # noqa: E402
from dataforge.pii.resolve import resolve_conflicts  # noqa: E402
from dataforge.schemas.record import from_dicts, message  # noqa: E402

from pii_values import (  # noqa: E402
    ACCEPT, CLEAN, DECOY, EN_TEMPLATES, MAKERS, ZH_TEMPLATES, Plant, bad_card,
)


def corpus(n: int, seed: int = 0) -> tuple[list[str], list[Plant], list[Plant]]:
    """``n`` texts, the planted PII, and the Luhn-invalid decoys."""
    rng = random.Random(seed)
    texts, plants, decoys = [], [], []
    for i in range(n):
        lang = "zh" if rng.random() < 0.5 else "en"
        roll = rng.random()
        if roll < 0.2:
            texts.append(rng.choice(CLEAN[lang]))
            continue
        if roll < 0.27:
            value = bad_card(rng)
            tpl = DECOY[lang]
            decoys.append(Plant(i, "DECOY", tpl.index("{}"), tpl.index("{}") + len(value)))
            texts.append(tpl.format(value))
            continue
        parts, pos = [], 0
        for _ in range(1 if rng.random() < 0.7 else 2):
            kind = rng.choice(list(MAKERS))
            templates = (ZH_TEMPLATES if lang == "zh" else EN_TEMPLATES)[kind]
            tpl, value = rng.choice(templates), MAKERS[kind](rng)
            at = pos + tpl.index("{}")
            plants.append(Plant(i, kind, at, at + len(value)))
            sentence = tpl.format(value) + ("" if lang == "zh" else " ")
            parts.append(sentence)
            pos += len(sentence)
        texts.append("".join(parts).rstrip())
    return texts, plants, decoys


# -- engines -------------------------------------------------------------------------


def stock_presidio():
    """presidio's own pattern recognizers + PhoneRecognizer, our CN ones, language en."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer, EmailRecognizer, IbanRecognizer, IpRecognizer, PhoneRecognizer,
        UrlRecognizer,
    )

    from dataforge.pii.recognizers_zh import (
        CnBankCardRecognizer, CnIdCardRecognizer, CnMobileRecognizer,
    )

    use_offline_tldextract()
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]
    }).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    for r in [EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), IpRecognizer(),
              UrlRecognizer(), IbanRecognizer(), CnMobileRecognizer(), CnIdCardRecognizer(),
              CnBankCardRecognizer()]:
        registry.add_recognizer(r)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def _labelled(findings: pl.DataFrame) -> dict[int, list[tuple[int, int, str]]]:
    by_text: dict[int, list[tuple[int, int, str]]] = {}
    for t, s, e, ent in findings.select("text_id", "start", "end", "entity_type").rows():
        by_text.setdefault(t, []).append((s, e, DEFAULT_LABELS.get(ent, ent)))
    return by_text


#: The label a planted kind is counted under.
KIND_LABEL = {"EMAIL": "EMAIL", "PHONE": "PHONE", "CN_MOBILE": "PHONE", "CREDIT_CARD": "CREDIT_CARD",
              "BANK_CARD": "BANK_CARD", "CN_ID_CARD": "ID_CARD", "IP": "IP", "URL": "URL", "IBAN": "IBAN"}


def per_entity(findings: pl.DataFrame, plants: list[Plant]) -> dict[str, tuple[int, int, int, int]]:
    """Per label: (plants found, plants, true findings, findings). A plant is found when a
    finding of a compatible label covers it; a finding is true when it overlaps a plant it
    may stand for, false otherwise (a decoy, a price, an order number, half a phone)."""
    by_text = _labelled(findings)
    plants_at: dict[int, list[Plant]] = {}
    for p in plants:
        plants_at.setdefault(p.text_id, []).append(p)
    out: dict[str, list[int]] = {}
    for p in plants:
        hit = any(s <= p.start and e >= p.end and lab in ACCEPT[p.kind]
                  for s, e, lab in by_text.get(p.text_id, []))
        row = out.setdefault(KIND_LABEL[p.kind], [0, 0, 0, 0])
        row[0] += hit
        row[1] += 1
    for t, spans in by_text.items():
        for s, e, lab in spans:
            true = any(s < p.end and e > p.start and lab in ACCEPT[p.kind] for p in plants_at.get(t, []))
            row = out.setdefault(lab, [0, 0, 0, 0])
            row[2] += true
            row[3] += 1
    return {k: (v[0], v[1], v[2], v[3]) for k, v in sorted(out.items())}


def decoys_flagged(findings: pl.DataFrame, decoys: list[Plant], any_type: bool) -> int:
    spans = _labelled(findings)
    return sum(
        any(s < d.end and e > d.start and (any_type or lab in {"CREDIT_CARD", "BANK_CARD"})
            for s, e, lab in spans.get(d.text_id, []))
        for d in decoys
    )


def realistic_texts(n: int, seed: int = 0) -> tuple[list[str], list[Plant], list[Plant]]:
    """Every turn of the realistic corpus (bench/corpus.py), its PII and its decoys."""
    from corpus import realistic

    corpus = realistic(n, seed)
    texts, where = corpus.turn_texts()

    def located(items):
        return [Plant(where[(r, t)], p.kind, p.start, p.end) for r, t, p in items]

    return texts, located(corpus.pii), located(corpus.decoys)


def evaluate(name: str, texts: list[str], plants: list[Plant], decoys: list[Plant], args, engines) -> None:
    n = len(texts)
    series = pl.Series("text", texts)
    languages = text_languages(series)
    fast, setup, entities, stock = engines

    def best_of(run):
        """Fastest of ``--repeat`` runs, wall clock and CPU time (all threads) apart: on a
        shared machine wall time swings with the neighbours, CPU time much less. The
        phone-validity memo is cleared before each run so no engine reuses another's."""
        wall, cpu, out = float("inf"), float("inf"), None
        for _ in range(args.repeat):
            is_valid_phone.cache_clear()
            w0, c0 = time.perf_counter(), time.process_time()
            out = run()
            wall = min(wall, time.perf_counter() - w0)
            cpu = min(cpu, time.process_time() - c0)
        return (wall, cpu), out

    def run_stock() -> pl.DataFrame:
        rows = [
            (i, r.start, r.end, r.entity_type, r.score)
            for i, t in enumerate(texts)
            for r in stock.analyze(t, language="en", entities=sorted(PATTERN_ENTITIES))
        ]
        return pl.DataFrame(rows, schema=["text_id", "start", "end", "entity_type", "score"],
                            orient="row")

    timings, results = {}, {}
    timings["fast"], results["fast"] = best_of(lambda: fast.analyze(series, languages))
    timings["presidio (same recognizers)"], (results["presidio (same recognizers)"], _) = best_of(
        lambda: analyzer_findings(setup, series, languages, entities)
    )
    timings["presidio (stock)"], results["presidio (stock)"] = best_of(run_stock)
    records = from_dicts([{"id": str(i), "messages": [message("user", t)]}
                          for i, t in enumerate(texts)])
    op = PiiMask()
    op(records[:20])
    op_time, masked = best_of(lambda: op(records))

    print(f"\n== {name}: {n} texts ({len(plants)} planted PII, {len(decoys)} decoys, "
          f"{sum(1 for lang in languages if lang == 'zh')} Chinese)")
    print(f"{'engine':30s} {'wall s':>7s} {'docs/s':>7s} {'cpu s':>7s} {'docs/s':>7s}"
          f" {'fast is (cpu)':>14s} {'(wall)':>7s}")
    fast_wall, fast_cpu = timings["fast"]
    for engine, (wall, cpu) in timings.items():
        print(f"{engine:30s} {wall:7.2f} {n / wall:7.0f} {cpu:7.2f} {n / cpu:7.0f}"
              f" {cpu / fast_cpu:13.1f}x {wall / fast_wall:6.1f}x")
    wall, cpu = op_time
    print(f"{'pii.mask op (fast), records':30s} {wall:7.2f} {n / wall:7.0f} {cpu:7.2f}"
          f" {n / cpu:7.0f}   (analysis + resolution + masking + write-back;"
          f" {masked.kept.height} rows kept)")
    key = ["text_id", "start", "end", "entity_type"]
    same = results["fast"].select(key).sort(key).equals(
        results["presidio (same recognizers)"].select(key).sort(key)
    )
    print(f"fast findings identical to AnalyzerEngine (same recognizers): {same}")

    # what masking would replace: overlaps resolved as AnonymizerEngine does (email beats
    # the URL inside it), the same way for every engine
    results = {engine: resolve_conflicts(f, series) for engine, f in results.items()}
    scores = {engine: per_entity(f, plants) for engine, f in results.items()}
    labels = sorted({lab for sc in scores.values() for lab in sc})
    print(f"\nper label, after overlap resolution: recall (plants found) and precision (findings that are plants)")
    print(f"{'label':12s}" + "".join(f"{engine:>48s}" for engine in results))
    for lab in labels:
        cells = []
        for engine in results:
            found, total, true, flagged = scores[engine].get(lab, (0, 0, 0, 0))
            recall = f"{found}/{total} {found / total:.3f}" if total else "-"
            precision = f"{true}/{flagged} {true / flagged:.3f}" if flagged else "-"
            cells.append(f"{recall:>22s} {precision:>22s}")
        print(f"{lab:12s}" + "".join(f"{c:>48s}" for c in cells))
    for engine, f in results.items():
        print(f"{engine:30s} decoys masked as a card: {decoys_flagged(f, decoys, any_type=False)}/{len(decoys)}, "
              f"as anything: {decoys_flagged(f, decoys, any_type=True)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="400 texts / 100 records (smoke run)")
    parser.add_argument("--n", type=int, default=None, help="texts of the synthetic corpus (default 5000)")
    parser.add_argument("--records", type=int, default=None,
                        help="records of the realistic corpus (default 2000, about 10k turns)")
    parser.add_argument("--corpus", choices=["synthetic", "realistic", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=2, help="runs per engine; best is kept")
    args = parser.parse_args()

    setup = build_setup()
    entities = {lang: [e for e in PATTERN_ENTITIES if e in setup.supported(lang)]
                for lang in ("en", "zh")}
    fast = FastAnalyzer(setup, entities)
    stock = stock_presidio()
    warm = pl.Series(["Call (212) 555-0187", "邮箱a@example.cn"])
    fast.analyze(warm, text_languages(warm))  # lazy loads and caches, for everyone
    analyzer_findings(setup, warm, text_languages(warm), entities)
    stock.analyze(warm[0], language="en")
    engines = (fast, setup, entities, stock)
    if args.corpus in ("synthetic", "both"):
        texts, plants, decoys = corpus(args.n or (400 if args.quick else 5000))
        evaluate("synthetic (the project's own)", texts, plants, decoys, args, engines)
    if args.corpus in ("realistic", "both"):
        texts, plants, decoys = realistic_texts(args.records or (100 if args.quick else 2000))
        evaluate("realistic (bench/corpus.py)", texts, plants, decoys, args, engines)


if __name__ == "__main__":
    main()
