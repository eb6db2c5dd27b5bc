"""The second bench corpus: realistic ShareGPT conversations unlike the project's own.

    python bench/corpus.py --n 50000 --out /tmp/realistic.jsonl          # JSON Lines
    python bench/corpus.py --n 50000 --out /tmp/realistic.json --array   # one JSON array

The first corpus of every benchmark is the project's own synthetic data (short, uniform,
a third Chinese, each bench its own generator). This one differs on purpose:

* **longer, multi-turn records**: 1-5 exchanges, assistant answers of several paragraphs
  with Markdown lists and code blocks, a shared long system prompt on a quarter of them
  (about 3 KB a record on average);
* **more Chinese**: 45% of records are Chinese (with English technical words inside),
  the rest English; words follow a Zipf law, so unrelated texts share common phrases;
* **realistic edits**: 6% exact copies (byte-identical, or re-cased / re-spaced) and 12%
  near copies made by the edits people make: typos, word insertions/deletions, rewritten
  sentences, a follow-up exchange appended, the last exchange dropped, reformatting;
  each edit kind at a range of strengths, so true Jaccard spreads across 0.3-1.0 and
  the threshold is really tested. A near copy is sometimes a copy of a copy;
* **PII with decoys**: emails, phones (US/UK/international), Luhn-valid cards, Chinese
  mobiles, IDs, bank cards, IPs, URLs, IBANs planted in 12% of the records at known
  spans, and in 6% decoys that must not be masked: Luhn-invalid card-shaped numbers
  (16-digit, Amex-shaped 15-digit starting 34/37, 19-digit UnionPay-shaped) and +1
  numbers with unassigned area codes. Prices, dates, versions and times appear in
  ordinary text too.

:func:`realistic` returns the records and the ground truth (planted clusters with their
edit kind and strength, PII spans, decoy spans); the benches score against it.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from pii_values import DECOYS, EN_TEMPLATES, MAKERS, ZH_TEMPLATES, Plant

EN_WORDS = """the of and to a in is that it for you was on are with as be this have from or
one had by but not what all were we when your can said there use an each which she do how their
if will up other about out many then them these so some would make like him into time has look
two more write go see number no way could people my than first water been call who oil its now
find long down day did get come made may part over new sound take only little work know place
year live me back give most very after thing our just name good sentence man think say great
where help through much before line right too mean old any same tell boy follow came want show
also around form three small set put end does another well large must big even such because turn
here why ask went men read need land different home us move try kind hand picture again change
off play spell air away animal house point page letter mother answer found study still learn
should world high every near add food between own below country plant last school father keep
tree never start city earth eye light thought head under story saw left few while along might
close something seem next hard open example begin life always those both paper together got group
often run important until children side feet car mile night walk white sea began grow took river
four carry state once book hear stop without second later miss idea enough eat face watch far
really almost let above girl sometimes mountain cut young talk soon list song being leave family
data model training function value error file server request user table query index memory
python code install version update config script output input test result build deploy cluster
patient doctor symptom medicine fever blood pressure dose treatment hospital health pain sleep
recipe sugar flour oven minutes bake salt butter cup temperature dinner chicken rice sauce
flight hotel ticket travel booking airport train visa passport luggage order refund payment
account invoice customer support delivery package shipping price discount subscription""".split()

ZH_CHARS = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可"
    "她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已"
    "老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力"
    "机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军"
    "产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常"
    "提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服"
    "毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言"
    "权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满"
    "式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单"
    "据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切医院药病症状血压检查治疗模型"
    "数据训练代码服务器文件配置安装版本错误订单退款支付快递客户账号密码"
)
EN_TERMS = ["Python", "API", "GPU", "Docker", "JSON", "SQL", "Linux", "CPU", "HTTP", "Git"]
SYSTEM_PROMPTS = [
    "You are a helpful, honest and harmless assistant. Answer accurately and concisely, show your "
    "reasoning when it helps the user, say when you are unsure, and never invent facts, sources, "
    "numbers or quotations. Use Markdown for lists and code.",
    "你是一个乐于助人的智能助手。请用简洁、准确的中文回答用户的问题，必要时给出步骤和示例代码；"
    "不确定的地方要说明，不要编造事实或数据。",
    "You are a customer-support agent for an online shop. Be polite, ask for the order number when "
    "needed, never promise refunds you cannot give, and escalate to a human when the customer asks.",
]
EDIT_KINDS = ("typos", "word_edits", "sentences", "append", "truncate", "reformat")
NUMBERS_EN = ["It costs ${}.99 a month.", "Version {}.4.1 fixed it.", "We met at 10:{} on 2024-03-18.",
              "About {}% of the runs passed.", "Order #{}3 shipped yesterday."]
NUMBERS_ZH = ["每月{}元。", "版本{}.2修复了这个问题。", "会议在10:{}开始。", "大约{}%的测试通过了。"]


@dataclass
class Corpus:
    """Records (ShareGPT rows) and what was planted in them."""

    records: list[dict]
    clusters: list[list[int]] = field(default_factory=list)  # planted copies, original first
    edits: dict[int, tuple[str, float]] = field(default_factory=dict)  # copy -> (kind, strength)
    pii: list[tuple[int, int, Plant]] = field(default_factory=list)  # (record, turn, plant)
    decoys: list[tuple[int, int, Plant]] = field(default_factory=list)

    def turn_texts(self) -> tuple[list[str], dict[tuple[int, int], int]]:
        """Every turn content in order, and (record, turn) -> its position."""
        texts, where = [], {}
        for r, rec in enumerate(self.records):
            for t, turn in enumerate(rec["conversations"]):
                where[(r, t)] = len(texts)
                texts.append(turn["value"])
        return texts, where


class _Text:
    """Zipf-distributed English words and Chinese characters, drawn in bulk with numpy."""

    def __init__(self, seed: int) -> None:
        self.np = np.random.default_rng(seed)
        self.r = random.Random(seed)
        self._buffers: dict[int, list[str]] = {}
        self.words = np.array(EN_WORDS)
        self.chars = np.array(list(dict.fromkeys(ZH_CHARS)))
        self.cdf_words = self._zipf_cdf(len(self.words))
        self.cdf_chars = self._zipf_cdf(len(self.chars))

    @staticmethod
    def _zipf_cdf(n: int) -> np.ndarray:
        w = np.cumsum(1.0 / np.arange(1, n + 1) ** 0.9)
        return w / w[-1]

    def draw(self, pool: np.ndarray, cdf: np.ndarray, k: int) -> list[str]:
        """``k`` Zipf-distributed items of ``pool``, from a buffer refilled 2^18 at a time
        (a numpy call per sentence would dominate the generation time)."""
        buf = self._buffers.setdefault(id(pool), [])
        if len(buf) < k:
            idx = np.minimum(np.searchsorted(cdf, self.np.random(1 << 18)), len(pool) - 1)
            buf.extend(pool[idx].tolist())
        out = buf[-k:]
        del buf[-k:]
        return out

    def en_sentence(self, lo: int = 6, hi: int = 24) -> str:
        words = self.draw(self.words, self.cdf_words, self.r.randrange(lo, hi))
        if self.r.random() < 0.3 and len(words) > 3:
            words.insert(self.r.randrange(2, len(words)), ",")
        text = " ".join(words).replace(" ,", ",")
        return text[0].upper() + text[1:] + self.r.choice([".", ".", ".", "?", "!"])

    def zh_sentence(self, lo: int = 10, hi: int = 40) -> str:
        chars = self.draw(self.chars, self.cdf_chars, self.r.randrange(lo, hi))
        if self.r.random() < 0.35:
            chars.insert(self.r.randrange(len(chars)), self.r.choice(EN_TERMS))
        if len(chars) > 12:
            chars.insert(self.r.randrange(4, len(chars) - 4), "，")
        return "".join(chars) + self.r.choice(["。", "。", "？", "！"])

    def sentence(self, zh: bool) -> str:
        if self.r.random() < 0.06:  # an ordinary number: price, version, time, percentage
            return self.r.choice(NUMBERS_ZH if zh else NUMBERS_EN).format(self.r.randrange(10, 99))
        return self.zh_sentence() if zh else self.en_sentence()

    def paragraph(self, zh: bool, lo: int, hi: int) -> str:
        sep = "" if zh else " "
        return sep.join(self.sentence(zh) for _ in range(self.r.randrange(lo, hi)))

    def code(self) -> str:
        names = self.r.sample(["data", "model", "result", "items", "config", "path", "rows"], 3)
        return (f"```python\ndef load_{names[0]}({names[1]}):\n    {names[2]} = []\n"
                f"    for row in {names[1]}:\n        {names[2]}.append(row)\n    return {names[2]}\n```")

    def answer(self, zh: bool) -> str:
        parts = []
        for _ in range(self.r.randrange(2, 6)):
            roll = self.r.random()
            if roll < 0.2:
                parts.append("\n".join(f"{k + 1}. {self.sentence(zh)}" for k in range(self.r.randrange(2, 5))))
            elif roll < 0.3:
                parts.append(self.code())
            else:
                parts.append(self.paragraph(zh, 2, 7))
        return "\n\n".join(parts)

    def question(self, zh: bool) -> str:
        if self.r.random() < 0.1:
            return self.paragraph(zh, 1, 3) + "\n\n" + self.code()
        return self.paragraph(zh, 1, 4)


def _conversation(gen: _Text, zh: bool) -> list[dict]:
    conv = []
    if gen.r.random() < 0.25:
        conv.append({"from": "system", "value": gen.r.choice(SYSTEM_PROMPTS)})
    for _ in range(gen.r.choices([1, 2, 3, 4, 5], [0.3, 0.3, 0.2, 0.12, 0.08])[0]):
        conv += [{"from": "human", "value": gen.question(zh)}, {"from": "gpt", "value": gen.answer(zh)}]
    return conv


# -- edits ----------------------------------------------------------------------------------


def _split_tokens(text: str, zh: bool) -> list[str]:
    return list(text) if zh else text.split(" ")


def _join_tokens(tokens: list[str], zh: bool) -> str:
    return "".join(tokens) if zh else " ".join(tokens)


def _edit_turn(text: str, kind: str, rate: float, gen: _Text, zh: bool) -> str:
    r = gen.r
    if kind == "typos":  # a character changed inside some words (zh: a character replaced)
        toks = _split_tokens(text, zh)
        for i in [i for i in range(len(toks)) if r.random() < rate]:
            t = toks[i]
            if zh:
                toks[i] = str(r.choice(gen.chars)) if "\u4e00" <= t <= "\u9fff" else t
            elif len(t) > 2:
                k = r.randrange(1, len(t) - 1)
                toks[i] = t[:k] + t[k + 1] + t[k] + t[k + 2:] if r.random() < 0.5 else t[:k] + t[k + 1:]
        return _join_tokens(toks, zh)
    if kind == "word_edits":  # tokens inserted, deleted or replaced
        out = []
        for t in _split_tokens(text, zh):
            roll = r.random()
            if roll < rate / 3:
                continue
            if roll < 2 * rate / 3:
                out.append(str(r.choice(gen.chars if zh else gen.words)))
                continue
            out.append(t)
            if roll < rate:
                out.append(str(r.choice(gen.chars if zh else gen.words)))
        return _join_tokens(out, zh)
    if kind == "sentences":  # whole sentences rewritten
        sep = "。" if zh else ". "
        parts = text.split(sep)
        for i in [i for i in range(len(parts)) if r.random() < rate]:
            parts[i] = gen.sentence(zh).rstrip("。.!?？！")
        return sep.join(parts)
    if kind == "reformat":  # spacing, bullets, case: nothing a shingle sees
        text = text.replace("\n\n", "\n\n\n").replace("1. ", "- ")
        return text.upper() if not zh and r.random() < 0.3 else text.replace(" ", "  ")
    raise ValueError(kind)


def near_copy(conv: list[dict], kind: str, rate: float, gen: _Text, zh: bool) -> list[dict]:
    """A copy of ``conv`` after one realistic edit of strength ``rate``."""
    conv = [dict(t) for t in conv]
    if kind == "append":  # a follow-up exchange
        conv += [{"from": "human", "value": gen.paragraph(zh, 1, 2)},
                 {"from": "gpt", "value": gen.paragraph(zh, 1, 1 + max(1, int(rate * 20)))}]
        return conv
    if kind == "truncate":  # the last exchange dropped, or the last answer cut short
        if len(conv) >= 4 and rate > 0.2:
            return conv[:-2]
        last = conv[-1]["value"]
        conv[-1]["value"] = last[: max(1, int(len(last) * (1 - rate)))]
        return conv
    for t in conv:
        if t["from"] != "system":
            t["value"] = _edit_turn(t["value"], kind, rate, gen, zh)
    return conv


_RATES = {"typos": (0.01, 0.15), "word_edits": (0.01, 0.2), "sentences": (0.02, 0.4),
          "append": (0.05, 0.6), "truncate": (0.05, 0.5), "reformat": (0.0, 0.0)}


# -- PII ------------------------------------------------------------------------------------


def _plant(conv: list[dict], gen: _Text, zh: bool, value_kind: str, value: str,
           template: str) -> tuple[int, Plant]:
    """Append one sentence holding ``value`` to a random non-system turn; its span."""
    turns = [i for i, t in enumerate(conv) if t["from"] != "system"]
    t = turns[gen.r.randrange(len(turns))]
    sep = "" if zh else " "
    before = conv[t]["value"] + sep
    start = len(before) + template.index("{}")
    conv[t]["value"] = before + template.format(value)
    return t, Plant(-1, value_kind, start, start + len(value))


_DECOY_TEMPLATES = {
    "card": {"en": ["Reference number {} is on the receipt.", "The tracking code was {}, not mine."],
             "zh": ["单号{}，请核对。", "流水号是{}。"]},
    "phone": {"en": ["The number {} on the flyer never answers.", "Is {} a real number?"],
              "zh": ["传单上的{}打不通。"]},
}


def realistic(n: int, seed: int = 0) -> Corpus:
    """``n`` records with planted copies, PII and decoys (see the module docstring)."""
    gen = _Text(seed)
    rnd = random.Random(seed)
    n_exact, n_near = int(n * 0.06), int(n * 0.12)
    n_orig = n - n_exact - n_near
    convs, zh_of, cluster_of = [], [], []
    for i in range(n_orig):
        zh = gen.r.random() < 0.45
        convs.append(_conversation(gen, zh))
        zh_of.append(zh)
        cluster_of.append(i)
    edits: dict[int, tuple[str, float]] = {}
    for k in range(n_exact + n_near):
        src = (gen.r.randrange(len(convs) if k >= n_exact and gen.r.random() < 0.2 else n_orig))
        zh, conv = zh_of[src], convs[src]
        if k < n_exact:
            copy = [dict(t) for t in conv]
            if gen.r.random() < 0.3:
                copy = near_copy(copy, "reformat", 0.0, gen, zh)
            edits[len(convs)] = ("exact", 0.0)
        else:
            kind = gen.r.choice(EDIT_KINDS)
            lo, hi = _RATES[kind]
            rate = gen.r.uniform(lo, hi)
            copy = near_copy(conv, kind, rate, gen, zh)
            edits[len(convs)] = (kind, rate)
        convs.append(copy)
        zh_of.append(zh)
        cluster_of.append(cluster_of[src])

    order = gen.np.permutation(len(convs))
    position = np.empty(len(convs), np.int64)
    position[order] = np.arange(len(convs))
    corpus = Corpus(records=[], edits={int(position[i]): e for i, e in edits.items()})
    clusters: dict[int, list[int]] = {}
    for i in range(len(convs)):
        clusters.setdefault(cluster_of[i], []).append(int(position[i]))
    corpus.clusters = [c for c in clusters.values() if len(c) > 1]
    in_cluster = {i for c in corpus.clusters for i in c}

    for j, i in enumerate(order):
        conv, zh = [dict(t) for t in convs[i]], zh_of[i]
        lang = "zh" if zh else "en"
        if j not in in_cluster:  # copies keep their texts, so their Jaccard is the edit's
            roll = rnd.random()
            if roll < 0.12:
                for _ in range(1 if rnd.random() < 0.7 else 2):
                    kind = rnd.choice(list(MAKERS))
                    template = rnd.choice((ZH_TEMPLATES if zh else EN_TEMPLATES)[kind])
                    t, plant = _plant(conv, gen, zh, kind, MAKERS[kind](rnd), template)
                    corpus.pii.append((j, t, plant))
            elif roll < 0.18:
                kind = rnd.choice(list(DECOYS))
                template = rnd.choice(_DECOY_TEMPLATES[kind][lang])
                t, plant = _plant(conv, gen, zh, kind, DECOYS[kind](rnd), template)
                corpus.decoys.append((j, t, plant))
        corpus.records.append({
            "id": f"c{j:07d}", "conversations": conv,
            "category": rnd.choice(["coding", "health", "cooking", "travel", "support"]), "lang": lang,
        })
    return corpus


def iter_lines(corpus: Corpus) -> Iterator[str]:
    for rec in corpus.records:
        yield json.dumps(rec, ensure_ascii=False)


def write(corpus: Corpus, path: Path, array: bool = False) -> Path:
    """JSON Lines, or one JSON array (pretty-printed, as array dumps usually are)."""
    with open(path, "w", encoding="utf-8") as f:
        if not array:
            for line in iter_lines(corpus):
                f.write(line + "\n")
            return path
        f.write("[\n")
        for k, rec in enumerate(corpus.records):
            f.write((",\n" if k else "") + json.dumps(rec, ensure_ascii=False, indent=2))
        f.write("\n]\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--array", action="store_true", help="write one JSON array instead of JSON Lines")
    args = ap.parse_args()
    corpus = realistic(args.n, args.seed)
    write(corpus, args.out, args.array)
    size = args.out.stat().st_size
    print(f"{args.out}: {args.n} records, {size / 1e6:.1f} MB ({size / args.n / 1e3:.2f} KB/record), "
          f"{len(corpus.clusters)} planted clusters, {len(corpus.pii)} PII, {len(corpus.decoys)} decoys")


if __name__ == "__main__":
    main()
