"""Word boundaries that work next to Chinese characters.

Han characters are word characters to a Unicode regex, so ``\\b`` never fires between
``邮箱`` and ``zhangwei@example.cn`` and ``\\w+`` runs straight through them: presidio's
email pattern reports ``邮箱zhangwei@example.cn`` as the address and masks the word
"mailbox" with it, and ``\\b4111...\\b`` misses a card number written right after ``卡号``.
Chinese text puts no spaces between words, so this is the normal case, not an edge case.

:func:`cjk_aware` rewrites a pattern so that CJK characters (Han, kana, Hangul, Bopomofo)
count as *non*-word characters for ``\\w``, ``\\W`` and ``\\b``. On text without CJK
characters the rewritten pattern matches exactly what the original matches (a property
test checks this), so the zh recognizers are presidio's own patterns, only fixed.
"""

from __future__ import annotations

#: Scripts written without spaces between words (Unicode script properties; the same
#: syntax works in Python's ``regex`` and in polars/Rust regex).
CJK_CHARS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Bopomofo}"

#: A text matching this is analyzed with the zh setup (polars ``str.contains``).
CJK_TEXT = f"[{CJK_CHARS}]"

#: A word character that is not CJK: what ``\w`` means inside a Latin-script token.
WORD = rf"[^\W{CJK_CHARS}]"
NON_WORD = rf"[\W{CJK_CHARS}]"
#: ``\b`` with CJK characters on the non-word side.
BOUNDARY = rf"(?:(?<={WORD})(?!{WORD})|(?<!{WORD})(?={WORD}))"


def cjk_aware(regex: str) -> str:
    r"""Rewrite ``\w``, ``\W`` and ``\b`` in ``regex`` (Python ``regex`` syntax).

    ``\w`` inside a character class becomes an alternative: ``[:\w]`` turns into
    ``(?:[:]|WORD)``. Negated classes holding ``\w`` and ``\B`` are refused rather than
    rewritten wrongly (no presidio pattern we rewrite uses them).
    """
    out: list[str] = []
    i, n = 0, len(regex)
    while i < n:
        ch = regex[i]
        if ch == "\\" and i + 1 < n:
            nxt = regex[i + 1]
            if nxt == "w":
                out.append(WORD)
            elif nxt == "W":
                out.append(NON_WORD)
            elif nxt == "b":
                out.append(BOUNDARY)
            elif nxt == "B":
                raise ValueError(r"cjk_aware does not rewrite \B")
            else:
                out.append(regex[i : i + 2])
            i += 2
        elif ch == "[":
            end, text = _rewrite_class(regex, i)
            out.append(text)
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _rewrite_class(regex: str, start: int) -> tuple[int, str]:
    """Rewrite the character class opening at ``start``; return (index after it, text)."""
    i = start + 1
    negated = i < len(regex) and regex[i] == "^"
    if negated:
        i += 1
    body: list[str] = []
    has_word = False
    first = True
    while i < len(regex):
        ch = regex[i]
        if ch == "]" and not first:
            break
        first = False
        if ch == "\\" and i + 1 < len(regex):
            if regex[i + 1] == "w":
                has_word = True
            else:
                body.append(regex[i : i + 2])
            i += 2
            continue
        body.append(ch)
        i += 1
    else:
        raise ValueError(f"unterminated character class in {regex!r}")
    if not has_word:
        return i + 1, regex[start : i + 1]
    if negated:
        raise ValueError(r"cjk_aware does not rewrite a negated class holding \w")
    rest = "".join(body)
    return i + 1, f"(?:[{rest}]|{WORD})" if rest else WORD
