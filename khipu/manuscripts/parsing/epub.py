"""EPUB 2 and 3: spine order, titles from the nav document or NCX, front/back matter semantics.

Each spine document is read into a stream of headings, anchors and paragraphs; a document with
several top-level headings (or several table-of-contents targets) is split into several
chapters, and a document with neither a heading nor a ToC entry continues the previous chapter.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from lxml import etree

from khipu.manuscripts.document import (
    ChapterKind,
    ImportLimits,
    Paragraph,
    ParsedChapter,
    ParsedManuscript,
)
from khipu.manuscripts.errors import CorruptManuscript, DrmProtected
from khipu.manuscripts.normalize import normalize_text
from khipu.manuscripts.parsing.archive import SafeArchive
from khipu.manuscripts.parsing.headings import (
    chapter_heading_level,
    matter_kind_for_title,
    spoken_heading_text,
)
from khipu.manuscripts.parsing.safe_xml import local_name, parse_xhtml, parse_xml
from khipu.manuscripts.parsing.xhtml import (
    Anchor,
    BreakEvent,
    Event,
    Heading,
    TextEvent,
    read_events,
    sectioning_types,
    semantic_types,
)

_CONTAINER_NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container"}
_OPF_NS = {"opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}
_NCX_NS = {"ncx": "http://www.daisy.org/z3986/2005/ncx/"}
_ENC_NS = {"enc": "http://www.w3.org/2001/04/xmlenc#"}
_OPF_MEDIA_TYPE = "application/oebps-package+xml"
_FONT_OBFUSCATION = frozenset(
    {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
)
_DRM_MEMBERS = ("META-INF/rights.xml", "META-INF/sinf.xml")
_CONTENT_EXTENSIONS = (".xhtml", ".html", ".htm", ".xml", ".opf", ".ncx")
_CONTENT_TYPES = frozenset({"application/xhtml+xml", "text/html"})

# epub:type / guide / landmark semantics, most specific first when classifying.
_CHAPTER_TYPES = frozenset(
    {"chapter", "prologue", "epilogue", "preface", "foreword", "introduction", "part", "volume",
     "afterword", "conclusion", "division", "subchapter", "preamble"}
)  # fmt: skip
_FRONT_TYPES = frozenset(
    {"cover", "titlepage", "title-page", "halftitlepage", "halftitle", "imprint", "dedication",
     "epigraph", "toc", "loi", "lot", "lof", "frontispiece", "seriespage", "landmarks",
     "other-credits", "errata", "contributors"}
)  # fmt: skip
_BACK_TYPES = frozenset(
    {"colophon", "uncopyright", "endnotes", "rearnotes", "footnotes", "notes", "index",
     "glossary", "bibliography", "appendix"}
)  # fmt: skip
_EITHER_TYPES = frozenset(
    {"copyright-page", "copyright", "acknowledgments", "acknowledgements", "credits"}
)
_GENERIC_TYPES: dict[str, ChapterKind] = {
    "frontmatter": "front_matter",
    "backmatter": "back_matter",
    "bodymatter": "chapter",
    "text": "chapter",
}
_FILE_NAME_HINTS: dict[str, str] = {
    "cover": "cover", "titlepage": "titlepage", "title": "titlepage", "halftitle": "halftitle",
    "halftitlepage": "halftitle", "imprint": "imprint", "copyright": "copyright",
    "dedication": "dedication", "epigraph": "epigraph", "toc": "toc", "contents": "toc",
    "nav": "toc", "colophon": "colophon", "uncopyright": "uncopyright", "endnotes": "endnotes",
    "footnotes": "footnotes", "notes": "endnotes", "glossary": "glossary",
    "acknowledgments": "acknowledgments", "acknowledgements": "acknowledgments",
    "chapter": "chapter", "prologue": "prologue", "epilogue": "epilogue", "preface": "preface",
    "foreword": "foreword", "introduction": "introduction", "afterword": "afterword",
}  # fmt: skip

# Titles for untitled matter, from its semantics (a cover page is usually only an image).
_TYPE_TITLES = (
    ("cover", "Cover"), ("titlepage", "Title Page"), ("title-page", "Title Page"),
    ("halftitlepage", "Half Title"), ("halftitle", "Half Title"), ("imprint", "Imprint"),
    ("copyright-page", "Copyright"), ("copyright", "Copyright"), ("dedication", "Dedication"),
    ("epigraph", "Epigraph"), ("toc", "Contents"), ("loi", "List of Illustrations"),
    ("colophon", "Colophon"), ("uncopyright", "Uncopyright"), ("endnotes", "Notes"),
    ("footnotes", "Notes"), ("rearnotes", "Notes"), ("glossary", "Glossary"), ("index", "Index"),
    ("bibliography", "Bibliography"), ("acknowledgments", "Acknowledgments"),
)  # fmt: skip

# A classification hint; "matter" is front or back matter depending on where it stands.
_Hint = Literal["chapter", "front_matter", "back_matter", "matter"]


@dataclass(frozen=True, slots=True)
class _Item:
    path: str  # full path inside the archive
    media_type: str
    properties: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Package:
    title: str | None
    author: str | None
    language: str | None
    spine: tuple[tuple[_Item, bool], ...]  # (item, linear)
    nav: _Item | None
    ncx: _Item | None
    guide: dict[str, set[str]]  # document path -> guide reference types


@dataclass(frozen=True, slots=True)
class _TocEntry:
    fragment: str | None
    title: str


@dataclass(frozen=True, slots=True)
class _Navigation:
    toc: dict[str, list[_TocEntry]]  # document path -> its ToC entries, in order
    landmarks: dict[str, set[str]]  # document path -> semantic types (landmarks, guide)


@dataclass(slots=True)
class _Split:
    """One chapter-to-be inside a spine document."""

    toc_title: str | None = None
    heading: str | None = None
    types: set[str] = field(default_factory=set)
    paragraphs: list[Paragraph] = field(default_factory=list)
    scene_pending: bool = False


@dataclass(frozen=True, slots=True)
class _Section:
    title: str | None
    heading: str | None
    hints: tuple[_Hint | None, ...]  # most trustworthy first
    paragraphs: tuple[Paragraph, ...]
    has_toc_entry: bool
    linear: bool


def parse_epub(data: bytes, *, limits: ImportLimits) -> ParsedManuscript:
    archive = SafeArchive(data, limits=limits, label="EPUB")
    _refuse_drm(archive)
    package = _read_package(archive, _package_path(archive))
    navigation = _navigation(archive, package)
    sections: list[_Section] = []
    for item, linear in package.spine:
        if item.media_type not in _CONTENT_TYPES and not item.path.endswith(_CONTENT_EXTENSIONS):
            continue
        sections.extend(
            _document_sections(
                archive, item, linear=linear, is_nav=item is package.nav, navigation=navigation
            )
        )
    return ParsedManuscript(
        format="epub",
        title=package.title,
        author=package.author,
        language=package.language,
        chapters=tuple(_chapters(sections)),
    )


# --- container, DRM, package ---------------------------------------------------------------


def _refuse_drm(archive: SafeArchive) -> None:
    for name in _DRM_MEMBERS:
        if name in archive:
            raise DrmProtected(
                f"This EPUB is DRM-encrypted ({name} is present). Upload the DRM-free file "
                f"you received from your publisher or distributor."
            )
    if any(archive.is_encrypted(name) for name in archive.names):
        raise DrmProtected(
            "This EPUB is encrypted (password-protected ZIP members). Upload the DRM-free file."
        )
    encryption = archive.read_optional("META-INF/encryption.xml")
    if encryption is None:
        return
    root = parse_xml(encryption, part="META-INF/encryption.xml")
    for data in root.iterfind(".//enc:EncryptedData", _ENC_NS):
        method = data.find("enc:EncryptionMethod", _ENC_NS)
        algorithm = method.get("Algorithm", "") if method is not None else ""
        reference = data.find(".//enc:CipherReference", _ENC_NS)
        target = unquote(reference.get("URI", "")) if reference is not None else ""
        # Font obfuscation is legal and harmless; anything else encrypted is DRM.
        if algorithm not in _FONT_OBFUSCATION or target.lower().endswith(_CONTENT_EXTENSIONS):
            raise DrmProtected(
                f"This EPUB is DRM-encrypted: META-INF/encryption.xml encrypts {target!r}. "
                f"Upload the DRM-free file you received from your publisher or distributor."
            )


def _package_path(archive: SafeArchive) -> str:
    container = archive.read_optional("META-INF/container.xml")
    if container is None:
        raise CorruptManuscript(
            "This EPUB has no META-INF/container.xml, so its content cannot be found."
        )
    root = parse_xml(container, part="META-INF/container.xml")
    for rootfile in root.iterfind(".//c:rootfile", _CONTAINER_NS):
        path = rootfile.get("full-path")
        if path and rootfile.get("media-type", _OPF_MEDIA_TYPE) == _OPF_MEDIA_TYPE:
            return unquote(path)
    raise CorruptManuscript("This EPUB's container.xml names no package (OPF) document.")


def _read_package(archive: SafeArchive, opf_path: str) -> _Package:
    if opf_path not in archive:
        raise CorruptManuscript(f"This EPUB's package document {opf_path!r} is missing.")
    root = parse_xml(archive.read(opf_path), part=opf_path)
    base = posixpath.dirname(opf_path)
    items: dict[str, _Item] = {}
    for element in root.iterfind("opf:manifest/opf:item", _OPF_NS):
        href, item_id = element.get("href"), element.get("id")
        if href and item_id:
            items[item_id] = _Item(
                path=_resolve(base, href),
                media_type=element.get("media-type", ""),
                properties=frozenset(element.get("properties", "").split()),
            )
    spine_element = root.find("opf:spine", _OPF_NS)
    if spine_element is None:
        raise CorruptManuscript(f"This EPUB's package document {opf_path!r} has no spine.")
    spine = tuple(
        (items[ref.get("idref", "")], ref.get("linear", "yes") != "no")
        for ref in spine_element.iterfind("opf:itemref", _OPF_NS)
        if ref.get("idref") in items
    )
    if not spine:
        raise CorruptManuscript("This EPUB's spine lists no readable documents.")
    guide: dict[str, set[str]] = {}
    for reference in root.iterfind("opf:guide/opf:reference", _OPF_NS):
        if reference.get("href") and reference.get("type"):
            path = _resolve(base, reference.get("href", ""))
            guide.setdefault(path, set()).add(reference.get("type", "").lower())
    return _Package(
        title=_metadata_text(root, "dc:title"),
        author=_author(root),
        language=_metadata_text(root, "dc:language"),
        spine=spine,
        nav=next((i for i in items.values() if "nav" in i.properties), None),
        ncx=items.get(spine_element.get("toc", ""))
        or next((i for i in items.values() if i.media_type == "application/x-dtbncx+xml"), None),
        guide=guide,
    )


def _metadata_text(root: etree._Element, tag: str) -> str | None:
    element = root.find(f"opf:metadata/{tag}", _OPF_NS)
    text = normalize_text("".join(element.itertext())) if element is not None else ""
    return text or None


def _author(root: etree._Element) -> str | None:
    creators = root.findall("opf:metadata/dc:creator", _OPF_NS)
    role = "{http://www.idpf.org/2007/opf}role"
    authors = [c for c in creators if c.get(role, "aut") == "aut"] or creators
    text = normalize_text("".join(authors[0].itertext())) if authors else ""
    return text or None


def _resolve(base: str, href: str) -> str:
    path = unquote(urlsplit(href).path)
    return posixpath.normpath(posixpath.join(base, path)) if path else ""


def _fragment(href: str) -> str | None:
    return unquote(urlsplit(href).fragment) or None


# --- table of contents and landmarks --------------------------------------------------------


def _navigation(archive: SafeArchive, package: _Package) -> _Navigation:
    """The ToC from the EPUB 3 nav document (else the EPUB 2 NCX) and landmarks/guide types."""
    entries: list[tuple[str, _TocEntry]] = []
    landmarks: dict[str, set[str]] = {path: set(types) for path, types in package.guide.items()}
    if package.nav is not None and package.nav.path in archive:
        nav_root = parse_xhtml(archive.read(package.nav.path), part=package.nav.path)
        entries = list(_nav_toc_entries(nav_root, package.nav.path))
        for path, types in _nav_landmarks(nav_root, package.nav.path):
            landmarks.setdefault(path, set()).update(types)
    if not entries and package.ncx is not None and package.ncx.path in archive:
        ncx_root = parse_xml(archive.read(package.ncx.path), part=package.ncx.path)
        entries = list(_ncx_entries(ncx_root, package.ncx.path))
    toc: dict[str, list[_TocEntry]] = {}
    for path, entry in entries:
        toc.setdefault(path, []).append(entry)
    return _Navigation(toc=toc, landmarks=landmarks)


def _nav_toc_entries(root: etree._Element, nav_path: str) -> Iterator[tuple[str, _TocEntry]]:
    navs = [n for n in root.iter() if local_name(n) == "nav"]
    tocs = [n for n in navs if "toc" in semantic_types(n)] or navs[:1]
    for nav in tocs:
        for href, anchor in _links(nav, nav_path):
            yield href, _TocEntry(_fragment(anchor.get("href", "")), _text(anchor))


def _nav_landmarks(root: etree._Element, nav_path: str) -> Iterator[tuple[str, set[str]]]:
    for nav in (n for n in root.iter() if "landmarks" in semantic_types(n)):
        for href, anchor in _links(nav, nav_path):
            yield href, semantic_types(anchor)


def _links(nav: etree._Element, nav_path: str) -> Iterator[tuple[str, etree._Element]]:
    base = posixpath.dirname(nav_path)
    for anchor in nav.iter():
        if local_name(anchor) == "a" and anchor.get("href"):
            yield _resolve(base, anchor.get("href", "")), anchor


def _text(element: etree._Element) -> str:
    return normalize_text("".join(element.itertext()))


def _ncx_entries(root: etree._Element, ncx_path: str) -> Iterator[tuple[str, _TocEntry]]:
    base = posixpath.dirname(ncx_path)
    for point in root.iterfind(".//ncx:navPoint", _NCX_NS):
        label = point.find("ncx:navLabel/ncx:text", _NCX_NS)
        content = point.find("ncx:content", _NCX_NS)
        href = content.get("src") if content is not None else None
        if href and label is not None:
            yield _resolve(base, href), _TocEntry(_fragment(href), _text(label))


# --- content documents ----------------------------------------------------------------------


def _document_sections(
    archive: SafeArchive, item: _Item, *, linear: bool, is_nav: bool, navigation: _Navigation
) -> Iterator[_Section]:
    """The chapters one spine document holds (usually one), with their classification hints."""
    if item.path not in archive:
        raise CorruptManuscript(f"This EPUB's spine names {item.path!r}, which is missing.")
    root = parse_xhtml(archive.read(item.path), part=item.path)
    body = next((e for e in root.iter() if local_name(e) == "body"), None)
    if body is None:
        return
    toc_entries = navigation.toc.get(item.path, [])
    fragments = {entry.fragment: entry.title for entry in toc_entries if entry.fragment}
    events = read_events(body, anchor_ids=set(fragments))
    document_title = next((e.title for e in toc_entries if e.fragment is None), None)
    splits = _split_document(events, fragments, document_title)
    file_types = _file_name_types(item.path)
    landmark_types = navigation.landmarks.get(item.path, set())
    if is_nav:
        landmark_types = landmark_types | {"toc"}
    document_types = sectioning_types(body)
    for split in splits:
        types = split.types or document_types
        title = (
            split.toc_title
            or split.heading
            or _head_title(root)
            or _title_from_types(types | landmark_types | file_types)
        )
        paragraphs = _paragraphs_with_heading_remainder(split, title)
        if "toc" in types or "toc" in landmark_types:
            paragraphs = []  # the table of contents is navigation, not narration
        yield _Section(
            title=title,
            heading=split.heading,
            hints=(
                _kind_from_types(types),
                _kind_from_types(landmark_types),
                _title_hint(title),
                _kind_from_types(file_types),
                _generic_kind(types | landmark_types),
            ),
            paragraphs=tuple(paragraphs),
            has_toc_entry=bool(toc_entries),
            linear=linear,
        )


def _head_title(root: etree._Element) -> str | None:
    title = next((e for e in root.iter() if local_name(e) == "title"), None)
    return _text(title) or None if title is not None else None


def _split_document(
    events: list[Event], fragments: dict[str, str], document_title: str | None
) -> list[_Split]:
    """Cut a document's events into chapters at ToC anchors and at chapter-level headings."""
    levels = [event.level for event in events if isinstance(event, Heading)]
    chapter_level = chapter_heading_level(levels) if levels else 0
    splits = [_Split(toc_title=document_title)]
    for event in events:
        current = splits[-1]
        if isinstance(event, Heading) and event.level > chapter_level:
            event = TextEvent(event.text, event.types)  # a section heading inside a chapter
        if isinstance(event, Anchor):
            if current.paragraphs or current.heading is not None:
                splits.append(_Split())
            splits[-1].toc_title = fragments[event.fragment]
        elif isinstance(event, Heading):
            if current.paragraphs or current.heading is not None:
                current = _Split()
                splits.append(current)
            current.heading = event.text
            current.types |= event.types
        elif isinstance(event, BreakEvent):
            current.scene_pending = bool(current.paragraphs)
        else:
            current.types |= event.types
            text = normalize_text(event.text)
            if text:
                current.paragraphs.append(Paragraph(text, current.scene_pending))
                current.scene_pending = False
    return [s for s in splits if s.paragraphs or s.heading is not None or s.toc_title] or splits


