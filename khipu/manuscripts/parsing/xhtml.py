"""Reading an XHTML content document into a stream of events: headings, paragraphs, anchors.

Footnote references and bodies, page-number markers, images and scripts are skipped; list items
keep their numbers; table rows become one paragraph each; rules and ornaments are scene breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from khipu.manuscripts.normalize import normalize_text
from khipu.manuscripts.parsing.headings import is_scene_break
from khipu.manuscripts.parsing.safe_xml import local_name
from khipu.manuscripts.parsing.sections import join_cells

_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {"p", "div", "li", "dt", "dd", "blockquote", "section", "article", "header", "footer",
     "main", "body", "ul", "ol", "dl", "figure", "figcaption", "pre", "address", "aside",
     "details", "summary", "center", "table", "thead", "tbody", "tfoot", "caption"}
)  # fmt: skip
_SECTIONING = frozenset({"body", "section", "article", "div", "main", "nav"})
# A heading inside these is part of the text (a letter's heading, a sidebar), not a chapter start.
_NON_STRUCTURAL = frozenset({"blockquote", "aside", "figure", "table", "li", "dl", "details"})
_SKIPPED = frozenset(
    {"head", "script", "style", "nav", "svg", "math", "img", "image", "audio", "video",
     "object", "iframe", "canvas", "picture", "rp", "rt", "template", "noscript", "button"}
)  # fmt: skip
# Footnote/endnote references and bodies, page-break markers (epub:type, or ARIA role "doc-…").
_NOTE_TYPES = frozenset(
    {"noteref", "footnote", "endnote", "rearnote", "note", "pagebreak", "annoref", "backlink"}
)
_MARKER_TEXT = re.compile(r"\[?\(?(?:\d{1,3}|[*†‡§¶]{1,3}|[a-z])\)?\]?")


@dataclass(frozen=True, slots=True)
class Anchor:
    """An element the table of contents points to: a chapter may start here."""

    fragment: str


@dataclass(frozen=True, slots=True)
class Heading:
    """A heading outside letters, asides and tables; `types` are its sections' epub:types."""

    text: str
    level: int
    types: frozenset[str]


@dataclass(frozen=True, slots=True)
class TextEvent:
    """One paragraph's raw text (a list item, a table row, a letter's line...)."""

    text: str
    types: frozenset[str]


@dataclass(frozen=True, slots=True)
class BreakEvent:
    """A scene break: a horizontal rule or an ornament paragraph."""


Event = Anchor | Heading | TextEvent | BreakEvent


def semantic_types(element: etree._Element) -> set[str]:
    """epub:type tokens without vocabulary prefix ("z3998:fiction" -> "fiction"), and ARIA roles."""
    raw = f"{element.get(_OPS_TYPE, '')} {element.get('epub:type', '')} {element.get('role', '')}"
    return {token.rpartition(":")[2].removeprefix("doc-").lower() for token in raw.split()}


def sectioning_types(body: etree._Element) -> set[str]:
    """Semantic types of a body and its sections (not of notes or inline elements)."""
    types: set[str] = set()
    for element in body.iter():
        if local_name(element) in _SECTIONING:
            types |= semantic_types(element)
    return types


def read_events(body: etree._Element, *, anchor_ids: set[str]) -> list[Event]:
    """The events of a document body in order; `anchor_ids` are element ids the ToC points to."""
    walker = _BlockWalker(anchor_ids)
    walker.walk(body, structural=True)
    walker.flush()
    return walker.events


