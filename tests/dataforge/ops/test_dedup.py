"""dedup.exact and dedup.near, checked against datasketch and against exact Jaccard.

The reference is the real datasketch 2.0: our MinHash signatures must equal its
``MinHash`` value for value, our LSH candidates must equal what its ``MinHashLSH`` returns,
and recall/precision on planted near-duplicates (English and Chinese) are measured
against exact Jaccard computed independently with Python sets.
"""

from __future__ import annotations

import json
import random

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from dataforge.errors import ConfigError
from scipy.sparse import csr_matrix

from dataforge.dedup.keys import key_text
from dataforge.dedup import jaccard as jaccard_module
from dataforge.dedup.jaccard import ShingleRuns, jaccard
from dataforge.dedup.lsh import (
    BandIndex, NearDupIndex, band_keys, candidate_pairs, estimated_jaccard, lsh_params, recall_params,
)
from dataforge.dedup.minhash import input_hashes, signatures
from dataforge.ops import make_op
from dataforge.schemas import from_dicts, message
from dataforge.text import UNSEGMENTED, cjk_share, nfkc, normalize_for_matching, shingle_hashes, tokens

HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 1500)]
WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "su", "ta", "ri", "vo") for b in range(120)]


def _en(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n)]


def _zh(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(HAN) for _ in range(n)]


def _mutate(tokens: list[str], rate: float, rng: random.Random, pool: list[str]) -> list[str]:
    return [rng.choice(pool) if rng.random() < rate else t for t in tokens]


def _join(tokens: list[str], zh: bool) -> str:
    return "".join(tokens) if zh else " ".join(tokens)


def planted_corpus(seed: int = 7, bases: int = 120) -> tuple[list[str], list[int]]:
    """Texts and their planted cluster ids: each base text plus 0-3 edited copies,
    half English (word shingles), half Chinese (character shingles)."""
    rng = random.Random(seed)
    texts, cluster = [], []
    for b in range(bases):
        zh = b % 2 == 1
        base = _zh(rng, rng.randint(60, 160)) if zh else _en(rng, rng.randint(40, 120))
        pool = HAN if zh else WORDS
        texts.append(_join(base, zh))
        cluster.append(b)
        for _ in range(rng.randint(0, 3)):
            texts.append(_join(_mutate(base, rng.uniform(0.0, 0.06), rng, pool), zh))
            cluster.append(b)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [cluster[i] for i in order]


def python_shingles(text: str, n_words: int = 3, n_chars: int = 5) -> set[tuple[str, ...]]:
    """Independent oracle for the test corpora: space-split words, or characters for Chinese."""
    zh = bool(text) and "\u4e00" <= text[0] <= "\u9fff"
    toks = list(text) if zh else text.split()
    n = n_chars if zh else n_words
    if len(toks) <= n:
        return {tuple(toks)} if toks else set()
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def exact_jaccard_pairs(texts: list[str], threshold: float) -> set[tuple[int, int]]:
    """All pairs (i < j) whose exact shingle-set Jaccard is >= threshold (sparse X @ X.T)."""
    sets = [python_shingles(t) for t in texts]
    vocab: dict[tuple[str, ...], int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for g in s:
            rows.append(i)
            cols.append(vocab.setdefault(g, len(vocab)))
    x = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), len(vocab)))
    inter = (x @ x.T).tocoo()
    size = np.array([len(s) for s in sets])
    union = size[inter.row] + size[inter.col] - inter.data
    keep = (inter.row < inter.col) & (inter.data / union >= threshold)
    return set(zip(inter.row[keep].tolist(), inter.col[keep].tolist()))


def _shingles(texts: list[str]):
    return shingle_hashes(pl.Series(texts), ngram_words=3, ngram_chars=5)


# -- the MinHash / LSH core against datasketch ----------------------------------------------------


