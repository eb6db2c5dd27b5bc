"""Near-dedup benchmark: dedup.near against datasketch, side by side, in one run.

    python bench/dedup.py                 # 50k records of each corpus (the per-document loop is slow)
    python bench/dedup.py --skip-loop     # the same without datasketch's per-document loop
    python bench/dedup.py --quick         # 3k records of each corpus

Two corpora (``--corpus synthetic|realistic|both``):

* synthetic (the project's own): short chat records, half English (word shingles), half
  Chinese (character shingles), planted exact copies (re-cased, re-spaced) and near copies
  (1-6% of tokens replaced);
* realistic (``bench/corpus.py``): long multi-turn ShareGPT records, 45% Chinese, copies
  made by realistic edits at a range of strengths (true Jaccard 0.3-1.0); it also prints
  which threshold catches which edit (docs/ops/dedup.md).

Three methods find near-duplicate pairs with the same shingles and num_perm:

* ``ours``: the ``dedup.near`` op end to end on the record table (key text, NFKC,
  tokenizing, shingling, signatures, banding for recall, exact-Jaccard verification,
  clustering, rejected table); its pairs for scoring are the candidates of its bands whose
  exact Jaccard reaches the threshold (what it links);
* ``datasketch loop``: datasketch's documented usage, one ``MinHash`` per document
  updated shingle by shingle, ``MinHashLSH.insert`` each, then ``query`` each;
* ``datasketch bulk``: ``MinHash.bulk`` over all documents, inserted through
  ``insertion_session``, then ``query`` each.

The datasketch methods use datasketch's own optimal bands x rows for the threshold and no
verification (how it is documented). They start from the key texts (their shingling, in
Python, is timed too); ours starts from the records, so it does strictly more work.
Precision and recall are against the exact Jaccard of the op's own shingle sets, over every
planted pair, every pair any method reported and the candidates of a very loose banding.
"""

from __future__ import annotations

import argparse
import re
import time
from itertools import combinations

import numpy as np
import polars as pl
from datasketch import MinHash, MinHashLSH

from dataforge.dedup.jaccard import ShingleRuns, jaccard
from dataforge.dedup.keys import key_text
from dataforge.dedup.lsh import band_keys, candidate_pairs, lsh_params
from dataforge.dedup.minhash import input_hashes, signatures
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
    """dedup.near end to end (timed), then the pairs it links directly, for scoring: LSH
    candidates of its own bands whose exact Jaccard reaches the threshold."""
    op = make_op("dedup.near", {"threshold": args.threshold, "num_perm": args.num_perm,
                                "ngram_words": args.ngram_words, "ngram_chars": args.ngram_chars})
    start = time.perf_counter()
    result = op(table)
    seconds = time.perf_counter() - start
    sh = shingle_hashes(pl.Series(texts), ngram_words=args.ngram_words, ngram_chars=args.ngram_chars)
    cand = candidate_pairs(band_keys(signatures(sh, args.num_perm), op.bands, op.rows))
    i, j = cand["i"].to_numpy(), cand["j"].to_numpy()
    ok = jaccard(ShingleRuns.of(sh), i, j) >= args.threshold
    return seconds, set(zip(i[ok].tolist(), j[ok].tolist())), result, (op.bands, op.rows)


def score(found: set, truth: set) -> tuple[float, float]:
    hit = len(found & truth)
    return hit / max(len(truth), 1), hit / max(len(found), 1)


def op_shingle_sets(texts: list[str], args) -> list[set[int]]:
    """The op's own shingles (the 32-bit values its MinHash sees) per text, as Python sets."""
    sh = shingle_hashes(pl.Series(texts), ngram_words=args.ngram_words, ngram_chars=args.ngram_chars)
    sets: list[set[int]] = [set() for _ in texts]
    for d, h in zip(sh.doc.tolist(), input_hashes(sh).tolist()):
        sets[d].add(h)
    return sets


