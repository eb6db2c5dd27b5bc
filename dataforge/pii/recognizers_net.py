"""IP_ADDRESS and URL: presidio's recognizers, made to leave code and prose alone.

SFT answers are full of code, and presidio's stock patterns read it as addresses:

* IPv6 accepts any compressed form, so ``items[::-1]`` holds the address ``::``, the
  slice ``a[1::2]`` holds ``1::2`` and the C++ scope ``a::b`` is ``a::b``;
* the URL pattern has no boundary on either side of the host name and knows TLDs that
  are common attribute names, so ``items.reverse()`` holds the URL ``items.re`` (``.re``,
  Réunion, cut out of ``reverse``), ``os.path.join`` holds ``os.path.jo``, ``module.py``
  and ``user.name`` are URLs.

``StrictIpRecognizer`` keeps presidio's IPv4 patterns and its IPv6 alternation, but:

* a compressed IPv6 address of one or two groups must be ``::1`` or have a group of 3-4
  hex digits holding a decimal digit (``fe80::1``, ``ff02::2``, ``2001::1``, ``fd00::``,
  ``64:ff9b::``): ``1::2``, ``::2``, ``a::b``, ``Abc::Def`` are not addresses. Three or
  more groups (``2001:db8::1``) and the full eight-group form are taken as presidio does;
* no IPv6 form right after a subscript bracket (``x[``, ``f()[``, ``a[0][``): ``a[::1]``
  is a slice, ``[::1]:8080`` and ``http://[fe80::1]/`` are addresses;
* the unspecified address ``::`` alone only as ``[::]`` (not a subscript) or with a
  prefix (``::/0``): a bare ``::`` is a Python slice or a Haskell type signature.

``StrictUrlRecognizer`` rebuilds presidio's four URL patterns (same names, scores and
TLD list) with boundaries:

* the host starts at a boundary (not after a letter, digit, ``_``, ``.`` or ``-``) and is
  made of real labels; its TLD ends it: no letter, digit, ``_`` or ``-`` after it, no
  ``.`` + label (``tf.io.gfile``), no ``(`` (a call: ``app.run(``) or ``[`` (``df.at[``);
* a bare host (no scheme, no ``www``) needs a TLD from :data:`COMMON_TLDS` (``example.com``,
  ``baidu.com``, ``example.cn``, ``github.io``) or a path after it (``example.io/docs``,
  ``t.me/x``); ``module.py``, ``user.name``, ``obj.id``, ``data.info`` are not URLs. Its
  TLD may not be written Title-case (``System.Net``), its first label may not be a code
  receiver (``self.ai``, ``this.co``), and a few framework names that look like hosts
  (``ASP.NET``, ``System.IO``, ``scipy.io``) are refused (``invalidate_result``);
* with ``http(s)://`` the host may end in any TLD of 2+ letters and hold ``_``; any form
  may carry a port (``example.com:8080/api``).

Both recognizers are plain ``PatternRecognizer``s (patterns + ``invalidate_result``), so
presidio's ``AnalyzerEngine`` and the fast path (``fast.py``) run the very same rules; the
zh copies (``recognizers_zh.py``) are these patterns through ``cjk_aware``. ``GATES``
gives, per pattern, a polars regex every match contains (see ``fast.py``).
"""

from __future__ import annotations

import regex as re
from . import presidio_import  # noqa: F401  (first: presidio without torch)
from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import IpRecognizer, UrlRecognizer

from .cjk import CJK_CHARS

# -- IP ----------------------------------------------------------------------------------

_HEX = "[0-9A-Fa-f]"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
_V6_PREFIX = r"(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))"
#: Not right after a subscript bracket: ``x[``, ``f()[``, ``a[0][``.
_NOT_SUBSCRIPT = r"(?<![\w)\]]\[)"
#: A group that does not make a short compressed address believable: 1-2 hex digits, or
#: 3-4 hex letters (``Abc``, ``dead``).
_WEAK_GROUP = f"(?:{_HEX}{{1,2}}|[A-Fa-f]{{3,4}})"
#: A compressed address of at most two weak groups (``1::2``, ``::2``, ``a::``), ``::1``
#: excepted; checked at the start of a candidate, up to where the candidate's groups end.
_WEAK_V6 = rf"(?!::1(?!{_HEX}|:)){_WEAK_GROUP}?::{_WEAK_GROUP}?(?!{_HEX}|:)"
#: presidio's IPv6 alternation (every full and compressed form), unchanged.
_V6_FORMS = (
    rf"(?:(?:{_HEX}{{1,4}}:){{7}}{_HEX}{{1,4}}|(?:{_HEX}{{1,4}}:){{1,7}}:"
    rf"|:(?::{_HEX}{{1,4}}){{1,7}}|(?:{_HEX}{{1,4}}:){{1,6}}:{_HEX}{{1,4}}"
    rf"|(?:{_HEX}{{1,4}}:){{1,5}}(?::{_HEX}{{1,4}}){{1,2}}"
    rf"|(?:{_HEX}{{1,4}}:){{1,4}}(?::{_HEX}{{1,4}}){{1,3}}"
    rf"|(?:{_HEX}{{1,4}}:){{1,3}}(?::{_HEX}{{1,4}}){{1,4}}"
    rf"|(?:{_HEX}{{1,4}}:){{1,2}}(?::{_HEX}{{1,4}}){{1,5}}"
    rf"|{_HEX}{{1,4}}:(?::{_HEX}{{1,4}}){{1,6}}|:(?::{_HEX}{{1,4}}){{1,6}})"
)

