"""Typed errors of manuscript import and lexicon editing, each with a detail the user can act on."""

from __future__ import annotations

from khipu.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType


class ManuscriptTooLarge(PayloadTooLarge):
    title = "Manuscript too large"


class UnsupportedManuscriptType(UnsupportedMediaType):
    title = "Unsupported manuscript type"


class ZipBombSuspected(InvalidInput):
    title = "Archive rejected"


class UnsafeXml(InvalidInput):
    title = "Unsafe XML"


class DrmProtected(InvalidInput):
    title = "DRM-protected manuscript"


class EmptyManuscript(InvalidInput):
    title = "Empty manuscript"


class InvalidTextEncoding(InvalidInput):
    title = "Invalid text encoding"


class CorruptManuscript(InvalidInput):
    title = "Corrupt manuscript"


class InvalidLexicon(InvalidInput):
    title = "Invalid lexicon"
