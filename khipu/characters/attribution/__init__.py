"""Local speaker attribution: who speaks, and who speaks each dialogue line (no network)."""

from khipu.characters.attribution.attribute import attribute_speakers
from khipu.characters.attribution.model import (
    Attribution,
    AttributionResult,
    DetectedCharacter,
    KnownCharacter,
    Line,
)

__all__ = [
    "Attribution",
    "AttributionResult",
    "DetectedCharacter",
    "KnownCharacter",
    "Line",
    "attribute_speakers",
]
