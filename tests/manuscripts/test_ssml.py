"""SSML for Azure: structure, escaping, prosody, pauses, lexicon; every document parses."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree as ET

from khipu.manuscripts.lexicon import LexiconEntry
from khipu.manuscripts.ssml import Prosody, build_ssml

SSML = "{http://www.w3.org/2001/10/synthesis}"
MSTTS = "{https://www.w3.org/2001/mstts}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def spoken_text(document: str) -> str:
    return "".join(ET.fromstring(document).itertext())


def test_plain_segment_is_a_speak_document_with_one_voice() -> None:
    document = build_ssml("Hello there.", voice="en-GB-SoniaNeural", language="en-GB")
    assert document == (
        '<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" '
        'xmlns:mstts="https://www.w3.org/2001/mstts" xml:lang="en-GB">'
        '<voice name="en-GB-SoniaNeural">Hello there.</voice></speak>'
    )
    root = ET.fromstring(document)
    assert root.tag == f"{SSML}speak"
    assert root.get(XML_LANG) == "en-GB"
    assert root[0].tag == f"{SSML}voice"


@pytest.mark.parametrize(
    "text",
    [
        "Fish & chips < 5 > 3",
        "She said \"yes\" and 'no'",
        "]]> <![CDATA[ x ]]>",
        "<speak><voice name='x'>injected</voice></speak>",
        "&amp; &lt; &#x41; &unknown;",
        "<!-- comment --> <?pi?>",
        "bell\x07 null\x00 escape\x1b tab\t newline\n",
        "lone surrogate \ud800 and \ufffe",
        "“Curly” ‘quotes’ — em dash … ellipsis",
        "emoji 👩‍👩‍👧 and rtl שלום",
        "",
    ],
)
def test_hostile_text_is_spoken_never_interpreted_and_always_parses(text: str) -> None:
    document = build_ssml(text, voice='voice"<&', language="en-US", style="calm'>")
    root = ET.fromstring(document)  # raises if not well-formed
    voice = root.find(f"{SSML}voice")
    assert voice is not None and voice.get("name") == 'voice"<&'
    expected = "".join(
        c for c in text if c in "\t\n" or (ord(c) >= 0x20 and c not in "\ud800\ufffe")
    )
    assert spoken_text(document) == expected


def test_markup_characters_are_escaped_as_entities() -> None:
    document = build_ssml("a < b & c > d ]]> \"e\" 'f'", voice="v", language="en-US")
    assert "a &lt; b &amp; c &gt; d ]]&gt; &quot;e&quot; &apos;f&apos;" in document


def test_prosody_is_rendered_relative_and_only_when_set() -> None:
    document = build_ssml(
        "Fast and high.",
        voice="v",
        language="en-US",
        prosody=Prosody(rate=1.1, pitch_semitones=2, volume_db=-6),
    )
    prosody = ET.fromstring(document).find(f"{SSML}voice/{SSML}prosody")
    assert prosody is not None
    assert prosody.attrib == {"rate": "+10%", "pitch": "+2st", "volume": "-49.88%"}
    slow = build_ssml("x", voice="v", language="en-US", prosody=Prosody(rate=0.85))
    assert '<prosody rate="-15%">x</prosody>' in slow
    assert "prosody" not in build_ssml("x", voice="v", language="en-US", prosody=Prosody())


def test_style_and_pauses_wrap_the_text() -> None:
    document = build_ssml(
        "Quiet now.",
        voice="en-US-JennyNeural",
        language="en-US",
        style="whispering",
        prosody=Prosody(rate=0.9),
        break_before_ms=250,
        break_after_ms=800,
    )
    assert document.endswith(
        '<voice name="en-US-JennyNeural"><mstts:express-as style="whispering">'
        '<prosody rate="-10%"><break time="250ms"/>Quiet now.<break time="800ms"/></prosody>'
        "</mstts:express-as></voice></speak>"
    )
    express = ET.fromstring(document).find(f"{SSML}voice/{MSTTS}express-as")
    assert express is not None and express.get("style") == "whispering"


def test_negative_pauses_and_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        build_ssml("x", voice="v", language="en-US", break_before_ms=-1)
    with pytest.raises(ValueError):
        build_ssml("x", voice="v", language="en-US", prosody=Prosody(rate=0))


def test_lexicon_phonemes_and_aliases_replace_whole_words_longest_first() -> None:
    lexicon = [
        LexiconEntry("Darcy", phoneme="ˈdɑːsi"),
        LexiconEntry("Netherfield Park", alias="Netherfield"),
        LexiconEntry("Park", phoneme="pɑːk"),
        LexiconEntry("Mr.", alias="Mister"),
    ]
    document = build_ssml(
        "Mr. Darcy & Darcyville at Netherfield Park; Park.", voice="v", language="en-GB",
        lexicon=lexicon,
    )  # fmt: skip
    voice = ET.fromstring(document).find(f"{SSML}voice")
    assert voice is not None
    assert [(child.tag, child.attrib, child.text) for child in voice] == [
        (f"{SSML}sub", {"alias": "Mister"}, "Mr."),
        (f"{SSML}phoneme", {"alphabet": "ipa", "ph": "ˈdɑːsi"}, "Darcy"),
        (f"{SSML}sub", {"alias": "Netherfield"}, "Netherfield Park"),
        (f"{SSML}phoneme", {"alphabet": "ipa", "ph": "pɑːk"}, "Park"),
    ]
    assert " &amp; Darcyville at " in document  # not inside another word


def test_lexicon_values_are_escaped_in_attributes() -> None:
    lexicon = [LexiconEntry("AT&T", alias='A "T" & T <co>')]
    document = build_ssml("Call AT&T now.", voice="v", language="en-US", lexicon=lexicon)
    sub = ET.fromstring(document).find(f"{SSML}voice/{SSML}sub")
    assert sub is not None
    assert (sub.get("alias"), sub.text) == ('A "T" & T <co>', "AT&T")


def test_same_input_gives_byte_identical_ssml() -> None:
    def build() -> str:
        return build_ssml(
            "Same.", voice="v", language="en-US", prosody=Prosody(1.2, -1.5, 3.0), style="calm"
        )

    assert build() == build()
