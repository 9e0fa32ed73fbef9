"""Engine test fixtures: the session's Azure Speech and OpenAI fakes, reset for each test."""

from __future__ import annotations

import pytest

from khipu.audio.engines import PiperEngine
from tests.fakes.azure_speech import FakeAzureSpeech
from tests.fakes.openai_api import FakeOpenAI


@pytest.fixture
def fake_azure(azure_speech_service: FakeAzureSpeech) -> FakeAzureSpeech:
    azure_speech_service.reset()
    return azure_speech_service


@pytest.fixture
def fake_openai(openai_service: FakeOpenAI) -> FakeOpenAI:
    openai_service.reset()
    return openai_service


@pytest.fixture(scope="session")
def piper() -> PiperEngine:
    return PiperEngine()


class RecordedSleep:
    """A stand-in for `asyncio.sleep` that returns at once and remembers the delays asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def recorded_sleep() -> RecordedSleep:
    return RecordedSleep()
