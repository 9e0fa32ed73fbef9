"""EPUB 3 read-along: container, package document, media overlays and text ids, validated from the
archive alone, the way a reading system would walk it."""

from __future__ import annotations

import posixpath
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from mutagen.mp3 import MP3

from khipu.packaging.book import (
    BookMetadata,
    ChapterAudio,
    Cover,
    InvalidPackageInput,
    SegmentTiming,
    WordTiming,
)
from khipu.packaging.epub3 import build_epub3

NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "smil": "http://www.w3.org/ns/SMIL",
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
}
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def parse_clock(value: str) -> int:
    hours, minutes, seconds = value.split(":")
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)


class Epub:
    """An EPUB opened the way a reading system does: container -> OPF -> manifest -> overlays."""

    def __init__(self, path: Path) -> None:
        self.archive = zipfile.ZipFile(path)
        container = self.xml("META-INF/container.xml")
        (self.opf_path,) = container.xpath("//c:rootfile/@full-path", namespaces=NS)
        self.opf = self.xml(self.opf_path)
        self.base = posixpath.dirname(self.opf_path)
        self.items = {
            item.get("id"): item
            for item in self.opf.xpath("//opf:manifest/opf:item", namespaces=NS)
        }

    def xml(self, name: str) -> etree._Element:
        return etree.fromstring(self.archive.read(name), SAFE_PARSER)

    def resolve(self, href: str, *, relative_to: str | None = None) -> str:
        folder = posixpath.dirname(relative_to) if relative_to else self.base
        return posixpath.normpath(posixpath.join(folder, href))

    def spine(self) -> list[etree._Element]:
        refs = self.opf.xpath("//opf:spine/opf:itemref/@idref", namespaces=NS)
        return [self.items[ref] for ref in refs]

    def durations(self) -> dict[str | None, int]:
        metas = self.opf.xpath("//opf:meta[@property='media:duration']", namespaces=NS)
        return {meta.get("refines"): parse_clock(meta.text) for meta in metas}

    def audio_ms(self, name: str) -> float:
        with tempfile.NamedTemporaryFile(suffix=".mp3") as copy:
            copy.write(self.archive.read(name))
            copy.flush()
            return MP3(copy.name).info.length * 1000


@pytest.fixture(scope="module")
def epub_path(
    tmp_path_factory: pytest.TempPathFactory,
    body_chapters: list[ChapterAudio],
    meta: BookMetadata,
    cover_bytes: bytes,
) -> Path:
    out = tmp_path_factory.mktemp("epub") / "book.epub"
    return build_epub3(body_chapters, meta, Cover(cover_bytes), out)


@pytest.fixture(scope="module")
def epub(epub_path: Path) -> Epub:
    return Epub(epub_path)


def test_mimetype_is_the_first_member_stored_uncompressed(epub: Epub) -> None:
    first = epub.archive.infolist()[0]
    assert first.filename == "mimetype"
    assert first.compress_type == zipfile.ZIP_STORED
    assert first.extra == b""
    assert epub.archive.read("mimetype") == b"application/epub+zip"
    assert epub.archive.testzip() is None


def test_container_points_at_the_package_document(epub: Epub) -> None:
    assert epub.opf.tag == f"{{{NS['opf']}}}package"
    assert epub.opf.get("version") == "3.0"
    identifier = epub.opf.xpath("//dc:identifier", namespaces=NS)[0]
    assert identifier.text == "urn:isbn:9780000000002"
    assert identifier.get("id") == epub.opf.get("unique-identifier")
    assert epub.opf.xpath("//dc:title/text()", namespaces=NS) == ["Pride and Prejudice"]
    assert epub.opf.xpath("//dc:language/text()", namespaces=NS) == ["en"]
    assert epub.opf.xpath("//opf:meta[@property='dcterms:modified']", namespaces=NS)


def test_every_member_parses_and_the_manifest_lists_exactly_the_content(epub: Epub) -> None:
    names = set(epub.archive.namelist())
    listed = {epub.resolve(item.get("href")) for item in epub.items.values()}
    assert listed <= names, "manifest entries missing from the archive"
    content = names - {"mimetype", "META-INF/container.xml", epub.opf_path}
    assert content == listed, "archive members the manifest does not list"
    for name in names:
        if name.endswith((".xhtml", ".smil", ".opf", ".xml")):
            epub.xml(name)  # well-formed, or this raises


