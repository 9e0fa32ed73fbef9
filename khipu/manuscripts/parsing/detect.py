"""Recognising a manuscript's format from its bytes (magic numbers, ZIP members), never its name."""

from __future__ import annotations

import re

from khipu.manuscripts.document import ManuscriptFormat
from khipu.manuscripts.errors import EmptyManuscript, UnsupportedManuscriptType

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_EPUB_MIMETYPE = b"mimetype" + b"application/epub+zip"
_KNOWN_BINARIES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "a legacy Word (.doc) or password-protected Office document"),
    (b"{\\rtf", "an RTF document"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"ID3", "an MP3 file"),
    (b"RIFF", "a RIFF (WAV/AVI/WebP) file"),
    (b"OggS", "an Ogg file"),
    (b"fLaC", "a FLAC file"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "a Windows executable"),
)
_SUPPORTED = "DOCX, EPUB, plain text (UTF-8) or Markdown"
# Only marks that plain prose does not use: "* * *" rules and "- " lists appear in TXT too.
_MARKDOWN_SIGNS = re.compile(
    r"^ {0,3}#{1,6}[ \t]+\S"  # an ATX heading
    r"|\[[^\]\n]+\]\([^)\n]+\)"  # a link
    r"|(?<!\*)\*\*[^\s*][^*\n]*?(?<=[^\s*])\*\*(?!\*)"  # **strong**, not "*** END ***"
    r"|^ {0,3}```",  # a code fence
    re.MULTILINE,
)


def detect_format(data: bytes) -> ManuscriptFormat:
    """The manuscript format, judged by content; a misleading file name cannot change it."""
    if not data.strip():
        raise EmptyManuscript("The uploaded file is empty.")
    if data.startswith(_ZIP_MAGIC):
        return _zip_format(data)
    for magic, description in _KNOWN_BINARIES:
        if data.startswith(magic):
            raise UnsupportedManuscriptType(
                f"The file is {description}, not a manuscript. Upload {_SUPPORTED}."
            )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _text_format(data.decode("utf-16", errors="replace"))
    if b"\x00" in data[:8192]:
        raise UnsupportedManuscriptType(
            f"The file is binary data of an unknown kind. Upload {_SUPPORTED}."
        )
    return _text_format(data[:65536].decode("utf-8", errors="replace"))


def _zip_format(data: bytes) -> ManuscriptFormat:
    """EPUB or DOCX by their member names, found in the raw bytes (headers store names as-is).

    Nothing is decompressed or parsed here; the parser opens the archive with all its checks,
    and a damaged archive is reported there.
    """
    # EPUB's first member must be an uncompressed "mimetype": readable even from a truncated file.
    if data[30:58] == _EPUB_MIMETYPE or b"META-INF/container.xml" in data:
        return "epub"
    if b"word/document.xml" in data:
        return "docx"
    raise UnsupportedManuscriptType(
        f"The file is a ZIP archive but neither an EPUB nor a Word document. Upload {_SUPPORTED}."
    )


def _text_format(sample: str) -> ManuscriptFormat:
    return "md" if _MARKDOWN_SIGNS.search(sample) else "txt"
