"""Reading verdicts and scores out of free-form judge text.

Judges rarely follow the requested format exactly, and they echo instructions, so the
parsers try the most explicit forms first and take the *last* match of a form (the final
verdict follows the reasoning and any echoed instruction):

pairwise, in order: ``[[A]]`` / ``[[B]]`` / ``[[C]]`` or ``[[tie]]`` (MT-bench) ->
labelled ("Verdict: B", "Final verdict: Assistant A", "Winner: tie", "结论：A") ->
comparative ("Assistant B is better", "A更好", "回答B更佳"; only when every such phrase names
the same answer) -> tie words ("tie", "equally good", "平局", "不相上下") -> the whole reply
being just "A", "B" or "tie".

scores, in order: ``[[7]]`` -> labelled ("Rating: 7", "Score: 8.5", "评分：7") ->
"7/10" or "7 out of 10" -> "7分" -> the whole reply being a number. A score outside the
scale counts as unparseable rather than being clipped.

Letters are matched case-sensitively: "Verdict: a tie" must not read as A.
"""

from __future__ import annotations

import re

#: What ``parse_pairwise`` returns: the position that won, or a tie.
A, B, TIE = "A", "B", "tie"

_BRACKET = re.compile(r"\[\[\s*(A|B|C|(?i:tie))\s*\]\]")
_LABELLED = re.compile(
    r"(?i:final\s+verdict|verdict|winner|decision|choice|better\s+(?:answer|response)|preferred"
    r"|结论|裁决|判定|选择|胜者)"
    r"\s*(?i:is|:|：|=|是|为)?\s*[*_\"'“”(\[]*\s*"
    r"(?i:assistant\s+|response\s+|answer\s+|回答|答案|助手)?"
    r"(A|B|(?i:tie|draw)|平局)(?![A-Za-z])"
)
_COMPARATIVE = re.compile(
    r"(?:\b(?i:assistant|response|answer|output)\s+)?\b([AB])\s+(?i:is|was)\s+"
    r"(?i:(?:clearly|slightly|much|significantly|far)\s+)?"
    r"(?i:better|superior|more\s+helpful|more\s+accurate|preferred|the\s+winner|the\s+better)"
    r"|(?:回答|答案|助手)?([AB])\s*(?:的回答|的答案)?\s*(?:更好|更佳|更优|较好|比较好|胜出|获胜|胜)"
)
_TIE_WORDS = re.compile(
    r"\b(?i:it'?s\s+a\s+tie|a\s+tie|tie|draw|equally\s+(?:good|bad|helpful)|no\s+clear\s+winner)\b"
    r"|平局|打平|不相上下|难分高下|两者相当|同样好|一样好"
)
_BARE = re.compile(r"^[\W_]*(A|B|(?i:tie)|平局)[\W_]*$")

_NUMBER = r"(\d+(?:\.\d+)?)"
_SCORE_BRACKET = re.compile(r"\[\[\s*" + _NUMBER + r"\s*\]\]")
_SCORE_LABELLED = re.compile(
    r"(?i:rating|score|grade|评分|得分|分数|打分)\s*(?i:is|:|：|=|为|是)?\s*[*_\"'(\[]*\s*" + _NUMBER
)
_SCORE_BARE = re.compile(r"^[\W_]*" + _NUMBER + r"[\W_]*$")
_SCORE_CHINESE = re.compile(_NUMBER + r"\s*分")


def _canonical(token: str) -> str:
    if token in (A, B):
        return token
    return TIE  # C, tie, draw, 平局


def parse_pairwise(text: str) -> str | None:
    """``"A"``, ``"B"`` or ``"tie"`` (positions as shown to the judge), or None."""
    for pattern in (_BRACKET, _LABELLED):
        found = pattern.findall(text)
        if found:
            return _canonical(found[-1])
    named = {a or b for a, b in _COMPARATIVE.findall(text)}
    if len(named) == 1:
        return named.pop()
    if named:
        return None  # "A is better at X, B is better at Y": no verdict
    if _TIE_WORDS.search(text):
        return TIE
    bare = _BARE.match(text.strip())
    return _canonical(bare.group(1)) if bare else None


def parse_score(text: str, low: float, high: float) -> float | None:
    """The score on the ``[low, high]`` scale, or None when there is none or it is off-scale."""
    high_text = f"{high:g}"
    out_of = re.compile(_NUMBER + r"\s*(?:/|(?i:out\s+of))\s*" + re.escape(high_text) + r"(?!\.?\d)")
    for pattern in (_SCORE_BRACKET, _SCORE_LABELLED, out_of, _SCORE_CHINESE):
        found = pattern.findall(text)
        if found:
            return _on_scale(float(found[-1]), low, high)
    bare = _SCORE_BARE.match(text.strip())
    return _on_scale(float(bare.group(1)), low, high) if bare else None


def _on_scale(value: float, low: float, high: float) -> float | None:
    return value if low <= value <= high else None