_MATCH_ALPHABET = list("ab Z用中かナー \n\t\u3000\u00a0\u2028\u0085\u1680ＡＢ，。!?-ﬁ①")


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(alphabet=_MATCH_ALPHABET, max_size=30), max_size=40), strip=st.booleans())
def test_normalize_for_matching_equals_the_plain_rules(texts: list[str], strip: bool) -> None:
    """The matching key text (dedup.exact, decontamination) equals the rules applied one
    by one, as first written: NFKC on every row, \\s+ collapsed, then spaces after and
    before Han/kana removed in two passes; for a Series (which skips NFKC where it is a
    no-op) and for an expression alike."""
    s = pl.Series("t", texts, dtype=pl.String)
    out = s.str.normalize("NFKC").str.to_lowercase()
    if strip:
        out = out.str.replace_all(r"[\p{P}\p{S}]+", " ")
    out = out.str.replace_all(r"\s+", " ").str.strip_chars()
    want = out.str.replace_all(rf"([{UNSEGMENTED}]) ", "$1").str.replace_all(rf" ([{UNSEGMENTED}])", "$1")
    assert normalize_for_matching(s, strip_punctuation=strip).to_list() == want.to_list()
    expr = pl.DataFrame({"t": s}).select(normalize_for_matching(pl.col("t"), strip_punctuation=strip))["t"]
    assert expr.to_list() == want.to_list()


def test_shingles_equal_python_ngrams_en_zh_and_short():
    rng = random.Random(1)
    texts = [_join(_en(rng, 30), False), _join(_zh(rng, 40), True), "ka1 lo2", "一二", ""]
    sh = _shingles(texts)
    for d, text in enumerate(texts):
        assert len(np.unique(sh.hashes[sh.doc == d])) == len(python_shingles(text))
    assert sh.char_mode.tolist() == [False, True, False, True, False]
    assert sh.counts()[4] == 0


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42)])
def test_signatures_bit_identical_to_datasketch(num_perm, seed):
    texts, _ = planted_corpus(seed=3, bases=20)
    texts += ["", "我喜欢用Python写代码"]
    sh = _shingles(texts)
    sig = signatures(sh, num_perm=num_perm, seed=seed)
    hv = input_hashes(sh)
    for d in range(len(texts)):
        ref = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda v: v)
        ref.update_batch(hv[sh.doc == d].tolist())
        assert np.array_equal(sig[d], ref.hashvalues), d
    a, b = (MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda v: v) for _ in range(2))
    a.update_batch(hv[sh.doc == 0].tolist())
    b.update_batch(hv[sh.doc == 1].tolist())
    assert estimated_jaccard(sig, np.array([0]), sig, np.array([1]))[0] == a.jaccard(b)


def test_lsh_params_are_datasketchs():
    for threshold, weights in [(0.8, (0.5, 0.5)), (0.5, (0.3, 0.7)), (0.9, (0.5, 0.5))]:
        ref = MinHashLSH(threshold=threshold, num_perm=128, weights=weights)
        assert lsh_params(threshold, 128, weights) == (ref.b, ref.r)


def test_candidate_pairs_equal_datasketch_lsh_queries():
    texts, _ = planted_corpus(seed=5, bases=60)
    sig = signatures(_shingles(texts))
    bands, rows = lsh_params(0.8, 128)
    ours = set(candidate_pairs(band_keys(sig, bands, rows)).iter_rows())
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    hashes = [MinHash(hashvalues=s, scheme="affine32") for s in sig]
    for i, m in enumerate(hashes):
        lsh.insert(i, m)
    theirs = {(min(i, j), max(i, j)) for i, m in enumerate(hashes) for j in lsh.query(m) if i != j}
    assert ours == theirs
    assert len(ours) > 50