def _paragraphs_with_heading_remainder(split: _Split, title: str | None) -> list[Paragraph]:
    """When the ToC names a chapter differently from its heading, the heading's words are kept.

    "I" in the ToC over a heading "I: The Ball" keeps "The Ball" as the first paragraph; a title
    page whose ToC entry is "Titlepage" keeps the book title it displays.
    """
    heading = normalize_text(split.heading or "")
    if not heading or not title or _same_heading(heading, title):
        return split.paragraphs
    remainder = heading
    if heading.casefold().startswith(title.casefold()):
        remainder = re.sub(r"^[\s.:;,—–-]+", "", heading[len(title) :])
    return [Paragraph(remainder), *split.paragraphs] if remainder else split.paragraphs


def _same_heading(heading: str, title: str) -> bool:
    """ "Chapter One" under a ToC entry "Chapter 1" (or "I") says nothing new."""
    return spoken_heading_text(heading).casefold() == spoken_heading_text(title).casefold()


def _kind_from_types(types: set[str]) -> _Hint | None:
    if types & _CHAPTER_TYPES:
        return "chapter"
    if types & _FRONT_TYPES:
        return "front_matter"
    if types & _BACK_TYPES:
        return "back_matter"
    if types & _EITHER_TYPES:
        return "matter"
    return None


