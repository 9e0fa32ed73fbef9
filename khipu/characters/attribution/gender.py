"""Gender evidence for name forms: the pronouns that follow a name in the narration."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
