"""TTS engines behind one interface (`TTSEngine`), registered by name in `ENGINES`."""

from __future__ import annotations

from khipu.audio.engines.azure import AzureSpeechEngine
from khipu.audio.engines.base import (
    InvalidVoice,
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
)
from khipu.audio.engines.openai import OpenAIEngine
from khipu.audio.engines.piper import PiperEngine
from khipu.audio.engines.retry import synthesize_with_retries

ENGINES: dict[str, type[TTSEngine]] = {
    PiperEngine.name: PiperEngine,
    AzureSpeechEngine.name: AzureSpeechEngine,
    OpenAIEngine.name: OpenAIEngine,
}

__all__ = [
    "ENGINES",
    "AzureSpeechEngine",
    "InvalidVoice",
    "OpenAIEngine",
    "PiperEngine",
    "SynthesizedAudio",
    "TTSEngine",
    "TTSError",
    "TTSNotConfigured",
    "TTSRejected",
    "TTSServerError",
    "TTSThrottled",
    "VoiceInfo",
    "VoiceSpec",
    "WordBoundary",
    "synthesize_with_retries",
]
