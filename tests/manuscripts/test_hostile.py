"""Hostile and broken uploads: each is refused with the right error, quickly, in bounded memory."""

from __future__ import annotations

import io
import random
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from khipu.core.errors import KhipuError
from khipu.manuscripts.document import ImportLimits, Paragraph, ParsedChapter
from khipu.manuscripts.errors import (
    CorruptManuscript,
    DrmProtected,
    EmptyManuscript,
    InvalidLexicon,
    InvalidTextEncoding,
    ManuscriptTooLarge,
    UnsafeXml,
    UnsupportedManuscriptType,
    ZipBombSuspected,
)
from khipu.manuscripts.parsing import parse_manuscript
from khipu.manuscripts.parsing.archive import SafeArchive
from khipu.manuscripts.segmentation import segment_chapter
from tests.manuscripts.builders import (
    EpubDocument,
    build_docx,
    build_epub,
    replace_members,
    with_declared_size,
    xhtml_document,
    zip_members,
)

CORPUS = Path(__file__).parents[1] / "fixtures" / "pride-and-prejudice.epub"
PEAK_BYTES = 32 * 1024 * 1024
SECONDS = 5.0

BILLION_LAUGHS = (  # &lol9; would expand to 10**9 "lol"s
    '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">'
        for n in range(1, 10)
    )
    + ']><html xmlns="http://www.w3.org/1999/xhtml"><body><p>&lol9;</p></body></html>'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>&xxe;</p></body></html>'
)


def refused(parse: Callable[[], object], error: type[KhipuError]) -> KhipuError:
    """Run `parse`, expecting `error`, within the time and memory bounds; return the error."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(error) as caught:
            parse()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < SECONDS
    assert peak < PEAK_BYTES
    return caught.value


def one_chapter_epub(xhtml: str, **kwargs: object) -> bytes:
    return build_epub([EpubDocument("c1.xhtml", xhtml, toc_title="One")], **kwargs)  # type: ignore[arg-type]


def test_member_declaring_a_gigabyte_of_zeros_is_refused_before_decompression() -> None:
    bomb = with_declared_size(CORPUS.read_bytes(), "epub/text/chapter-1.xhtml", 1024**3)
    error = refused(lambda: parse_manuscript(bomb), ZipBombSuspected)
    assert "chapter-1.xhtml" in error.detail
    assert error.status == 422


def test_highly_compressed_member_is_refused_by_its_ratio() -> None:
    zeros = zip_members({"OEBPS/zeros.xhtml": bytes(20 * 1024 * 1024)})
    error = refused(lambda: parse_manuscript(zeros), ZipBombSuspected)
    assert "compressed" in error.detail


def test_archive_with_too_many_entries_is_refused() -> None:
    many = zip_members({f"OEBPS/{n}.txt": b"" for n in range(5001)})
    error = refused(lambda: parse_manuscript(many), ZipBombSuspected)
    assert "5002 entries" in error.detail


def test_archive_whose_members_add_up_beyond_the_total_limit_is_refused() -> None:
    noise = random.Random(7).randbytes(1000)  # incompressible: only the total is at fault
    data = zip_members({f"OEBPS/{n}.xhtml": noise for n in range(5)})
    limits = ImportLimits(max_uncompressed_bytes=4000)
    error = refused(lambda: parse_manuscript(data, limits=limits), ZipBombSuspected)
    assert "would expand to" in error.detail


def test_a_member_lying_about_its_size_is_read_only_up_to_the_declared_size() -> None:
    honest = zip_members({"big.bin": bytes(10 * 1024 * 1024)}, epub=False)
    liar = with_declared_size(honest, "big.bin", 1000, crc_of=bytes(1000))
    archive = SafeArchive(liar, limits=ImportLimits(), label="test")
    tracemalloc.start()
    try:
        content = archive.read("big.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert content == bytes(1000)
    assert peak < 1024 * 1024


def test_billion_laughs_in_a_content_document_is_refused() -> None:
    error = refused(lambda: parse_manuscript(one_chapter_epub(BILLION_LAUGHS)), UnsafeXml)
    assert "OEBPS/c1.xhtml" in error.detail
    assert "entit" in error.detail


def test_external_entity_in_a_content_document_is_refused() -> None:
    error = refused(lambda: parse_manuscript(one_chapter_epub(EXTERNAL_ENTITY)), UnsafeXml)
    assert "root:" not in error.detail


def test_external_entity_in_the_package_document_is_refused() -> None:
    data = replace_members(
        one_chapter_epub(xhtml_document("<p>Text.</p>")),
        {
            "OEBPS/content.opf": b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM '
            b'"http://example.org/x">]><package xmlns="http://www.idpf.org/2007/opf">&x;</package>'
        },
    )
    refused(lambda: parse_manuscript(data), UnsafeXml)


@pytest.mark.parametrize("kind", ["PNG", "PDF", "JPEG"])
def test_files_that_are_not_manuscripts_are_unsupported_media(kind: str) -> None:
    if kind == "PDF":
        data = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    else:
        buffer = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buffer, format=kind)
        data = buffer.getvalue()
    error = refused(lambda: parse_manuscript(data), UnsupportedManuscriptType)
    assert error.status == 415
    assert kind in error.detail


def test_a_zip_that_is_neither_epub_nor_docx_is_unsupported() -> None:
    data = zip_members({"photo.jpg": b"\xff\xd8\xff"}, epub=False)
    refused(lambda: parse_manuscript(data), UnsupportedManuscriptType)


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n"])
def test_an_empty_file_is_an_empty_manuscript(data: bytes) -> None:
    error = refused(lambda: parse_manuscript(data), EmptyManuscript)
    assert error.status == 422


def test_an_epub_without_any_text_is_an_empty_manuscript() -> None:
    data = one_chapter_epub(xhtml_document('<img src="a.png" alt="A picture"/>'))
    refused(lambda: parse_manuscript(data), EmptyManuscript)


@pytest.mark.parametrize("source", ["epub", "docx"])
def test_a_truncated_zip_is_corrupt(source: str) -> None:
    whole = CORPUS.read_bytes() if source == "epub" else build_docx()
    error = refused(lambda: parse_manuscript(whole[: len(whole) // 2]), CorruptManuscript)
    assert "damaged" in error.detail


def test_an_epub_without_container_is_corrupt() -> None:
    data = zip_members({"OEBPS/content.opf": b"<package/>"})
    error = refused(lambda: parse_manuscript(data), CorruptManuscript)
    assert "container.xml" in error.detail


ENCRYPTION_XML = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
            xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData>
    <enc:EncryptionMethod Algorithm="{algorithm}"/>
    <enc:CipherData><enc:CipherReference URI="{target}"/></enc:CipherData>
  </enc:EncryptedData>
</encryption>"""


