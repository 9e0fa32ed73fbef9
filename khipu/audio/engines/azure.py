"""Azure AI Speech: SSML spoken through the Speech SDK's websocket, with word boundaries.

The SDK is blocking, so each request runs in a worker thread. Synthesizers (one websocket each)
are pooled and reused, since a new TLS websocket per segment costs a round trip or two;
`aclose()` releases them.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, ClassVar, Literal

import azure.cognitiveservices.speech as speechsdk

from khipu.audio.engines.base import (
    InvalidVoice,
    SettingRange,
    SynthesizedAudio,
    TTSEngine,
    TTSError,
    TTSNotConfigured,
    TTSRejected,
    TTSServerError,
    TTSThrottled,
    VoiceInfo,
    VoiceSpec,
    WordBoundary,
    catalogue_voices,
    primary_language,
    read_catalogue,
)
from khipu.audio.engines.wav import MalformedWav, read_wav
from khipu.manuscripts.ssml import Prosody, build_ssml

if TYPE_CHECKING:
    from khipu.manuscripts.lexicon import LexiconEntry

OutputFormat = Literal["riff-24khz-16bit-mono-pcm", "riff-48khz-16bit-mono-pcm"]
SDK_OUTPUT_FORMATS: Mapping[str, speechsdk.SpeechSynthesisOutputFormat] = {
    "riff-24khz-16bit-mono-pcm": speechsdk.SpeechSynthesisOutputFormat.Riff24Khz16BitMonoPcm,
    "riff-48khz-16bit-mono-pcm": speechsdk.SpeechSynthesisOutputFormat.Riff48Khz16BitMonoPcm,
}
TICKS_PER_MS = 10_000  # the SDK reports audio offsets in 100-ns ticks
EVENT_DRAIN_TIMEOUT_S = 5.0
TRANSIENT_ERRORS = {
    speechsdk.CancellationErrorCode.ConnectionFailure,
    speechsdk.CancellationErrorCode.ServiceTimeout,
    speechsdk.CancellationErrorCode.ServiceError,
    speechsdk.CancellationErrorCode.ServiceUnavailable,
}
# The SDK appends its own state to the service's message; the user needs only the message.
SDK_STATE_SUFFIX = re.compile(r"\s*USP state:.*$")


@dataclass(frozen=True, slots=True)
class AzureCatalogue:
    voices: tuple[VoiceInfo, ...]
    narrators: Mapping[str, str]  # locale -> voice id
    language_narrators: Mapping[str, str]  # primary language -> locale
    fallback_narrator: str  # a multilingual voice, for languages without a curated one


@cache
def azure_catalogue() -> AzureCatalogue:
    document = read_catalogue("azure_voices.json")
    return AzureCatalogue(
        voices=catalogue_voices(AzureSpeechEngine.name, document),
        narrators=document["narrators"],
        language_narrators=document["language_narrators"],
        fallback_narrator=document["fallback_narrator"],
    )


def locale_tag(tag: str) -> str:
    """A tag with the usual casing: "en_gb" -> "en-GB", "EN" -> "en"."""
    language, _, region = tag.replace("_", "-").partition("-")
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


class _PooledSynthesizer:
    """One SDK synthesizer and the word boundaries of the request it is speaking."""

    def __init__(self, config: speechsdk.SpeechConfig) -> None:
        self.sdk = speechsdk.SpeechSynthesizer(speech_config=config, audio_config=None)
        self._word_boundaries: list[WordBoundary] = []
        self._finished = threading.Event()
        # Callbacks must not refer back to this object: in a reference cycle the SDK's
        # finalizer may run after its native handle was released and reused by a newer
        # synthesizer, and it would then disconnect that synthesizer's callbacks.
        self.sdk.synthesis_word_boundary.connect(
            partial(_record_word_boundary, self._word_boundaries)
        )
        self.sdk.synthesis_completed.connect(partial(_set_finished, self._finished))
        self.sdk.synthesis_canceled.connect(partial(_set_finished, self._finished))

    def speak(self, ssml: str) -> tuple[speechsdk.SpeechSynthesisResult, list[WordBoundary]]:
        self._word_boundaries.clear()
        self._finished.clear()
        result = self.sdk.speak_ssml_async(ssml).get()
        # The SDK may resolve the future before it has delivered every word boundary (seen
        # in about 5% of requests under load); its completed or cancelled event comes last.
        self._finished.wait(EVENT_DRAIN_TIMEOUT_S)
        return result, list(self._word_boundaries)


def _set_finished(finished: threading.Event, _event: speechsdk.SpeechSynthesisEventArgs) -> None:
    finished.set()


def _record_word_boundary(
    into: list[WordBoundary], event: speechsdk.SpeechSynthesisWordBoundaryEventArgs
) -> None:
    if event.boundary_type != speechsdk.SpeechSynthesisBoundaryType.Word:
        return  # punctuation and sentence boundaries
    into.append(
        WordBoundary(
            text=event.text,
            text_offset=event.text_offset,
            audio_offset_ms=round(event.audio_offset / TICKS_PER_MS),
            duration_ms=round(event.duration.total_seconds() * 1000),
        )
    )


class AzureSpeechEngine(TTSEngine):
    name: ClassVar[str] = "azure"
    setting_ranges: ClassVar[dict[str, SettingRange | None]] = {
        "rate": SettingRange(0.5, 2.0),
        "pitch_semitones": SettingRange(-12.0, 12.0),
        "volume_db": SettingRange(-30.0, 10.0),
        "style": None,
    }

    def __init__(
        self,
        *,
        key: str | None = None,
        region: str | None = None,
        host: str | None = None,
        output: OutputFormat = "riff-24khz-16bit-mono-pcm",
    ) -> None:
        if output not in SDK_OUTPUT_FORMATS:
            raise ValueError(f"unsupported Azure output format {output!r}")
        self.key = key
        self.region = region
        self.host = host
        self.output = output
        self._config: speechsdk.SpeechConfig | None = None
        self._idle: list[_PooledSynthesizer] = []
        self._pool_lock = threading.Lock()

    def payload(
        self,
        text: str,
        voice: VoiceSpec,
        *,
        language: str,
        lexicon: Sequence[LexiconEntry] = (),
    ) -> str:
        prosody = Prosody(
            rate=voice.setting("rate", 1.0),
            pitch_semitones=voice.setting("pitch_semitones", 0.0),
            volume_db=voice.setting("volume_db", 0.0),
        )
        return build_ssml(
            text,
            voice=voice.voice_id,
            language=self._document_language(language, voice),
            prosody=prosody,
            style=voice.setting("style"),
            lexicon=lexicon,
        )

    async def synthesize(self, payload: str, voice: VoiceSpec) -> SynthesizedAudio:
        self.require_valid_voice(voice)
        config = self._speech_config()
        return await asyncio.to_thread(self._speak, config, payload)

    def voices(self) -> list[VoiceInfo]:
        return list(azure_catalogue().voices)

    def default_voice(self, language: str) -> VoiceSpec:
        catalogue = azure_catalogue()
        locale = locale_tag(language)
        if locale not in catalogue.narrators:
            locale = catalogue.language_narrators.get(primary_language(language), "")
        voice_id = catalogue.narrators.get(locale, catalogue.fallback_narrator)
        return VoiceSpec.of(self.name, voice_id)

    def validate_voice(self, voice: VoiceSpec) -> None:
        super().validate_voice(voice)
        style = voice.setting("style")
        if style is None:
            return
        if not isinstance(style, str):
            raise InvalidVoice(f"Voice setting 'style' must be a style name, not {style!r}.")
        info = self.voice_info(voice.voice_id)
        if info is not None and style not in info.styles:
            offered = ", ".join(info.styles) if info.styles else "no styles"
            raise InvalidVoice(
                f"Azure voice {voice.voice_id} has no style {style!r}; it offers {offered}."
            )

    async def aclose(self) -> None:
        """Release the pooled synthesizers and their websockets.

        Releasing one closes its socket synchronously, so it is done in a worker thread: done
        on the event loop (by the garbage collector, say) it would stall the loop.
        """
        with self._pool_lock:
            idle, self._idle = self._idle, []
        await asyncio.to_thread(idle.clear)

    def _document_language(self, language: str, voice: VoiceSpec) -> str:
        """The voice's own locale when it speaks `language` (more precise), else `language`."""
        info = self.voice_info(voice.voice_id)
        if info is not None and primary_language(info.locale) == primary_language(language):
            return info.locale
        return language

    def _speech_config(self) -> speechsdk.SpeechConfig:
        if self._config is None:
            if not self.key or not (self.region or self.host):
                raise TTSNotConfigured(
                    "Azure Speech is not configured: set AZURE_SPEECH_KEY and "
                    "AZURE_SPEECH_REGION (or a host)."
                )
            if self.region and self.host:
                raise TTSNotConfigured("Azure Speech takes a region or a host, not both.")
            if self.host:
                config = speechsdk.SpeechConfig(host=self.host, subscription=self.key)
            else:
                config = speechsdk.SpeechConfig(subscription=self.key, region=self.region)
            config.set_speech_synthesis_output_format(SDK_OUTPUT_FORMATS[self.output])
            self._config = config
        return self._config

    def _speak(self, config: speechsdk.SpeechConfig, ssml: str) -> SynthesizedAudio:
        synthesizer = self._checkout(config)
        result, word_boundaries = synthesizer.speak(ssml)
        if result.reason != speechsdk.ResultReason.SynthesizingAudioCompleted:
            error = synthesis_error(result)
            # Its connection is in an unknown state: release it here, in this worker thread,
            # rather than wherever the traceback happens to be collected.
            del synthesizer, result
            raise error
        self._checkin(synthesizer)
        try:
            audio = read_wav(result.audio_data)
        except MalformedWav as error:
            raise TTSServerError(f"Azure Speech returned unreadable audio: {error}") from error
        return SynthesizedAudio.from_pcm(
            audio.pcm, sample_rate=audio.sample_rate, word_boundaries=word_boundaries
        )

    def _checkout(self, config: speechsdk.SpeechConfig) -> _PooledSynthesizer:
        with self._pool_lock:
            if self._idle:
                return self._idle.pop()
        return _PooledSynthesizer(config)

    def _checkin(self, synthesizer: _PooledSynthesizer) -> None:
        with self._pool_lock:
            self._idle.append(synthesizer)


def synthesis_error(result: speechsdk.SpeechSynthesisResult) -> TTSError:
    """The typed error for a cancelled synthesis, carrying the service's message."""
    details = result.cancellation_details
    first_line = (details.error_details or "").strip().splitlines()[:1]
    message = SDK_STATE_SUFFIX.sub("", first_line[0]) if first_line else str(details.reason)
    detail = f"Azure Speech: {message}"
    if details.reason != speechsdk.CancellationReason.Error:
        return TTSServerError(detail)
    if details.error_code == speechsdk.CancellationErrorCode.TooManyRequests:
        return TTSThrottled(detail)
    if details.error_code in TRANSIENT_ERRORS:
        return TTSServerError(detail)
    return TTSRejected(detail)