def test_planted_recall_and_precision_against_exact_jaccard():
    texts, _ = planted_corpus(seed=11, bases=150)
    truth = exact_jaccard_pairs(texts, 0.8)
    clear = exact_jaccard_pairs(texts, 0.9)
    sig = signatures(_shingles(texts))
    found = set(candidate_pairs(band_keys(sig, *lsh_params(0.8, 128))).iter_rows())
    assert len(truth) > 100 and len(clear) > 50
    # S-curve of datasketch's 9 bands x 13 rows: P(candidate) is 0.40 at J=0.8, 0.93 at
    # J=0.9, 0.998 at J=0.95; planted copies spread over J in [0.7, 1].
    recall = len(found & truth) / len(truth)
    precision = len(found & truth) / len(found)
    assert recall >= 0.8 and precision >= 0.8, (recall, precision)
    assert len(found & clear) / len(clear) >= 0.93


def test_minhash_estimates_jaccard_like_datasketch_default():
    """Against datasketch's own SHA-1 hashing of the same shingles: same bias, same spread."""
    ours, theirs = [], []
    for seed in (1, 2):
        texts, _ = planted_corpus(seed=seed, bases=150)
        sets = [python_shingles(t) for t in texts]
        sig = signatures(_shingles(texts))
        refs = MinHash.bulk([[" ".join(g).encode() for g in s] for s in sets], num_perm=128)
        for i, j in exact_jaccard_pairs(texts, 0.5):
            exact = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
            ours.append(np.mean(sig[i] == sig[j]) - exact)
            theirs.append(refs[i].jaccard(refs[j]) - exact)
    assert len(ours) > 500
    assert abs(np.mean(ours)) < 0.01 and abs(np.mean(theirs)) < 0.01
    assert 0.85 < np.std(ours) / np.std(theirs) < 1.15


def test_recall_params_catch_pairs_at_the_threshold():
    assert recall_params(0.8, 128) == (21, 6)
    for threshold in (0.5, 0.7, 0.8, 0.9):
        bands, rows = recall_params(threshold, 128)
        assert bands * rows <= 128
        assert 1 - (1 - threshold**rows) ** bands >= 0.99
        # one more row per band would miss more than 1% of the pairs at the threshold
        assert 1 - (1 - threshold ** (rows + 1)) ** (128 // (rows + 1)) < 0.99


def _op_shingle_sets(texts: list[str]) -> list[set[int]]:
    """Shingles (the 32-bit values MinHash sees) of ``texts`` as Python sets."""
    sh = _shingles(texts)
    hv = input_hashes(sh).tolist()
    sets: list[set[int]] = [set() for _ in texts]
    for d, h in zip(sh.doc.tolist(), hv):
        sets[d].add(h)
    return sets


def test_exact_jaccard_equals_python_sets(monkeypatch):
    texts, _ = planted_corpus(seed=29, bases=40)
    texts += ["", "一二"]
    sets = _op_shingle_sets(texts)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(texts), 4000), rng.integers(0, len(texts), 4000)
    a[:3], b[:3] = len(texts) - 2, len(texts) - 2  # two empty sets: 0, not NaN
    monkeypatch.setattr(jaccard_module, "_BLOCK", 997)  # many blocks
    ours = jaccard(ShingleRuns.of(_shingles(texts)), a, b)
    ref = [len(sets[i] & sets[j]) / len(sets[i] | sets[j]) if sets[i] | sets[j] else 0.0 for i, j in zip(a, b)]
    assert np.array_equal(ours, np.array(ref))
    assert (np.array(ref) > 0.5).sum() > 20


def graded_corpus(seed: int, bases: int) -> list[str]:
    """Base texts plus copies with 0-9% of tokens replaced: true Jaccard of 3-word and
    5-character shingles spreads over about 0.55-1.0, densest around the 0.8 threshold."""
    rng = random.Random(seed)
    texts = []
    for b in range(bases):
        zh = b % 2 == 1
        base = _zh(rng, rng.randint(80, 200)) if zh else _en(rng, rng.randint(60, 150))
        texts.append(_join(base, zh))
        for _ in range(rng.randint(1, 4)):
            texts.append(_join(_mutate(base, rng.uniform(0.0, 0.09), rng, HAN if zh else WORDS), zh))
    rng.shuffle(texts)
    return texts