def test_epub_with_encrypted_content_documents_is_drm_protected() -> None:
    encryption = ENCRYPTION_XML.format(
        algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc", target="OEBPS/c1.xhtml"
    )
    data = one_chapter_epub(
        xhtml_document("<p>Text.</p>"),
        extra_members={"META-INF/encryption.xml": encryption.encode()},
    )
    error = refused(lambda: parse_manuscript(data), DrmProtected)
    assert "DRM-encrypted" in error.detail
    assert "OEBPS/c1.xhtml" in error.detail


def test_epub_with_adobe_rights_file_is_drm_protected() -> None:
    data = one_chapter_epub(
        xhtml_document("<p>Text.</p>"), extra_members={"META-INF/rights.xml": b"<rights/>"}
    )
    refused(lambda: parse_manuscript(data), DrmProtected)


def test_epub_with_only_obfuscated_fonts_is_not_drm() -> None:
    encryption = ENCRYPTION_XML.format(
        algorithm="http://www.idpf.org/2008/embedding", target="OEBPS/fonts/serif.otf"
    )
    data = one_chapter_epub(
        xhtml_document("<h1>One</h1><p>Text.</p>"),
        extra_members={"META-INF/encryption.xml": encryption.encode()},
    )
    assert [c.title for c in parse_manuscript(data).chapters] == ["One"]


def test_an_upload_over_the_size_limit_is_too_large() -> None:
    error = refused(
        lambda: parse_manuscript(CORPUS.read_bytes(), limits=ImportLimits(max_upload_bytes=1000)),
        ManuscriptTooLarge,
    )
    assert error.status == 413


def test_a_huge_paragraph_without_punctuation_is_cut_at_words_within_max_chars() -> None:
    words = " ".join(f"word{n % 97}" for n in range(40_000))
    assert len(words) > 200_000
    started = time.perf_counter()
    chapter = parse_manuscript(f"Chapter 1\n\n{words}\n".encode()).chapters[0]
    segments = segment_chapter(chapter, max_chars=1000)
    elapsed = time.perf_counter() - started
    body = segments[1:]
    assert all(len(s.text) <= 1000 for s in body)
    assert " ".join(s.text for s in body) == words  # no word was cut
    assert len(body) == pytest.approx(len(words) / 1000, rel=0.05)
    assert elapsed < SECONDS


@pytest.mark.parametrize(
    "paragraph",
    [
        "Mr. " * 20_000,  # nothing but words after which a cut is unwelcome
        " ".join("“Yes,” he said." for _ in range(10_000)),  # thousands of quotations
        "x" * 5_000,  # one token longer than max_chars: the only place a word is cut
    ],
)
def test_pathological_paragraphs_segment_in_linear_time_within_max_chars(paragraph: str) -> None:
    chapter = ParsedChapter("I", "chapter", (Paragraph(paragraph),))
    started = time.perf_counter()
    segments = segment_chapter(chapter, max_chars=1000)[1:]
    assert time.perf_counter() - started < SECONDS
    assert all(0 < len(s.text) <= 1000 for s in segments)
    assert "".join(s.text for s in segments).replace(" ", "") == paragraph.replace(" ", "")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ManuscriptTooLarge, 413),
        (UnsupportedManuscriptType, 415),
        (ZipBombSuspected, 422),
        (UnsafeXml, 422),
        (DrmProtected, 422),
        (EmptyManuscript, 422),
        (InvalidTextEncoding, 422),
        (CorruptManuscript, 422),
        (InvalidLexicon, 422),
    ],
)
def test_manuscript_errors_carry_their_http_status(error: type[KhipuError], status: int) -> None:
    assert error.status == status
    assert error("detail").problem()["status"] == status


def test_zip_fixture_helper_really_lies() -> None:
    liar = with_declared_size(zip_members({"a": b"abc"}, epub=False), "a", 99)
    assert zipfile.ZipFile(io.BytesIO(liar)).getinfo("a").file_size == 99