def test_spine_is_the_chapters_in_order_each_with_its_overlay(
    epub: Epub, body_chapters: list[ChapterAudio]
) -> None:
    spine = epub.spine()
    assert len(spine) == len(body_chapters)
    for item, chapter in zip(spine, body_chapters, strict=True):
        assert item.get("media-type") == "application/xhtml+xml"
        page = epub.xml(epub.resolve(item.get("href")))
        assert page.xpath("string(//x:title)", namespaces=NS) == chapter.title
        overlay = epub.items[item.get("media-overlay")]
        assert overlay.get("media-type") == "application/smil+xml"


def test_every_clip_points_at_existing_text_ids_and_audio(epub: Epub) -> None:
    for item in epub.spine():
        smil_name = epub.resolve(epub.items[item.get("media-overlay")].get("href"))
        smil = epub.xml(smil_name)
        pars = smil.xpath("//smil:par", namespaces=NS)
        assert pars
        for par in pars:
            (text,) = par.xpath("smil:text", namespaces=NS)
            (audio,) = par.xpath("smil:audio", namespaces=NS)
            page_href, fragment = text.get("src").split("#")
            page_name = epub.resolve(page_href, relative_to=smil_name)
            assert page_name == epub.resolve(item.get("href"))
            page = epub.xml(page_name)
            assert page.xpath("//*[@id=$id]", id=fragment), f"#{fragment} not in {page_name}"
            audio_name = epub.resolve(audio.get("src"), relative_to=smil_name)
            assert audio_name in epub.archive.namelist()
            begin, end = parse_clock(audio.get("clipBegin")), parse_clock(audio.get("clipEnd"))
            assert 0 <= begin < end <= epub.audio_ms(audio_name)


def test_overlay_durations_add_up_to_the_total(epub: Epub) -> None:
    durations = epub.durations()
    total = durations.pop(None)
    overlays = {f"#{item.get('media-overlay')}" for item in epub.spine()}
    assert set(durations) == overlays
    assert sum(durations.values()) == total
    for item in epub.spine():
        smil = epub.xml(epub.resolve(epub.items[item.get("media-overlay")].get("href")))
        clips = sum(
            parse_clock(audio.get("clipEnd")) - parse_clock(audio.get("clipBegin"))
            for audio in smil.xpath("//smil:audio", namespaces=NS)
        )
        assert durations[f"#{item.get('media-overlay')}"] == clips


def test_overlay_metadata_names_the_narrator_and_the_active_class(epub: Epub) -> None:
    def meta_text(prop: str) -> list[str]:
        return epub.opf.xpath(f"//opf:meta[@property='{prop}']/text()", namespaces=NS)

    assert meta_text("media:narrator") == ["Joe (synthetic voice)"]
    assert meta_text("media:active-class") == ["-epub-media-overlay-active"]
    assert epub.opf.get("prefix", "").startswith("media:")


def test_words_are_spans_inside_their_segment_and_synced_one_by_one(
    epub: Epub, body_chapters: list[ChapterAudio]
) -> None:
    first = epub.spine()[0]
    page = epub.xml(epub.resolve(first.get("href")))
    segment = body_chapters[0].segments[1]
    (span,) = page.xpath("//*[@id=$id]", id=f"seg-{segment.segment_id}")
    assert "".join(span.itertext()) == segment.text  # quotation marks and commas kept
    words = [word.text for word in span.xpath("x:span", namespaces=NS)]
    assert words == [word.text for word in segment.words]
    smil = epub.xml(epub.resolve(epub.items[first.get("media-overlay")].get("href")))
    sources = smil.xpath("//smil:text/@src", namespaces=NS)
    assert f"chapter-001.xhtml#seg-{segment.segment_id}-w0" in sources
    begins = [parse_clock(value) for value in smil.xpath("//smil:audio/@clipBegin", namespaces=NS)]
    assert begins == sorted(begins)
    assert segment.start_ms + segment.words[0].start_ms in begins


