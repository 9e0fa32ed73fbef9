"""Content addresses: a segment's audio and a chapter's master are named by what made them.

An unchanged segment is never synthesised twice (same engine, voice, settings, exact payload and
lexicon version → same key → the stored audio is reused); a chapter is re-stitched only when the
audio or pauses it is made of changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from khipu.audio.engines import VoiceSpec
from khipu.audio.mastering import MasteringSettings
from khipu.core.storage import BlobKeys

CACHE_FORMAT = 1  # bump when the audio an identical request produces would change


def _digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def segment_audio_key(voice: VoiceSpec, payload: str, lexicon_version: str) -> str:
    return _digest(
        {
            "format": CACHE_FORMAT,
            "engine": voice.engine,
            "voice": voice.voice_id,
            "settings": dict(voice.settings),
            "payload": payload,
            "lexicon": lexicon_version,
        }
    )


def segment_blob(tenant_id: UUID, project_id: UUID, audio_key: str) -> str:
    return BlobKeys.project(tenant_id, project_id, "audio/segments", f"{audio_key}.wav")


def chapter_digest(
    audio_keys: Sequence[str], pauses_ms: Sequence[int], mastering: MasteringSettings
) -> str:
    return _digest(
        {
            "format": CACHE_FORMAT,
            "audio": list(audio_keys),
            "pauses": list(pauses_ms),
            "mastering": mastering,
        }
    )


def chapter_blobs(
    tenant_id: UUID, project_id: UUID, chapter_id: UUID, digest: str
) -> tuple[str, str]:
    stem = f"{chapter_id}-{digest[:16]}"
    return (
        BlobKeys.project(tenant_id, project_id, "audio/chapters", f"{stem}.flac"),
        BlobKeys.project(tenant_id, project_id, "audio/chapters", f"{stem}.mp3"),
    )
