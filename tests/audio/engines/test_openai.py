"""The OpenAI speech engine, with the real `openai` SDK against the local HTTP fake, for both
OpenAI and Azure OpenAI; and the fake's chat endpoint, which speaker attribution relies on."""

from __future__ import annotations

import json

import openai
import pytest

from khipu.audio.engines import (
    InvalidVoice,
    OpenAIEngine,
    TTSNotConfigured,
    TTSRejected,
    TTSThrottled,
    VoiceSpec,
    synthesize_with_retries,
)
from khipu.manuscripts.lexicon import LexiconEntry
from tests.audio.engines.audio_checks import decode_wav
from tests.audio.engines.conftest import RecordedSleep
from tests.fakes.openai_api import (
    MS_PER_CHARACTER,
    FakeOpenAI,
    bad_request,
    chat_completion,
    rate_limited,
    server_error,
)

NOVA = VoiceSpec.of("openai", "nova")
API_VERSION = "2025-03-01-preview"


def openai_engine(fake: FakeOpenAI, **kwargs) -> OpenAIEngine:
    return OpenAIEngine(api_key="sk-fake", base_url=fake.base_url, **kwargs)


def azure_openai_engine(fake: FakeOpenAI, **kwargs) -> OpenAIEngine:
    return OpenAIEngine(
        azure_endpoint=fake.azure_endpoint,
        api_key="azure-fake",
        api_version=API_VERSION,
        deployment="narration-tts",
        **kwargs,
    )


FLAVOURS = {"openai": openai_engine, "azure-openai": azure_openai_engine}


@pytest.fixture(params=sorted(FLAVOURS))
def flavour(request: pytest.FixtureRequest) -> str:
    return request.param


def identity_jitter(ceiling: float) -> float:
    return ceiling


async def test_request_carries_payload_voice_and_format_and_wav_comes_back(
    fake_openai: FakeOpenAI, flavour: str
):
    engine = FLAVOURS[flavour](fake_openai)
    text = "It is a truth universally acknowledged."

    audio = await engine.synthesize(engine.payload(text, NOVA, language="en"), NOVA)

    [request] = fake_openai.requests
    assert request.json["input"] == text
    assert request.json["voice"] == "nova"
    assert request.json["response_format"] == "wav"
    assert "speed" not in request.json and "instructions" not in request.json
    if flavour == "openai":
        assert request.path == "/v1/audio/speech"
        assert request.headers["authorization"] == "Bearer sk-fake"
        assert request.json["model"] == "gpt-4o-mini-tts"
    else:
        assert request.path == "/openai/deployments/narration-tts/audio/speech"
        assert request.query["api-version"] == API_VERSION
        assert request.headers["api-key"] == "azure-fake"
    # The fake streams its WAV like OpenAI, with placeholder sizes; ours has real ones.
    wav = decode_wav(audio.wav)
    assert (wav.sample_rate, wav.channels, wav.sample_width) == (24_000, 1, 2)
    assert audio.duration_ms == len(text) * MS_PER_CHARACTER
    assert wav.samples.any()


async def test_raw_pcm_responses_are_wrapped_as_wav(fake_openai: FakeOpenAI, flavour: str):
    engine = FLAVOURS[flavour](fake_openai, response_format="pcm")

    audio = await engine.synthesize("Plain.", NOVA)

    assert fake_openai.requests[0].json["response_format"] == "pcm"
    assert decode_wav(audio.wav).sample_rate == 24_000
    assert audio.duration_ms == len("Plain.") * MS_PER_CHARACTER


async def test_rate_limited_request_is_retried_after_the_time_the_service_asked(
    fake_openai: FakeOpenAI, flavour: str, recorded_sleep: RecordedSleep
):
    engine = FLAVOURS[flavour](fake_openai)
    fake_openai.script("speech", [rate_limited(retry_after=2.5)])

    audio = await synthesize_with_retries(
        engine, "Patience.", NOVA, sleep=recorded_sleep, jitter=identity_jitter
    )

    assert audio.duration_ms > 0
    assert recorded_sleep.delays == [2.5]  # more than the 0.5 s backoff would have waited
    assert len(fake_openai.requests_to("speech")) == 2


async def test_rate_limit_error_maps_to_throttled_with_retry_after(
    fake_openai: FakeOpenAI, flavour: str
):
    engine = FLAVOURS[flavour](fake_openai)
    fake_openai.script("speech", [rate_limited(retry_after=7)])

    with pytest.raises(TTSThrottled, match="Rate limit reached") as throttled:
        await engine.synthesize("Patience.", NOVA)

    assert throttled.value.retry_after == 7.0


async def test_bad_request_is_rejected_with_the_service_message_and_not_retried(
    fake_openai: FakeOpenAI, flavour: str, recorded_sleep: RecordedSleep
):
    engine = FLAVOURS[flavour](fake_openai)
    fake_openai.script("speech", [bad_request("Invalid value for 'voice'.")])

    with pytest.raises(TTSRejected) as rejected:
        await synthesize_with_retries(engine, "Hello.", NOVA, sleep=recorded_sleep)

    assert rejected.value.detail == "OpenAI speech: Invalid value for 'voice'."
    assert recorded_sleep.delays == []
    assert len(fake_openai.requests) == 1