IP_PATTERNS = [
    Pattern(
        "IPv4_mapped",
        rf"(?<![\w:]){_NOT_SUBSCRIPT}::(?:ffff(?::0{{1,4}})?:)?{_IPV4}{_V6_PREFIX}?\b",
        0.6,
    ),
    Pattern(
        "IPv4_embedded",
        rf"(?<![\w:]){_NOT_SUBSCRIPT}(?:(?:{_HEX}{{1,4}}:){{1,5}}:(?:{_HEX}{{1,4}}:){{0,4}}"
        rf"|(?:{_HEX}{{1,4}}:){{6}}){_IPV4}{_V6_PREFIX}?\b",
        0.6,
    ),
    Pattern("IPv4", rf"\b{_IPV4}(?:/(?:[0-2]?\d|3[0-2]))?\b", 0.6),
    Pattern(
        "IPv6",
        rf"(?<![\w:]){_NOT_SUBSCRIPT}(?!{_WEAK_V6}){_V6_FORMS}"
        rf"(?:%[0-9a-zA-Z]+)?{_V6_PREFIX}?(?![\w:]|\.\d)",
        0.6,
    ),
    Pattern(
        "IPv6_unspecified",
        rf"(?<![\w:])(?:::{_V6_PREFIX}|(?<=(?<![\w)\]])\[)::(?=\]))(?![\w:])",
        0.1,
    ),
]

#: Per pattern, a polars (Rust) regex that every match of it contains: IPv4 has
#: digit-dot-digit, every IPv6 form a hex digit or colon before a colon.
IP_GATES = {
    "IPv4_mapped": "::", "IPv4_embedded": "[0-9A-Fa-f]:", "IPv4": r"\d\.\d",
    "IPv6": "[0-9A-Fa-f:]:", "IPv6_unspecified": "::",
}


class StrictIpRecognizer(IpRecognizer):
    """presidio's IP recognizer without slices, scopes and bare ``::`` (module doc)."""

    PATTERNS = IP_PATTERNS  # presidio's __init__ takes PATTERNS and CONTEXT from the class
    GATES = IP_GATES


# -- URL ---------------------------------------------------------------------------------

#: presidio's TLD list, in its order (taken from its pattern, so the two stay in step).
STOCK_TLDS: tuple[str, ...] = tuple(
    dict.fromkeys(re.findall(r"\(\?:([a-z]+)\)", UrlRecognizer.BASE_URL_REGEX))
)
#: TLDs a bare host name (no scheme, no ``www``, no path) may end in: the ones hosts are
#: commonly written with in prose, none a usual attribute, method, keyword or file
#: extension (not ``py``, ``sh``, ``md``, ``id``, ``is``, ``in``, ``at``, ``to``, ``re``,
#: ``name``, ``info``, ``int``, ``app``, ``run``, ``fit`` ...).
COMMON_TLDS: tuple[str, ...] = (
    "com", "net", "org", "edu", "gov", "io", "ai", "co", "tv",
    "cn", "hk", "tw", "jp", "kr", "sg", "uk", "us", "ca", "au", "de", "fr", "it", "es",
    "nl", "se", "ch", "eu", "ru", "br",
)
assert "com" in STOCK_TLDS and set(COMMON_TLDS) <= set(STOCK_TLDS), "presidio's TLD list moved"

