"""measure(): RMS, peak, noise floor and room-tone edges of generated signals with known values."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from khipu.audio.loudness import BLOCK_MS, FLOOR_DB, _LevelMeter, measure, peak_db, rms_db
from khipu.core.ffmpeg import FFmpegError, run_ffmpeg

RATE = 44100


def write_wav(path: Path, samples: np.ndarray, *, sample_rate: int = RATE) -> Path:
    """Write float samples (1.0 = full scale; shape (n,) or (n, channels)) as 16-bit PCM."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    pcm = np.clip(np.round(frames * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return path


def sine(seconds: float, *, rms: float, hz: float = 997.0, sample_rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return np.sqrt(2.0) * 10.0 ** (rms / 20.0) * np.sin(2.0 * np.pi * hz * t)


def silence(seconds: float, *, sample_rate: int = RATE) -> np.ndarray:
    return np.zeros(round(seconds * sample_rate))


def bed_with_bursts(*, bed_db: float, seconds: float, seed: int = 3) -> np.ndarray:
    """Gaussian noise at `bed_db` RMS with 0.4 s speech-like bursts every 1.1 s on top."""
    rng = np.random.default_rng(seed)
    signal = 10.0 ** (bed_db / 20.0) * rng.standard_normal(round(seconds * RATE))
    burst = sine(0.4, rms=-18.0, hz=180.0) * np.hanning(round(0.4 * RATE))
    for start in np.arange(0.3, seconds - 0.5, 1.1):
        first = round(start * RATE)
        signal[first : first + burst.size] += burst
    return signal


def test_full_scale_sine_measures_minus_3_01_db_rms_and_0_db_peak(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "full.wav", np.sin(2 * np.pi * 997.0 * np.arange(2 * RATE) / RATE))

    report = measure(wav)

    assert report.rms_db == pytest.approx(-3.01, abs=0.1)
    assert report.peak_db == pytest.approx(0.0, abs=0.1)
    assert (report.duration_ms, report.sample_rate, report.channels) == (2000, RATE, 1)


def test_sine_at_minus_20_db_rms_peaks_3_01_db_higher(tmp_path: Path) -> None:
    report = measure(write_wav(tmp_path / "tone.wav", sine(3.0, rms=-20.0)))

    assert report.rms_db == pytest.approx(-20.0, abs=0.1)
    assert report.peak_db == pytest.approx(-16.99, abs=0.1)
    # A steady tone has no quieter stretch than its whole.
    assert report.noise_floor_db == pytest.approx(-20.0, abs=0.1)


def test_silence_around_a_tone_is_measured_as_head_and_tail_within_one_block(
    tmp_path: Path,
) -> None:
    signal = np.concatenate([silence(1.3), sine(2.0, rms=-20.0), silence(2.7)])

    report = measure(write_wav(tmp_path / "framed.wav", signal))

    assert abs(report.head_silence_ms - 1300) <= BLOCK_MS
    assert abs(report.tail_silence_ms - 2700) <= BLOCK_MS
    assert report.duration_ms == 6000


def test_noise_floor_is_the_bed_under_speech_like_bursts(tmp_path: Path) -> None:
    report = measure(write_wav(tmp_path / "bed.wav", bed_with_bursts(bed_db=-65.0, seconds=12.0)))

    assert report.noise_floor_db == pytest.approx(-65.0, abs=1.0)
    assert report.rms_db > -30.0  # the bursts, not the bed, carry the file's RMS
    assert report.head_silence_ms == pytest.approx(300, abs=60)  # the first burst fades in


def test_quiet_stretch_is_found_however_the_stream_is_split_into_chunks() -> None:
    signal = bed_with_bursts(bed_db=-62.0, seconds=8.0).astype(np.float32)

    def report_for(chunks: list[np.ndarray]):
        meter = _LevelMeter(sample_rate=RATE, channels=1, window_ms=500, silence_threshold_db=-50.0)
        for chunk in chunks:
            meter.feed(chunk)
        return meter.report()

    whole = report_for([signal])
    cuts = np.sort(np.random.default_rng(5).integers(0, signal.size, size=40))
    split = report_for(np.split(signal, cuts))

    assert split.noise_floor_db == pytest.approx(whole.noise_floor_db, abs=1e-6)
    assert split.rms_db == pytest.approx(whole.rms_db, abs=1e-9)
    assert (split.head_silence_ms, split.tail_silence_ms, split.duration_ms) == (
        whole.head_silence_ms,
        whole.tail_silence_ms,
        whole.duration_ms,
    )
    assert whole.noise_floor_db == pytest.approx(-62.0, abs=1.0)


def test_flac_measures_exactly_like_its_wav_and_mp3_within_half_a_db(tmp_path: Path) -> None:
    signal = np.concatenate([silence(1.0), sine(4.0, rms=-20.0, hz=440.0), silence(2.0)])
    wav = write_wav(tmp_path / "source.wav", signal)
    flac, mp3 = tmp_path / "encoded.flac", tmp_path / "encoded.mp3"
    run_ffmpeg(["-i", str(wav), "-c:a", "flac", str(flac)])
    run_ffmpeg(["-i", str(wav), "-c:a", "libmp3lame", "-b:a", "192k", str(mp3)])

    source, lossless, lossy = measure(wav), measure(flac), measure(mp3)

    assert lossless == source
    assert lossy.rms_db == pytest.approx(source.rms_db, abs=0.5)
    assert lossy.peak_db == pytest.approx(source.peak_db, abs=0.5)
    assert abs(lossy.duration_ms - source.duration_ms) <= 30  # encoder padding is trimmed
    assert abs(lossy.head_silence_ms - 1000) <= 30
    assert abs(lossy.tail_silence_ms - 2000) <= 30


def test_every_channel_counts_in_rms_and_peak(tmp_path: Path) -> None:
    left = sine(2.0, rms=-20.0)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)

    report = measure(write_wav(tmp_path / "stereo.wav", stereo))

    assert report.channels == 2
    assert report.rms_db == pytest.approx(-23.01, abs=0.1)  # half the samples are silent
    assert report.peak_db == pytest.approx(-16.99, abs=0.1)


