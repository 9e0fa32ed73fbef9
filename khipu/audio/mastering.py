"""Chapter stitching and mastering: TTS pieces joined with room tone and levelled into ACX ranges.

One ffmpeg process per chapter streams the pieces through the concat demuxer, lays the room-tone
bed under them, resamples, applies the chapter gain and a peak limiter and writes the lossless
master (FLAC) and the preview (MP3) together; memory does not grow with chapter length.
"""

from __future__ import annotations

import math
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from khipu.audio.loudness import LoudnessReport, measure
from khipu.audio.roomtone import room_tone_filter
from khipu.core.ffmpeg import run_ffmpeg, run_stream, wav_info

# Pieces resampled per ffmpeg process when a chapter mixes formats: bounds open files and threads.
_CONFORM_BATCH = 32
# Frames read at a time while summing a piece's energy.
_SURVEY_FRAMES = 1 << 16
_PCM16_FULL_SCALE = 32768.0


@dataclass(frozen=True, slots=True)
class Piece:
    path: Path  # a WAV (any rate; s16 mono) produced by a TTS engine
    pause_after_ms: int  # room tone inserted after this piece; the last piece's is ignored


@dataclass(frozen=True, slots=True)
class MasteringSettings:
    sample_rate: int = 44100
    head_room_tone_ms: int = 750  # ACX: 0.5–1 s at the head
    tail_room_tone_ms: int = 2500  # ACX: 1–5 s at the tail
    target_rms_db: float = -20.0  # inside ACX's -23..-18
    peak_ceiling_db: float = -3.5  # ACX: <= -3
    room_tone_db: float = -72.0  # low-level noise, not digital silence; noise floor <= -60
    preview_bitrate: str = "96k"  # compressed preview (MP3)


@dataclass(frozen=True, slots=True)
class ChapterMaster:
    duration_ms: int
    piece_offsets_ms: tuple[int, ...]  # start of each piece in the master (for read-along sync)
    loudness: LoudnessReport  # measured on the master after mastering


@dataclass(frozen=True, slots=True)
class _Timeline:
    """The chapter as the concat demuxer reads it: files in order, all at one sample rate."""

    sample_rate: int
    files: tuple[Path, ...]
    piece_starts: tuple[int, ...]  # frames
    frames: int

    def piece_offsets_ms(self) -> tuple[int, ...]:
        return tuple(round(start * 1000 / self.sample_rate) for start in self.piece_starts)


def stitch_chapter(
    pieces: Sequence[Piece],
    *,
    master_path: Path,
    preview_path: Path,
    settings: MasteringSettings = MasteringSettings(),
) -> ChapterMaster:
    """Join the pieces with room tone, level the chapter and write its master and preview.

    Raises ValueError for an empty chapter or a negative pause; FFmpegError if ffmpeg fails.
    """
    _check_pieces(pieces)
    with tempfile.TemporaryDirectory(prefix="khipu-stitch-") as scratch:
        workdir = Path(scratch)
        paths, pieces_rate = _uniform_pcm(
            [piece.path for piece in pieces], workdir=workdir, sample_rate=settings.sample_rate
        )
        timeline = _lay_out(
            pieces, paths, sample_rate=pieces_rate, settings=settings, workdir=workdir
        )
        gain_db = _chapter_gain_db(
            speech_energy=sum(_sum_of_squares(path) for path in paths),
            samples=timeline.frames,
            settings=settings,
        )
        _render(
            _write_concat_list(timeline, workdir / "chapter.ffconcat"),
            pieces_rate=pieces_rate,
            gain_db=gain_db,
            settings=settings,
            master_path=master_path,
            preview_path=preview_path,
        )
    loudness = measure(master_path)
    return ChapterMaster(
        duration_ms=loudness.duration_ms,
        piece_offsets_ms=timeline.piece_offsets_ms(),
        loudness=loudness,
    )


