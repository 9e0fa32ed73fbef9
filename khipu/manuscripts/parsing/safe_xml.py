"""Parsing untrusted XML (EPUB, DOCX): defusedxml vets DTDs and entities, lxml builds the tree.

defusedxml stops at the first entity declaration (billion laughs, external entities, parameter
entities), before anything is expanded; lxml then parses with entity resolution, network access
and huge trees all off.
"""

from __future__ import annotations

import html.entities
import re
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
from lxml import etree

from khipu.manuscripts.errors import CorruptManuscript, UnsafeXml

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=False,
    load_dtd=False,
    dtd_validation=False,
    remove_comments=True,
    remove_pis=True,
)
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_NAMED_REFERENCE = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")


def check_xml_safety(data: bytes, *, part: str, allow_doctype: bool) -> None:
    """Refuse entity declarations (and, where no DTD belongs, any DOCTYPE) before real parsing."""
    try:
        defusedxml.ElementTree.fromstring(
            data, forbid_dtd=not allow_doctype, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden:
        raise UnsafeXml(
            f"{part} contains a document type declaration (DTD), which is not allowed in this "
            f"kind of file; the upload was rejected."
        ) from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden) as error:
        raise UnsafeXml(
            f"{part} declares XML entities ({getattr(error, 'name', None) or 'external'}); entity "
            f"expansion and external entities are refused for safety. Remove the DOCTYPE "
            f"entity declarations and upload again."
        ) from None
    except ParseError:
        pass  # not well-formed for expat (an HTML entity, say): lxml below is the judge


def parse_xml(data: bytes, *, part: str, allow_doctype: bool = False) -> etree._Element:
    """Parse an XML part safely; malformed XML is a `CorruptManuscript`."""
    check_xml_safety(data, part=part, allow_doctype=allow_doctype)
    try:
        return etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        raise CorruptManuscript(
            f"{part} is not well-formed XML ({error.msg}); the file is damaged."
        ) from None


def parse_xhtml(data: bytes, *, part: str) -> etree._Element:
    """Parse an (X)HTML content document: HTML named entities (&nbsp;, &rsquo;) are understood.

    EPUB 2 documents reference the XHTML DTD's entities, which a parser that loads no DTD cannot
    know; they are rewritten as numeric references, which need no DTD.
    """
    return parse_xml(_numeric_entities(data), part=part, allow_doctype=True)


def _numeric_entities(data: bytes) -> bytes:
    if b"&" not in data:
        return data

    def numeric(match: re.Match[bytes]) -> bytes:
        name = match.group(1).decode("ascii")
        text = html.entities.html5.get(f"{name};")
        if name in _XML_ENTITIES or text is None:
            return match.group(0)
        return "".join(f"&#{ord(char)};" for char in text).encode("ascii")

    return _NAMED_REFERENCE.sub(numeric, data)


def local_name(element: etree._Element) -> str:
    """Tag without namespace ("p" for "{http://www.w3.org/1999/xhtml}p"); "" for non-elements."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2].lower()
