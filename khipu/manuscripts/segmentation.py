"""Cutting a chapter into segments, the unit of synthesis: heading, then narration and dialogue.

A paragraph is first divided into quotations (“…”) and the narration between them, because a
quotation may get another voice. Narration is split into sentences, and consecutive short
sentences are merged up to `MERGE_CHARS` (fewer, longer requests give TTS engines better
prosody). A quotation stays whole unless it alone exceeds `max_chars`; then it, like an
over-long sentence, is split at sentences, then clauses, then words. Every cut is made on
offsets into the paragraph, so a segment is always an exact, stripped slice of its text.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Literal

from khipu.manuscripts.document import ParsedChapter
from khipu.manuscripts.parsing.headings import spoken_heading_text

SegmentKind = Literal["heading", "narration", "dialogue"]
Boundary = Literal["chapter_start", "clause", "sentence", "paragraph", "scene"]

MERGE_CHARS = 300
_MIN_MAX_CHARS = 40

_OPENING_QUOTES = "“«"
_QUOTE_MARKS = re.compile("[“”«»]")
# Punctuation written after a closing quote belongs to the quotation (“Hello”, he said).
_TRAILING_PUNCTUATION = ",.;:!?…"
_SENTENCE_END = re.compile(r"[.!?…]+[”’\"')\]»]*(?=\s)")
_SENTENCE_START = re.compile(r"[\"'“‘(\[«¿¡]*[A-Z0-9\u00C0-\u00DE\u0391-\u03A9\u0410-\u042F]")
_CLAUSE_END = re.compile(r"[,;:][”’\"')\]]*(?=\s)|\s[—–](?=\s)|—(?=[^\s”’\"'»)\]])")
_TERMINAL = re.compile(r"[.!?…][”’\"')\]»]*$")
_WORD = re.compile(r"[^\W_]+(?:[’'\-][^\W_]+)*")
# Abbreviations after which a full stop never ends a sentence.
_TITLES = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "rev", "hon", "capt", "col", "gen",
     "lt", "sgt", "messrs", "mme", "mlle", "mt", "fr", "gov", "pres", "sen", "rep", "supt",
     "insp", "esq", "bros", "vs", "viz", "cf"}
)  # fmt: skip
_NEVER_FINAL = _TITLES | {"e.g", "i.e"}
_BEFORE_NUMBER = frozenset({"no", "nos", "vol", "p", "pp", "fig", "ch", "art", "sec"})


@dataclass(frozen=True, slots=True)
class SegmentDraft:
    text: str  # what the reader sees, quotation marks included; for a heading: what is spoken
    kind: SegmentKind
    paragraph: int  # index of the source paragraph in the chapter; the heading is -1
    boundary: Boundary  # the break BEFORE this segment


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    kind: SegmentKind


def spoken_heading(title: str) -> str:
    """What is read aloud for a chapter title: "I" -> "Chapter One", "Preface" -> "Preface"."""
    return spoken_heading_text(title)


def count_words(text: str) -> int:
    """Words as a reader counts them: "o’clock" and "well-known" are one word each."""
    return len(_WORD.findall(text))


def split_sentences(text: str) -> list[str]:
    """The sentences of a text, never cut after "Mr.", an initial, "e.g." or before lowercase."""
    cuts = [0, *_sentence_cuts(text, 0, len(text)), len(text)]
    sentences = (text[start:end].strip() for start, end in itertools.pairwise(cuts))
    return [sentence for sentence in sentences if sentence]


def segment_chapter(chapter: ParsedChapter, *, max_chars: int = 1000) -> list[SegmentDraft]:
    """The chapter's segments in reading order, its spoken heading first."""
    if max_chars < _MIN_MAX_CHARS:
        raise ValueError(f"max_chars must be at least {_MIN_MAX_CHARS}")
    heading = _fit(spoken_heading(chapter.title), max_chars)
    # An empty title (a user may clear it) gives no heading rather than an empty segment.
    drafts = [SegmentDraft(heading, "heading", -1, "chapter_start")] if heading else []
    for index, paragraph in enumerate(chapter.paragraphs):
        first: Boundary = "scene" if paragraph.scene_break_before else "paragraph"
        previous = ""
        for span in _segment_spans(paragraph.text, max_chars=max_chars):
            text = paragraph.text[span.start : span.end].strip()
            boundary: Boundary = first if not previous else _boundary_between(previous, text)
            drafts.append(SegmentDraft(text, span.kind, index, boundary))
            previous = text
    return drafts