def _check_pieces(pieces: Sequence[Piece]) -> None:
    if not pieces:
        raise ValueError("a chapter needs at least one piece to stitch")
    negative = [piece.path.name for piece in pieces if piece.pause_after_ms < 0]
    if negative:
        raise ValueError(f"pause_after_ms must not be negative (pieces {', '.join(negative)})")


def _uniform_pcm(
    paths: Sequence[Path], *, workdir: Path, sample_rate: int
) -> tuple[list[Path], int]:
    """Pieces the concat demuxer can join: one rate, mono, 16-bit PCM; returns them and the rate.

    The demuxer cannot change format mid-stream (ffmpeg would rebuild the filter graph and lose
    samples), so a chapter that mixes formats has its odd pieces resampled to the master rate first.
    """
    rates = [_mono_pcm16_rate(path) for path in paths]
    if len(set(rates)) == 1 and rates[0] is not None:
        return list(paths), rates[0]
    odd = [index for index, rate in enumerate(rates) if rate != sample_rate]
    conformed = _conform([paths[index] for index in odd], workdir=workdir, sample_rate=sample_rate)
    uniform = list(paths)
    for index, path in zip(odd, conformed, strict=True):
        uniform[index] = path
    return uniform, sample_rate


def _mono_pcm16_rate(path: Path) -> int | None:
    """The sample rate of a mono 16-bit PCM WAV; None for anything ffmpeg has to convert first."""
    try:
        info = wav_info(path)
    except (wave.Error, EOFError):
        return None
    if info.channels != 1 or info.sample_width != 2:
        return None
    return info.sample_rate


def _conform(paths: Sequence[Path], *, workdir: Path, sample_rate: int) -> list[Path]:
    conformed: list[Path] = []
    for start in range(0, len(paths), _CONFORM_BATCH):
        batch = paths[start : start + _CONFORM_BATCH]
        targets = [workdir / f"conformed-{start + offset}.wav" for offset in range(len(batch))]
        outputs = [
            ffmpeg.output(
                ffmpeg.input(str(source.absolute())).audio.filter(
                    "aresample", sample_rate, resampler="soxr", ochl="mono"
                ),
                str(target),
                acodec="pcm_s16le",
                f="wav",
            )
            for source, target in zip(batch, targets, strict=True)
        ]
        run_stream(ffmpeg.merge_outputs(*outputs))
        conformed.extend(targets)
    return conformed


def _lay_out(
    pieces: Sequence[Piece],
    paths: Sequence[Path],
    *,
    sample_rate: int,
    settings: MasteringSettings,
    workdir: Path,
) -> _Timeline:
    """Order head tone, pieces, pauses and tail tone; each gap is a silent file of its length."""
    silences: dict[int, Path] = {}

    def gap(ms: int) -> list[Path]:
        frames = round(ms * sample_rate / 1000)
        if frames == 0:
            return []
        if frames not in silences:
            path = workdir / f"silence-{frames}.wav"
            silences[frames] = _write_silence(path, frames=frames, sample_rate=sample_rate)
        return [silences[frames]]

    files = gap(settings.head_room_tone_ms)
    position = round(settings.head_room_tone_ms * sample_rate / 1000)
    starts: list[int] = []
    for index, (piece, path) in enumerate(zip(pieces, paths, strict=True)):
        last = index == len(pieces) - 1
        pause_ms = settings.tail_room_tone_ms if last else piece.pause_after_ms
        starts.append(position)
        files.append(path)
        files.extend(gap(pause_ms))
        position += wav_info(path).frames + round(pause_ms * sample_rate / 1000)
    return _Timeline(
        sample_rate=sample_rate, files=tuple(files), piece_starts=tuple(starts), frames=position
    )


def _write_silence(path: Path, *, frames: int, sample_rate: int) -> Path:
    # Digital silence here is only the gap; the room-tone bed mixed in later fills it with noise.
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(bytes(2 * frames))
    return path