#: Framework and library names shaped like bare hosts (compared lower-cased).
NOT_HOSTS: frozenset[str] = frozenset({
    "asp.net", "vb.net", "ado.net", "system.net", "system.io", "scipy.io", "skimage.io",
    "socket.io",
})
#: First labels that are code receivers, not host names (``self.ai``, ``this.co``).
CODE_RECEIVERS: frozenset[str] = frozenset({
    "self", "this", "cls", "super", "ctx", "obj", "args", "kwargs", "opts", "np", "pd",
    "os", "sys", "tf", "torch", "nn", "plt",
})


def _alternation(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(sorted(words, key=lambda w: (-len(w), w))) + ")"


_ANY_TLD = _alternation(STOCK_TLDS)
_COMMON_TLD = _alternation(COMMON_TLDS)
_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
_SCHEME_LABEL = r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?"
#: Where a host name may start: not inside a word, a dotted chain or a dashed name.
_START = r"(?<![\w.\-])"
#: What ends a host's TLD: not more of a word (``items.re|verse``), not a further label
#: (``tf.io|.gfile``), not a call or a subscript (``app.run|(``, ``df.at|[``).
_END = r"(?![\w\-]|\.[\w\-]|[(\[])"
_PORT = r"(?::\d{1,5}(?!\d))?"
#: A path: anything but space, brackets, quotes, CJK and full-width forms (Chinese text
#: and its punctuation run straight on after a URL: ``www.example.cn/help，查看订单``); its
#: last character is not sentence punctuation (``see https://x.com/a.`` ends before the
#: dot). presidio's path pattern took both into the URL, masking the rest of a Chinese
#: sentence with it.
_PATH_CHAR = rf"""[^\s()<>"'{CJK_CHARS}\u3000-\u303f\uff00-\uffef]"""
_PATH = rf"(?:/(?:{_PATH_CHAR}*(?<![.,;:!?]))?)"

#: ``www.`` host, any TLD; or a bare host: a common TLD, or any TLD with a path.
NON_SCHEMA_URL = (
    rf"(?:www\d{{0,3}}\.(?:{_LABEL}\.)*{_ANY_TLD}{_END}{_PORT}{_PATH}?"
    rf"|(?:{_LABEL}\.)+(?:{_COMMON_TLD}{_END}{_PORT}{_PATH}?|{_ANY_TLD}{_END}{_PORT}{_PATH}))"
)
SCHEMA_URL = rf"https?://(?:{_SCHEME_LABEL}\.)+[a-z]{{2,63}}(?![\w\-]){_PORT}{_PATH}?"

URL_PATTERNS = [
    Pattern("Standard Url", f"(?i){SCHEMA_URL}", 0.6),
    Pattern("Non schema URL", f"(?i){_START}{NON_SCHEMA_URL}", 0.5),
    Pattern("Quoted URL", rf"""(?i)["']{SCHEMA_URL}["']""", 0.6),
    Pattern("Quoted Non-schema URL", rf"""(?i)["']{NON_SCHEMA_URL}["']""", 0.5),
]

#: Gates: ``.`` and a TLD of two or more letters (under ``(?i)`` ASCII letters also match
#: ſ, K, İ: letters all the same), quoted forms a quote first, schema ones ``http(s)://``.
URL_GATES = {
    "Standard Url": "(?i)https?://", "Non schema URL": r"\.\p{L}\p{L}",
    "Quoted URL": "(?i)[\"']https?://", "Quoted Non-schema URL": r"[\"'][\w.\-]+\.\p{L}\p{L}",
}


_SCHEME_OR_WWW = re.compile(r"https?://|www\d{0,3}\.", re.IGNORECASE)


def not_a_host(url: str) -> bool:
    """True for a bare host (no scheme, no ``www``) that names code, not a machine:
    a Title-case TLD (``System.Net``), a framework name (:data:`NOT_HOSTS`), or a code
    receiver before the dot (``self.ai``, :data:`CODE_RECEIVERS`)."""
    url = url.strip("\"'")
    if _SCHEME_OR_WWW.match(url):
        return False
    host = re.split(r"[/:]", url, maxsplit=1)[0]
    tld = host.rsplit(".", 1)[-1]
    return (
        host.lower() in NOT_HOSTS
        or host.split(".", 1)[0].lower() in CODE_RECEIVERS
        or not (tld.islower() or tld.isupper())
    )


class StrictUrlRecognizer(UrlRecognizer):
    """presidio's URL recognizer with host boundaries and bare-host rules (module doc)."""

    PATTERNS = URL_PATTERNS  # presidio's __init__ takes PATTERNS and CONTEXT from the class
    GATES = URL_GATES

    def invalidate_result(self, pattern_text: str) -> bool:  # noqa: D102
        return not_a_host(pattern_text)
