"""Verdict and score parsing: the forms real judges write, in English and Chinese."""

from __future__ import annotations

import pytest

from dataforge.synth.verdicts import parse_pairwise, parse_score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Both are fine but B cites a source. [[B]]", "B"),
        ("Output [[A]] if A is better or [[B]] if B is. After thinking: [[A]]", "A"),  # echo, then verdict
        ("[[C]]", "tie"),
        ("[[ tie ]]", "tie"),
        ("Verdict: B", "B"),
        ("Final verdict: Assistant A", "A"),
        ("**Winner:** tie", "tie"),
        ("The better response is Assistant B.", "B"),
        ("Assistant A is clearly better than assistant B.", "A"),
        ("A更好，因为它更准确。", "A"),
        ("我认为回答B更佳。", "B"),
        ("结论：A", "A"),
        ("两个回答不相上下。", "tie"),
        ("平局", "tie"),
        ("It's a tie: both are equally good.", "tie"),
        ("Verdict: a tie", "tie"),  # the article "a" is not answer A
        ("B", "B"),
        ("**A**.", "A"),
        ("A is better at style, B is better at facts.", None),
        ("Assistant", None),
        ("Both answers discuss the question.", None),
        ("", None),
    ],
)
def test_parse_pairwise(text, expected):
    assert parse_pairwise(text) == expected


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("Good answer. Rating: [[8]]", (1, 10), 8.0),
        ('Use "Rating: [[N]]". Rating: [[3]]', (1, 10), 3.0),
        ("Score: 7.5", (1, 10), 7.5),
        ("I would give it 6/10.", (1, 10), 6.0),
        ("4 out of 5", (1, 5), 4.0),
        ("评分：9", (1, 10), 9.0),
        ("这个回答可以得7分", (1, 10), 7.0),
        ("9", (1, 10), 9.0),
        ("Rating: [[11]]", (1, 10), None),  # off the scale: unparseable, never clipped
        ("Rating: [[0]]", (0, 5), 0.0),
        ("The answer lists 3 reasons.", (1, 10), None),
        ("", (1, 10), None),
    ],
)
def test_parse_score(text, scale, expected):
    assert parse_score(text, *scale) == expected
