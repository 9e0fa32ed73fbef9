"""The one interface every TTS engine implements, the values that cross it, and its errors.

Engines are pure: text in, WAV out. Caching, jobs, usage accounting and storage live elsewhere.
"""

from __future__ import annotations

import io
import json
import wave
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from khipu.core.errors import InvalidInput, KhipuError

if TYPE_CHECKING:
    from khipu.manuscripts.lexicon import LexiconEntry

Gender = Literal["female", "male", "neutral"]


@dataclass(frozen=True, slots=True)
class VoiceSpec:
    """A voice as cast: engine, voice id and its settings (rate, pitch_semitones, style, ...).

    `settings` is a sorted tuple of pairs so that equal settings make equal (and equally
    hashed) specs whatever order they were given in: the spec is part of the synthesis cache key.
    """

    engine: str
    voice_id: str
    settings: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, engine: str, voice_id: str, settings: Mapping[str, Any] | None = None) -> VoiceSpec:
        return cls(engine, voice_id, tuple(sorted((settings or {}).items())))

    def setting(self, key: str, default: Any = None) -> Any:
        return dict(self.settings).get(key, default)

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "voice_id": self.voice_id, "settings": dict(self.settings)}


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """One entry of an engine's voice catalogue."""

    engine: str
    voice_id: str
    name: str
    locale: str
    gender: Gender
    styles: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class WordBoundary:
    """When a word is heard: `text_offset` is its character offset in the payload sent."""

    text: str
    text_offset: int
    audio_offset_ms: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class SynthesizedAudio:
    wav: bytes  # RIFF WAV, PCM s16le, mono
    sample_rate: int
    duration_ms: int
    word_boundaries: tuple[WordBoundary, ...] = ()

    @classmethod
    def from_pcm(
        cls,
        pcm: bytes,
        *,
        sample_rate: int,
        word_boundaries: Sequence[WordBoundary] = (),
    ) -> SynthesizedAudio:
        """Wrap mono s16le samples in a WAV header."""
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(pcm)
        return cls(
            wav=buffer.getvalue(),
            sample_rate=sample_rate,
            duration_ms=round(len(pcm) // 2 * 1000 / sample_rate),
            word_boundaries=tuple(word_boundaries),
        )


class TTSError(KhipuError):
    """A synthesis failed; `detail` is readable and is stored on the failed segment."""

    status = 502
    title = "Speech synthesis failed"


class TTSThrottled(TTSError):
    """The service said 429: retry later, after `retry_after` seconds when it said so."""

    status = 503
    title = "Speech service is throttling requests"

    def __init__(self, detail: str | None = None, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(detail)


class TTSServerError(TTSError):
    """The service failed (5xx) or could not be reached: worth retrying."""

    status = 502
    title = "Speech service error"


class TTSRejected(TTSError):
    """The service refused this request (4xx other than 429): retrying cannot help."""

    # Almost always caused by what was asked for (a voice, a phoneme, the text's length).
    status = 422
    title = "Speech service rejected the request"


class TTSNotConfigured(TTSError):
    """The engine lacks credentials or an endpoint.

    503 rather than 422: the user's request is fine, the deployment is not; only an operator can
    fix it by configuring the engine.
    """

    status = 503
    title = "Speech engine not configured"


class InvalidVoice(InvalidInput):
    title = "Invalid voice"


@dataclass(frozen=True, slots=True)
class SettingRange:
    """The accepted numeric range of one voice setting."""

    low: float
    high: float

    def check(self, voice: VoiceSpec, key: str) -> None:
        value = voice.setting(key)
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidVoice(f"Voice setting {key!r} must be a number, not {value!r}.")
        if not self.low <= value <= self.high:
            raise InvalidVoice(
                f"Voice setting {key!r} must be between {self.low:g} and {self.high:g}; "
                f"got {value:g}."
            )


class TTSEngine(ABC):
    """A text-to-speech engine. Implementations must keep the event loop free."""

    name: ClassVar[str]
    #: The voice settings this engine understands, with their ranges (None: not a number).
    setting_ranges: ClassVar[Mapping[str, SettingRange | None]] = {}

    @abstractmethod
    def payload(
        self,
        text: str,
        voice: VoiceSpec,
        *,
        language: str,
        lexicon: Sequence[LexiconEntry] = (),
    ) -> str:
        """The exact string sent to the service; deterministic, as it is hashed into cache keys."""

    @abstractmethod
    async def synthesize(self, payload: str, voice: VoiceSpec) -> SynthesizedAudio:
        """Speak `payload` (made by `payload()`) with `voice`."""

    @abstractmethod
    def voices(self) -> list[VoiceInfo]:
        """The engine's voice catalogue (no network)."""

    @abstractmethod
    def default_voice(self, language: str) -> VoiceSpec:
        """A sensible narrator for `language` (a BCP 47 tag such as "en" or "en-GB")."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the engine's connections; the engine is not used afterwards."""

    def validate_voice(self, voice: VoiceSpec) -> None:
        """Raise InvalidVoice unless the engine can speak with `voice` as given."""
        if voice.engine != self.name:
            raise InvalidVoice(f"Voice engine {voice.engine!r} is not {self.name!r}.")
        info = self.voice_info(voice.voice_id)
        if info is None:
            known = ", ".join(v.voice_id for v in self.voices()[:12])
            raise InvalidVoice(
                f"Unknown {self.name} voice {voice.voice_id!r}; known voices include {known}."
            )
        unknown = sorted(set(dict(voice.settings)) - set(self.setting_ranges))
        if unknown:
            raise InvalidVoice(
                f"The {self.name} engine does not understand the voice setting(s) "
                f"{', '.join(unknown)}; it accepts {', '.join(sorted(self.setting_ranges))}."
            )
        for key, accepted in self.setting_ranges.items():
            if accepted is not None:
                accepted.check(voice, key)

    def require_valid_voice(self, voice: VoiceSpec) -> None:
        """`validate_voice` for `synthesize`: a bad voice fails the segment and is not retried."""
        try:
            self.validate_voice(voice)
        except InvalidVoice as error:
            raise TTSRejected(error.detail) from error

    def voice_info(self, voice_id: str) -> VoiceInfo | None:
        return next((v for v in self.voices() if v.voice_id == voice_id), None)


def read_catalogue(filename: str) -> dict[str, Any]:
    """A voice catalogue shipped with the package (`catalogues/*.json`), read without network."""
    text = files("khipu.audio.engines").joinpath("catalogues", filename).read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def catalogue_voices(engine: str, document: Mapping[str, Any]) -> tuple[VoiceInfo, ...]:
    return tuple(
        VoiceInfo(
            engine=engine,
            voice_id=voice["voice_id"],
            name=voice["name"],
            locale=voice["locale"],
            gender=voice["gender"],
            styles=tuple(voice.get("styles", ())),
            description=voice["description"],
        )
        for voice in document["voices"]
    )


def primary_language(tag: str) -> str:
    """The primary language subtag: "en-GB" -> "en", "pt_BR" -> "pt"."""
    return tag.replace("_", "-").split("-", 1)[0].lower()