def _boundary_between(previous: str, current: str) -> Boundary:
    """A sentence break needs a stop before and a capital after (“Well?” cried she: a clause)."""
    if _TERMINAL.search(previous) and _SENTENCE_START.match(current):
        return "sentence"
    return "clause"


def _fit(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars + 1)
    return text[: cut if cut > 0 else max_chars].rstrip()


def _segment_spans(text: str, *, max_chars: int) -> list[_Span]:
    """Segments of one paragraph as spans into its text."""
    spans: list[_Span] = []
    for run in _glue_punctuation_runs(text, _quote_runs(text)):
        if run.kind == "dialogue":
            pieces = _split_long(text, run.start, run.end, max_chars, target=max_chars)
        else:
            pieces = _split_long(text, run.start, run.end, max_chars, target=MERGE_CHARS)
        spans.extend(_Span(start, end, run.kind) for start, end in pieces)
    return [span for span in spans if text[span.start : span.end].strip()]


# --- quotations ------------------------------------------------------------------------------


def _quote_runs(text: str) -> list[_Span]:
    """Alternating narration and dialogue runs of a paragraph, in one pass over its quote marks.

    A quotation left open runs to the end of the paragraph (the convention for speech that goes
    on into the next paragraph, which opens with a new quotation mark). A closing mark before
    any opening one closes a quotation carried over from the previous paragraph. An opening
    mark inside a quotation, or a stray closing mark in narration, is text.
    """
    runs: list[_Span] = []
    start = 0
    in_quote = False
    for mark in _QUOTE_MARKS.finditer(text):
        position = mark.start()
        if mark.group() in _OPENING_QUOTES:
            if not in_quote:
                if position > start:
                    runs.append(_Span(start, position, "narration"))
                start, in_quote = position, True
        elif in_quote or (start == 0 and not runs):
            end = _after_trailing_punctuation(text, position + 1)
            runs.append(_Span(start, end, "dialogue"))
            start, in_quote = end, False
    if start < len(text):
        runs.append(_Span(start, len(text), "dialogue" if in_quote else "narration"))
    return runs


def _after_trailing_punctuation(text: str, position: int) -> int:
    while position < len(text) and text[position] in _TRAILING_PUNCTUATION:
        position += 1
    return position


def _glue_punctuation_runs(text: str, runs: list[_Span]) -> list[_Span]:
    """A run without any letter or digit (a lone dash between two quotations) joins a neighbour."""
    glued: list[_Span] = []
    for run in runs:
        if not any(c.isalnum() for c in text[run.start : run.end]):
            if glued:
                glued[-1] = _Span(glued[-1].start, run.end, glued[-1].kind)
            elif text[run.start : run.end].strip():
                glued.append(run)
            continue
        if glued and not any(c.isalnum() for c in text[glued[-1].start : glued[-1].end]):
            glued[-1] = _Span(glued[-1].start, run.end, run.kind)
            continue
        glued.append(run)
    return glued


# --- cutting long runs ----------------------------------------------------------------------


