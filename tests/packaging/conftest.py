"""Chapter masters for the packaging tests, shaped the way mastering delivers them: FLAC (encoded
by ffmpeg from samples synthesised here), 44.1 kHz mono, room tone at the head and tail,
speech-like bursts at ACX levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from khipu.core.ffmpeg import run_ffmpeg
from khipu.packaging.book import BookMetadata, ChapterAudio, SegmentTiming, WordTiming

SAMPLE_RATE = 44100
COVER_FIXTURE = Path(__file__).parent.parent / "fixtures" / "pride-and-prejudice-cover.jpg"
ROOM_TONE_DB = -70.0
SPEECH_DB = -17.0  # RMS while "speaking"; with the pauses a chapter lands near -19..-20 dB


@dataclass(frozen=True)
class MasterSpec:
    """A chapter's timeline in seconds: head room tone, bursts of speech with pauses, tail."""

    bursts: tuple[float, ...]
    pause: float = 0.6
    head: float = 0.75
    tail: float = 2.0
    speech_db: float = SPEECH_DB
    extra_samples: int = 37  # keeps lengths off AAC/MP3 frame boundaries

    @property
    def burst_starts(self) -> list[float]:
        starts, at = [], self.head
        for burst in self.bursts:
            starts.append(at)
            at += burst + self.pause
        return starts

    @property
    def samples(self) -> int:
        speech = sum(self.bursts) + self.pause * (len(self.bursts) - 1)
        return round((self.head + speech + self.tail) * SAMPLE_RATE) + self.extra_samples


def write_master(path: Path, spec: MasterSpec) -> Path:
    """Speech stand-in: a 180 Hz + 540 Hz tone with a 4 Hz syllable tremolo, gated into bursts,
    over uniform noise at ROOM_TONE_DB (the RMS of uniform noise in [-b, b] is b/sqrt(3))."""
    t = np.arange(spec.samples) / SAMPLE_RATE
    gate = np.zeros(spec.samples, dtype=bool)
    for start, burst in zip(spec.burst_starts, spec.bursts, strict=True):
        gate |= (t >= start) & (t < start + burst)
    tone = 0.8 * np.sin(2 * np.pi * 180 * t) + 0.6 * np.sin(2 * np.pi * 540 * t)
    tremolo = 0.7 + 0.3 * np.sin(2 * np.pi * 4 * t)
    # The tone times the tremolo has a mean square of 0.2675: scale it to the speech level.
    speech = (10 ** (spec.speech_db / 10) / 0.2675) ** 0.5 * tone * tremolo * gate
    noise_bound = 10 ** (ROOM_TONE_DB / 20) * 3**0.5
    noise = np.random.default_rng(len(spec.bursts)).uniform(-noise_bound, noise_bound, t.size)
    samples = (speech + noise).astype("<f4")
    raw_input = ["-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0"]
    run_ffmpeg(["-y", *raw_input, "-c:a", "flac", str(path)], input_bytes=samples.tobytes())
    return path


def segments_for(spec: MasterSpec, *, chapter: int) -> tuple[SegmentTiming, ...]:
    """One segment per burst (the first is the spoken heading), words spread evenly over it."""
    segments = []
    for index, (start, burst) in enumerate(zip(spec.burst_starts, spec.bursts, strict=True)):
        kind = "heading" if index == 0 else ("dialogue" if index % 2 == 0 else "narration")
        text = f"Chapter {chapter}" if index == 0 else f"“Burst {index} speaks, {chapter}.”"
        words = _even_words(text, round(burst * 1000))
        segments.append(
            SegmentTiming(
                segment_id=f"c{chapter}s{index}",
                text=text,
                start_ms=round(start * 1000),
                end_ms=round((start + burst) * 1000),
                paragraph=index,
                kind=kind,
                words=words,
            )
        )
    return tuple(segments)


def _even_words(text: str, duration_ms: int) -> tuple[WordTiming, ...]:
    tokens = []
    offset = 0
    for token in text.split(" "):
        word = token.strip("“”.,")
        tokens.append((word, text.index(word, offset)))
        offset += len(token) + 1
    step = duration_ms // len(tokens)
    return tuple(
        WordTiming(text=word, text_offset=at, start_ms=i * step, end_ms=(i + 1) * step)
        for i, (word, at) in enumerate(tokens)
    )


def chapter_audio(path: Path, spec: MasterSpec, *, title: str, number: int) -> ChapterAudio:
    return ChapterAudio(
        title=title,
        master_path=path,
        duration_ms=round(spec.samples * 1000 / SAMPLE_RATE),
        segments=segments_for(spec, chapter=number),
    )


BODY_SPECS = (
    MasterSpec(bursts=(1.5, 1.2)),
    MasterSpec(bursts=(2.5,), head=0.8, tail=1.5, extra_samples=501),
    MasterSpec(bursts=(1.0, 1.0, 0.8), pause=0.5, head=0.7, extra_samples=1023),
)
BODY_TITLES = ("Chapter I", 'Chapter II: A/B "Test"', "Chapter III")


@pytest.fixture(scope="session")
def masters_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("masters")


@pytest.fixture(scope="session")
def body_chapters(masters_dir: Path) -> list[ChapterAudio]:
    return [
        chapter_audio(
            write_master(masters_dir / f"chapter-{number}.flac", spec),
            spec,
            title=title,
            number=number,
        )
        for number, (spec, title) in enumerate(zip(BODY_SPECS, BODY_TITLES, strict=True), 1)
    ]


@pytest.fixture(scope="session")
def credits(masters_dir: Path) -> tuple[ChapterAudio, ChapterAudio]:
    spec = MasterSpec(bursts=(1.2,))
    opening = write_master(masters_dir / "opening.flac", spec)
    closing = write_master(masters_dir / "closing.flac", spec)
    return (
        chapter_audio(opening, spec, title="Opening Credits", number=0),
        chapter_audio(closing, spec, title="Closing Credits", number=99),
    )


@pytest.fixture(scope="session")
def meta() -> BookMetadata:
    return BookMetadata(
        title="Pride and Prejudice",
        author="Jane Austen",
        narrator="Joe (synthetic voice)",
        publisher="Khipu Test Press; =#",
        year=1813,
        genre="Classics",
        description="A novel of manners.\nSecond line.",
        language="en",
        isbn="9780000000002",
        copyright="Public domain",
    )


@pytest.fixture(scope="session")
def cover_bytes() -> bytes:
    return COVER_FIXTURE.read_bytes()


def starts_ms(chapters: Sequence[ChapterAudio], specs: Sequence[MasterSpec]) -> list[float]:
    """Expected chapter starts: the running sum of the masters' exact lengths."""
    out, at = [], 0
    for spec in specs[: len(chapters)]:
        out.append(at * 1000 / SAMPLE_RATE)
        at += spec.samples
    return out
