"""Synthesis jobs with a cloud engine, against the local server that speaks Azure Speech's
protocol: throttling is retried, a rejected segment fails alone with the service's message."""

from __future__ import annotations

import pytest

from tests.fakes.azure_speech import SpeechBehaviour
from tests.support import all_items, wait_for_job

STORY = b"Chapter 1\n\nThe first line.\n\nThe second line.\n\nThe third line.\n"
AZURE_NARRATOR = {"narrator_voice": {"engine": "azure", "voice_id": "en-US-AvaNeural"}}


@pytest.fixture
def fake_azure(azure_speech_service):
    azure_speech_service.reset()
    yield azure_speech_service
    azure_speech_service.reset()


@pytest.fixture
async def project(tenant):
    project = await tenant.add_project(title="Cloud", settings=AZURE_NARRATOR)
    upload = await tenant.post(
        f"/api/v1/projects/{project['id']}/manuscript", files={"file": ("s.txt", STORY)}
    )
    assert upload.status_code == 201
    return project


async def synthesize(tenant, project):
    started = await tenant.post(f"/api/v1/projects/{project['id']}/synthesis", json={})
    assert started.status_code == 202, started.text
    return await wait_for_job(tenant, started.json()["job_id"])


async def test_throttling_is_retried_and_the_job_succeeds(tenant, project, worker, fake_azure):
    # The SDK retries a refused connection once by itself: two refusals make one failed call.
    fake_azure.script([SpeechBehaviour("throttle"), SpeechBehaviour("throttle")])
    job = await synthesize(tenant, project)
    assert job["status"] == "succeeded"
    assert job["result"] == {"synthesized": 4, "cached": 0, "failed": 0}
    refused = len(fake_azure.handshakes) - len(fake_azure.requests)
    assert refused >= 2 and len(fake_azure.requests) >= 4
    assert all("en-US-AvaNeural" in request.ssml for request in fake_azure.requests)


async def test_a_rejected_segment_fails_with_the_services_message_and_the_rest_go_on(
    tenant, project, worker, fake_azure
):
    fake_azure.script(
        [SpeechBehaviour("bad_request", "Unsupported voice en-US-AvaNeural in this region.")]
    )
    job = await synthesize(tenant, project)
    assert job["status"] == "succeeded", job
    assert job["result"] == {"synthesized": 3, "cached": 0, "failed": 1}
    chapter = (await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters"))[0]
    assert chapter["status"] == "failed" and chapter["duration_ms"] is None
    segments = await all_items(tenant, f"/api/v1/chapters/{chapter['id']}/segments")
    failed = [s for s in segments if s["status"] == "failed"]
    assert len(failed) == 1 and "Unsupported voice" in failed[0]["error"]
    # A re-run retries only the failed segment, and the chapter is then stitched.
    again = await synthesize(tenant, project)
    assert again["result"] == {"synthesized": 1, "cached": 3, "failed": 0}
    chapter = (await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters"))[0]
    assert chapter["status"] == "synthesized" and chapter["duration_ms"] > 0


async def test_paid_engines_count_against_the_spending_cap(tenant, project, worker, fake_azure):
    assert (
        await tenant.patch("/api/v1/tenant", json={"monthly_spending_cap_usd": 0.0})
    ).status_code == 200
    refused = await tenant.post(f"/api/v1/projects/{project['id']}/synthesis", json={})
    assert refused.status_code == 402 and "cap" in refused.json()["detail"]
    assert fake_azure.requests == []
    await tenant.patch("/api/v1/tenant", json={"monthly_spending_cap_usd": 10.0})
    job = await synthesize(tenant, project)
    assert job["result"]["synthesized"] == 4
    costs = (await tenant.get("/api/v1/analytics/costs")).json()
    azure = next(e for e in costs["by_engine"] if e["engine"] == "azure")
    characters = sum(
        len(s) for s in ("Chapter One", "The first line.", "The second line.", "The third line.")
    )
    assert azure["tts_characters"] == characters
    assert azure["estimated_cost_usd"] == pytest.approx(characters * 16 / 1_000_000)
