"""Piper, the local engine, synthesising for real (the model loads once per test session)."""

from __future__ import annotations

import asyncio
import time

import pytest

from khipu.audio.engines import InvalidVoice, PiperEngine, TTSRejected, VoiceSpec
from khipu.audio.engines.piper import PRESETS
from khipu.manuscripts.lexicon import LexiconEntry
from tests.audio.engines.audio_checks import (
    decode_wav,
    median_pitch_hz,
    rms_dbfs,
    spectral_centroid_hz,
)

TEN_WORDS = "The carriage stopped before the house, and everyone hurried outside."
SENTENCE = "It is a truth universally acknowledged, that a single man must want a wife."
JOE = VoiceSpec.of("piper", "joe")


async def speak(piper: PiperEngine, text: str, voice: VoiceSpec = JOE):
    return await piper.synthesize(piper.payload(text, voice, language="en"), voice)


async def test_ten_word_sentence_becomes_seconds_of_audible_mono_speech(piper: PiperEngine):
    audio = await speak(piper, TEN_WORDS)

    wav = decode_wav(audio.wav)
    assert (wav.channels, wav.sample_width, wav.sample_rate) == (1, 2, 22_050)
    assert audio.sample_rate == 22_050
    assert 1.0 <= wav.duration_s <= 6.0
    assert audio.duration_ms == round(wav.duration_s * 1000)
    assert rms_dbfs(wav.samples) > -35.0  # speech, not silence
    # Piper gives no word timings without the `onnx` package (see the engine's docs).
    assert audio.word_boundaries == ()


async def test_model_is_loaded_once_and_shared_by_every_engine(piper: PiperEngine):
    another = PiperEngine()
    await speak(piper, "First.")
    await speak(another, "Second.")

    assert another.model is piper.model
    assert piper.model.loads == 1
    assert piper.model.voice() is another.model.voice()


async def test_pitched_up_preset_sounds_higher_and_pitched_down_preset_lower(piper: PiperEngine):
    joe = decode_wav((await speak(piper, SENTENCE)).wav)
    light = decode_wav((await speak(piper, SENTENCE, VoiceSpec.of("piper", "joe-light"))).wav)
    deep = decode_wav((await speak(piper, SENTENCE, VoiceSpec.of("piper", "joe-deep"))).wav)

    rate = joe.sample_rate
    # +4 semitones is a ratio of 1.26; allow for the model's own variation between takes.
    assert median_pitch_hz(light.samples, rate) > 1.12 * median_pitch_hz(joe.samples, rate)
    assert spectral_centroid_hz(light.samples, rate) > 1.1 * spectral_centroid_hz(joe.samples, rate)
    # Joe's low register defeats a simple pitch tracker; the spectrum shows the shift down.
    assert spectral_centroid_hz(deep.samples, rate) < 0.9 * spectral_centroid_hz(joe.samples, rate)


async def test_rate_setting_speeds_speech_up(piper: PiperEngine):
    normal = await speak(piper, SENTENCE)
    fast = await speak(piper, SENTENCE, VoiceSpec.of("piper", "joe", {"rate": 1.5}))

    assert fast.duration_ms < 0.8 * normal.duration_ms


async def test_synthesis_leaves_the_event_loop_free(piper: PiperEngine):
    ticks = 0

    async def tick_until(done: asyncio.Event) -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    done = asyncio.Event()
    ticker = asyncio.create_task(tick_until(done))
    started = time.perf_counter()
    await speak(piper, SENTENCE)
    elapsed = time.perf_counter() - started
    done.set()
    await ticker

    # A blocked loop would tick once; a free one ticks about every 10 ms throughout.
    assert ticks >= 0.3 * elapsed / 0.01