def _sum_of_squares(path: Path) -> float:
    """Energy of a mono 16-bit WAV (1.0 = full scale), read in chunks."""
    total = 0.0
    with wave.open(str(path), "rb") as wav:
        while chunk := wav.readframes(_SURVEY_FRAMES):
            samples = np.frombuffer(chunk, dtype="<i2").astype(np.float64)
            total += float(np.dot(samples, samples))
    return total / _PCM16_FULL_SCALE**2


def _chapter_gain_db(*, speech_energy: float, samples: int, settings: MasteringSettings) -> float:
    """Gain that brings the whole master, pauses and room tone included, to the target RMS.

    ACX's RMS is over the whole file, so pauses dilute it; the bed adds its own small energy.
    """
    target_power = 10.0 ** (settings.target_rms_db / 10.0)
    bed_power = 10.0 ** (settings.room_tone_db / 10.0)
    wanted = (target_power - bed_power) * samples
    if speech_energy <= 0.0 or wanted <= 0.0:
        return 0.0  # a silent chapter has nothing to level
    return 10.0 * math.log10(wanted / speech_energy)


def _write_concat_list(timeline: _Timeline, path: Path) -> Path:
    lines = ["ffconcat version 1.0"]
    for file in timeline.files:
        lines.append(f"file {_ffconcat_quote(file)}")
        # Every file here is a WAV whose header says all; skipping the default probe and stream
        # analysis of each file cuts the demuxer's CPU time about threefold (measured).
        lines += ["option probesize 32", "option analyzeduration 0"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ffconcat_quote(path: Path) -> str:
    # Inside single quotes ffconcat takes everything literally, so a quote closes, escapes, reopens.
    return "'" + str(path.resolve()).replace("'", "'\\''") + "'"


def _render(
    concat_list: Path,
    *,
    pieces_rate: int,
    gain_db: float,
    settings: MasteringSettings,
    master_path: Path,
    preview_path: Path,
) -> None:
    """Run the one ffmpeg process that levels the chapter and writes master and preview."""
    rate = str(settings.sample_rate)
    run_ffmpeg(
        [
            "-y",
            *("-f", "concat", "-safe", "0", "-i", str(concat_list)),
            *("-filter_complex", _mastering_graph(pieces_rate, gain_db=gain_db, settings=settings)),
            *("-map", "[master]", "-c:a", "flac", "-sample_fmt", "s16"),
            *("-ar", rate, "-ac", "1", "-f", "flac", str(master_path.absolute())),
            *("-map", "[preview]", "-c:a", "libmp3lame", "-b:a", settings.preview_bitrate),
            *("-ar", rate, "-ac", "1", "-f", "mp3", str(preview_path.absolute())),
        ]
    )


def _mastering_graph(pieces_rate: int, *, gain_db: float, settings: MasteringSettings) -> str:
    # Written out rather than built with ffmpeg-python, which cannot place a source filter (the
    # room-tone generator) inside a filter graph.
    # The bed joins at the pieces' rate, before resampling: noise above the speech band would make
    # the MP3 encoder ~70% slower for nothing audible. It is pitched against the gain that follows,
    # so it lands exactly at room_tone_db, and lies far below the limiter's ceiling.
    bed = room_tone_filter(sample_rate=pieces_rate, level_db=settings.room_tone_db - gain_db)
    ceiling = 10.0 ** (settings.peak_ceiling_db / 20.0)
    chapter = ",".join(
        [
            "[0:a][bed]amix=inputs=2:duration=first:normalize=0",
            f"aresample={settings.sample_rate}:resampler=soxr",
            f"volume={gain_db:.4f}dB",
            # level=0: no automatic make-up gain back to 0 dBFS; latency=1: the lookahead does
            # not delay the signal, so piece offsets stay sample-exact.
            f"alimiter=limit={ceiling:.6f}:level=0:latency=1",
            "asplit=2[master][preview]",
        ]
    )
    return f"{bed}[bed];{chapter}"
