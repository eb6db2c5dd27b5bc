"""Near-dedup benchmark: dedup.near against datasketch, side by side, in one run.

    python bench/dedup.py            # 50k records (several minutes: the per-document loop is slow)
    python bench/dedup.py --quick    # 3k records

Data: synthetic chat records, half English (word shingles), half Chinese (character
shingles), with planted exact copies (re-cased, re-spaced) and near copies (a few percent
of tokens replaced). Three methods find near-duplicate candidate pairs of the same
shingles with the same num_perm, threshold and bands x rows:

* ``ours``: the ``dedup.near`` op end to end on the record table (key text, NFKC,
  tokenizing, shingling, signatures, banding, clustering, rejected table), plus its
  candidate pairs for scoring;
* ``datasketch loop``: datasketch's documented usage, one ``MinHash`` per document
  updated shingle by shingle, ``MinHashLSH.insert`` each, then ``query`` each;
* ``datasketch bulk``: ``MinHash.bulk`` over all documents, inserted through
  ``insertion_session``, then ``query`` each.

The datasketch methods start from the key texts (their shingling, in Python, is timed
too); ours starts from the records, so it does strictly more work. Precision and recall
are measured against exact Jaccard of the shingle sets, over every planted pair and every
pair any method reported.
"""

from __future__ import annotations

import argparse
import re
import time
from itertools import combinations

import numpy as np
import polars as pl
from datasketch import MinHash, MinHashLSH

from dataforge.dedup.keys import key_text
from dataforge.dedup.lsh import band_keys, candidate_pairs
from dataforge.dedup.minhash import signatures
from dataforge.ops import make_op
from dataforge.schemas import from_dicts, message
from dataforge.text import nfkc, shingle_hashes

HAN = np.array([chr(c) for c in range(0x4E00, 0x4E00 + 3000)])


