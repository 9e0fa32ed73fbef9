"""The values that cross the engine interface, and reading the WAV services send back."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from khipu.audio.engines import ENGINES, SynthesizedAudio, VoiceSpec
from khipu.audio.engines.wav import MalformedWav, read_wav
from tests.audio.engines.audio_checks import decode_wav


def wav_header(*, channels: int, sample_rate: int, data_size: int, riff_size: int) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * 2 * channels, 2 * channels, 16
        )
        + b"data"
        + struct.pack("<I", data_size)
    )


def test_voice_specs_with_the_same_settings_in_any_order_are_equal():
    first = VoiceSpec.of("azure", "en-US-AvaNeural", {"rate": 1.1, "style": "cheerful"})
    second = VoiceSpec.of("azure", "en-US-AvaNeural", {"style": "cheerful", "rate": 1.1})

    assert first == second and hash(first) == hash(second)
    assert first.setting("rate") == 1.1
    assert first.setting("pitch_semitones", 0.0) == 0.0


def test_voice_spec_as_dict_is_json_ready():
    spec = VoiceSpec.of("piper", "joe-light", {"rate": 0.9})

    assert json.loads(json.dumps(spec.as_dict())) == {
        "engine": "piper",
        "voice_id": "joe-light",
        "settings": {"rate": 0.9},
    }
    assert VoiceSpec.of(**spec.as_dict()) == spec


def test_engines_are_registered_by_name():
    assert sorted(ENGINES) == ["azure", "openai", "piper"]
    assert all(engine.name == name for name, engine in ENGINES.items())


def test_synthesized_audio_from_pcm_is_a_wav_with_its_duration():
    pcm = np.zeros(24_000 * 3 // 2, dtype="<i2").tobytes()  # 1.5 s

    audio = SynthesizedAudio.from_pcm(pcm, sample_rate=24_000)

    assert audio.duration_ms == 1_500
    assert decode_wav(audio.wav).samples.size == 36_000


def test_streamed_wav_with_placeholder_sizes_reads_to_the_end_of_the_data():
    samples = np.arange(1_000, dtype="<i2").tobytes()
    streamed = wav_header(
        channels=1, sample_rate=24_000, data_size=0xFFFFFFFF, riff_size=0xFFFFFFFF
    )

    audio = read_wav(streamed + samples)

    assert audio.sample_rate == 24_000
    assert audio.pcm == samples


def test_stereo_wav_is_mixed_down_to_mono():
    stereo = np.array([[100, 300], [-200, -400]], dtype="<i2").tobytes()
    data = wav_header(
        channels=2, sample_rate=48_000, data_size=len(stereo), riff_size=36 + len(stereo)
    )

    audio = read_wav(data + stereo)

    assert np.frombuffer(audio.pcm, dtype="<i2").tolist() == [200, -300]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ID3\x04mp3 bytes",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"RIFF\x24\x00\x00\x00WAVEdata\x00\x00\x00\x00",
    ],
)
def test_bytes_that_are_not_a_pcm_wav_are_refused(data: bytes):
    with pytest.raises(MalformedWav):
        read_wav(data)