def _generic_kind(types: set[str]) -> _Hint | None:
    return next((_GENERIC_TYPES[t] for t in sorted(types) if t in _GENERIC_TYPES), None)


def _title_hint(title: str | None) -> _Hint | None:
    if not title:
        return None
    before = matter_kind_for_title(title, after_body=False)
    after = matter_kind_for_title(title, after_body=True)
    return "matter" if before != after else before


def _file_name_types(path: str) -> set[str]:
    """Semantic types suggested by a file name: "titlepage.xhtml", "ch01-chapter.html"."""
    stem = posixpath.splitext(posixpath.basename(path))[0].lower()
    return {_FILE_NAME_HINTS[t] for t in re.split(r"[^a-z]+", stem) if t in _FILE_NAME_HINTS}


def _title_from_types(types: set[str]) -> str | None:
    return next((title for kind, title in _TYPE_TITLES if kind in types), None)


# --- classification -------------------------------------------------------------------------


def _chapters(sections: list[_Section]) -> Iterator[ParsedChapter]:
    """Resolve kinds and titles; untitled continuation documents join the previous chapter."""
    merged: list[_Section] = []
    for section in sections:
        previous = merged[-1] if merged else None
        continues = (
            previous is not None
            and not section.has_toc_entry
            and section.heading is None
            and _first_decisive(section) == "chapter"
            and _first_decisive(previous) == "chapter"
        )
        if continues and previous is not None:
            merged[-1] = _Section(
                previous.title,
                previous.heading,
                previous.hints,
                previous.paragraphs + section.paragraphs,
                previous.has_toc_entry,
                previous.linear,
            )
        elif section.paragraphs or section.title:
            merged.append(section)
    seen_body = False
    chapter_number = 0
    for section in merged:
        kind = _resolve_kind(section, seen_body=seen_body)
        seen_body = seen_body or kind == "chapter"
        chapter_number += kind == "chapter"
        title = section.title or (f"Chapter {chapter_number}" if kind == "chapter" else "Section")
        yield ParsedChapter(title=title, kind=kind, paragraphs=section.paragraphs)


def _first_decisive(section: _Section) -> _Hint:
    """The most trustworthy hint; a non-linear spine item without hints is matter."""
    hint = next((h for h in section.hints if h), None)
    return hint or ("chapter" if section.linear else "matter")


def _resolve_kind(section: _Section, *, seen_body: bool) -> ChapterKind:
    decisive = _first_decisive(section)
    if decisive == "matter":
        return "back_matter" if seen_body else "front_matter"
    return decisive
