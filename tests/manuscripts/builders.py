"""Test-side builders of manuscripts: EPUBs, DOCX files and hostile archives, made in memory."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.text.paragraph import Paragraph as WordParagraph
from PIL import Image

XHTML_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
)
CONTAINER_XML = (
    '<?xml version="1.0"?><container version="1.0" '
    'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
    '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)


@dataclass(frozen=True, slots=True)
class EpubDocument:
    name: str  # file name inside OEBPS/
    xhtml: str  # the complete document
    toc_title: str | None = None  # an entry of the table of contents pointing at the document
    linear: bool = True


def xhtml_document(body: str, *, title: str = "", body_type: str = "bodymatter") -> str:
    return (
        f"{XHTML_HEAD}<head><title>{title}</title></head>"
        f'<body epub:type="{body_type}">{body}</body></html>'
    )


def build_epub(
    documents: Sequence[EpubDocument],
    *,
    version: int = 3,
    title: str = "Test Book",
    author: str = "A. Writer",
    language: str = "en-US",
    extra_toc: Sequence[tuple[str, str]] = (),  # (href with fragment, title)
    guide: Sequence[tuple[str, str]] = (),  # (type, href)
    extra_members: Mapping[str, bytes] = {},
) -> bytes:
    """A valid EPUB 2 (NCX) or EPUB 3 (nav document) with the given spine documents."""
    toc = [(d.name, d.toc_title) for d in documents if d.toc_title] + list(extra_toc)
    manifest = "".join(
        f'<item id="d{i}" href="{d.name}" media-type="application/xhtml+xml"/>'
        for i, d in enumerate(documents)
    )
    spine = "".join(
        f'<itemref idref="d{i}" linear="{"yes" if d.linear else "no"}"/>'
        for i, d in enumerate(documents)
    )
    members: dict[str, bytes] = {}
    if version == 3:
        manifest += (
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        )
        links = "".join(f'<li><a href="{href}">{text}</a></li>' for href, text in toc)
        members["OEBPS/nav.xhtml"] = xhtml_document(
            f'<nav epub:type="toc"><ol>{links}</ol></nav>', title="Contents", body_type=""
        ).encode()
        spine_attributes = ""
    else:
        manifest += '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
        points = "".join(
            f'<navPoint id="p{i}" playOrder="{i + 1}"><navLabel><text>{text}</text></navLabel>'
            f'<content src="{href}"/></navPoint>'
            for i, (href, text) in enumerate(toc)
        )
        members["OEBPS/toc.ncx"] = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">'
            f"<head/><docTitle><text>{title}</text></docTitle><navMap>{points}</navMap></ncx>"
        ).encode()
        spine_attributes = ' toc="ncx"'
    references = "".join(f'<reference type="{t}" href="{h}" title="{t}"/>' for t, h in guide)
    opf = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<package xmlns="http://www.idpf.org/2007/opf" version="{version}.0" '
        'unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:identifier id="id">urn:test</dc:identifier><dc:title>{title}</dc:title>'
        f"<dc:creator>{author}</dc:creator><dc:language>{language}</dc:language></metadata>"
        f"<manifest>{manifest}</manifest><spine{spine_attributes}>{spine}</spine>"
        f"{f'<guide>{references}</guide>' if references else ''}</package>"
    )
    members["OEBPS/content.opf"] = opf.encode()
    for document in documents:
        members[f"OEBPS/{document.name}"] = document.xhtml.encode()
    members.update(extra_members)
    return zip_members({"META-INF/container.xml": CONTAINER_XML.encode(), **members})


def zip_members(members: Mapping[str, bytes], *, epub: bool = True) -> bytes:
    """A ZIP with the EPUB `mimetype` first and stored (as the EPUB spec requires)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if epub:
            archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def replace_members(data: bytes, replacements: Mapping[str, bytes]) -> bytes:
    """The same archive with some members' content replaced (or added)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = replacements.get(info.filename, source.read(info.filename))
            archive.writestr(info, content)
        for name, content in replacements.items():
            if name not in source.namelist():
                archive.writestr(name, content)
    return buffer.getvalue()


def with_declared_size(
    data: bytes, member: str, declared: int, *, crc_of: bytes | None = None
) -> bytes:
    """Rewrite a member's declared uncompressed size (and optionally CRC) in both ZIP headers.

    This makes an archive lie about what it holds, as a decompression bomb does.
    """
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    crc = zlib.crc32(crc_of) if crc_of is not None else info.CRC
    patched = bytearray(data)
    local = info.header_offset
    struct.pack_into("<I", patched, local + 14, crc)
    struct.pack_into("<I", patched, local + 22, declared)
    end_record = data.rindex(b"PK\x05\x06")
    entry = struct.unpack_from("<I", data, end_record + 16)[0]
    while data[entry : entry + 4] == b"PK\x01\x02":
        name_length, extra, comment = struct.unpack_from("<HHH", data, entry + 28)
        if data[entry + 46 : entry + 46 + name_length].decode() == member:
            struct.pack_into("<I", patched, entry + 16, crc)
            struct.pack_into("<I", patched, entry + 24, declared)
            return bytes(patched)
        entry += 46 + name_length + extra + comment
    raise KeyError(member)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


_FOOTNOTES_XML = (
    f"<w:footnotes {nsdecls('w')}>"
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/>'
    "</w:r></w:p></w:footnote>"
    '<w:footnote w:id="1"><w:p><w:r><w:t>A footnote that must not be read.</w:t></w:r></w:p>'
    "</w:footnote></w:footnotes>"
)


def build_docx() -> bytes:
    """A Word manuscript exercising every structure the parser must handle."""
    document = docx.Document()
    document.core_properties.title = "The Glass Orchard"
    document.core_properties.author = "Mira Holt"
    document.core_properties.language = "en-GB"
    document.add_paragraph("The Glass Orchard", style="Title")
    document.add_paragraph("by Mira Holt")
    document.add_heading("Chapter 1", level=1)
    paragraph = document.add_paragraph('"Are the trees ready?" asked Mr. Vale')
    _add_footnote_reference(paragraph)
    paragraph.add_run(". Nobody answered.")
    document.add_paragraph("Pack these:")
    document.add_paragraph("Shears", style="List Bullet")
    document.add_paragraph("Twine", style="List Bullet")
    document.add_paragraph("Open the gate", style="List Number")
    document.add_paragraph("Count the rows", style="List Number")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, (("Row", "Trees"), ("North", "12")), strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_picture(io.BytesIO(png_bytes()))
    document.add_paragraph("* * *")
    document.add_paragraph("Morning came -- grey and wet.")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.add_heading("Chapter 2", level=1)
    document.add_paragraph("She walked the rows...")
    ornament = document.add_paragraph("❧")
    ornament.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph("At dusk the glass rang.")
    document.add_heading("The Lower Field", level=2)
    document.add_paragraph("It was quiet there.")
    document.add_paragraph("CHAPTER THREE")
    document.add_paragraph("The end of the orchard.")
    footnotes = Part(
        PackURI("/word/footnotes.xml"),
        CT.WML_FOOTNOTES,
        _FOOTNOTES_XML.encode(),
        document.part.package,
    )
    document.part.relate_to(footnotes, RT.FOOTNOTES)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _add_footnote_reference(paragraph: WordParagraph) -> None:
    paragraph._p.append(
        parse_xml(
            f'<w:r {nsdecls("w")}><w:rPr><w:vertAlign w:val="superscript"/></w:rPr>'
            '<w:footnoteReference w:id="1"/></w:r>'
        )
    )
