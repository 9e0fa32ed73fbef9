"""SSML for Azure Speech: one segment's text in a voice, with prosody, style, pauses and lexicon.

Text is always escaped, never markup; characters XML cannot carry (control characters, lone
surrogates) are dropped, so every document parses. Output is deterministic: the exact string
is hashed into the synthesis cache key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from khipu.manuscripts.lexicon import LexiconEntry, lexicon_matches

SSML_NAMESPACE = "http://www.w3.org/2001/10/synthesis"
MSTTS_NAMESPACE = "https://www.w3.org/2001/mstts"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ENTITIES = {'"': "&quot;", "'": "&apos;"}


@dataclass(frozen=True, slots=True)
class Prosody:
    rate: float = 1.0  # 1.0 = default; rendered as a percentage ("+10%")
    pitch_semitones: float = 0.0
    volume_db: float = 0.0


def build_ssml(
    text: str,
    *,
    voice: str,
    language: str,
    prosody: Prosody = Prosody(),
    style: str | None = None,
    lexicon: Sequence[LexiconEntry] = (),
    break_before_ms: int = 0,
    break_after_ms: int = 0,
) -> str:
    """One `<speak>` document for one segment."""
    if break_before_ms < 0 or break_after_ms < 0:
        raise ValueError("breaks cannot be negative")
    body = _break(break_before_ms) + _text_with_lexicon(text, lexicon) + _break(break_after_ms)
    body = _wrap_prosody(body, prosody)
    if style:
        body = f"<mstts:express-as style={_attribute(style)}>{body}</mstts:express-as>"
    return (
        f'<speak version="1.0" xmlns="{SSML_NAMESPACE}" xmlns:mstts="{MSTTS_NAMESPACE}" '
        f"xml:lang={_attribute(language)}><voice name={_attribute(voice)}>{body}</voice></speak>"
    )


def _text_with_lexicon(text: str, lexicon: Sequence[LexiconEntry]) -> str:
    text = _NOT_XML.sub("", text)
    parts: list[str] = []
    position = 0
    for match in lexicon_matches(text, lexicon):
        parts.append(_escape_text(text[position : match.start]))
        grapheme = _escape_text(text[match.start : match.end])
        entry = match.entry
        if entry.phoneme:
            ph = _attribute(_NOT_XML.sub("", entry.phoneme))
            parts.append(f'<phoneme alphabet="ipa" ph={ph}>{grapheme}</phoneme>')
        else:
            alias = _attribute(_NOT_XML.sub("", entry.alias or ""))
            parts.append(f"<sub alias={alias}>{grapheme}</sub>")
        position = match.end
    parts.append(_escape_text(text[position:]))
    return "".join(parts)


def _escape_text(text: str) -> str:
    # Quotes too, though text content allows them: the payload is then safe in any context.
    return escape(text, _TEXT_ENTITIES)


def _attribute(value: str) -> str:
    return quoteattr(_NOT_XML.sub("", value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _break(milliseconds: int) -> str:
    return f'<break time="{milliseconds}ms"/>' if milliseconds else ""


def _wrap_prosody(body: str, prosody: Prosody) -> str:
    attributes = []
    if prosody.rate != 1.0:
        if not prosody.rate > 0 or not math.isfinite(prosody.rate):
            raise ValueError("prosody rate must be a positive number")
        attributes.append(f'rate="{_signed((prosody.rate - 1.0) * 100)}%"')
    if prosody.pitch_semitones != 0.0:
        attributes.append(f'pitch="{_signed(prosody.pitch_semitones)}st"')
    if prosody.volume_db != 0.0:
        # Azure takes volume as a relative percentage, not in dB: +6 dB is about +99.5%.
        change = (10 ** (prosody.volume_db / 20) - 1.0) * 100
        attributes.append(f'volume="{_signed(change)}%"')
    if not attributes:
        return body
    return f"<prosody {' '.join(attributes)}>{body}</prosody>"


def _signed(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("prosody values must be finite")
    text = f"{value:+.2f}".rstrip("0").rstrip(".")
    return "+0" if text in ("+", "-", "-0", "+0") else text
