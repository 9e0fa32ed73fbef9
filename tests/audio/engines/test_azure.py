"""The Azure Speech engine, driving the real Speech SDK against the local websocket fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from khipu.audio.engines import (
    AzureSpeechEngine,
    InvalidVoice,
    TTSNotConfigured,
    TTSRejected,
    TTSThrottled,
    VoiceSpec,
    synthesize_with_retries,
)
from khipu.manuscripts.lexicon import LexiconEntry
from khipu.manuscripts.ssml import Prosody, build_ssml
from tests.audio.engines.audio_checks import decode_wav
from tests.audio.engines.conftest import RecordedSleep
from tests.fakes.azure_speech import (
    LEAD_IN_MS,
    MS_PER_CHARACTER,
    FakeAzureSpeech,
    SpeechBehaviour,
    spoken_text,
)

AVA = VoiceSpec.of("azure", "en-US-AvaNeural")
# Speech SDK 1.53 retries a refused websocket upgrade once on its own before giving up, so
# one failed engine attempt consumes two scripted refusals.
SDK_UPGRADE_ATTEMPTS = 2


EngineFactory = Callable[..., AzureSpeechEngine]


@pytest.fixture
async def engine_for(fake_azure: FakeAzureSpeech) -> AsyncIterator[EngineFactory]:
    """Engines on the fake, closed after the test (released on the loop, they would stall it)."""
    engines: list[AzureSpeechEngine] = []

    def make(**kwargs: Any) -> AzureSpeechEngine:
        engines.append(AzureSpeechEngine(key="fake-key", host=fake_azure.url, **kwargs))
        return engines[-1]

    yield make
    for engine in engines:
        await engine.aclose()


def identity_jitter(ceiling: float) -> float:
    return ceiling


async def test_service_receives_exactly_the_payload_as_ssml(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory
):
    engine = engine_for()
    payload = engine.payload("Hello there, world.", AVA, language="en-US")

    await engine.synthesize(payload, AVA)

    [request] = fake_azure.requests
    assert request.ssml == payload
    assert request.handshake_headers["Ocp-Apim-Subscription-Key"] == "fake-key"


@pytest.mark.parametrize(
    ("output", "sample_rate"),
    [("riff-24khz-16bit-mono-pcm", 24_000), ("riff-48khz-16bit-mono-pcm", 48_000)],
)
async def test_audio_comes_back_as_mono_wav_in_the_requested_format(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory, output: str, sample_rate: int
):
    engine = engine_for(output=output)
    text = "Hello there, world."

    audio = await engine.synthesize(engine.payload(text, AVA, language="en-US"), AVA)

    # The SDK asks the service for raw PCM and writes the RIFF header itself.
    assert fake_azure.requests[0].output_format == output.replace("riff", "raw")
    wav = decode_wav(audio.wav)
    assert (wav.sample_rate, wav.channels, wav.sample_width) == (sample_rate, 1, 2)
    assert audio.sample_rate == sample_rate
    assert audio.duration_ms == 2 * LEAD_IN_MS + len(text) * MS_PER_CHARACTER
    assert wav.samples.any()


async def test_word_boundaries_are_mapped_to_milliseconds_and_payload_offsets(
    fake_azure: FakeAzureSpeech,
    engine_for: EngineFactory,
):
    engine = engine_for()
    payload = engine.payload("Hello there, world.", AVA, language="en-US")

    audio = await engine.synthesize(payload, AVA)

    assert [b.text for b in audio.word_boundaries] == ["Hello", "there", "world"]
    # The fake times words at LEAD_IN_MS + 60 ms per character of the text before them.
    assert [b.audio_offset_ms for b in audio.word_boundaries] == [50, 410, 830]
    assert [b.duration_ms for b in audio.word_boundaries] == [300, 300, 300]
    for boundary in audio.word_boundaries:
        start = boundary.text_offset
        assert payload[start : start + len(boundary.text)] == boundary.text


async def test_markup_characters_in_the_text_reach_the_service_as_text(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory
):
    engine = engine_for()
    text = "“Tom & Jerry” <3 ]]> — señor Peña's."

    audio = await engine.synthesize(engine.payload(text, AVA, language="en-US"), AVA)

    assert spoken_text(fake_azure.requests[0].ssml) == ("en-US-AvaNeural", text)
    assert [b.text for b in audio.word_boundaries] == ["Tom", "Jerry", "3", "señor", "Peña's"]


async def test_open_connection_is_reused_between_requests(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory
):
    engine = engine_for()
    payload = engine.payload("Once.", AVA, language="en-US")

    await engine.synthesize(payload, AVA)
    await engine.synthesize(payload, AVA)

    assert len(fake_azure.requests) == 2
    assert len(fake_azure.handshakes) == 1


async def test_closing_the_engine_releases_its_connections(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory
):
    engine = engine_for()
    await engine.synthesize(engine.payload("Once.", AVA, language="en-US"), AVA)
    assert fake_azure.open_connections == 1

    await asyncio.wait_for(engine.aclose(), timeout=5)

    for _ in range(100):
        if fake_azure.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert fake_azure.open_connections == 0


async def test_throttled_request_succeeds_after_one_retry(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory, recorded_sleep: RecordedSleep
):
    engine = engine_for()
    fake_azure.script(["throttle"] * SDK_UPGRADE_ATTEMPTS + ["ok"])
    payload = engine.payload("Patience.", AVA, language="en-US")

    audio = await synthesize_with_retries(engine, payload, AVA, sleep=recorded_sleep)

    assert audio.duration_ms > 0
    assert len(recorded_sleep.delays) == 1
    assert len(fake_azure.handshakes) == SDK_UPGRADE_ATTEMPTS + 1
    assert [r.ssml for r in fake_azure.requests] == [payload]


async def test_repeated_throttling_backs_off_longer_each_time(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory, recorded_sleep: RecordedSleep
):
    engine = engine_for()
    fake_azure.script(["throttle"] * SDK_UPGRADE_ATTEMPTS * 3 + ["ok"])
    payload = engine.payload("Patience.", AVA, language="en-US")

    await synthesize_with_retries(
        engine, payload, AVA, sleep=recorded_sleep, base_delay=0.5, jitter=identity_jitter
    )

    assert recorded_sleep.delays == [0.5, 1.0, 2.0]


async def test_throttling_past_the_last_attempt_raises_throttled(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory, recorded_sleep: RecordedSleep
):
    engine = engine_for()
    fake_azure.script(["throttle"] * SDK_UPGRADE_ATTEMPTS * 2)
    payload = engine.payload("Patience.", AVA, language="en-US")

    with pytest.raises(TTSThrottled, match="Too many requests"):
        await synthesize_with_retries(engine, payload, AVA, attempts=2, sleep=recorded_sleep)

    assert len(recorded_sleep.delays) == 1


async def test_bad_request_is_rejected_with_the_service_message_and_not_retried(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory, recorded_sleep: RecordedSleep
):
    engine = engine_for()
    message = "Unsupported voice en-US-AvaNeural."
    fake_azure.script([SpeechBehaviour("bad_request", message)])
    payload = engine.payload("Hello.", AVA, language="en-US")

    with pytest.raises(TTSRejected) as rejected:
        await synthesize_with_retries(engine, payload, AVA, sleep=recorded_sleep)

    assert message in rejected.value.detail
    assert "USP state" not in rejected.value.detail
    assert recorded_sleep.delays == []
    assert len(fake_azure.requests) == 1


async def test_ssml_the_service_cannot_parse_is_rejected(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory
):
    engine = engine_for()

    with pytest.raises(TTSRejected, match="SSML is invalid"):
        await engine.synthesize("<speak>not closed", AVA)


async def test_server_error_is_retried(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory, recorded_sleep: RecordedSleep
):
    engine = engine_for()
    fake_azure.script(["server_error"] * SDK_UPGRADE_ATTEMPTS + ["ok"])
    payload = engine.payload("Try again.", AVA, language="en-US")

    audio = await synthesize_with_retries(engine, payload, AVA, sleep=recorded_sleep)

    assert audio.duration_ms > 0
    assert len(recorded_sleep.delays) == 1


async def test_engine_without_credentials_is_not_configured():
    engine = AzureSpeechEngine()
    payload = engine.payload("Hello.", AVA, language="en-US")

    with pytest.raises(TTSNotConfigured, match="AZURE_SPEECH_KEY"):
        await engine.synthesize(payload, AVA)
    assert TTSNotConfigured.status == 503


def test_payload_is_the_ssml_builder_output_with_the_voice_settings():
    engine = AzureSpeechEngine()
    voice = VoiceSpec.of(
        "azure",
        "en-GB-RyanNeural",
        {"rate": 1.1, "pitch_semitones": -2, "volume_db": 3, "style": "cheerful"},
    )
    lexicon = [LexiconEntry("Bingley", phoneme="ˈbɪŋli")]

    payload = engine.payload("Mr. Bingley smiled.", voice, language="en", lexicon=lexicon)

    assert payload == build_ssml(
        "Mr. Bingley smiled.",
        voice="en-GB-RyanNeural",
        language="en-GB",  # the voice's own locale, as it speaks the requested language
        prosody=Prosody(rate=1.1, pitch_semitones=-2, volume_db=3),
        style="cheerful",
        lexicon=lexicon,
    )
    assert payload == engine.payload("Mr. Bingley smiled.", voice, language="en", lexicon=lexicon)


def test_catalogue_covers_the_promised_locales_with_real_voice_names():
    voices = AzureSpeechEngine().voices()
    ids = [v.voice_id for v in voices]

    assert len(voices) >= 40
    assert len(set(ids)) == len(ids)
    assert {"en-US-AvaNeural", "en-GB-RyanNeural", "es-MX-DaliaNeural"} <= set(ids)
    locales = {v.locale for v in voices}
    assert {
        "en-US",
        "en-GB",
        "en-AU",
        "es-ES",
        "es-MX",
        "fr-FR",
        "de-DE",
        "it-IT",
        "pt-BR",
    } <= locales
    for voice in voices:
        assert voice.voice_id.startswith(voice.locale + "-") and voice.voice_id.endswith("Neural")
        assert voice.gender in ("female", "male", "neutral")
    assert any(v.styles for v in voices)


@pytest.mark.parametrize(
    ("language", "voice_id"),
    [
        ("en-US", "en-US-AvaNeural"),
        ("en_gb", "en-GB-RyanNeural"),
        ("en", "en-US-AvaNeural"),
        ("es", "es-ES-AlvaroNeural"),
        ("es-MX", "es-MX-DaliaNeural"),
        ("pt-PT", "pt-BR-FranciscaNeural"),
        ("ja-JP", "en-US-AvaMultilingualNeural"),
    ],
)
def test_default_voice_is_a_narrator_for_the_language(language: str, voice_id: str):
    engine = AzureSpeechEngine()

    voice = engine.default_voice(language)

    assert voice == VoiceSpec.of("azure", voice_id)
    engine.validate_voice(voice)


def test_style_must_be_one_the_voice_offers():
    engine = AzureSpeechEngine()

    engine.validate_voice(VoiceSpec.of("azure", "en-US-JennyNeural", {"style": "whispering"}))
    with pytest.raises(InvalidVoice, match="has no style 'whispering'; it offers no styles"):
        engine.validate_voice(VoiceSpec.of("azure", "en-US-AvaNeural", {"style": "whispering"}))
    with pytest.raises(InvalidVoice, match="Unknown azure voice 'en-US-NobodyNeural'"):
        engine.validate_voice(VoiceSpec.of("azure", "en-US-NobodyNeural"))


async def test_throttling_also_reaches_a_client_with_an_open_connection(
    fake_azure: FakeAzureSpeech, engine_for: EngineFactory
):
    engine = engine_for()
    payload = engine.payload("Again.", AVA, language="en-US")
    await engine.synthesize(payload, AVA)
    fake_azure.script(["throttle"] * SDK_UPGRADE_ATTEMPTS)

    with pytest.raises(TTSThrottled):
        await engine.synthesize(payload, AVA)

    await engine.synthesize(payload, AVA)  # the script is used up: the service recovers
    assert len(fake_azure.requests) == 3
