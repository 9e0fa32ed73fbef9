"""OpenAI speech (`audio.speech`), from OpenAI itself or from an Azure OpenAI deployment.

Plain text goes out (lexicon aliases applied; OpenAI has no phoneme input), WAV or raw PCM comes
back and is normalised to s16 mono WAV. The SDK's own retries are off: `synthesize_with_retries`
owns retrying, so that one policy (and one count of attempts) applies to every engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import TYPE_CHECKING, ClassVar, Literal

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI

from khipu.audio.engines.base import (
    InvalidVoice,
    SettingRange,
    SynthesizedAudio,
    TTSEngine,
    TTSNotConfigured,
    TTSRejected,
    TTSServerError,
    TTSThrottled,
    VoiceInfo,
    VoiceSpec,
    catalogue_voices,
    read_catalogue,
)
from khipu.audio.engines.wav import MalformedWav, read_wav
from khipu.manuscripts.lexicon import apply_aliases

if TYPE_CHECKING:
    import httpx2

    from khipu.manuscripts.lexicon import LexiconEntry

MAX_INPUT_CHARS = 4_096  # the API refuses longer input
PCM_SAMPLE_RATE = 24_000  # `response_format="pcm"`: headerless 24 kHz s16le mono
ResponseFormat = Literal["wav", "pcm"]


@cache
def openai_catalogue() -> tuple[tuple[VoiceInfo, ...], str]:
    """The voices and the default narrator's voice id."""
    document = read_catalogue("openai_voices.json")
    return catalogue_voices(OpenAIEngine.name, document), document["narrator"]


class OpenAIEngine(TTSEngine):
    name: ClassVar[str] = "openai"
    setting_ranges: ClassVar[dict[str, SettingRange | None]] = {
        "rate": SettingRange(0.25, 4.0),  # the API's `speed`
        "instructions": None,  # how to speak; honoured by gpt-4o-mini-tts, ignored by tts-1
    }

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        deployment: str | None = None,
        model: str = "gpt-4o-mini-tts",
        response_format: ResponseFormat = "wav",
        timeout: float = 120.0,
    ) -> None:
        self.response_format = response_format
        # On Azure the deployment names the model; the body's `model` is not used for routing.
        self.model = deployment if azure_endpoint and deployment else model
        self._client: AsyncOpenAI | None = None
        if api_key and azure_endpoint:
            try:
                self._client = AsyncAzureOpenAI(
                    azure_endpoint=azure_endpoint,
                    azure_deployment=deployment,
                    api_key=api_key,
                    api_version=api_version,
                    max_retries=0,
                    timeout=timeout,
                )
            except (openai.OpenAIError, ValueError) as error:  # e.g. no api_version anywhere
                raise TTSNotConfigured(f"Azure OpenAI speech is misconfigured: {error}") from error
        elif api_key:
            self._client = AsyncOpenAI(
                api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
            )

    def payload(
        self,
        text: str,
        voice: VoiceSpec,
        *,
        language: str,
        lexicon: Sequence[LexiconEntry] = (),
    ) -> str:
        return apply_aliases(text, lexicon)

    async def synthesize(self, payload: str, voice: VoiceSpec) -> SynthesizedAudio:
        self.require_valid_voice(voice)
        client = self._require_client()
        if len(payload) > MAX_INPUT_CHARS:
            raise TTSRejected(
                f"OpenAI speech takes at most {MAX_INPUT_CHARS} characters per request; "
                f"this text has {len(payload)}. Split the segment."
            )
        try:
            response = await client.audio.speech.create(
                model=self.model,
                voice=voice.voice_id,
                input=payload,
                response_format=self.response_format,
                speed=voice.setting("rate", openai.omit),
                instructions=voice.setting("instructions") or openai.omit,
            )
        except openai.APIError as error:
            raise speech_error(error) from error
        return self._to_audio(response.content)

    def voices(self) -> list[VoiceInfo]:
        return list(openai_catalogue()[0])

    def default_voice(self, language: str) -> VoiceSpec:
        # Every OpenAI voice speaks whatever language the input is in.
        return VoiceSpec.of(self.name, openai_catalogue()[1])

    def validate_voice(self, voice: VoiceSpec) -> None:
        super().validate_voice(voice)
        instructions = voice.setting("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise InvalidVoice("Voice setting 'instructions' must be text.")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    def _require_client(self) -> AsyncOpenAI:
        if self._client is None:
            raise TTSNotConfigured(
                "OpenAI speech is not configured: set OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT "
                "and AZURE_OPENAI_API_KEY."
            )
        return self._client

    def _to_audio(self, body: bytes) -> SynthesizedAudio:
        if self.response_format == "pcm":
            pcm = body[: len(body) - len(body) % 2]
            return SynthesizedAudio.from_pcm(pcm, sample_rate=PCM_SAMPLE_RATE)
        try:
            audio = read_wav(body)
        except MalformedWav as error:
            raise TTSServerError(f"OpenAI speech returned unreadable audio: {error}") from error
        return SynthesizedAudio.from_pcm(audio.pcm, sample_rate=audio.sample_rate)


def speech_error(error: openai.APIError) -> TTSThrottled | TTSServerError | TTSRejected:
    """The typed error for an SDK exception, with the service's own message."""
    detail = f"OpenAI speech: {service_message(error)}"
    if isinstance(error, openai.RateLimitError):
        return TTSThrottled(detail, retry_after=retry_after(error.response.headers))
    if isinstance(error, openai.InternalServerError | openai.APIConnectionError):
        return TTSServerError(detail)
    if isinstance(error, openai.APIStatusError):
        return TTSRejected(detail)
    return TTSServerError(detail)  # e.g. an unreadable response


def service_message(error: openai.APIError) -> str:
    body = error.body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return body["message"]
    return error.message


def retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date), if given."""
    if (milliseconds := headers.get("retry-after-ms")) is not None:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
