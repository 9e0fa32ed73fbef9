"""Synthesis end to end: the API starts it, a real arq worker runs Piper and ffmpeg, the cache
avoids repeated work, and chapters come out inside ACX's loudness ranges."""

from __future__ import annotations

import io
import json
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from khipu.analytics.models import UsageEvent
from khipu.audio.loudness import measure
from tests.support import all_items, problem, wait_for_job

STORY = """Chapter 1

“Good morning,” said Anne. The sun was up over the hills.

She walked to the gate and waited.

Chapter 2

It rained all day, and nobody came.
""".encode()


async def upload(tenant, project_id, data=STORY, filename="story.txt"):
    response = await tenant.post(
        f"/api/v1/projects/{project_id}/manuscript", files={"file": (filename, data)}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def synthesize(tenant, project_id, **body):
    response = await tenant.post(f"/api/v1/projects/{project_id}/synthesis", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/v1/jobs/{response.json()['job_id']}"
    return await wait_for_job(tenant, response.json()["job_id"])


async def usage_count(runtime, tenant) -> int:
    async with runtime.db.transaction(uuid.UUID(tenant.id)) as session:
        return await session.scalar(select(func.count()).select_from(UsageEvent))


@pytest.fixture
async def project(tenant):
    return await tenant.add_project(title="Anne")


async def test_a_project_is_synthesised_stitched_and_mastered(
    tenant, project, worker, runtime, tmp_path
):
    await upload(tenant, project["id"])
    job = await synthesize(tenant, project["id"])
    assert job["status"] == "succeeded", job
    segments_total = sum(
        c["segment_count"]
        for c in await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    )
    assert job["result"] == {"synthesized": segments_total, "cached": 0, "failed": 0}
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    assert {c["status"] for c in chapters} == {"synthesized"}
    segments = await all_items(tenant, f"/api/v1/chapters/{chapters[0]['id']}/segments")
    wav = (await tenant.get(f"/api/v1/segments/{segments[1]['id']}/audio")).content
    with wave.open(io.BytesIO(wav)) as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
        seconds = audio.getnframes() / audio.getframerate()
    assert 0.4 < seconds < 4 and abs(seconds * 1000 - segments[1]["duration_ms"]) < 20
    assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 300, "segment audio is silent"
    master = await tenant.get(f"/api/v1/chapters/{chapters[0]['id']}/audio?variant=master")
    assert master.status_code == 200 and master.headers["content-type"] == "audio/flac"
    (tmp_path / "master.flac").write_bytes(master.content)
    loudness = measure(tmp_path / "master.flac")
    assert -23 <= loudness.rms_db <= -18, loudness
    assert loudness.peak_db <= -3, loudness
    assert loudness.noise_floor_db <= -60, loudness
    assert 500 <= loudness.head_silence_ms <= 1000 and 1000 <= loudness.tail_silence_ms <= 5000, (
        loudness
    )
    assert abs(loudness.duration_ms - chapters[0]["duration_ms"]) < 50
    preview = await tenant.get(
        f"/api/v1/chapters/{chapters[0]['id']}/audio", headers={"Range": "bytes=0-2"}
    )
    assert preview.status_code == 206 and preview.headers["content-type"] == "audio/mpeg"
    assert preview.content == b"ID3" or preview.content[0] == 0xFF  # a tag or a frame sync


async def test_a_second_run_synthesises_nothing_and_an_edit_exactly_one_segment(
    tenant, project, worker, runtime
):
    await upload(tenant, project["id"])
    first = await synthesize(tenant, project["id"])
    calls_after_first = await usage_count(runtime, tenant)
    assert calls_after_first == first["result"]["synthesized"] > 0
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    second = await synthesize(tenant, project["id"])
    assert second["result"] == {
        "synthesized": 0,
        "cached": first["result"]["synthesized"],
        "failed": 0,
    }
    assert await usage_count(runtime, tenant) == calls_after_first
    segment = (await all_items(tenant, f"/api/v1/chapters/{chapters[1]['id']}/segments"))[1]
    await tenant.patch(f"/api/v1/segments/{segment['id']}", json={"text": "It snowed all night."})
    before = {c["id"]: c for c in await _chapter_rows(runtime, tenant, project)}
    third = await synthesize(tenant, project["id"])
    assert third["result"]["synthesized"] == 1 and third["result"]["failed"] == 0
    assert await usage_count(runtime, tenant) == calls_after_first + 1
    after = {c["id"]: c for c in await _chapter_rows(runtime, tenant, project)}
    restitched = [cid for cid in after if after[cid]["stitched_at"] != before[cid]["stitched_at"]]
    assert restitched == [chapters[1]["id"]]


async def _chapter_rows(runtime, tenant, project):
    from khipu.manuscripts.models import Chapter

    async with runtime.db.transaction(uuid.UUID(tenant.id)) as session:
        rows = (
            await session.scalars(
                select(Chapter).where(Chapter.project_id == uuid.UUID(project["id"]))
            )
        ).all()
        return [{"id": str(c.id), "stitched_at": c.stitched_at} for c in rows]


async def test_asking_again_while_running_returns_the_same_job(tenant, project):
    await upload(tenant, project["id"])
    first = await tenant.post(f"/api/v1/projects/{project['id']}/synthesis", json={})
    again = await tenant.post(f"/api/v1/projects/{project['id']}/synthesis", json={})
    assert first.status_code == again.status_code == 202
    assert first.json()["job_id"] == again.json()["job_id"]
    jobs = (await tenant.get(f"/api/v1/projects/{project['id']}/jobs")).json()["items"]
    assert {j["kind"] for j in jobs} == {"synthesis", "synthesis_chapter"}
    assert sum(j["kind"] == "synthesis" for j in jobs) == 1
    problem(
        await tenant.post(
            f"/api/v1/projects/{project['id']}/manuscript", files={"file": ("s.txt", STORY)}
        ),
        409,
    )
    cancelled = await tenant.post(f"/api/v1/jobs/{first.json()['job_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    children = [
        j
        for j in (await tenant.get(f"/api/v1/projects/{project['id']}/jobs")).json()["items"]
        if j["kind"] == "synthesis_chapter"
    ]
    assert {j["status"] for j in children} == {"cancelled"}
    problem(await tenant.post(f"/api/v1/jobs/{first.json()['job_id']}/cancel"), 409)


async def test_synthesis_needs_a_manuscript_and_known_chapters(tenant, project):
    problem(await tenant.post(f"/api/v1/projects/{project['id']}/synthesis", json={}), 409)
    await upload(tenant, project["id"])
    body = problem(
        await tenant.post(
            f"/api/v1/projects/{project['id']}/synthesis", json={"chapter_ids": [str(uuid.uuid4())]}
        ),
        422,
    )
    assert "Not chapters" in body["detail"]


async def test_only_chosen_chapters_are_synthesised(tenant, project, worker):
    await upload(tenant, project["id"])
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    job = await synthesize(tenant, project["id"], chapter_ids=[chapters[1]["id"]])
    assert (
        job["status"] == "succeeded"
        and job["result"]["synthesized"] == chapters[1]["segment_count"]
    )
    statuses = {
        c["title"]: c["status"]
        for c in await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    }
    assert statuses == {"Chapter 1": "pending", "Chapter 2": "synthesized"}
    problem(await tenant.get(f"/api/v1/chapters/{chapters[0]['id']}/audio"), 404)


async def segment_status(tenant, chapter_id, segment_id) -> str:
    segments = (await tenant.get(f"/api/v1/chapters/{chapter_id}/segments")).json()["items"]
    return next(s["status"] for s in segments if s["id"] == segment_id)


async def test_reviews_drive_segment_status_and_edits_reset_it(tenant, project, worker):
    validator = await tenant.add_user("validator")
    outsider = await tenant.add_user("validator")
    await tenant.assign(project["id"], validator)
    await upload(tenant, project["id"])
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    segment = (await all_items(tenant, f"/api/v1/chapters/{chapters[0]['id']}/segments"))[1]
    problem(
        await tenant.post(
            f"/api/v1/segments/{segment['id']}/reviews",
            json={"verdict": "approved"},
            as_user=validator,
        ),
        409,
    )
    await synthesize(tenant, project["id"])
    problem(
        await tenant.post(
            f"/api/v1/projects/{project['id']}/synthesis", json={}, as_user=validator
        ),
        403,
    )
    flagged = await tenant.post(
        f"/api/v1/segments/{segment['id']}/reviews",
        json={"verdict": "flagged", "comment": "Too fast"},
        as_user=validator,
    )
    assert flagged.status_code == 201 and flagged.json()["segment_revision"] == 1
    assert await segment_status(tenant, chapters[0]["id"], segment["id"]) == "flagged"
    chapter_status = (await tenant.get(f"/api/v1/projects/{project['id']}/chapters")).json()[
        "items"
    ][0]["status"]
    assert chapter_status == "flagged"
    approved = await tenant.post(
        f"/api/v1/segments/{segment['id']}/reviews", json={"verdict": "approved"}
    )
    assert approved.status_code == 201
    assert await segment_status(tenant, chapters[0]["id"], segment["id"]) == "approved"
    problem(
        await tenant.post(
            f"/api/v1/segments/{segment['id']}/reviews",
            json={"verdict": "approved"},
            as_user=outsider,
        ),
        404,
    )
    problem(
        await tenant.post(f"/api/v1/segments/{segment['id']}/reviews", json={"verdict": "meh"}), 422
    )
    reviews = (await tenant.get(f"/api/v1/segments/{segment['id']}/reviews")).json()["items"]
    assert [r["verdict"] for r in reviews] == ["approved", "flagged"]
    await tenant.patch(f"/api/v1/segments/{segment['id']}", json={"text": "“Good evening,”"})
    assert await segment_status(tenant, chapters[0]["id"], segment["id"]) == "pending"


async def test_job_progress_streams_as_server_sent_events(tenant, project, worker):
    await upload(tenant, project["id"])
    started = await tenant.post(f"/api/v1/projects/{project['id']}/synthesis", json={})
    job_id = started.json()["job_id"]
    statuses = []
    async with tenant.client.stream(
        "GET", f"/api/v1/jobs/{job_id}/events", headers=tenant.headers()
    ) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        async for line in events.aiter_lines():
            if line.startswith("data: "):
                statuses.append(json.loads(line[6:])["status"])
    assert statuses[-1] == "succeeded" and len(statuses) >= 2


async def test_costs_follow_the_roles(tenant, project, worker):
    await upload(tenant, project["id"])
    job = await synthesize(tenant, project["id"])
    costs = (await tenant.get("/api/v1/analytics/costs")).json()
    characters = costs["tts_characters"]
    assert characters > 0 and costs["estimated_cost_usd"] == 0.0
    assert costs["by_engine"] == [
        {"engine": "piper", "tts_characters": characters, "estimated_cost_usd": 0.0}
    ]
    assert [p["project_id"] for p in costs["by_project"]] == [project["id"]]
    creator = await tenant.add_user("creator")
    assert (await tenant.get("/api/v1/analytics/costs", as_user=creator)).json()[
        "tts_characters"
    ] == 0
    validator = await tenant.add_user("validator")
    await tenant.assign(project["id"], validator)
    assert (await tenant.get("/api/v1/analytics/costs", as_user=validator)).json()[
        "tts_characters"
    ] == characters
    problem(
        await tenant.get(f"/api/v1/analytics/costs?project_id={project['id']}", as_user=creator),
        404,
    )
    assert job["result"]["synthesized"] > 0


@pytest.mark.slow
async def test_a_corpus_chapter_end_to_end(tenant, project, worker, tmp_path):
    corpus = (Path(__file__).parents[1] / "fixtures" / "pride-and-prejudice.epub").read_bytes()
    await upload(tenant, project["id"], corpus, "pride.epub")
    chapters = [
        c
        for c in await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
        if c["included"]
    ]
    shortest = min(chapters, key=lambda c: c["word_count"])
    job = await synthesize(tenant, project["id"], chapter_ids=[shortest["id"]])
    assert job["status"] == "succeeded" and job["result"]["failed"] == 0
    assert job["result"]["synthesized"] == shortest["segment_count"]
    master = await tenant.get(f"/api/v1/chapters/{shortest['id']}/audio?variant=master")
    (tmp_path / "c.flac").write_bytes(master.content)
    loudness = measure(tmp_path / "c.flac")
    assert (
        -23 <= loudness.rms_db <= -18 and loudness.peak_db <= -3 and loudness.noise_floor_db <= -60
    )
    words_per_minute = shortest["word_count"] / (loudness.duration_ms / 60000)
    assert 100 < words_per_minute < 250
