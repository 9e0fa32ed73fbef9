"""Recognising book structure in plain lines: chapter headings, numbers, scene breaks, matter.

Shared by every format parser (and by the segmenter, which speaks headings), so "Chapter XII",
"CHAPTER TWELVE" and a bare "XII" are understood the same way whatever the upload was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from khipu.manuscripts.document import ChapterKind

MAX_TITLE_CHARS = 120

_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = (
    "_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
)  # fmt: skip
_ORDINAL_UNITS = (
    "zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth",
)  # fmt: skip
_ORDINAL_TENS = (
    "_", "_", "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth", "seventieth",
    "eightieth", "ninetieth",
)  # fmt: skip
_WORD_VALUES: dict[str, int] = {
    **{word: value for value, word in enumerate(_UNITS)},
    **{word: value * 10 for value, word in enumerate(_TENS) if word != "_"},
    **{word: value for value, word in enumerate(_ORDINAL_UNITS)},
    **{word: value * 10 for value, word in enumerate(_ORDINAL_TENS) if word != "_"},
}
_ROMAN = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_MAX_BARE_ROMAN = 500  # "MIX" or "DIX" alone on a line is a word, not chapter 1009

_LABELS = {"chapter": "Chapter", "chap": "Chapter", "part": "Part", "book": "Book",
           "volume": "Volume", "vol": "Volume"}  # fmt: skip
_NUMBERED = re.compile(r"(?P<label>chapter|chap\.?|part|book|volume|vol\.?)\s+(?P<after>.+)", re.I)
_NAMED_SECTIONS = (
    "prologue|epilogue|preface|foreword|introduction|afterword|interlude|conclusion|postscript|"
    "prelude|coda|dedication|acknowledgements|acknowledgments|contents|table of contents"
)
_NAMED = re.compile(rf"(?:{_NAMED_SECTIONS})(?:\s*[:.—–-]\s*\S.{{0,80}})?", re.I)
_SCENE_BREAK = re.compile(r"(?:[*#~•·∙◆◇❖❧☙⁂✻✼✦✧❦§=_—–-]\s*){1,12}")

_FRONT_TITLES = frozenset(
    {"cover", "title page", "titlepage", "half title", "half title page", "halftitle",
     "imprint", "dedication", "epigraph", "contents", "table of contents", "toc",
     "list of illustrations", "illustrations", "list of figures", "list of tables",
     "frontispiece", "series page"}
)  # fmt: skip
_BACK_TITLES = frozenset(
    {"colophon", "uncopyright", "endnotes", "notes", "footnotes", "index", "glossary",
     "bibliography", "references", "about the author", "about the authors",
     "about the publisher", "reading group guide", "the end"}
)  # fmt: skip
_EITHER_TITLES = frozenset(
    {"copyright", "copyright page", "acknowledgements", "acknowledgments", "acknowledgement",
     "acknowledgment", "credits", "permissions"}
)  # fmt: skip
_EITHER_PREFIXES = ("also by ", "other books by ", "praise for ", "books by ")
_BACK_PREFIXES = ("appendix", "about the author")


@dataclass(frozen=True, slots=True)
class NumberedHeading:
    """A heading such as "CHAPTER XII. The Letter": its label, its number and what follows."""

    label: str  # canonical: "Chapter", "Part", "Book", "Volume"
    number: int
    ordinal: bool  # "Chapter the First": spoken as written
    rest: str  # the subtitle, without the separating punctuation


def roman_to_int(text: str) -> int | None:
    """Value of a well-formed roman numeral in one case ("XII", "xii"), else None."""
    if not text or not (text.isupper() or text.islower()):
        return None
    upper = text.upper()
    if not _ROMAN.fullmatch(upper):
        return None
    total = 0
    for current, following in zip(upper, [*upper[1:], ""], strict=True):
        value = _ROMAN_VALUES[current]
        total += -value if following and _ROMAN_VALUES[following] > value else value
    return total


def words_to_int(text: str) -> int | None:
    """Value of an English number in words ("Twenty-One", "one hundred and five", "First")."""
    tokens = [t for t in re.split(r"[\s-]+", text.lower().strip()) if t and t != "and"]
    if not tokens:
        return None
    total, current = 0, 0
    for token in tokens:
        if token in _WORD_VALUES:
            current += _WORD_VALUES[token]
        elif token in ("hundred", "hundredth") and current:
            current *= 100
        elif token in ("thousand", "thousandth") and current:
            total, current = total + current * 1000, 0
        else:
            return None
    return total + current


def int_to_words(number: int) -> str:
    """Title-cased English words for a non-negative integer: 21 -> "Twenty-One"."""
    if number < 0:
        raise ValueError("number must be non-negative")
    if number < 20:
        return _UNITS[number].capitalize()
    if number < 100:
        tens, units = divmod(number, 10)
        word = _TENS[tens].capitalize()
        return f"{word}-{_UNITS[units].capitalize()}" if units else word
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        word = f"{_UNITS[hundreds].capitalize()} Hundred"
        return f"{word} and {int_to_words(rest)}" if rest else word
    thousands, rest = divmod(number, 1000)
    word = f"{int_to_words(thousands)} Thousand"
    if not rest:
        return word
    return f"{word} and {int_to_words(rest)}" if rest < 100 else f"{word} {int_to_words(rest)}"


def parse_numbered_heading(line: str) -> NumberedHeading | None:
    """Read "Chapter 3", "CHAPTER XII. Title", "Part Two", "Chapter the First" (None otherwise)."""
    match = _NUMBERED.fullmatch(line.strip())
    if not match:
        return None
    label = _LABELS[match.group("label").lower().rstrip(".")]
    after = match.group("after")
    for reader in (_leading_arabic, _leading_roman, _leading_words):
        found = reader(after)
        if found is not None:
            number, ordinal, rest = found
            return NumberedHeading(label, number, ordinal, _strip_separator(rest))
    return None


def _leading_arabic(text: str) -> tuple[int, bool, str] | None:
    match = re.match(r"(\d{1,4})(?!\w)(.*)", text)
    return (int(match.group(1)), False, match.group(2)) if match else None


def _leading_roman(text: str) -> tuple[int, bool, str] | None:
    match = re.match(r"([IVXLCDMivxlcdm]+)(?!\w)(.*)", text)
    if not match:
        return None
    value = roman_to_int(match.group(1))
    return (value, False, match.group(2)) if value else None


def _leading_words(text: str) -> tuple[int, bool, str] | None:
    ordinal = False
    if text.lower().startswith("the "):
        text, ordinal = text[4:], True
    words = re.match(r"[A-Za-z]+(?:(?:\s+|-)[A-Za-z]+)*", text)
    if not words:
        return None
    tokens = re.findall(r"[A-Za-z]+|\s+|-", words.group(0))
    # The longest run of leading tokens that reads as a number: "Twenty-One The Ball" -> 21.
    for end in range(len(tokens), 0, -1):
        candidate = "".join(tokens[:end])
        value = words_to_int(candidate)
        if value is not None and candidate.strip(" -") == candidate:
            return value, ordinal, text[len(candidate) :]
    return None


def _strip_separator(rest: str) -> str:
    return re.sub(r"^[\s.:;,—–-]+", "", rest).strip()


def is_bare_roman_numeral(line: str) -> bool:
    """An upper-case roman numeral alone ("XII", "IV."), the commonest unlabelled chapter title."""
    text = line.strip().rstrip(".")
    value = roman_to_int(text) if text.isupper() else None
    return value is not None and 0 < value <= _MAX_BARE_ROMAN


def is_chapter_heading(line: str) -> bool:
    """True for a line that starts a chapter in plain text ("Chapter 1", "XII", "Prologue")."""
    text = line.strip()
    if not text or len(text) > MAX_TITLE_CHARS:
        return False
    if is_bare_roman_numeral(text) or _NAMED.fullmatch(text):
        return True
    numbered = parse_numbered_heading(text)
    return numbered is not None and _is_subtitle(numbered.rest, text)


def _is_subtitle(rest: str, line: str) -> bool:
    """A subtitle after the number must look like a title, not like a sentence about a chapter."""
    if not rest:
        return True
    numbered_part = line[: len(line) - len(rest)]
    separated = bool(re.search(r"[.:;—–-]\s*$", numbered_part.strip()))
    return len(rest) <= 80 and (separated or rest[0].isupper()) and not rest.endswith((",", ";"))


def spoken_heading_text(title: str) -> str:
    """What a narrator says for a title: "I" -> "Chapter One", "CHAPTER XII" -> "Chapter Twelve"."""
    text = " ".join(title.split())
    if is_bare_roman_numeral(text):
        return f"Chapter {int_to_words(roman_to_int(text.rstrip('.')) or 0)}"
    if re.fullmatch(r"\d{1,4}\.?", text):
        return f"Chapter {int_to_words(int(text.rstrip('.')))}"
    numbered = parse_numbered_heading(text)
    if numbered is not None and not numbered.ordinal:
        spoken = f"{numbered.label} {int_to_words(numbered.number)}"
        return f"{spoken}: {_speakable_case(numbered.rest)}" if numbered.rest else spoken
    return _speakable_case(text)


def _speakable_case(text: str) -> str:
    """All-capital titles are read letter by letter by some engines: give them ordinary case."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 2 or not all(c.isupper() for c in letters):
        return text
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0)[0] + m.group(0)[1:].lower(), text)