def test_digital_silence_bottoms_out_at_the_floor_and_is_all_room_tone(tmp_path: Path) -> None:
    report = measure(write_wav(tmp_path / "silent.wav", silence(2.0)))

    assert report.rms_db == report.peak_db == report.noise_floor_db == FLOOR_DB
    assert report.head_silence_ms == report.tail_silence_ms == 2000


def test_a_file_shorter_than_one_window_offers_its_whole_rms_as_noise_floor(
    tmp_path: Path,
) -> None:
    report = measure(write_wav(tmp_path / "blip.wav", sine(0.2, rms=-30.0)))

    assert report.duration_ms == 200
    assert report.noise_floor_db == pytest.approx(report.rms_db)


def test_window_and_threshold_are_settable(tmp_path: Path) -> None:
    # -40 dB tone in 1.2 s gaps: loud at a -50 dB threshold, silence at -30 dB; a 1 s window
    # still fits inside the gap, a 2 s window never does.
    signal = np.concatenate([silence(1.2), sine(1.0, rms=-40.0), silence(1.2)])
    wav = write_wav(tmp_path / "quiet.wav", signal)

    default = measure(wav)
    strict = measure(wav, silence_threshold_db=-30.0)
    wide = measure(wav, window_ms=2000)

    assert abs(default.head_silence_ms - 1200) <= BLOCK_MS
    assert strict.head_silence_ms == strict.duration_ms == 3400
    assert default.noise_floor_db == FLOOR_DB
    assert wide.noise_floor_db > -50.0


def test_undecodable_file_raises_ffmpeg_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n")

    with pytest.raises(FFmpegError):
        measure(text)
    with pytest.raises(FFmpegError):
        measure(tmp_path / "missing.flac")


def test_rms_and_peak_helpers_follow_the_full_scale_sine_convention() -> None:
    full = np.sin(2 * np.pi * np.arange(44100) / 100.0)

    assert rms_db(full) == pytest.approx(-3.0103, abs=1e-3)
    assert peak_db(0.1 * full) == pytest.approx(-20.0, abs=1e-6)
    assert rms_db(np.zeros(10)) == peak_db(np.array([])) == FLOOR_DB


_RSS_PROBE = """
import json, resource, sys
from pathlib import Path
from khipu.audio.loudness import measure
report = measure(Path(sys.argv[1]))
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"ms": report.duration_ms, "rss_kb": peak_kb}))
"""


def _measure_in_fresh_process(path: Path) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(path)], capture_output=True, check=True, text=True
    )
    return json.loads(done.stdout)


def test_memory_does_not_grow_with_file_length(tmp_path: Path) -> None:
    short, long = tmp_path / "one-minute.wav", tmp_path / "half-hour.wav"
    for path, seconds in ((short, 60), (long, 1800)):
        tone = f"sine=frequency=220:sample_rate=16000:duration={seconds}"
        run_ffmpeg(["-f", "lavfi", "-i", tone, "-c:a", "pcm_s16le", str(path)])

    small, large = _measure_in_fresh_process(short), _measure_in_fresh_process(long)

    assert (small["ms"], large["ms"]) == (60_000, 1_800_000)
    # Holding the half hour as float32 alone would take 115 MB.
    assert large["rss_kb"] - small["rss_kb"] < 20_000
