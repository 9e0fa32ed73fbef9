"""EPUB 3 read-along: the text with a SMIL media overlay per chapter and the narration inside.

Each chapter becomes an XHTML page whose segments (and words, when their timings are known) carry
ids, a SMIL document pairing those ids with clips of the chapter's MP3, and manifest entries with
`media-overlay` and `media:duration`, as EPUB 3 Media Overlays specify.
"""

from __future__ import annotations

import re
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from lxml import etree

from khipu.packaging.book import (
    BookMetadata,
    ChapterAudio,
    Cover,
    InvalidPackageInput,
    SegmentTiming,
    WordTiming,
    require_chapters,
)
from khipu.packaging.cover import FILE_SUFFIXES, MEDIA_TYPES, read_cover_format
from khipu.packaging.encoding import encode_mp3, read_master_format, run_in_parallel

XHTML_NS = "http://www.w3.org/1999/xhtml"
EPUB_NS = "http://www.idpf.org/2007/ops"
SMIL_NS = "http://www.w3.org/ns/SMIL"
OPF_NS = "http://www.idpf.org/2007/opf"
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
ACTIVE_CLASS = "-epub-media-overlay-active"
CONTENT_DIR = "OEBPS"
UNTIMED_TITLE_ID = "chapter-title"  # a chapter without segment timings syncs its title
MP3_BITRATES_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
# XML 1.0 forbids most control characters; manuscripts occasionally carry them.
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_STYLESHEET = f"""body {{ font-family: serif; line-height: 1.5; margin: 1em; }}
h2 {{ text-align: center; }}
.dialogue {{ font-style: normal; }}
.{ACTIVE_CLASS} {{ background-color: #ffec8b; }}
"""


@dataclass(frozen=True, slots=True)
class _Clip:
    fragment: str  # element id in the chapter's XHTML
    begin_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class _ChapterFiles:
    """Names inside OEBPS/ and what the OPF needs to know about one chapter."""

    number: int
    chapter: ChapterAudio
    audio_ms: int

    @property
    def stem(self) -> str:
        return f"chapter-{self.number:03d}"

    @property
    def xhtml(self) -> str:
        return f"{self.stem}.xhtml"

    @property
    def smil(self) -> str:
        return f"{self.stem}.smil"

    @property
    def audio(self) -> str:
        return f"audio/{self.stem}.mp3"


def build_epub3(
    chapters: Sequence[ChapterAudio],
    meta: BookMetadata,
    cover: Cover | None,
    out_path: Path,
    *,
    bitrate_kbps: int = 64,
) -> Path:
    """Write the read-along EPUB at `out_path`, the narration as one MP3 per chapter inside it.

    A chapter without segment timings becomes a page with its title, synced to its whole audio.
    Raises InvalidPackageInput for no chapters or a bit rate MP3 lacks, UnsupportedCover for a
    cover that is not JPEG/PNG, FFmpegError from ffmpeg.
    """
    require_chapters(chapters)
    if bitrate_kbps not in MP3_BITRATES_KBPS:
        raise InvalidPackageInput(f"MP3 bit rate must be one of {MP3_BITRATES_KBPS} kbps")
    cover_format = read_cover_format(cover.data) if cover else None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".epub-") as scratch_name:
        scratch = Path(scratch_name)
        files = [
            _ChapterFiles(number, chapter, read_master_format(chapter.master_path).duration_ms)
            for number, chapter in enumerate(chapters, start=1)
        ]
        encoded = run_in_parallel(
            [
                partial(
                    encode_mp3,
                    item.chapter.master_path,
                    scratch / f"{item.stem}.mp3",
                    bitrate_kbps=bitrate_kbps,
                )
                for item in files
            ]
        )
        package = scratch / "book.epub"
        with zipfile.ZipFile(package, "w") as archive:
            _write_container(archive)
            overlay_ms = {}
            for chapter_files, mp3 in zip(files, encoded, strict=True):
                clips = list(_clips(chapter_files.chapter, audio_ms=chapter_files.audio_ms))
                overlay_ms[chapter_files.stem] = sum(c.end_ms - c.begin_ms for c in clips)
                _add_xml(archive, chapter_files.xhtml, _chapter_xhtml(chapter_files, meta))
                _add_xml(archive, chapter_files.smil, _chapter_smil(chapter_files, clips))
                _add_file(archive, chapter_files.audio, mp3)
                mp3.unlink()
            _add_text(archive, "style.css", _STYLESHEET)
            _add_xml(archive, "nav.xhtml", _nav_xhtml(files, meta))
            cover_item = None
            if cover is not None and cover_format is not None:
                cover_item = (f"cover{FILE_SUFFIXES[cover_format]}", MEDIA_TYPES[cover_format])
                _add_bytes(archive, cover_item[0], cover.data, compress=False)
            opf = _package_document(files, meta, overlay_ms=overlay_ms, cover_item=cover_item)
            _add_xml(archive, "content.opf", opf)
        package.replace(out_path)
    return out_path