def test_nav_lists_every_chapter_in_order(epub: Epub, body_chapters: list[ChapterAudio]) -> None:
    (nav_item,) = [item for item in epub.items.values() if item.get("properties") == "nav"]
    nav = epub.xml(epub.resolve(nav_item.get("href")))
    (toc,) = nav.xpath("//x:nav[@epub:type='toc']", namespaces=NS)
    links = toc.xpath(".//x:a", namespaces=NS)
    assert [link.text for link in links] == [chapter.title for chapter in body_chapters]
    assert [link.get("href") for link in links] == [item.get("href") for item in epub.spine()]


def test_cover_is_in_the_manifest_as_the_cover_image(epub: Epub, cover_bytes: bytes) -> None:
    (cover,) = [item for item in epub.items.values() if item.get("properties") == "cover-image"]
    assert cover.get("media-type") == "image/jpeg"
    assert epub.archive.read(epub.resolve(cover.get("href"))) == cover_bytes


def test_audio_is_mp3_at_the_requested_bitrate(epub: Epub) -> None:
    audio = [item for item in epub.items.values() if item.get("media-type") == "audio/mpeg"]
    assert len(audio) == 3
    for item in audio:
        info = epub.archive.getinfo(epub.resolve(item.get("href")))
        assert info.compress_type == zipfile.ZIP_STORED
        with tempfile.NamedTemporaryFile(suffix=".mp3") as copy:
            copy.write(epub.archive.read(info))
            copy.flush()
            assert round(MP3(copy.name).info.bitrate / 1000) == 64


def test_mismatched_word_timings_fall_back_to_the_whole_segment(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    chapter = body_chapters[0]
    segment = chapter.segments[1]
    wrong = replace(segment, words=(WordTiming("Nonsense", 0, 0, 300),))
    odd = replace(chapter, segments=(chapter.segments[0], wrong))
    epub = Epub(build_epub3([odd], meta, None, tmp_path / "odd.epub"))
    smil = epub.xml(epub.resolve(epub.items["mo-chapter-001"].get("href")))
    sources = smil.xpath("//smil:text/@src", namespaces=NS)
    assert f"chapter-001.xhtml#seg-{segment.segment_id}" in sources
    page = epub.xml(epub.resolve(epub.items["chapter-001"].get("href")))
    (span,) = page.xpath("//*[@id=$id]", id=f"seg-{segment.segment_id}")
    assert span.text == segment.text and len(span) == 0


def test_chapter_without_timings_syncs_its_title_to_all_its_audio(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    bare = replace(body_chapters[1], segments=())
    epub = Epub(build_epub3([bare], meta, None, tmp_path / "bare.epub"))
    smil = epub.xml(epub.resolve(epub.items["mo-chapter-001"].get("href")))
    (audio,) = smil.xpath("//smil:audio", namespaces=NS)
    assert parse_clock(audio.get("clipBegin")) == 0
    assert parse_clock(audio.get("clipEnd")) == bare.duration_ms
    page = epub.xml(epub.resolve(epub.items["chapter-001"].get("href")))
    assert page.xpath("string(//x:h2[@id='chapter-title'])", namespaces=NS) == bare.title


def test_markup_and_control_characters_in_text_stay_text(
    tmp_path: Path, body_chapters: list[ChapterAudio]
) -> None:
    chapter = body_chapters[1]
    text = "<b>bold</b> & \x07bell"
    segment = SegmentTiming("x1", text, 900, 2000, paragraph=5, kind="narration")
    tricky = replace(chapter, title="A <i>title</i>", segments=(segment,))
    meta = BookMetadata(title="Ampersand & <Co>", language="en")
    epub = Epub(build_epub3([tricky], meta, None, tmp_path / "tricky.epub"))
    page = epub.xml(epub.resolve(epub.items["chapter-001"].get("href")))
    (span,) = page.xpath("//*[@id='seg-x1']")
    assert span.text == "<b>bold</b> & bell"
    assert page.xpath("string(//x:title)", namespaces=NS) == "A <i>title</i>"
    assert epub.opf.xpath("//dc:title/text()", namespaces=NS) == ["Ampersand & <Co>"]
    # No ISBN: a stable UUID identifies the book instead.
    assert epub.opf.xpath("//dc:identifier/text()", namespaces=NS)[0].startswith("urn:uuid:")


def test_bitrate_must_be_one_mp3_has(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    with pytest.raises(InvalidPackageInput):
        build_epub3(body_chapters, meta, None, tmp_path / "x.epub", bitrate_kbps=100)