def is_scene_break(text: str) -> bool:
    """A paragraph that is only an ornament ("***", "* * *", "#", "⁂") marks a scene change."""
    stripped = text.strip()
    return bool(stripped) and len(stripped) <= 40 and bool(_SCENE_BREAK.fullmatch(stripped))


def is_title_like(text: str) -> bool:
    """A short line that reads as a title rather than a sentence (used for untitled openings)."""
    stripped = text.strip()
    return (
        0 < len(stripped) <= 80
        and len(stripped.split()) <= 12
        and any(c.isalpha() for c in stripped)
        and not stripped[0].islower()
        and not stripped.endswith((".", ",", ";", ":"))
    )


def matter_kind_for_title(title: str, *, after_body: bool) -> ChapterKind | None:
    """Front or back matter recognised from a section title ("Copyright", "About the Author")."""
    key = re.sub(r"[^\w\s]", "", title.casefold()).strip()
    key = " ".join(key.split())
    if key in _FRONT_TITLES:
        return "front_matter"
    if key in _BACK_TITLES or key.startswith(_BACK_PREFIXES):
        return "back_matter"
    if key in _EITHER_TITLES or key.startswith(_EITHER_PREFIXES):
        return "back_matter" if after_body else "front_matter"
    return None


def chapter_heading_level(levels: list[int]) -> int:
    """The heading level at which a document is cut into chapters (1 = largest heading).

    Usually the highest level used; but a single top-level heading that opens the document above
    lower-level ones names the book (or a part), and the chapters are the next level down.
    """
    top = min(levels)
    if levels.count(top) == 1 and levels[0] == top and len(set(levels)) > 1:
        return min(level for level in levels if level != top)
    return top