def test_title_abbreviations_are_spoken_so_mr_does_not_end_the_sentence(piper: PiperEngine):
    text = "“My dear Mr. Bennet,” said Mrs. Bennet to Dr. Jones."
    payload = piper.payload(text, JOE, language="en")

    assert payload == "“My dear Mister Bennet,” said Missus Bennet to Doctor Jones."
    assert len(piper.model.voice().phonemize(payload)) == 1  # one sentence, not four


def test_lexicon_phonemes_become_piper_raw_phonemes_and_aliases_are_substituted(
    piper: PiperEngine,
):
    lexicon = [
        LexiconEntry("Elizabeth", phoneme="ɪˈlɪzəbəθ"),
        LexiconEntry("Netherfield", alias="Nether field"),
    ]
    payload = piper.payload(
        "Elizabeth walked to Netherfield; Elizabethan manners.", JOE, language="en", lexicon=lexicon
    )

    assert payload == "[[ ɪˈlɪzəbəθ ]] walked to Nether field; Elizabethan manners."
    first_sentence = piper.model.voice().phonemize(payload)[0]
    assert first_sentence[: len("ɪˈlɪzəbəθ")] == list("ɪˈlɪzəbəθ")


def test_brackets_in_the_text_cannot_smuggle_raw_phonemes(piper: PiperEngine):
    payload = piper.payload("He wrote [[secret]] twice.", JOE, language="en")

    assert "[[" not in payload and "]]" not in payload
    spoken = "".join(piper.model.voice().phonemize(payload)[0])
    assert "sˈiːkɹᵻt" in spoken  # "secret" read as a word, not as phoneme symbols


def test_lexicon_entries_see_the_text_before_titles_are_spelled_out(piper: PiperEngine):
    lexicon = [
        LexiconEntry("Mr. Darcy", alias="Fitzwilliam Darcy"),
        LexiconEntry("Longbourn", phoneme="ˈlɒŋbɔːn"),
    ]

    payload = piper.payload(
        "Mr. Darcy left Longbourn with Mr. Bingley.", JOE, language="en", lexicon=lexicon
    )

    assert payload == "Fitzwilliam Darcy left [[ ˈlɒŋbɔːn ]] with Mister Bingley."


def test_catalogue_has_joe_and_distinct_presets_with_honest_labels(piper: PiperEngine):
    voices = piper.voices()

    assert voices[0].voice_id == "joe"
    assert 7 <= len(voices) <= 9
    assert len(
        {(p.length_scale, p.noise_scale, p.noise_w_scale, p.pitch_semitones) for p in PRESETS}
    ) == len(PRESETS)
    assert {v.gender for v in voices} == {"male", "female", "neutral"}
    for voice in voices:
        if voice.gender == "female":
            assert "pitch" in voice.description and "not a recorded female" in voice.description
    assert piper.default_voice("en-GB") == JOE


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        (VoiceSpec.of("piper", "maria"), "Unknown piper voice 'maria'"),
        (VoiceSpec.of("azure", "joe"), "not 'piper'"),
        (VoiceSpec.of("piper", "joe", {"rate": 3}), "'rate' must be between 0.5 and 2"),
        (VoiceSpec.of("piper", "joe", {"pitch_semitones": "high"}), "must be a number"),
        (VoiceSpec.of("piper", "joe", {"style": "cheerful"}), "does not understand"),
    ],
)
def test_invalid_voices_are_refused_with_a_clear_message(
    piper: PiperEngine, voice: VoiceSpec, message: str
):
    with pytest.raises(InvalidVoice, match=message):
        piper.validate_voice(voice)


async def test_synthesizing_with_an_invalid_voice_fails_without_retry(piper: PiperEngine):
    with pytest.raises(TTSRejected, match="Unknown piper voice"):
        await piper.synthesize("Hello.", VoiceSpec.of("piper", "maria"))


async def test_text_with_nothing_to_say_gives_empty_audio(piper: PiperEngine):
    audio = await piper.synthesize("   ", JOE)

    assert audio.duration_ms == 0
    assert decode_wav(audio.wav).samples.size == 0