@pytest.mark.parametrize("shard_rows", [None, 150])
def test_near_dedup_recall_and_precision_at_the_threshold(shard_rows):
    """Of the pairs whose exact Jaccard (on the op's own shingles) reaches the threshold,
    >= 95% end up in one cluster; every link the op reports reaches the threshold."""
    texts = graded_corpus(seed=31, bases=150)
    op = make_op("dedup.near")
    table = _records(texts)
    # the op's own shingles: of its key text (both turns), NFKC, lowercase
    sets = _op_shingle_sets(nfkc(table.select(key_text("conversation")).to_series()).str.to_lowercase().to_list())
    shards = [table] if shard_rows is None else [table.slice(i, shard_rows) for i in range(0, table.height, shard_rows)]
    results = [op(s) for s in shards]
    rejected = pl.concat([r.rejected for r in results])
    survivor = {rid: rid for rid in table["id"]}
    survivor.update(dict(rejected.select("id", "duplicate_of").iter_rows()))

    def jac(i: int, j: int) -> float:
        return len(sets[i] & sets[j]) / len(sets[i] | sets[j])

    truth = [(i, j) for i, j in exact_jaccard_pairs(texts, 0.5) if jac(i, j) >= 0.8]
    near_threshold = [(i, j) for i, j in truth if jac(i, j) < 0.85]
    assert len(truth) > 200 and len(near_threshold) > 30
    found = [survivor[f"r{i}"] == survivor[f"r{j}"] for i, j in truth]
    assert np.mean(found) >= 0.95
    assert np.mean([survivor[f"r{i}"] == survivor[f"r{j}"] for i, j in near_threshold]) >= 0.9
    # precision of the links: each rejected record's named partner, checked independently
    for rid, detail in rejected.select("id", "detail").iter_rows():
        partner = detail.split(" with ")[1].split(" ")[0]
        assert jac(int(rid[1:]), int(partner[1:])) >= 0.8, detail
    if shard_rows:
        assert sum(r.stats["duplicates_of_earlier_shards"] for r in results) > 20


def test_near_dedup_keeps_earlier_shingles_on_disk_only():
    texts = graded_corpus(seed=37, bases=40)
    table = _records(texts)
    op = make_op("dedup.near")
    op(table.head(60))
    store = op._index._store
    assert store._folder is None  # one shard: nothing written
    op(table.slice(60, 60))
    folder = store._folder
    assert folder is not None and (folder / "shingles.u32").stat().st_size > 0
    third = op(table.slice(120))
    assert third.stats["duplicates_of_earlier_shards"] > 0
    del op, store
    import gc

    gc.collect()
    assert not folder.exists()


# -- dedup.near --------------------------------------------------------------------------------


def _records(texts: list[str], prefix: str = "r", **extra) -> pl.DataFrame:
    return from_dicts(
        {"id": f"{prefix}{i}", "messages": [message("user", t), message("assistant", "ok")], **extra}
        for i, t in enumerate(texts)
    )


def test_near_dedup_rejects_planted_copies_en_and_zh():
    texts, cluster = planted_corpus(seed=13, bases=80)
    result = make_op("dedup.near")(_records(texts))
    cluster_of = {f"r{i}": c for i, c in enumerate(cluster)}
    rej = result.rejected
    assert rej.height > 40
    assert (rej["reason"] == "near_duplicate").all()
    # every rejected record points at a kept record of its own planted cluster
    kept_ids = set(result.kept["id"])
    for rid, dup in rej.select("id", "duplicate_of").iter_rows():
        assert dup in kept_ids and cluster_of[rid] == cluster_of[dup]
    # no two kept records from one cluster are near-identical (>= 0.95 exact Jaccard)
    kept_texts = [texts[int(i[1:])] for i in result.kept["id"]]
    assert not exact_jaccard_pairs(kept_texts, 0.95)
    zh_rejected = [texts[int(i[1:])] for i in rej["id"] if "\u4e00" <= texts[int(i[1:])][0] <= "\u9fff"]
    assert 0 < len(zh_rejected) < rej.height  # both languages were deduplicated
    assert rej["detail"].str.contains(r"^Jaccard (0\.\d+|1\.0) with r\d+$").all()


