"""Pronunciation lexicon: validation messages, version hash, alias replacement for text engines."""

from __future__ import annotations

import pytest

from khipu.manuscripts.errors import InvalidLexicon
from khipu.manuscripts.lexicon import (
    LexiconEntry,
    apply_aliases,
    lexicon_version,
    validate_lexicon,
)


def test_a_valid_lexicon_passes() -> None:
    validate_lexicon(
        [
            LexiconEntry("Darcy", phoneme="ˈdɑːsi"),
            LexiconEntry("Hermione", phoneme="hɜːˈmaɪ.ə.ni"),
            LexiconEntry("Mr.", alias="Mister"),
            LexiconEntry("St John", alias="Sinjun"),
        ]
    )


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([LexiconEntry("Darcy")], "Lexicon entry 1 ('Darcy'): give either a phoneme"),
        (
            [LexiconEntry("Darcy", phoneme="ˈdɑːsi", alias="Darsy")],
            "Lexicon entry 1 ('Darcy'): give either a phoneme",
        ),
        ([LexiconEntry("", alias="x")], "Lexicon entry 1 (''): the word (grapheme) is empty"),
        ([LexiconEntry(" Darcy", alias="x")], "leading/trailing spaces"),
        ([LexiconEntry("...", alias="x")], "must contain a letter or digit"),
        ([LexiconEntry("Darcy", phoneme="<dɑːsi>")], "contains '<', which is not IPA"),
        ([LexiconEntry("Darcy", phoneme="d4rsi")], "contains '4', which is not IPA"),
        ([LexiconEntry("Darcy", alias="   ")], "the alias is blank"),
        ([LexiconEntry("Darcy", alias="x" * 201)], "longer than 200"),
        (
            [LexiconEntry("Darcy", alias="Darsy"), LexiconEntry("Darcy", phoneme="dɑːsi")],
            "Lexicon entry 2 ('Darcy'): duplicates entry 1",
        ),
    ],
)
def test_invalid_entries_are_named_with_what_to_fix(
    entries: list[LexiconEntry], message: str
) -> None:
    with pytest.raises(InvalidLexicon) as caught:
        validate_lexicon(entries)
    assert message in caught.value.detail
    assert caught.value.status == 422


def test_lexicon_version_is_stable_short_and_ignores_order() -> None:
    a = LexiconEntry("Darcy", phoneme="ˈdɑːsi")
    b = LexiconEntry("Mr.", alias="Mister")
    version = lexicon_version([a, b])
    assert version == lexicon_version([b, a])
    assert len(version) == 16 and int(version, 16) >= 0
    assert version != lexicon_version([a])
    assert version != lexicon_version([a, LexiconEntry("Mr.", alias="Mistah")])
    assert lexicon_version([]) == lexicon_version(())


def test_lexicon_version_distinguishes_phoneme_from_alias() -> None:
    assert lexicon_version([LexiconEntry("x", phoneme="a")]) != lexicon_version(
        [LexiconEntry("x", alias="a")]
    )


def test_aliases_replace_whole_words_case_sensitively() -> None:
    entries = [LexiconEntry("Dr.", alias="Doctor"), LexiconEntry("Sam", alias="Samuel")]
    text = "Dr. Sam met Samantha and sam at Dr.Who."
    assert apply_aliases(text, entries) == "Doctor Samuel met Samantha and sam at Dr.Who."


def test_longest_alias_wins_and_replacements_are_never_replaced_again() -> None:
    entries = [
        LexiconEntry("New York", alias="Big Apple"),
        LexiconEntry("New York City", alias="NYC"),
        LexiconEntry("Apple", alias="Pear"),
        LexiconEntry("NYC", alias="WRONG"),
    ]
    assert apply_aliases("New York City and New York.", entries) == "NYC and Big Apple."


def test_phoneme_entries_do_not_change_plain_text() -> None:
    entries = [LexiconEntry("Darcy", phoneme="ˈdɑːsi")]
    assert apply_aliases("Mr. Darcy", entries) == "Mr. Darcy"
    assert apply_aliases("", entries) == ""