def clock_value(ms: int) -> str:
    """A SMIL full clock value, h:mm:ss.fff."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _clips(chapter: ChapterAudio, *, audio_ms: int) -> Iterable[_Clip]:
    """The overlay's clips in reading order: per word where words are timed, else per segment.
    Clips end within the audio; empty ones (nothing to play) are left out."""
    if not chapter.segments:
        yield from _clip(UNTIMED_TITLE_ID, 0, audio_ms, audio_ms)
    for segment in chapter.segments:
        words = _usable_words(segment)
        if words:
            for index, word in words:
                yield from _clip(
                    _word_id(segment, index),
                    segment.start_ms + word.start_ms,
                    segment.start_ms + word.end_ms,
                    audio_ms,
                )
        else:
            yield from _clip(_segment_id(segment), segment.start_ms, segment.end_ms, audio_ms)


def _clip(fragment: str, begin_ms: int, end_ms: int, audio_ms: int) -> Iterable[_Clip]:
    begin, end = max(0, begin_ms), min(end_ms, audio_ms)
    if begin < end:
        yield _Clip(fragment, begin, end)


def _usable_words(segment: SegmentTiming) -> list[tuple[int, WordTiming]]:
    """Words whose offsets match the segment text, in order and not overlapping; a word that does
    not match (the spoken and the printed text can differ) leaves that segment synced as a whole."""
    usable = []
    end_of_previous = 0
    for index, word in enumerate(segment.words):
        start = word.text_offset
        if (
            not word.text
            or start < end_of_previous
            or segment.text[start : start + len(word.text)] != word.text
        ):
            return []
        usable.append((index, word))
        end_of_previous = start + len(word.text)
    return usable


def _segment_id(segment: SegmentTiming) -> str:
    return f"seg-{_id_safe(segment.segment_id)}"


def _word_id(segment: SegmentTiming, index: int) -> str:
    return f"{_segment_id(segment)}-w{index}"


def _id_safe(value: str) -> str:
    # XML ids: letters, digits, '-', '_', '.'; segment ids are UUIDs in practice.
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)


def _text(value: str) -> str:
    return _NOT_XML_CHARS.sub("", value)


def _chapter_xhtml(files: _ChapterFiles, meta: BookMetadata) -> etree._Element:
    language = meta.language or "und"
    html = etree.Element(
        f"{{{XHTML_NS}}}html",
        nsmap={None: XHTML_NS, "epub": EPUB_NS},
        attrib={"lang": language, "{http://www.w3.org/XML/1998/namespace}lang": language},
    )
    head = etree.SubElement(html, f"{{{XHTML_NS}}}head")
    etree.SubElement(head, f"{{{XHTML_NS}}}title").text = _text(files.chapter.title)
    etree.SubElement(
        head, f"{{{XHTML_NS}}}link", rel="stylesheet", type="text/css", href="style.css"
    )
    body = etree.SubElement(html, f"{{{XHTML_NS}}}body")
    section = etree.SubElement(body, f"{{{XHTML_NS}}}section")
    section.set(f"{{{EPUB_NS}}}type", "chapter")
    segments = files.chapter.segments
    if not any(segment.kind == "heading" for segment in segments):
        title = etree.SubElement(section, f"{{{XHTML_NS}}}h2")
        title.text = _text(files.chapter.title)
        if not segments:
            title.set("id", UNTIMED_TITLE_ID)
    block = section
    paragraph = None
    for segment in segments:
        if segment.kind == "heading":
            block, paragraph = etree.SubElement(section, f"{{{XHTML_NS}}}h2"), None
        elif paragraph is None or segment.paragraph != paragraph:
            block, paragraph = etree.SubElement(section, f"{{{XHTML_NS}}}p"), segment.paragraph
        else:
            block[-1].tail = (block[-1].tail or "") + " "  # segments of a paragraph: one space
        _append_segment(block, segment)
    return html


def _append_segment(block: etree._Element, segment: SegmentTiming) -> None:
    span = etree.SubElement(
        block, f"{{{XHTML_NS}}}span", id=_segment_id(segment), attrib={"class": segment.kind}
    )
    words = _usable_words(segment)
    if not words:
        span.text = _text(segment.text)
        return
    position = 0
    previous = None
    for index, word in words:
        between = _text(segment.text[position : word.text_offset])
        if previous is None:
            span.text = between
        else:
            previous.tail = between
        previous = etree.SubElement(span, f"{{{XHTML_NS}}}span", id=_word_id(segment, index))
        previous.text = _text(word.text)
        position = word.text_offset + len(word.text)
    assert previous is not None
    previous.tail = _text(segment.text[position:])


def _chapter_smil(files: _ChapterFiles, clips: Sequence[_Clip]) -> etree._Element:
    smil = etree.Element(
        f"{{{SMIL_NS}}}smil", nsmap={None: SMIL_NS, "epub": EPUB_NS}, version="3.0"
    )
    body = etree.SubElement(smil, f"{{{SMIL_NS}}}body")
    sequence = etree.SubElement(body, f"{{{SMIL_NS}}}seq", id=f"{files.stem}-seq")
    sequence.set(f"{{{EPUB_NS}}}textref", files.xhtml)
    sequence.set(f"{{{EPUB_NS}}}type", "chapter")
    for index, clip in enumerate(clips, start=1):
        par = etree.SubElement(sequence, f"{{{SMIL_NS}}}par", id=f"{files.stem}-par{index}")
        etree.SubElement(par, f"{{{SMIL_NS}}}text", src=f"{files.xhtml}#{clip.fragment}")
        etree.SubElement(
            par,
            f"{{{SMIL_NS}}}audio",
            src=files.audio,
            clipBegin=clock_value(clip.begin_ms),
            clipEnd=clock_value(clip.end_ms),
        )
    return smil


def _nav_xhtml(files: Sequence[_ChapterFiles], meta: BookMetadata) -> etree._Element:
    language = meta.language or "und"
    html = etree.Element(
        f"{{{XHTML_NS}}}html",
        nsmap={None: XHTML_NS, "epub": EPUB_NS},
        attrib={"lang": language, "{http://www.w3.org/XML/1998/namespace}lang": language},
    )
    head = etree.SubElement(html, f"{{{XHTML_NS}}}head")
    etree.SubElement(head, f"{{{XHTML_NS}}}title").text = _text(meta.title)
    body = etree.SubElement(html, f"{{{XHTML_NS}}}body")
    nav = etree.SubElement(body, f"{{{XHTML_NS}}}nav", id="toc")
    nav.set(f"{{{EPUB_NS}}}type", "toc")
    etree.SubElement(nav, f"{{{XHTML_NS}}}h1").text = "Contents"
    entries = etree.SubElement(nav, f"{{{XHTML_NS}}}ol")
    for chapter_files in files:
        item = etree.SubElement(entries, f"{{{XHTML_NS}}}li")
        link = etree.SubElement(item, f"{{{XHTML_NS}}}a", href=chapter_files.xhtml)
        link.text = _text(chapter_files.chapter.title)
    return html


def _package_document(
    files: Sequence[_ChapterFiles],
    meta: BookMetadata,
    *,
    overlay_ms: dict[str, int],
    cover_item: tuple[str, str] | None,
) -> etree._Element:
    package = etree.Element(
        f"{{{OPF_NS}}}package",
        nsmap={None: OPF_NS, "dc": DC_NS},
        version="3.0",
        attrib={
            "unique-identifier": "pub-id",
            "prefix": "media: http://www.idpf.org/epub/vocab/overlays/#",
        },
    )
    metadata = etree.SubElement(package, f"{{{OPF_NS}}}metadata")
    _dublin_core(metadata, meta)
    total_ms = 0
    for chapter_files in files:
        duration = overlay_ms[chapter_files.stem]
        total_ms += duration
        _meta(
            metadata, "media:duration", clock_value(duration), refines=f"#mo-{chapter_files.stem}"
        )
    _meta(metadata, "media:duration", clock_value(total_ms))
    if meta.narrator:
        _meta(metadata, "media:narrator", meta.narrator)
    _meta(metadata, "media:active-class", ACTIVE_CLASS)
    manifest = etree.SubElement(package, f"{{{OPF_NS}}}manifest")
    _item(manifest, "nav", "nav.xhtml", "application/xhtml+xml", properties="nav")
    _item(manifest, "css", "style.css", "text/css")
    if cover_item is not None:
        name, media_type = cover_item
        _item(manifest, "cover-image", name, media_type, properties="cover-image")
    for chapter_files in files:
        stem = chapter_files.stem
        item = _item(manifest, stem, chapter_files.xhtml, "application/xhtml+xml")
        item.set("media-overlay", f"mo-{stem}")
        _item(manifest, f"mo-{stem}", chapter_files.smil, "application/smil+xml")
        _item(manifest, f"audio-{stem}", chapter_files.audio, "audio/mpeg")
    spine = etree.SubElement(package, f"{{{OPF_NS}}}spine")
    for chapter_files in files:
        etree.SubElement(spine, f"{{{OPF_NS}}}itemref", idref=chapter_files.stem)
    return package


def _dublin_core(metadata: etree._Element, meta: BookMetadata) -> None:
    identifier = etree.SubElement(metadata, f"{{{DC_NS}}}identifier", id="pub-id")
    if meta.isbn:
        identifier.text = f"urn:isbn:{_text(meta.isbn.strip())}"
    else:
        # Stable across re-exports of the same book, so readers keep their place.
        name = f"khipu:{meta.title}:{meta.author or ''}"
        identifier.text = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
    etree.SubElement(metadata, f"{{{DC_NS}}}title").text = _text(meta.title)
    etree.SubElement(metadata, f"{{{DC_NS}}}language").text = meta.language or "und"
    optional = {
        "creator": meta.author,
        "publisher": meta.publisher,
        "date": str(meta.year) if meta.year else None,
        "description": meta.description,
        "rights": meta.copyright,
        "subject": meta.genre,
    }
    for element, value in optional.items():
        if value:
            etree.SubElement(metadata, f"{{{DC_NS}}}{element}").text = _text(value)
    if meta.narrator:
        narrator = etree.SubElement(metadata, f"{{{DC_NS}}}contributor", id="narrator")
        narrator.text = _text(meta.narrator)
        role = _meta(metadata, "role", "nrt", refines="#narrator")
        role.set("scheme", "marc:relators")
    modified = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _meta(metadata, "dcterms:modified", modified)


def _meta(
    metadata: etree._Element, prop: str, value: str, *, refines: str | None = None
) -> etree._Element:
    element = etree.SubElement(metadata, f"{{{OPF_NS}}}meta", property=prop)
    if refines:
        element.set("refines", refines)
    element.text = _text(value)
    return element


def _item(
    manifest: etree._Element,
    item_id: str,
    href: str,
    media_type: str,
    *,
    properties: str | None = None,
) -> etree._Element:
    item = etree.SubElement(manifest, f"{{{OPF_NS}}}item", id=item_id, href=href)
    item.set("media-type", media_type)
    if properties:
        item.set("properties", properties)
    return item


def _write_container(archive: zipfile.ZipFile) -> None:
    # The mimetype comes first, stored and without extra fields, so readers can sniff it.
    archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", zipfile.ZIP_STORED)
    container = etree.Element(
        f"{{{CONTAINER_NS}}}container", nsmap={None: CONTAINER_NS}, version="1.0"
    )
    rootfiles = etree.SubElement(container, f"{{{CONTAINER_NS}}}rootfiles")
    etree.SubElement(
        rootfiles,
        f"{{{CONTAINER_NS}}}rootfile",
        attrib={
            "full-path": f"{CONTENT_DIR}/content.opf",
            "media-type": "application/oebps-package+xml",
        },
    )
    archive.writestr(
        "META-INF/container.xml",
        etree.tostring(container, xml_declaration=True, encoding="UTF-8"),
        zipfile.ZIP_DEFLATED,
    )


def _add_xml(archive: zipfile.ZipFile, name: str, root: etree._Element) -> None:
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    if root.tag == f"{{{XHTML_NS}}}html":
        data = data.replace(b"?>\n", b"?>\n<!DOCTYPE html>\n", 1)
    _add_bytes(archive, name, data, compress=True)


def _add_text(archive: zipfile.ZipFile, name: str, text: str) -> None:
    _add_bytes(archive, name, text.encode("utf-8"), compress=True)


def _add_bytes(archive: zipfile.ZipFile, name: str, data: bytes, *, compress: bool) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    archive.writestr(f"{CONTENT_DIR}/{name}", data, method)


def _add_file(archive: zipfile.ZipFile, name: str, path: Path) -> None:
    # Audio is compressed already; stored members stream straight from the file.
    archive.write(path, arcname=f"{CONTENT_DIR}/{name}", compress_type=zipfile.ZIP_STORED)
