"""exact_match / accuracy: normalizers, number and choice extraction, English and Chinese."""

from __future__ import annotations

import pytest

from evalkit.metrics import MetricInputs, get_metric
from dataforge.verifiers.answers import extract_choice, extract_number, parse_normalizers


def match(predictions, references, name="exact_match", **params):
    return get_metric(name)(MetricInputs(predictions=predictions, references=references), **params)


def test_default_only_strips():
    result = match([" Paris ", "paris", "北京"], ["Paris", "Paris", "北京。"])
    assert result.per_example == [1.0, 0.0, 0.0]
    assert result.signature.startswith("norm:strip|")


def test_rows_without_reference_are_left_out():
    result = match(["a", "b", None], ["a", None, "c"])
    assert result.per_example == [1.0, None, 0.0]  # a None prediction reads as ""
    assert result.score == 0.5


def test_normalizers_compose_in_order():
    norms = ["strip", "lowercase", "remove_punct", "collapse_whitespace"]
    result = match(
        ["  The  Eiffel-Tower! ", "北京，中国。", "“你好”", "New York"],
        ["the eiffeltower", "北京中国", "你好", "new  york city"],
        normalizers=norms,
    )
    assert result.per_example == [1.0, 1.0, 1.0, 0.0]
    assert "norm:strip+lowercase+remove_punct+collapse_whitespace" in result.signature


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("The answer is 1,234.5", 1234.5),
        ("x = -3", -3.0),
        ("so 3/4 of them", 0.75),
        (r"\boxed{\frac{3}{4}}", 0.75),
        ("step 1: 5 apples ... #### 72", 72.0),
        ("答案是 -12。", -12.0),
        (".5 cups", 0.5),
        ("on 2024-01-05", 5.0),  # a hyphen after a digit is not a minus sign
        ("costs $1,000,000", 1_000_000.0),
        ("no digits here", None),
    ],
)
def test_extract_number(text, value):
    assert extract_number(text) == value


def test_number_accuracy_compares_floats():
    result = match(
        ["So she has 72 apples.", "It is 0.75", "答案：1,000", "maybe 5", "I don't know"],
        ["#### 72", "3/4", "1000", "6", "7"],
        name="accuracy",
        normalizers=["extract:number"],
    )
    assert result.per_example == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert result.extra == {"unextracted_predictions": 1, "unextracted_references": 0}
    assert "tol:1e-09" in result.signature
    close = match(["0.3333333"], ["1/3"], normalizers=[{"extract": "number"}], tolerance=1e-6)
    assert close.per_example == [1.0]


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("The answer is (B).", "B"),
        ("Answer: C", "C"),
        ("the answer is: D because ...", "D"),
        ("答案是B", "B"),
        ("答案：（C）", "C"),
        ("所以选D。", "D"),
        ("E.", "E"),
        ("Ｂ", "B"),
        ("Either (A) or, on reflection, (C)", "C"),
        ("The answer is a cat", None),
        ("Answer is Because", None),
    ],
)
def test_extract_choice(text, letter):
    assert extract_choice(text) == letter


def test_choice_accuracy_english_and_chinese():
    result = match(
        ["The answer is (B)", "答案是C", "I think A", "(D)"],
        ["B", "C", "A", "(B) Paris"],
        name="accuracy",
        normalizers=["strip", "extract: choice"],
    )
    assert result.per_example == [1.0, 1.0, 0.0, 0.0]  # "I think A" names no answer
    assert result.extra["unextracted_predictions"] == 1


def test_bad_normalizer_lists():
    with pytest.raises(ValueError, match="unknown normalizer"):
        parse_normalizers(["uppercase"])
    with pytest.raises(ValueError, match="unknown extractor"):
        parse_normalizers(["extract:date"])
    with pytest.raises(ValueError, match="extract must come last"):
        parse_normalizers(["extract:number", "strip"])
    with pytest.raises(ValueError, match="needs references"):
        get_metric("exact_match")(MetricInputs(predictions=["a"]))
