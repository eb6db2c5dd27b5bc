"""Check digits that turn "looks like a number" into "is an identifier".

A 16-digit run is an order id as often as it is a card; only the check digit tells them
apart, so recognizers call these validators on every regex match. They accept full-width
digits (``１２３``), which Chinese text often uses, without the caller normalizing the
text (normalizing would shift every span offset after the change).
"""

from __future__ import annotations

import datetime as _dt

#: Full-width digits and X fold to ASCII; everything else is left for the caller to strip.
_FULLWIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")

#: GB 11643-1999 weights for the 17 body digits: 2^(17-i) mod 11.
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK = "10X98765432"

#: First two digits of a resident ID: province-level divisions (GB/T 2260), plus 83 (Taiwan
#: residents' residence permits) and 91 (foreigners' permanent residence ID, 2023 format).
_ID_PROVINCES = frozenset(
    [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91]
)


def ascii_digits(text: str, keep: str = "") -> str:
    """Digits of ``text`` as ASCII (full-width folded), plus any chars listed in ``keep``."""
    folded = text.translate(_FULLWIDTH)
    return "".join(c for c in folded if ("0" <= c <= "9") or c in keep)


def luhn_valid(number: str) -> bool:
    """Luhn (mod 10) check used by every payment card, UnionPay included."""
    digits = ascii_digits(number)
    if not digits:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cn_id_valid(number: str, today: _dt.date | None = None) -> bool:
    """Chinese resident identity number (GB 11643-1999, 18 chars).

    Valid means: a known province prefix, a real calendar birth date between 1900 and
    ``today``, and the ISO 7064 MOD 11-2 check character (0-9 or X).
    """
    chars = ascii_digits(number, keep="Xx").upper()
    if len(chars) != 18 or not chars[:17].isdigit():
        return False
    if int(chars[:2]) not in _ID_PROVINCES:
        return False
    try:
        birth = _dt.date(int(chars[6:10]), int(chars[10:12]), int(chars[12:14]))
    except ValueError:
        return False
    if birth.year < 1900 or birth > (today or _dt.date.today()):
        return False
    return cn_id_check_char(chars[:17]) == chars[17]


def cn_id_check_char(body17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for 17 ASCII body digits."""
    total = sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def luhn_complete(body: str) -> str:
    """``body`` plus the Luhn check digit that makes it valid (test/bench data)."""
    for d in "0123456789":
        if luhn_valid(body + d):
            return body + d
    raise AssertionError("unreachable: one of ten digits always completes a Luhn number")
