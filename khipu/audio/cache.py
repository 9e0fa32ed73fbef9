"""Content addresses: a segment's audio and a chapter's master are named by what made them.

An unchanged segment is never synthesised twice (same engine, voice, settings, exact payload and
lexicon version → same key → the stored audio is reused); a chapter is re-stitched only when the
audio or pauses it is made of changed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from khipu.audio.engines import VoiceSpec
from khipu.audio.mastering import MasteringSettings
from khipu.core.storage import BlobKeys
from khipu.projects.schemas import Pauses, ProjectSettings

CACHE_FORMAT = 1  # bump when the audio an identical request produces would change


class StitchedSegment(Protocol):
    """What stitching needs to know of a segment."""

    audio_key: str | None
    kind: str
    character_id: UUID | None
    boundary: str


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


def pauses_after(segments: Sequence[StitchedSegment], pauses: Pauses) -> list[int]:
    """Room tone after each segment: by the break before the next one, plus a beat when the
    speaker changes. The last segment's is 0 (the chapter's tail follows)."""
    by_boundary = {
        "clause": pauses.clause_ms,
        "sentence": pauses.sentence_ms,
        "paragraph": pauses.paragraph_ms,
        "chapter_start": pauses.paragraph_ms,
        "scene": pauses.scene_ms,
    }

    def speaker(segment: StitchedSegment) -> UUID | None:
        return segment.character_id if segment.kind == "dialogue" else None

    gaps = []
    for current, following in itertools.pairwise(segments):
        gap = by_boundary.get(following.boundary, pauses.sentence_ms)
        if speaker(current) != speaker(following):
            gap += pauses.speaker_change_ms
        gaps.append(gap)
    return [*gaps, 0]


def mastering_settings(settings: ProjectSettings) -> MasteringSettings:
    return MasteringSettings(
        head_room_tone_ms=settings.mastering.head_room_tone_ms,
        tail_room_tone_ms=settings.mastering.tail_room_tone_ms,
    )


def expected_chapter_digest(
    segments: Sequence[StitchedSegment], settings: ProjectSettings
) -> str | None:
    """The digest a master stitched from these segments now would have; None while any segment
    lacks audio."""
    if not segments or any(segment.audio_key is None for segment in segments):
        return None
    return chapter_digest(
        [segment.audio_key or "" for segment in segments],
        pauses_after(segments, settings.pauses),
        mastering_settings(settings),
    )