def _split_long(
    text: str, start: int, end: int, max_chars: int, *, target: int
) -> list[tuple[int, int]]:
    """Cut text[start:end] into pieces: sentences merged up to `target`, none over `max_chars`.

    A run that fits in `target` is kept whole; otherwise it is cut at sentence ends, and a
    sentence still too long at clause marks, then at spaces, then (a "word" longer than
    max_chars, which no real text has) anywhere.
    """
    target = min(target, max_chars)
    if end - start <= target:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    for sentence_start, sentence_end in _pack(_sentence_cuts(text, start, end), start, end, target):
        if sentence_end - sentence_start <= max_chars:
            pieces.append((sentence_start, sentence_end))
            continue
        for clause_start, clause_end in _pack(
            _clause_cuts(text, sentence_start, sentence_end), sentence_start, sentence_end,
            max_chars,
        ):  # fmt: skip
            if clause_end - clause_start <= max_chars:
                pieces.append((clause_start, clause_end))
            else:
                pieces.extend(_split_at_words(text, clause_start, clause_end, max_chars))
    return pieces


def _pack(cuts: list[int], start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Greedily join the pieces between `cuts` while they fit in `limit` characters."""
    pieces: list[tuple[int, int]] = []
    piece_start = start
    last_fitting = start
    for cut in [*cuts, end]:
        if cut - piece_start <= limit:
            last_fitting = cut
            continue
        if last_fitting > piece_start:
            pieces.append((piece_start, last_fitting))
            piece_start = last_fitting
        last_fitting = cut
        if cut - piece_start > limit:
            pieces.append((piece_start, cut))  # one piece alone too long: the caller cuts it
            piece_start = cut
    if piece_start < end:
        pieces.append((piece_start, end))
    return pieces


def _sentence_cuts(text: str, start: int, end: int) -> list[int]:
    cuts = []
    for match in _SENTENCE_END.finditer(text, start, end):
        following = _next_visible(text, match.end(), end)
        if following == -1:
            continue
        if _SENTENCE_START.match(text, following) and not _is_abbreviation(text, match, following):
            cuts.append(match.end())
    return cuts


def _next_visible(text: str, position: int, end: int) -> int:
    while position < end and text[position].isspace():
        position += 1
    return position if position < end else -1


def _is_abbreviation(text: str, match: re.Match[str], following: int) -> bool:
    """A full stop that belongs to "Mr.", an initial ("J. K."), "e.g." or "No. 5"."""
    if text[match.start() : match.end()] != ".":
        return False
    word_start = match.start()
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start : match.start()].lower()
    if word in _NEVER_FINAL:
        return True
    if len(word) == 1 and text[word_start].isupper():
        return True  # an initial: "J. K. Rowling"
    return word in _BEFORE_NUMBER and text[following].isdigit()


def _clause_cuts(text: str, start: int, end: int) -> list[int]:
    return [m.end() for m in _CLAUSE_END.finditer(text, start, end) if m.end() < end]


def _split_at_words(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    pieces: list[tuple[int, int]] = []
    piece_start = start
    while end - piece_start > max_chars:
        cut = _word_cut(text, piece_start, piece_start + max_chars)
        pieces.append((piece_start, cut))
        piece_start = cut
    pieces.append((piece_start, end))
    return pieces


def _word_cut(text: str, start: int, limit: int) -> int:
    """Where to end a piece: after the last space before `limit` that does not follow "Mr." or
    an initial; after any last space if only such words are there; at `limit` inside a single
    token longer than max_chars (which no real text has)."""
    last_space = text.rfind(" ", start + 1, limit)
    if last_space == -1:
        return limit
    space = last_space
    while space != -1:
        word = text[max(text.rfind(" ", start, space) + 1, start) : space]
        if not _is_title_word(word):
            return space + 1
        space = text.rfind(" ", start + 1, space)
    return last_space + 1


def _is_title_word(word: str) -> bool:
    """ "Mr.", "Dr.", "J.": a word after which no pause belongs."""
    if not word.endswith("."):
        return False
    bare = word.rstrip(".").lower()
    return bare in _TITLES or (len(bare) == 1 and bare.isalpha())
