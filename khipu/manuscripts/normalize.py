"""Text normalisation shared by every format: one clean, speakable, faithful form of a paragraph.

Typography is made consistent (curly quotes, ellipses, dashes) because the segmenter finds dialogue
by its curly quotation marks and TTS engines read "--" or "..." badly; invisible characters and
footnote markers are removed because they would be spoken or break words.
"""

from __future__ import annotations

import re
import unicodedata

# Soft hyphen, zero-width space/non-joiner/joiner, bidi marks, word joiner, BOM: invisible in print,
# but they split words for a TTS engine (Standard Ebooks puts U+2060 before every em dash).
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")
_ELLIPSIS = re.compile(r"\.\s?\.\s?\.")
_DOUBLE_HYPHEN = re.compile(r"-{2,3}")
_SPACED_HYPHEN = re.compile(r"(?<= )-(?= )")

# Elisions that start with an apostrophe, so "'tis" gets ’ rather than an opening ‘.
_ELISIONS = frozenset(
    {"tis", "twas", "twere", "twill", "twould", "em", "n", "cause", "til", "round", "bout",
     "neath", "gainst", "ere", "nuff", "kay", "ow", "er", "im", "ave", "e"}
)  # fmt: skip
_OPENING_CONTEXT = frozenset("([{‘“—–-/")
_CLOSING_PUNCTUATION = frozenset(".,;:!?…”’)]")
_DASHES = frozenset("—–-")
_BROKEN_OFF = frozenset("—–…")  # speech may start or stop on a dash or an ellipsis

# (trigger characters, pattern): a pattern only runs on text containing one of its triggers.
_FOOTNOTE_MARKERS = (
    ("[", re.compile(r"(?<=\S)\[\^?\w{1,3}\]")),  # word[1], word[^1], word[a]
    ("^", re.compile(r"(?<=\S)\^\d{1,3}\b")),  # word^1
    ("*", re.compile(r"(?:(?<=[^\W\d_])|(?<=[.,;:!?’”]))\*{1,3}(?=[\s.,;:!?’”)]|$)")),  # word*
    ("¹²³⁴⁵⁶⁷⁸⁹⁰†‡", re.compile(r"(?:(?<=[^\W\d_]{2})|(?<=[.,;:!?’”]))[¹²³⁴⁵⁶⁷⁸⁹⁰†‡]+")),
)
_PAGE_NUMBER_LINE = re.compile(
    r"^\s*(?:page\s+|p\.\s*)?[\[(\-–—]?\s*\d{1,4}\s*[\])\-–—]?\s*$", re.IGNORECASE
)


def normalize_text(text: str) -> str:
    """Return one paragraph's text in the canonical form stored and segmented."""
    text = unicodedata.normalize("NFC", text)
    text = " ".join(_INVISIBLE.sub("", text).split())
    if ".." in text or ". ." in text:
        text = _ELLIPSIS.sub("…", text)
    if "-" in text:
        text = _SPACED_HYPHEN.sub("—", _DOUBLE_HYPHEN.sub("—", text))
    text = curl_quotes(text)
    text = remove_footnote_markers(text)
    return " ".join(text.split())


def curl_quotes(text: str) -> str:
    """Turn straight quotes into typographic ones where the context makes the direction clear."""
    if '"' not in text and "'" not in text:
        return text
    chars = list(text)
    for index, char in enumerate(chars):
        if char not in "\"'":
            continue
        before = chars[index - 1] if index else " "
        after = chars[index + 1] if index + 1 < len(chars) else " "
        if char == '"':
            chars[index] = _curl_double(before, after)
        else:
            chars[index] = _curl_single(before, after, text[index + 1 : index + 8])
    return "".join(chars)


def _curl_double(before: str, after: str) -> str:
    if _closes_after_dash(before, after):
        return "”"  # “I think—” (she hesitated)
    opens = before in _OPENING_CONTEXT or before.isspace()
    if opens and after.isspace():
        return '"'  # a lone mark between spaces (5 " tall): leave it alone
    return "“" if opens else "”"


def _curl_single(before: str, after: str, following: str) -> str:
    if not (before in _OPENING_CONTEXT or before.isspace()) or _closes_after_dash(before, after):
        return "’"  # don’t, Bennets’, closing ’ (also after _emphasis!_), ‘I think—’
    if after in _BROKEN_OFF:
        return "‘"  # ‘—found it advisable’
    if after.isalnum():
        word = re.match(r"[^\W_]+", following)
        if after.isdigit() or (word and word.group(0).lower() in _ELISIONS):
            return "’"  # ’tis, ’90s
        return "‘"
    return "'"


def _closes_after_dash(before: str, after: str) -> bool:
    """A mark between a dash and a space or punctuation ends a broken-off quotation."""
    return before in _DASHES and (after.isspace() or after in _CLOSING_PUNCTUATION)


def remove_footnote_markers(text: str) -> str:
    """Drop footnote references glued to words ("word[1]", "word^2", "word*", "word¹")."""
    for triggers, marker in _FOOTNOTE_MARKERS:
        if any(trigger in text for trigger in triggers):
            text = marker.sub("", text)
    return text


def is_page_number_line(line: str) -> bool:
    """True for a plain-text line holding only a page number ("12", "- 12 -", "Page 12")."""
    return bool(_PAGE_NUMBER_LINE.match(line))