def test_near_dedup_across_shards_equals_one_pass():
    texts, _ = planted_corpus(seed=17, bases=60)
    table = _records(texts)
    whole = make_op("dedup.near")(table)
    op = make_op("dedup.near")
    first, second = op(table.head(90)), op(table.slice(90))
    sharded_rejected = set(first.rejected["id"]) | set(second.rejected["id"])
    assert sharded_rejected <= set(whole.rejected["id"])
    # The only difference: a first-shard record that one pass rejects because a later
    # record bridges it to another cluster (earlier output is never revised).
    early = set(table.head(90)["id"])
    for rid, detail in whole.rejected.select("id", "detail").iter_rows():
        if rid not in sharded_rejected:
            partner = detail.rsplit(" with ", 1)[1]
            assert rid in early and partner not in early, (rid, detail)
    assert second.stats["duplicates_of_earlier_shards"] > 0
    assert second.rejected["detail"].str.contains("earlier shard").any()
    cross = second.rejected.filter(pl.col("detail").str.contains("earlier shard"))
    assert set(cross["duplicate_of"]) <= early


def _hand_made(sig_rows: list[list[int]], sets: list[range]) -> tuple[np.ndarray, ShingleRuns]:
    """Signatures and shingle sets written by hand: 4 permutations, bands of 2 values."""
    values = [np.fromiter(s, np.uint32) for s in sets]
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int64)
    return np.array(sig_rows, np.uint32), ShingleRuns(np.concatenate(values), offsets)


def _kept_one_pass_and_streamed(sig: np.ndarray, runs: ShingleRuns, cut: int) -> tuple[list[bool], list[bool]]:
    n = len(sig)
    ids = pl.Series([f"r{i}" for i in range(n)])
    one = NearDupIndex(4, 2, 2, verify_threshold=0.8).assign(sig, ids, np.ones(n, bool), np.arange(n), runs)
    index = NearDupIndex(4, 2, 2, verify_threshold=0.8)
    parts = [(0, cut), (cut, n)]
    kept = [index.assign(sig[lo:hi], ids[lo:hi], np.ones(hi - lo, bool), np.arange(hi - lo),
                         runs.take(np.arange(lo, hi))).kept for lo, hi in parts]
    return one.kept.tolist(), np.concatenate(kept).tolist()


def test_near_dedup_streamed_candidates_are_the_one_pass_window():
    """A later shard's record meets the same earlier bucket members as in one pass: the
    newest WINDOW of them, not only the first record that had the key."""
    # A and B share band 0 but not enough shingles (Jaccard 0.6): both kept. C, in the
    # next shard, shares band 0 with both and is a near copy of B only (0.9; 0.55 with A).
    sig, runs = _hand_made([[1, 1, 5, 5], [1, 1, 6, 6], [1, 1, 7, 7]],
                           [range(0, 100), range(25, 125), range(30, 130)])
    assert _kept_one_pass_and_streamed(sig, runs, cut=2) == ([True, True, False],) * 2
    # A bucket of WINDOW + 2 dissimilar records, then a near copy of the first one: one pass
    # pairs the copy with the last WINDOW members only, so it is kept; streaming agrees.
    members = NearDupIndex.WINDOW + 2
    sig, runs = _hand_made([[1, 1, 10 + i, 10 + i] for i in range(members)] + [[1, 1, 99, 99]],
                           [range(1000 * i, 1000 * i + 100) for i in range(members)] + [range(5, 100)])
    one, streamed = _kept_one_pass_and_streamed(sig, runs, cut=members)
    assert one == streamed == [True] * (members + 1)
    # With WINDOW members before it, the first is in the copy's window: rejected either way.
    rows = np.array([0, *range(members - NearDupIndex.WINDOW + 1, members + 1)])
    one, streamed = _kept_one_pass_and_streamed(sig[rows], runs.take(rows), cut=NearDupIndex.WINDOW)
    assert one == streamed and not one[-1]