async def test_server_error_is_retried(
    fake_openai: FakeOpenAI, flavour: str, recorded_sleep: RecordedSleep
):
    engine = FLAVOURS[flavour](fake_openai)
    fake_openai.script("speech", [server_error(), server_error()])

    audio = await synthesize_with_retries(
        engine, "Again.", NOVA, sleep=recorded_sleep, jitter=identity_jitter
    )

    assert audio.duration_ms > 0
    assert recorded_sleep.delays == [0.5, 1.0]
    assert len(fake_openai.requests) == 3


async def test_text_over_the_input_limit_is_rejected_before_sending(
    fake_openai: FakeOpenAI, flavour: str
):
    engine = FLAVOURS[flavour](fake_openai)

    with pytest.raises(TTSRejected, match=r"at most 4096 characters.*4097"):
        await engine.synthesize("a" * 4097, NOVA)

    assert fake_openai.requests == []


async def test_rate_and_instructions_settings_are_sent(fake_openai: FakeOpenAI):
    engine = openai_engine(fake_openai)
    voice = VoiceSpec.of("openai", "onyx", {"rate": 1.25, "instructions": "Gruff and slow."})

    audio = await engine.synthesize("Quickly now.", voice)

    body = fake_openai.requests[0].json
    assert body["speed"] == 1.25
    assert body["instructions"] == "Gruff and slow."
    assert audio.duration_ms == round(len("Quickly now.") * MS_PER_CHARACTER / 1.25)


async def test_engine_without_credentials_is_not_configured():
    with pytest.raises(TTSNotConfigured, match="OPENAI_API_KEY"):
        await OpenAIEngine().synthesize("Hello.", NOVA)


def test_azure_openai_without_an_api_version_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI
):
    monkeypatch.delenv("OPENAI_API_VERSION", raising=False)

    with pytest.raises(TTSNotConfigured, match="api_version"):
        OpenAIEngine(azure_endpoint=fake_openai.azure_endpoint, api_key="azure-fake")


def test_payload_applies_lexicon_aliases_only():
    engine = OpenAIEngine()
    lexicon = [
        LexiconEntry("Netherfield", alias="Nether field"),
        LexiconEntry("Elizabeth", phoneme="ɪˈlɪzəbəθ"),
    ]

    payload = engine.payload("Elizabeth saw Netherfield.", NOVA, language="en", lexicon=lexicon)

    assert payload == "Elizabeth saw Nether field."


def test_catalogue_has_the_eleven_voices_with_gender_labels():
    engine = OpenAIEngine()
    voices = {v.voice_id: v for v in engine.voices()}

    assert set(voices) == {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
    }
    assert voices["onyx"].gender == "male" and voices["nova"].gender == "female"
    engine.validate_voice(engine.default_voice("fr"))
    with pytest.raises(InvalidVoice, match=r"'rate' must be between 0\.25 and 4"):
        engine.validate_voice(VoiceSpec.of("openai", "nova", {"rate": 5}))


@pytest.mark.parametrize("flavour_name", sorted(FLAVOURS))
async def test_fake_chat_completions_speak_the_chat_protocol(
    fake_openai: FakeOpenAI, flavour_name: str
):
    if flavour_name == "openai":
        client = openai.AsyncOpenAI(api_key="sk-fake", base_url=fake_openai.base_url, max_retries=0)
        model = "gpt-4o-mini"
    else:
        client = openai.AsyncAzureOpenAI(
            azure_endpoint=fake_openai.azure_endpoint,
            api_key="azure-fake",
            api_version=API_VERSION,
            max_retries=0,
        )
        model = "attribution-chat"  # the deployment name
    fake_openai.script(
        "chat",
        [
            chat_completion("Elizabeth"),
            chat_completion(
                tool_calls=[{"name": "attribute", "arguments": {"speaker": "Mr. Bennet"}}]
            ),
            lambda body: chat_completion(f"echo: {body['messages'][-1]['content']}"),
            rate_limited(retry_after=3),
        ],
    )
    messages = [{"role": "user", "content": "Who speaks?"}]

    plain = await client.chat.completions.create(model=model, messages=messages)
    tooled = await client.chat.completions.create(model=model, messages=messages)
    echoed = await client.chat.completions.create(model=model, messages=messages)
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model=model, messages=messages)

    assert plain.choices[0].message.content == "Elizabeth"
    assert plain.usage is not None and plain.usage.total_tokens > 0
    call = tooled.choices[0].message.tool_calls[0]
    assert tooled.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"speaker": "Mr. Bennet"}
    assert echoed.choices[0].message.content == "echo: Who speaks?"
    recorded = fake_openai.requests_to("chat")
    assert len(recorded) == 4 and recorded[0].json["messages"] == messages
    if flavour_name == "azure-openai":
        assert recorded[0].path == "/openai/deployments/attribution-chat/chat/completions"
