"""The engines against the real cloud services; skipped unless their credentials are set.

AZURE_SPEECH_KEY + AZURE_SPEECH_REGION; OPENAI_API_KEY; AZURE_OPENAI_ENDPOINT +
AZURE_OPENAI_API_KEY (+ AZURE_OPENAI_TTS_DEPLOYMENT, default gpt-4o-mini-tts, and
AZURE_OPENAI_API_VERSION).
"""

from __future__ import annotations

import asyncio
import os

import azure.cognitiveservices.speech as speechsdk
import pytest

from khipu.audio.engines import AzureSpeechEngine, OpenAIEngine, VoiceSpec, synthesize_with_retries
from tests.audio.engines.audio_checks import decode_wav, rms_dbfs

pytestmark = pytest.mark.live


def require_env(*names: str) -> dict[str, str]:
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        pytest.skip(f"live test needs {', '.join(missing)}")
    return {name: os.environ[name] for name in names}


async def test_azure_speech_speaks_ssml_with_word_boundaries():
    env = require_env("AZURE_SPEECH_KEY", "AZURE_SPEECH_REGION")
    engine = AzureSpeechEngine(key=env["AZURE_SPEECH_KEY"], region=env["AZURE_SPEECH_REGION"])
    voice = VoiceSpec.of("azure", "en-US-AvaNeural")
    payload = engine.payload("It is a truth universally acknowledged.", voice, language="en-US")

    audio = await synthesize_with_retries(engine, payload, voice)

    assert decode_wav(audio.wav).sample_rate == 24_000
    assert 1_000 < audio.duration_ms < 6_000
    assert rms_dbfs(decode_wav(audio.wav).samples) > -35
    assert [b.text for b in audio.word_boundaries][:3] == ["It", "is", "a"]


async def test_azure_catalogue_voices_exist_with_their_styles():
    env = require_env("AZURE_SPEECH_KEY", "AZURE_SPEECH_REGION")
    config = speechsdk.SpeechConfig(
        subscription=env["AZURE_SPEECH_KEY"], region=env["AZURE_SPEECH_REGION"]
    )
    synthesizer = speechsdk.SpeechSynthesizer(speech_config=config, audio_config=None)

    result = await asyncio.to_thread(lambda: synthesizer.get_voices_async().get())

    live = {voice.short_name: voice for voice in result.voices}
    for voice in AzureSpeechEngine().voices():
        assert voice.voice_id in live, voice.voice_id
        assert set(voice.styles) <= set(live[voice.voice_id].style_list), voice.voice_id


async def test_openai_speaks_text():
    env = require_env("OPENAI_API_KEY")
    engine = OpenAIEngine(api_key=env["OPENAI_API_KEY"])
    voice = VoiceSpec.of("openai", "fable")

    audio = await synthesize_with_retries(engine, "It is a truth universally acknowledged.", voice)

    assert decode_wav(audio.wav).sample_rate == 24_000
    assert 1_000 < audio.duration_ms < 8_000


async def test_azure_openai_speaks_text():
    env = require_env("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")
    engine = OpenAIEngine(
        azure_endpoint=env["AZURE_OPENAI_ENDPOINT"],
        api_key=env["AZURE_OPENAI_API_KEY"],
        api_version=os.environ.get("AZURE_OPENAI_API_VERSION", "2025-03-01-preview"),
        deployment=os.environ.get("AZURE_OPENAI_TTS_DEPLOYMENT", "gpt-4o-mini-tts"),
    )
    voice = VoiceSpec.of("openai", "alloy")

    audio = await synthesize_with_retries(engine, "It is a truth universally acknowledged.", voice)

    assert 1_000 < audio.duration_ms < 8_000
