"""The TTS engines this deployment can use, and which voice speaks which segment.

Engines are built once per process (Piper loads its model once). The narrator voice comes from
the project's settings, else the default engine's default voice for the project's language; a
character's voice, where cast, speaks that character's dialogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from khipu.audio.engines import AzureSpeechEngine, OpenAIEngine, PiperEngine, TTSEngine, VoiceSpec
from khipu.config import Settings
from khipu.core.errors import InvalidInput
from khipu.core.runtime import Runtime

_SERVICE_KEY = "tts_engines"


class EngineUnavailable(InvalidInput):
    title = "Engine not configured"


def build_engines(settings: Settings) -> dict[str, TTSEngine]:
    engines: dict[str, TTSEngine] = {"piper": PiperEngine()}
    azure_key = settings.azure_speech_key.get_secret_value()
    if azure_key and (settings.azure_speech_region or settings.azure_speech_host):
        engines["azure"] = AzureSpeechEngine(
            key=azure_key,
            region=settings.azure_speech_region or None,
            host=settings.azure_speech_host or None,
        )
    azure_openai_key = settings.azure_openai_api_key.get_secret_value()
    openai_key = settings.openai_api_key.get_secret_value()
    if settings.azure_openai_endpoint and azure_openai_key:
        engines["openai"] = OpenAIEngine(
            api_key=azure_openai_key,
            azure_endpoint=settings.azure_openai_endpoint,
            api_version=settings.azure_openai_api_version,
            deployment=settings.azure_openai_tts_deployment,
        )
    elif openai_key:
        engines["openai"] = OpenAIEngine(
            api_key=openai_key,
            base_url=settings.openai_base_url or None,
            model=settings.openai_tts_model,
        )
    return engines


def engines(runtime: Runtime) -> dict[str, TTSEngine]:
    if _SERVICE_KEY not in runtime.services:
        runtime.services[_SERVICE_KEY] = build_engines(runtime.settings)
    return runtime.services[_SERVICE_KEY]  # type: ignore[no-any-return]


def engine_for(runtime: Runtime, name: str) -> TTSEngine:
    available = engines(runtime)
    if name not in available:
        raise EngineUnavailable(
            f"The {name!r} engine is not configured here; "
            f"available: {', '.join(sorted(available))}."
        )
    return available[name]


def voice_from(choice: Mapping[str, Any]) -> VoiceSpec:
    return VoiceSpec.of(
        str(choice["engine"]), str(choice["voice_id"]), choice.get("settings") or {}
    )


def narrator_voice(
    runtime: Runtime, project_settings: Mapping[str, Any], language: str
) -> VoiceSpec:
    chosen = project_settings.get("narrator_voice")
    if chosen:
        return voice_from(chosen)
    return engine_for(runtime, runtime.settings.tts_engine).default_voice(language)


def validate_choice(runtime: Runtime, choice: Mapping[str, Any]) -> VoiceSpec:
    voice = voice_from(choice)
    engine_for(runtime, voice.engine).validate_voice(voice)
    return voice


def voice_for_segment(
    *,
    kind: str,
    character_id: UUID | None,
    narrator: VoiceSpec,
    cast: Mapping[UUID, VoiceSpec],
) -> VoiceSpec:
    """Dialogue of a cast character is spoken in its voice; everything else by the narrator."""
    if kind == "dialogue" and character_id is not None and character_id in cast:
        return cast[character_id]
    return narrator