def make_records(n: int, seed: int) -> tuple[pl.DataFrame, list[list[int]]]:
    """n records (70% originals, 10% exact copies, 20% near copies) and the planted clusters."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = np.array(["".join(rng.choice(letters, rng.integers(2, 9))) for _ in range(20000)])

    def text(zh: bool, lo: int, hi: int) -> list[str]:
        if zh:  # about two Chinese characters per English word
            return list(rng.choice(HAN, rng.integers(2 * lo, 2 * hi)))
        return list(rng.choice(vocab, rng.integers(lo, hi)))

    def join(tokens: list[str], zh: bool) -> str:
        """Words with spaces and a comma now and then; Chinese with full-width punctuation."""
        if zh:
            return "".join(t + ("，" if i % 13 == 12 else "") for i, t in enumerate(tokens)) + "。"
        return " ".join(t + ("," if i % 9 == 8 else "") for i, t in enumerate(tokens)) + "."

    originals = int(n * 0.7)
    convs = []
    for i in range(originals):
        zh = i % 2 == 1
        convs.append((zh, text(zh, 8, 30), text(zh, 40, 160)))
    rows, cluster_of = [], []
    for i, (zh, q, a) in enumerate(convs):
        rows.append((join(q, zh), join(a, zh)))
        cluster_of.append(i)
    pool = {True: HAN, False: vocab}
    for k in range(n - originals):
        src = int(rng.integers(originals))
        zh, q, a = convs[src]
        if k < (n - originals) // 3:  # exact copy, up to case and spacing
            qt, at = join(q, zh), join(a, zh)
            rows.append((qt.upper() if not zh else qt, at.replace(" ", "  ") if not zh else " ".join(at)))
        else:  # near copy: 1-6% of tokens replaced
            rate = rng.uniform(0.01, 0.06)
            edit = lambda toks: [str(rng.choice(pool[zh])) if rng.random() < rate else t for t in toks]  # noqa: E731
            rows.append((join(edit(q), zh), join(edit(a), zh)))
        cluster_of.append(src)
    order = rng.permutation(len(rows))
    table = from_dicts(
        {"id": f"r{j}", "messages": [message("user", rows[i][0]), message("assistant", rows[i][1])]}
        for j, i in enumerate(order)
    )
    clusters: dict[int, list[int]] = {}
    for j, i in enumerate(order):
        clusters.setdefault(cluster_of[i], []).append(j)
    return table, [c for c in clusters.values() if len(c) > 1]


def python_shingles(text: str, n_words: int, n_chars: int) -> list[bytes]:
    """What a datasketch user writes: lowercase words, or Han characters for Chinese."""
    zh = any("\u4e00" <= ch <= "\u9fff" for ch in text[:8])
    toks = [c for c in text if "\u4e00" <= c <= "\u9fff"] if zh else re.findall(r"[a-z0-9]+", text.lower())
    n = n_chars if zh else n_words
    grams = [toks] if len(toks) <= n else [toks[i : i + n] for i in range(len(toks) - n + 1)]
    return list({" ".join(g).encode() for g in grams if g})


def lsh_pairs(lsh: MinHashLSH, hashes: list[MinHash]) -> set[tuple[int, int]]:
    return {(min(i, j), max(i, j)) for i, m in enumerate(hashes) for j in lsh.query(m) if i != j}


def datasketch_loop(texts, args, params) -> tuple[float, set]:
    start = time.perf_counter()
    lsh = MinHashLSH(num_perm=args.num_perm, params=params)
    hashes = []
    for i, text in enumerate(texts):
        m = MinHash(num_perm=args.num_perm)
        for s in python_shingles(text, args.ngram_words, args.ngram_chars):
            m.update(s)
        lsh.insert(i, m)
        hashes.append(m)
    pairs = lsh_pairs(lsh, hashes)
    return time.perf_counter() - start, pairs


def datasketch_bulk(texts, args, params) -> tuple[float, set]:
    start = time.perf_counter()
    hashes = MinHash.bulk(
        [python_shingles(t, args.ngram_words, args.ngram_chars) for t in texts], num_perm=args.num_perm
    )
    lsh = MinHashLSH(num_perm=args.num_perm, params=params)
    with lsh.insertion_session() as session:
        for i, m in enumerate(hashes):
            session.insert(i, m)
    pairs = lsh_pairs(lsh, hashes)
    return time.perf_counter() - start, pairs


def ours(table, texts, args) -> tuple[float, set, object, tuple[int, int]]:
    op = make_op("dedup.near", {"threshold": args.threshold, "num_perm": args.num_perm,
                                "ngram_words": args.ngram_words, "ngram_chars": args.ngram_chars})
    start = time.perf_counter()
    result = op(table)
    seconds = time.perf_counter() - start
    # Candidate pairs from the same signatures, for scoring like datasketch's query output.
    sh = shingle_hashes(pl.Series(texts), ngram_words=args.ngram_words, ngram_chars=args.ngram_chars)
    keys = band_keys(signatures(sh, args.num_perm), op.bands, op.rows)
    return seconds, set(candidate_pairs(keys).iter_rows()), result, (op.bands, op.rows)


def score(found: set, truth: set) -> tuple[float, float]:
    hit = len(found & truth)
    return hit / max(len(truth), 1), hit / max(len(found), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--quick", action="store_true", help="3k records")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--ngram-words", type=int, default=3)
    ap.add_argument("--ngram-chars", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=None,
                    help="time each method this many times, report the fastest (default: 3 quick, 1 full)")
    args = ap.parse_args()
    n = 3000 if args.quick else args.n
    repeat = args.repeat or (3 if args.quick else 1)

    def best(method, *a):
        runs = [method(*a) for _ in range(repeat)]
        return (min(r[0] for r in runs), *runs[-1][1:])

    table, clusters = make_records(n, args.seed)
    texts = nfkc(table.select(key_text("conversation")).to_series()).str.to_lowercase().to_list()
    ours(table.head(200), texts[:200], args)  # warm-up: first-call costs of polars and numpy
    t_ours, p_ours, result, params = best(ours, table, texts, args)
    print(f"{n} records ({len(clusters)} planted clusters), num_perm={args.num_perm}, "
          f"threshold={args.threshold}, bands x rows = {params[0]} x {params[1]}, "
          f"shingles: {args.ngram_words} words / {args.ngram_chars} chars")
    t_bulk, p_bulk = best(datasketch_bulk, texts, args, params)
    t_loop, p_loop = best(datasketch_loop, texts, args, params)

    sets = [set(python_shingles(t, args.ngram_words, args.ngram_chars)) for t in texts]
    universe = {pair for c in clusters for pair in combinations(sorted(c), 2)} | p_ours | p_bulk | p_loop
    truth = {(i, j) for i, j in universe if len(sets[i] & sets[j]) / max(len(sets[i] | sets[j]), 1) >= args.threshold}

    print(f"{'method':<18}{'seconds':>9}{'docs/s':>10}{'pairs':>8}{'recall':>8}{'precision':>10}")
    for name, seconds, pairs in [("ours (dedup.near)", t_ours, p_ours), ("datasketch bulk", t_bulk, p_bulk),
                                 ("datasketch loop", t_loop, p_loop)]:
        recall, precision = score(pairs, truth)
        print(f"{name:<18}{seconds:>9.2f}{n / seconds:>10.0f}{len(pairs):>8}{recall:>8.3f}{precision:>10.3f}")
    print(f"true pairs (exact Jaccard >= {args.threshold}): {len(truth)}; "
          f"dedup.near rejected {result.rejected.height} of {n}")
    print(f"speed-up: {t_loop / t_ours:.1f}x the per-document loop, {t_bulk / t_ours:.1f}x the bulk path "
          f"(fastest of {repeat} run(s) each)")


if __name__ == "__main__":
    main()