class _BlockWalker:
    """Turns an XHTML body into events: paragraphs, headings, ToC anchors, scene breaks."""

    def __init__(self, anchor_ids: set[str]) -> None:
        self.events: list[Event] = []
        self._anchor_ids = anchor_ids
        self._buffer: list[str] = []
        self._types: list[set[str]] = []

    def flush(self) -> None:
        text = "".join(self._buffer)
        self._buffer.clear()
        if not text.strip():
            return
        if is_scene_break(text):
            self.events.append(BreakEvent())
        else:
            self.events.append(TextEvent(text, self._current_types()))

    def _current_types(self) -> frozenset[str]:
        return frozenset().union(*self._types) if self._types else frozenset()

    def walk(self, element: etree._Element, *, structural: bool) -> None:
        name = local_name(element)
        if not name or _is_skipped(element, name):
            self._buffer.append(element.tail or "")
            return
        element_id = element.get("id")
        if element_id in self._anchor_ids:
            self.flush()
            self.events.append(Anchor(element_id))
        if name in _HEADINGS or name == "hgroup":
            self._heading(element, structural=structural)
        elif name == "hr":
            self.flush()
            self.events.append(BreakEvent())
        elif name == "br":
            self._buffer.append(" ")
        elif name == "tr":
            self.flush()
            cells = [_inline_text(c) for c in element if local_name(c) in ("td", "th")]
            self._buffer.append(join_cells([normalize_text(c) for c in cells]))
            self.flush()
        elif name in _BLOCKS:
            self._block(element, name, structural=structural)
        else:
            self._buffer.append(element.text or "")
            for child in element:
                self.walk(child, structural=structural)
        self._buffer.append(element.tail or "")

    def _block(self, element: etree._Element, name: str, *, structural: bool) -> None:
        self.flush()
        sectioning = name in _SECTIONING
        if sectioning:
            self._types.append(semantic_types(element))
        if name == "li":
            self._buffer.append(_list_marker(element))
        self._buffer.append(element.text or "")
        inner_structural = structural and name not in _NON_STRUCTURAL
        for child in element:
            self.walk(child, structural=inner_structural)
        self.flush()
        if sectioning:
            self._types.pop()

    def _heading(self, element: etree._Element, *, structural: bool) -> None:
        self.flush()
        text = _heading_text(element)
        if not text.strip():
            return
        if structural:
            level = _heading_level(element)
            self.events.append(
                Heading(text, level, self._current_types() | semantic_types(element))
            )
        else:
            self.events.append(TextEvent(text, self._current_types()))


def _is_skipped(element: etree._Element, name: str) -> bool:
    if name in _SKIPPED or element.get("hidden") is not None:
        return True
    if semantic_types(element) & _NOTE_TYPES:
        return True
    if name == "sup" or (name == "a" and "#" in element.get("href", "")):
        # Superscript numbers and bare in-book links like "[12]" are footnote markers.
        return bool(_MARKER_TEXT.fullmatch("".join(element.itertext()).strip()))
    return False


def _inline_text(element: etree._Element) -> str:
    parts: list[str] = [element.text or ""]
    for child in element:
        name = local_name(child)
        if name and not _is_skipped(child, name):
            parts.append(" " if name == "br" else _inline_text(child))
            if name in _BLOCKS or name in _HEADINGS:
                parts.append(" ")
        parts.append(child.tail or "")
    return "".join(parts)


def _heading_level(element: etree._Element) -> int:
    names = [local_name(element)] + [local_name(child) for child in element]
    return min((int(name[1]) for name in names if name in _HEADINGS), default=2)


def _heading_text(element: etree._Element) -> str:
    if local_name(element) != "hgroup":
        return normalize_text(_inline_text(element))
    parts = [normalize_text(_inline_text(child)) for child in element if local_name(child)]
    return ": ".join(part for part in parts if part)


def _list_marker(item: etree._Element) -> str:
    """Ordered list items keep their number ("3. "), as a reader would say it."""
    parent = item.getparent()
    if parent is None or local_name(parent) != "ol":
        return ""
    siblings = [child for child in parent if local_name(child) == "li"]
    start = parent.get("start", "1")
    first = int(start) if start.lstrip("-").isdigit() else 1
    return f"{first + siblings.index(item)}. "
