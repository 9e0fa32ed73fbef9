"""Normalisation of paragraph text: typography, invisible characters, footnote markers."""

from __future__ import annotations

import pytest

from khipu.manuscripts.normalize import is_page_number_line, normalize_text


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ('"Hello," she said.', "“Hello,” she said."),
        ('He said "\'Tis late" and left.', "He said “’Tis late” and left."),
        ("It's the Bennets' house.", "It’s the Bennets’ house."),
        ("She whispered 'go' to him.", "She whispered ‘go’ to him."),
        ("Back in the '90s.", "Back in the ’90s."),
        ("Wait...", "Wait…"),
        ("Wait. . . then go.", "Wait… then go."),
        ("Yes--no.", "Yes—no."),
        ("Yes---no.", "Yes—no."),
        ("Yes - no.", "Yes — no."),
        ("well-known", "well-known"),
        ("co\u00adoperate", "cooperate"),
        ("zero\u200bwidth joiner\u2060—dash\ufeff", "zerowidth joiner—dash"),
        ("  many \t spaces\n\nand lines  ", "many spaces and lines"),
        ("non\u00a0breaking", "non breaking"),
        ("Cafe\u0301", "Café"),  # NFC: one code point
        ("A claim[1] and another[12].", "A claim and another."),
        ("A claim^2 here.", "A claim here."),
        ("A claim* here.", "A claim here."),
        ("A claim.* Next", "A claim. Next"),
        ("A claim¹ here.", "A claim here."),
        ("Rated 5 * stars", "Rated 5 * stars"),  # not glued to a word: not a marker
        ("[1] A note at the start", "[1] A note at the start"),
        ('5 " tall', '5 " tall'),  # ambiguous straight quote left alone
    ],
)
def test_normalize_text(raw: str, normalised: str) -> None:
    assert normalize_text(raw) == normalised


def test_curly_text_is_left_as_it_is() -> None:
    text = "“My dear Mr. Bennet,” said his lady — “have you heard?”"
    assert normalize_text(text) == text


@pytest.mark.parametrize("line", ["12", "  7  ", "- 12 -", "[12]", "Page 12", "p. 3"])
def test_page_number_lines(line: str) -> None:
    assert is_page_number_line(line)


@pytest.mark.parametrize("line", ["12 apples", "Chapter 12", "XII", "1812 was a year."])
def test_lines_with_words_are_not_page_numbers(line: str) -> None:
    assert not is_page_number_line(line)