def test_band_index_keeps_the_newest_entries_of_each_key():
    index = BandIndex(depth=3)
    index.add(np.array([7, 7, 9], np.uint64), np.array([0, 1, 1]))
    index.add(np.array([7, 7, 8], np.uint64), np.array([2, 3, 3]))
    assert index.keys.tolist() == [7, 7, 7, 8, 9] and index.owners.tolist() == [1, 2, 3, 3, 1]
    which, owners = index.lookup(np.array([9, 7, 5], np.uint64))
    assert which.tolist() == [0, 1, 1, 1] and owners.tolist() == [1, 1, 2, 3]
    which, owners = index.lookup(np.array([7, 7, 9], np.uint64), last=np.array([2, 0, -1]))
    assert which.tolist() == [0, 0] and owners.tolist() == [2, 3]


def test_near_dedup_survivor_policies():
    base = "ka1 lo2 mi3 ne4 su5 ta6 ri7 vo8 ka9 lo10 mi11 ne12 su13 ta14 ri15 vo16"
    recs = [
        {"id": "short", "messages": [message("user", base), message("assistant", "a")], "meta": {"score": 0.2}},
        {"id": "long", "messages": [message("user", base), message("assistant", "a much longer answer")],
         "meta": {"score": 0.1}},
        {"id": "best", "messages": [message("user", base), message("assistant", "b")], "meta": {"score": 0.9}},
        {"id": "other", "messages": [message("user", "completely different words here"), message("assistant", "c")]},
    ]
    table = from_dicts(recs)
    for keep, survivor in [("first", "short"), ("longest", "long"), ("highest_score", "best")]:
        op = make_op("dedup.near", {"key": "prompt", "keep": keep})
        assert op.needs_full_table is (keep != "first")
        result = op(table)
        assert set(result.kept["id"]) == {survivor, "other"}, keep
        assert set(result.rejected["duplicate_of"]) == {survivor}


def test_near_dedup_prompt_key_and_preference_records_stay_whole():
    q = "请 解释 一下 量子 计算 的 基本 原理 和 应用 场景"
    recs = [
        {"id": "p1", "messages": [message("user", q)], "chosen": [message("assistant", "答案一")],
         "rejected": [message("assistant", "坏答案")]},
        {"id": "p2", "messages": [message("user", q + "。")], "chosen": [message("assistant", "完全不同的答案")],
         "rejected": [message("assistant", "另一个坏答案")]},
    ]
    result = make_op("dedup.near", {"key": "conversation"})(from_dicts(recs))
    assert result.kept["id"].to_list() == ["p1"]
    row = result.rejected.row(0, named=True)
    assert row["duplicate_of"] == "p1"
    assert row["chosen"][0]["content"] == "完全不同的答案" and row["rejected"][0]["content"] == "另一个坏答案"
    # with the whole record as key, different answers keep both
    assert make_op("dedup.near", {"key": "record"})(from_dicts(recs)).rejected.height == 0


def test_near_dedup_verify_drops_dissimilar_candidates():
    # Loose banding (32 bands x 4 rows) makes pairs at Jaccard ~0.5 collide often; with a
    # 0.9 threshold, verify must unlink them while true copies stay linked.
    rng = random.Random(23)
    texts = []
    for _ in range(12):
        base = _en(rng, 60)
        texts += [_join(base, False), _join(base[:40] + _en(rng, 20), False)]  # J ~ 0.5
    texts.append(texts[0])  # one exact copy
    params = {"threshold": 0.9, "bands": 32, "rows": 4}
    plain = make_op("dedup.near", {**params, "verify": False})(_records(texts))
    checked = make_op("dedup.near", {**params, "verify": True})(_records(texts))
    assert plain.rejected.height > 1
    assert checked.rejected["id"].to_list() == [f"r{len(texts) - 1}"]
    assert checked.stats["verified_edges"] < checked.stats["candidate_edges"]
    assert set(checked.rejected["id"]) <= set(plain.rejected["id"])


