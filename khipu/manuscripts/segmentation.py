"""Cutting a chapter into segments, the unit of synthesis: heading, then narration and dialogue.

A paragraph is first divided into quotations (“…”, or ‘…’ in books that mark speech with single
quotes) and the narration between them, because a quotation may get another voice. Narration is
split into sentences, and consecutive short
sentences are merged up to `MERGE_CHARS` (fewer, longer requests give TTS engines better
prosody). A quotation stays whole unless it alone exceeds `max_chars`; then it, like an
over-long sentence, is split at sentences, then clauses, then words. Every cut is made on
offsets into the paragraph, so a segment is always an exact, stripped slice of its text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from khipu.manuscripts.document import ParsedChapter
from khipu.manuscripts.parsing.headings import spoken_heading_text

SegmentKind = Literal["heading", "narration", "dialogue"]
Boundary = Literal["chapter_start", "clause", "sentence", "paragraph", "scene"]
# How a book marks speech: “double” quotation marks, or ‘single’ ones (common in British editions).
QuoteConvention = Literal["double", "single"]

MERGE_CHARS = 300
_MIN_MAX_CHARS = 40

_OPENING_QUOTES = "“«"
_QUOTE_MARKS = re.compile("[“”«»]")
_SINGLE_MARKS = re.compile("[‘’]")
# A ’ after one of these closes a quotation for certain (‘Yes,’ she said); after a letter it may
# be an apostrophe (the girls’ books, goin’ home).
_STRONG_CLOSE_AFTER = frozenset(",.;:!?…—–-")
# Words that follow a quotation closed without punctuation (‘Come in’ he said).
_ATTRIBUTION_WORDS = frozenset(
    {"he", "she", "they", "said", "says", "cried", "asked", "answered", "replied", "whispered"}
)
# Contractions that some texts split off with a space ("you ‘re", "it ‘s"): not quotations.
_CONTRACTION_TAILS = frozenset({"s", "t", "re", "ll", "d", "ve", "m"})
# Words an apostrophe usually ends (the girls’ books, goin’ on, an’, o’).
_ELIDED_ENDINGS = ("s", "in")
_ELIDED_WORDS = frozenset({"an", "o", "th", "ol", "fo"})
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


def dialogue_convention(paragraphs: Iterable[str]) -> QuoteConvention:
    """Whether these paragraphs mark speech with ‘single’ rather than “double” quotation marks.

    Dialogue paragraphs open with the book's quotation mark, so the mark that opens more of them
    decides; with none either way, single only where ‘ opens words and “ is never used. A nested
    quotation, or a dialect elision (‘T ain’t) inside “…”, does not open a paragraph.
    """
    double = single = double_marks = single_openers = 0
    for text in paragraphs:
        if text.startswith(_OPENING_QUOTES):
            double += 1
        elif text.startswith("‘"):
            single += 1
        double_marks += sum(text.count(mark) for mark in _OPENING_QUOTES)
        single_openers += len(re.findall(r"(?:^|(?<=[\s(—]))‘(?=[A-Z])", text))
    if single != double:
        return "single" if single > double else "double"
    return "single" if double_marks == 0 and single_openers > 0 else "double"


def segment_chapter(
    chapter: ParsedChapter,
    *,
    max_chars: int = 1000,
    convention: QuoteConvention | None = None,
) -> list[SegmentDraft]:
    """The chapter's segments in reading order, its spoken heading first.

    `convention` says how the book marks speech; by default it is read from the chapter itself
    (`dialogue_convention` over the whole book is steadier when a caller has every chapter).
    """
    if max_chars < _MIN_MAX_CHARS:
        raise ValueError(f"max_chars must be at least {_MIN_MAX_CHARS}")
    if convention is None:
        convention = dialogue_convention(p.text for p in chapter.paragraphs)
    heading = _fit(spoken_heading(chapter.title), max_chars)
    # An empty title (a user may clear it) gives no heading rather than an empty segment.
    drafts = [SegmentDraft(heading, "heading", -1, "chapter_start")] if heading else []
    for index, paragraph in enumerate(chapter.paragraphs):
        first: Boundary = "scene" if paragraph.scene_break_before else "paragraph"
        previous = ""
        for span in _segment_spans(paragraph.text, max_chars=max_chars, convention=convention):
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


def _segment_spans(text: str, *, max_chars: int, convention: QuoteConvention) -> list[_Span]:
    """Segments of one paragraph as spans into its text."""
    spans: list[_Span] = []
    runs = _quote_runs(text) if convention == "double" else _single_quote_runs(text)
    for run in _glue_punctuation_runs(text, runs):
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


def _single_quote_runs(text: str) -> list[_Span]:
    """Like `_quote_runs` for ‘single-quoted’ speech, where ’ is also the apostrophe.

    A quotation opens at ‘ and closes at the first ’ written after punctuation (‘Yes,’ she said)
    or ending a word before an attribution (‘Come in’ he said), so that don’t, ’tis, the girls’
    books, goin’, an’ I and Mis’ Hill stay inside. A quotation still open when another one opens
    ended at its last word-final ’; one still open at the paragraph's end runs on into the next
    paragraph unless a ’ that does not look like an elision closes it. Double marks inside are a
    nested quotation.
    """
    marks = [(m.start(), m.group()) for m in _SINGLE_MARKS.finditer(text)]
    runs: list[_Span] = []
    start = _carried_over_close(text, marks)
    if start:
        runs.append(_Span(0, start, "dialogue"))
    opened: int | None = None
    word_final: list[int] = []

    def close(position: int | None, end: int) -> None:
        nonlocal start, opened
        assert opened is not None
        if opened > start:
            runs.append(_Span(start, opened, "narration"))
        start = end if position is None else _after_trailing_punctuation(text, position + 1)
        runs.append(_Span(opened, start, "dialogue"))
        opened = None

    for position, mark in marks:
        if position < start:
            continue
        if opened is None:
            if mark == "‘" and _opens(text, position):
                opened, word_final = position, []
        elif mark == "’" and (
            _closes_surely(text, position, mark)
            or (_ends_word(text, position) and _attribution_follows(text, position + 1))
        ):
            close(position, len(text))
        elif mark == "’" and _ends_word(text, position):
            word_final.append(position)
        elif mark == "‘" and _opens(text, position) and _opens_sentence(text, position):
            close(word_final[-1] if word_final else None, position)
            opened, word_final = position, []
    if opened is not None:
        final = [p for p in word_final if not _looks_elided(text, p)]
        close(final[-1] if final else None, len(text))
    if start < len(text):
        runs.append(_Span(start, len(text), "narration"))
    return runs


def _carried_over_close(text: str, marks: list[tuple[int, str]]) -> int:
    """Where a quotation carried over from the previous paragraph ends: at a sure close before
    any opening mark (0 if there is none)."""
    for position, mark in marks:
        if mark == "‘" and _opens(text, position):
            return 0
        if _closes_surely(text, position, mark):
            return _after_trailing_punctuation(text, position + 1)
    return 0


def _opens(text: str, position: int) -> bool:
    """‘ at a word's start opens a quotation, unless it is a contraction split off (you ‘re)."""
    if position > 0 and not (text[position - 1].isspace() or text[position - 1] in "([—“\"'"):
        return False
    tail = re.match(r"[a-z]+\b", text[position + 1 :])
    return position + 1 < len(text) and not (tail and tail.group() in _CONTRACTION_TAILS)


def _opens_sentence(text: str, position: int) -> bool:
    """‘ before a capital, a dash or an ellipsis (not ‘bout or ‘roun’ inside a quotation)."""
    following = text[position + 1 : position + 2]
    return following.isupper() or following.isdigit() or following in ("—", "…", "“")


def _closes_surely(text: str, position: int, mark: str) -> bool:
    return mark == "’" and position > 0 and text[position - 1] in _STRONG_CLOSE_AFTER


def _ends_word(text: str, position: int) -> bool:
    return (
        position > 0
        and text[position - 1].isalnum()
        and (position + 1 == len(text) or not text[position + 1].isalnum())
    )


def _looks_elided(text: str, position: int) -> bool:
    word = text[:position].rsplit(None, 1)[-1].lstrip("‘").lower()
    return word.endswith(_ELIDED_ENDINGS) or word in _ELIDED_WORDS


def _attribution_follows(text: str, position: int) -> bool:
    """After a closing ’: the paragraph's end or "he said" (not "goin’, an’ I", "Mis’ Hill")."""
    rest = text[position:]
    if not rest.strip():
        return True
    if not rest[0].isspace():
        return False
    return rest.split(None, 1)[0].strip(",.;:!?") in _ATTRIBUTION_WORDS


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
