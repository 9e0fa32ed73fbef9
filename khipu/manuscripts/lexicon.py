"""A project's pronunciation lexicon: entries, validation, a version hash, and matching in text.

Entries match whole words, case-sensitively, longest grapheme first, and a matched span is never
matched again: "New York City" wins over "York" inside it. `lexicon_matches` is the one matcher
used both for SSML (`<phoneme>`, `<sub>`) and for alias replacement in plain-text engines.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from khipu.manuscripts.errors import InvalidLexicon

MAX_ENTRIES = 5000
MAX_GRAPHEME_CHARS = 100
MAX_PHONEME_CHARS = 200
MAX_ALIAS_CHARS = 200
# IPA is letters, combining diacritics and modifier letters, plus these marks (stress, length,
# syllable and group boundaries, tie bar, linking).
_IPA_MARKS = frozenset(" .ˈˌːˑ|‖‿͜͡'-")


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    grapheme: str
    phoneme: str | None = None  # IPA
    alias: str | None = None  # exactly one of phoneme / alias


@dataclass(frozen=True, slots=True)
class LexiconMatch:
    start: int
    end: int
    entry: LexiconEntry


def validate_lexicon(entries: Sequence[LexiconEntry]) -> None:
    """Raise `InvalidLexicon` naming the first offending entry and what to change."""
    if len(entries) > MAX_ENTRIES:
        raise InvalidLexicon(f"A lexicon holds at most {MAX_ENTRIES} entries, not {len(entries)}.")
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        problem = _entry_problem(entry)
        if problem is None and entry.grapheme in seen:
            problem = f"duplicates entry {seen[entry.grapheme]}; keep one of them"
        if problem is not None:
            raise InvalidLexicon(f"Lexicon entry {number} ({entry.grapheme!r}): {problem}.")
        seen[entry.grapheme] = number


def _entry_problem(entry: LexiconEntry) -> str | None:
    grapheme = entry.grapheme
    if not grapheme or not grapheme.strip():
        return "the word (grapheme) is empty"
    if grapheme != grapheme.strip() or any(c in "\n\r\t" for c in grapheme):
        return "the word has leading/trailing spaces or line breaks; remove them"
    if len(grapheme) > MAX_GRAPHEME_CHARS:
        return f"the word is longer than {MAX_GRAPHEME_CHARS} characters"
    if not any(c.isalnum() for c in grapheme):
        return "the word must contain a letter or digit"
    if _has_control_characters(grapheme):
        return "the word contains control characters"
    if bool(entry.phoneme) == bool(entry.alias):
        return "give either a phoneme (IPA) or an alias, exactly one of the two"
    if entry.phoneme:
        return _phoneme_problem(entry.phoneme)
    return _alias_problem(entry.alias or "")


def _phoneme_problem(phoneme: str) -> str | None:
    if not phoneme.strip():
        return "the phoneme is blank"
    if len(phoneme) > MAX_PHONEME_CHARS:
        return f"the phoneme is longer than {MAX_PHONEME_CHARS} characters"
    for char in phoneme:
        category = unicodedata.category(char)
        if not (category.startswith(("L", "M")) or category == "Sk" or char in _IPA_MARKS):
            return f"the phoneme contains {char!r}, which is not IPA"
    return None


def _alias_problem(alias: str) -> str | None:
    if not alias.strip():
        return "the alias is blank"
    if len(alias) > MAX_ALIAS_CHARS:
        return f"the alias is longer than {MAX_ALIAS_CHARS} characters"
    if _has_control_characters(alias):
        return "the alias contains control characters"
    return None


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs", "Cn") for c in text)


def lexicon_version(entries: Sequence[LexiconEntry]) -> str:
    """A short, stable hash of the lexicon's content (not its order): part of TTS cache keys."""
    canonical = sorted((e.grapheme, e.phoneme or "", e.alias or "") for e in entries)
    payload = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def lexicon_matches(text: str, entries: Sequence[LexiconEntry]) -> Iterator[LexiconMatch]:
    """Non-overlapping whole-word matches, left to right, the longest grapheme winning."""
    if not entries or not text:
        return
    by_grapheme = {entry.grapheme: entry for entry in entries if entry.grapheme}
    if not by_grapheme:
        return
    ordered = sorted(by_grapheme, key=lambda g: (-len(g), g))
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ordered)) + r")(?!\w)")
    for match in pattern.finditer(text):
        yield LexiconMatch(match.start(), match.end(), by_grapheme[match.group(0)])


def apply_aliases(text: str, entries: Sequence[LexiconEntry]) -> str:
    """Replace alias entries' words with their aliases (for engines that take plain text)."""
    aliases = [entry for entry in entries if entry.alias]
    parts: list[str] = []
    position = 0
    for match in lexicon_matches(text, aliases):
        parts.append(text[position : match.start])
        parts.append(match.entry.alias or "")
        position = match.end
    parts.append(text[position:])
    return "".join(parts)