def test_near_dedup_edge_cases():
    op = make_op("dedup.near")
    empty = op(_records([]))
    assert empty.kept.height == 0 and empty.rejected.height == 0
    tool_only = {"role": "assistant", "content": None,
                 "tool_calls": [{"id": "x", "name": "f", "arguments": '{"a": 1}'}]}
    recs = [
        {"id": "blank1", "messages": [message("user", "   "), message("assistant", None)]},
        {"id": "blank2", "messages": [message("user", ""), message("assistant", "")]},
        {"id": "tool1", "messages": [message("user", "run f"), tool_only]},
        {"id": "tool2", "messages": [message("user", "run f"), {**tool_only, "tool_calls": [
            {"id": "y", "name": "f", "arguments": '{"a": 2}'}]}]},
    ]
    result = make_op("dedup.near", {"ngram_words": 1})(from_dicts(recs))
    assert result.stats["skipped_no_text"] == 2  # nothing is not a duplicate of nothing
    assert {"blank1", "blank2"} <= set(result.kept["id"])
    assert result.kept.height + result.rejected.height == 4


@pytest.mark.parametrize(
    "params",
    [{"bands": 4}, {"bands": 20, "rows": 10}, {"threshold": 1.5}, {"weights": (0.6, 0.6)},
     {"key": "answer"}, {"keep": "random"}, {"nope": 1}],
)
def test_near_dedup_bad_config(params):
    with pytest.raises(ConfigError):
        make_op("dedup.near", params)


def test_near_dedup_explicit_bands_rows():
    op = make_op("dedup.near", {"bands": 16, "rows": 8})
    assert (op.bands, op.rows) == (16, 8)
    assert op(_records(["a b c d", "a b c d"])).rejected.height == 1


# -- dedup.exact -------------------------------------------------------------------------------


def test_exact_dedup_normalizes_case_width_and_spacing():
    recs = [
        {"id": "a", "messages": [message("user", "What is  AI?"), message("assistant", "A field.")]},
        {"id": "b", "messages": [message("user", "what is ai?"), message("assistant", "a field.")]},
        {"id": "c", "messages": [message("user", "ＷＨＡＴ　is ai?"), message("assistant", "A  field.")]},
        {"id": "d", "messages": [message("user", "什么是人工智能？"), message("assistant", "一个领域。")]},
        {"id": "e", "messages": [message("user", "什么是人工智能?"), message("assistant", "一个  领域。")]},
        {"id": "f", "messages": [message("user", "What is AI"), message("assistant", "A field")]},
    ]
    result = make_op("dedup.exact")(from_dicts(recs))
    assert result.kept["id"].to_list() == ["a", "d", "f"]
    assert dict(result.rejected.select("id", "duplicate_of").iter_rows()) == {"b": "a", "c": "a", "e": "d"}
    assert (result.rejected["reason"] == "exact_duplicate").all()
    stripped = make_op("dedup.exact", {"strip_punctuation": True})(from_dicts(recs))
    assert stripped.kept["id"].to_list() == ["a", "d"]


def test_exact_dedup_prompt_key_collapses_different_answers():
    recs = [
        {"id": "a", "messages": [message("system", "S1"), message("user", "Q"), message("assistant", "A1")]},
        {"id": "b", "messages": [message("system", "S2"), message("user", "Q"), message("assistant", "A2")]},
    ]
    assert make_op("dedup.exact", {"key": "prompt"})(from_dicts(recs)).rejected["id"].to_list() == ["b"]
    assert make_op("dedup.exact", {"key": "conversation"})(from_dicts(recs)).rejected.height == 0
    assert make_op("dedup.exact", {"key": "prompt", "include_system": True})(from_dicts(recs)).rejected.height == 0