def true_pairs(texts, sets, clusters, found: list[set], args) -> set:
    """Pairs whose exact Jaccard on the op's shingles reaches the threshold, among: the
    planted pairs, every pair any method reported, and the candidates of a very loose
    banding (42 x 3: a pair at Jaccard 0.6 is a candidate with probability 0.9999)."""
    sh = shingle_hashes(pl.Series(texts), ngram_words=args.ngram_words, ngram_chars=args.ngram_chars)
    loose = set(candidate_pairs(band_keys(signatures(sh, args.num_perm), args.num_perm // 3, 3)).iter_rows())
    universe = {p for c in clusters for p in combinations(sorted(c), 2)} | loose | set().union(*found)

    def jac(i: int, j: int) -> float:
        return len(sets[i] & sets[j]) / max(len(sets[i] | sets[j]), 1)

    return {(i, j) for i, j in universe if jac(i, j) >= args.threshold}


def realistic_records(n: int, seed: int):
    """The realistic corpus (bench/corpus.py) as canonical records, and its planted clusters."""
    from corpus import realistic

    corpus = realistic(n, seed)
    role = {"human": "user", "gpt": "assistant", "system": "system"}
    table = from_dicts(
        {"id": r["id"], "messages": [message(role[t["from"]], t["value"]) for t in r["conversations"]]}
        for r in corpus.records
    )
    return table, corpus


def edit_table(texts, sets, corpus, thresholds=(0.6, 0.7, 0.8, 0.9)) -> None:
    """What each threshold catches: per planted edit (kind, strength), the exact Jaccard of
    copy and original, and the share of copies at or above each threshold."""
    source = {}
    for cluster in corpus.clusters:
        for member in cluster:
            if member in corpus.edits:
                source[member] = next(m for m in cluster if m not in corpus.edits)
    rows = []
    for copy, (kind, rate) in corpus.edits.items():
        orig = source.get(copy)
        if orig is None:
            continue
        a, b = sets[copy], sets[orig]
        rows.append({"edit": kind, "strength": rate, "jaccard": len(a & b) / max(len(a | b), 1)})
    frame = pl.DataFrame(rows).with_columns(
        pl.when(pl.col("edit").is_in(["exact", "reformat"])).then(pl.lit("-"))
        .otherwise(pl.col("strength").cut([0.05, 0.1, 0.2, 0.3], labels=["<5%", "5-10%", "10-20%", "20-30%", ">=30%"]).cast(pl.String))
        .alias("strength")
    )
    summary = frame.group_by("edit", "strength").agg(
        pl.len().alias("copies"), pl.col("jaccard").median().round(3).alias("median J"),
        *[(pl.col("jaccard") >= t).mean().round(2).alias(f">={t}") for t in thresholds],
    ).sort("edit", "strength")
    with pl.Config(tbl_rows=60, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print("edit kinds (strength = share of tokens/sentences/text edited) vs exact Jaccard with the original:")
        print(summary)


def run(name: str, table, clusters, n: int, repeat: int, args, corpus=None) -> None:
    def best(method, *a):
        runs = [method(*a) for _ in range(repeat)]
        return (min(r[0] for r in runs), *runs[-1][1:])

    texts = nfkc(table.select(key_text("conversation")).to_series()).str.to_lowercase().to_list()
    ours(table.head(200), texts[:200], args)  # warm-up: first-call costs of polars and numpy
    t_ours, p_ours, result, params = best(ours, table, texts, args)
    ds_params = lsh_params(args.threshold, args.num_perm)
    print(f"\n== {name}: {n} records ({len(clusters)} planted clusters), num_perm={args.num_perm}, "
          f"threshold={args.threshold}; ours: {params[0]} bands x {params[1]} rows + exact Jaccard; "
          f"datasketch: {ds_params[0]} x {ds_params[1]} (its optimizer), no verification")
    t_bulk, p_bulk = best(datasketch_bulk, texts, args, ds_params)
    t_loop, p_loop = (None, set()) if args.skip_loop else best(datasketch_loop, texts, args, ds_params)

    sets = op_shingle_sets(texts, args)
    truth = true_pairs(texts, sets, clusters, [p_ours, p_bulk, p_loop], args)
    survivor = {i: i for i in range(n)}
    index = {rid: i for i, rid in enumerate(table["id"])}
    for rid, dup in result.rejected.select("id", "duplicate_of").iter_rows():
        survivor[index[rid]] = index[dup]
    cluster_recall = np.mean([survivor[i] == survivor[j] for i, j in truth]) if truth else 1.0

    print(f"{'method':<18}{'seconds':>9}{'docs/s':>10}{'pairs':>8}{'recall':>8}{'precision':>10}")
    methods = [("ours (dedup.near)", t_ours, p_ours), ("datasketch bulk", t_bulk, p_bulk)]
    if t_loop is not None:
        methods.append(("datasketch loop", t_loop, p_loop))
    for label, seconds, pairs in methods:
        recall, precision = score(pairs, truth)
        print(f"{label:<18}{seconds:>9.2f}{n / seconds:>10.0f}{len(pairs):>8}{recall:>8.3f}{precision:>10.3f}")
    print(f"true pairs (exact Jaccard on the op's shingles >= {args.threshold}): {len(truth)}; "
          f"in one dedup.near cluster: {cluster_recall:.3f}; dedup.near rejected {result.rejected.height} of {n}")
    ratio = f"{t_bulk / t_ours:.1f}x the bulk path"
    if t_loop is not None:
        ratio = f"{t_loop / t_ours:.1f}x the per-document loop, " + ratio
    print(f"speed-up: {ratio} (fastest of {repeat} run(s) each)")
    if corpus is not None:
        edit_table(texts, sets, corpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--quick", action="store_true", help="3k records")
    ap.add_argument("--corpus", choices=["synthetic", "realistic", "both"], default="both")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--ngram-words", type=int, default=3)
    ap.add_argument("--ngram-chars", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-loop", action="store_true", help="skip datasketch's per-document loop (slow)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="time each method this many times, report the fastest (default: 3 quick, 1 full)")
    args = ap.parse_args()
    n = 3000 if args.quick else args.n
    repeat = args.repeat or (3 if args.quick else 1)
    if args.corpus in ("synthetic", "both"):
        table, clusters = make_records(n, args.seed)
        run("synthetic (the project's own)", table, clusters, n, repeat, args)
    if args.corpus in ("realistic", "both"):
        table, corpus = realistic_records(n, args.seed)
        run("realistic (bench/corpus.py)", table, corpus.clusters, n, repeat, args, corpus)


if __name__ == "__main__":
    main()
