"""Gender evidence for names and epithets: the pronouns that follow them in the narration."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from khipu.characters.attribution.lexicons import Gender
from khipu.characters.attribution.names import NameMention

_GENDERED_PRONOUN = re.compile(
    r"\b(?:(he|him|his|himself)|(she|her|hers|herself))\b", re.IGNORECASE
)
_WINDOW = 120  # characters after a name in which the next pronoun most likely refers back to it


def pronoun_votes(
    narration: str, mentions: Sequence[NameMention]
) -> list[tuple[NameMention, Gender]]:
    """For each name, the gender of the first pronoun after it and before the next name."""
    votes: list[tuple[NameMention, Gender]] = []
    ordered = sorted(mentions, key=lambda m: m.start)
    for i, mention in enumerate(ordered):
        stop = ordered[i + 1].start if i + 1 < len(ordered) else len(narration)
        window = narration[mention.end : min(stop, mention.end + _WINDOW)]
        match = _GENDERED_PRONOUN.search(window)
        if match is not None:
            votes.append((mention, "male" if match.group(1) else "female"))
    return votes


def compatible(candidate: Gender, required: Gender) -> bool:
    """Unknown is compatible with anything; known genders must agree."""
    return required == "unknown" or candidate == "unknown" or candidate == required


def epithet_genders(narrations: Iterable[str], nouns: Iterable[str]) -> dict[str, Gender]:
    """The gender a book gives "the child" or "the stranger": the pronouns that follow it."""
    nouns = sorted(set(nouns), key=len, reverse=True)
    if not nouns:
        return {}
    alternation = "|".join(map(re.escape, nouns))
    mention = re.compile(rf"\b(?:[Tt]he|[Tt]his|[Tt]hat)\s+(?:[a-z]+\s+){{0,2}}?({alternation})\b")
    votes: dict[str, Counter[Gender]] = {}
    for narration in narrations:
        for match in mention.finditer(narration):
            window = narration[match.end() : match.end() + _WINDOW]
            window = re.split(r"(?<=[.!?;])\s", window, maxsplit=1)[0]
            pronoun = _GENDERED_PRONOUN.search(window)
            if pronoun is not None:
                gender: Gender = "male" if pronoun.group(1) else "female"
                votes.setdefault(match.group(1), Counter())[gender] += 1
    genders: dict[str, Gender] = {}
    for noun, counter in votes.items():
        (best, n), *rest = counter.most_common()
        if n >= 2 and (not rest or n >= 3 * rest[0][1]):
            genders[noun] = best
    return genders