def test_exact_dedup_across_shards_and_tool_arguments():
    call = lambda args: {"role": "assistant", "content": None,  # noqa: E731
                         "tool_calls": [{"id": "id-" + args, "name": "f", "arguments": args}]}
    recs = [
        {"id": "x1", "messages": [message("user", "go"), call('{"a": 1}')]},
        {"id": "x2", "messages": [message("user", "go"), call('{"a": 2}')]},
    ]
    op = make_op("dedup.exact")
    assert op(from_dicts(recs)).rejected.height == 0  # different arguments, not duplicates
    again = op(from_dicts([{**r, "id": r["id"] + "-copy"} for r in recs]))
    assert dict(again.rejected.select("id", "duplicate_of").iter_rows()) == {"x1-copy": "x1", "x2-copy": "x2"}
    assert again.stats["duplicates_of_earlier_shards"] == 2
    assert again.rejected["detail"].str.contains("earlier shard").all()


def test_exact_dedup_edge_cases():
    op = make_op("dedup.exact")
    assert op(from_dicts([])).kept.height == 0
    recs = [{"id": f"e{i}", "messages": [message("user", None), message("assistant", " ")]} for i in range(3)]
    result = op(from_dicts(recs))
    assert result.kept.height == 3 and result.stats["skipped_no_text"] == 3
    with pytest.raises(ConfigError):
        make_op("dedup.exact", {"key": "answers"})


# -- invariants --------------------------------------------------------------------------------

_texts = st.lists(
    st.sampled_from(["ka1 lo2 mi3", "ka1 lo2 mi3 ne4", "量子计算原理", "量子计算原理。", "", "  ", "x"]),
    min_size=0, max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts, st.sampled_from(["dedup.exact", "dedup.near"]), st.sampled_from(["prompt", "conversation", "record"]))
def test_rows_in_equal_kept_plus_rejected(texts, op_name, key):
    table = _records(texts)
    result = make_op(op_name, {"key": key})(table)
    assert result.kept.height + result.rejected.height == table.height
    assert set(result.kept["id"]) | set(result.rejected["id"]) == set(table["id"])
    assert set(result.rejected["duplicate_of"]) <= set(result.kept["id"])
    again = make_op(op_name, {"key": key})(result.kept)
    assert again.rejected.height == 0  # what survives dedup has no duplicates left


def test_key_text_modes():
    rec = from_dicts([{
        "messages": [message("system", "S"), message("user", "Q"), message("assistant", "A")],
        "chosen": [message("assistant", "C")], "rejected": [message("assistant", "R")],
        "meta": json.dumps({"k": 1}),
    }])
    texts = {m: rec.select(key_text(m)).item() for m in ("prompt", "conversation", "record")}
    assert texts["prompt"] == "Q"
    assert texts["conversation"] == "Q\nA"
    assert "C" in texts["record"] and "R" in texts["record"] and "S" not in texts["record"]
    assert rec.select(key_text("prompt", include_system=True)).item() == "S\nQ"


# -- text utilities the dedup path rests on -------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("aZ 9你好，。ＡＢﬁ①\u0301e\u00a8カﾀ\u3000")), max_size=12), max_size=10))
def test_fast_nfkc_equals_polars_nfkc(texts):
    series = pl.Series(texts + [None], dtype=pl.String)
    assert nfkc(series).to_list() == series.str.normalize("NFKC").to_list()


def test_cjk_share_and_tokens():
    frame = pl.DataFrame({"t": ["用Python写代码", "hello world", "", None, "日本語のテキスト"]})
    share = frame.select(cjk_share(pl.col("t"))).to_series().to_list()
    assert share[:3] == [4 / 5, 0.0, 0.0] and share[4] == 1.0
    assert frame.select(tokens(pl.col("t"))).to_series()[0].to_list() == ["用", "Python", "写", "代", "码"]
