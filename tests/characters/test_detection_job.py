"""Character detection as a job: the API starts it, a real arq worker runs the local engine on
the real segments, and what a person corrected survives the next run."""

from __future__ import annotations

import time

import pytest

from tests.characters.scenes import (
    ALIASES,
    CORPUS,
    TWO_CHAPTERS,
    chapter_one_text,
    characters,
    detect,
    line,
    segments,
    start_detection,
    upload,
)
from tests.support import all_items, problem


@pytest.fixture
async def project(tenant):
    return await tenant.add_project(title="Pride and Prejudice", language="en-GB")


async def test_chapter_one_through_the_job_finds_the_bennets_and_who_says_each_line(
    tenant, project, worker
):
    await upload(tenant, project["id"], chapter_one_text())
    job = await detect(tenant, project["id"])
    assert job["status"] == "succeeded", job
    assert job["kind"] == "characters_detect"
    found = await characters(tenant, project["id"])
    mr, mrs = found["Mr. Bennet"], found["Mrs. Bennet"]
    assert (mr["gender"], mrs["gender"]) == ("male", "female")
    text = await segments(tenant, project["id"])
    dialogue = [s for s in text if s["kind"] == "dialogue"]
    assert job["result"]["dialogue_lines"] == len(dialogue)
    assert job["result"]["created"] == len(found) and job["result"]["mode"] == "local"
    assert {s["character_id"] for s in dialogue} == {mr["id"], mrs["id"]}
    assert mr["line_count"] + mrs["line_count"] == len(dialogue)
    # said his lady / returned she / cried his wife / replied he
    assert line(text, "“have you heard that Netherfield")["character_id"] == mrs["id"]
    assert line(text, "“But it is,”")["character_id"] == mrs["id"]
    assert line(text, "“Do not you want to know who has taken it?”")["character_id"] == mrs["id"]
    assert (
        line(text, "“They have none of them much to recommend them,”")["character_id"] == mr["id"]
    )
    # “My dear Mr. Bennet,” addresses him: both such lines are his wife's.
    openings = [s for s in dialogue if s["text"].startswith("“My dear Mr. Bennet,")]
    assert len(openings) == 2 and {s["character_id"] for s in openings} == {mrs["id"]}
    longest = max(
        (s for s in dialogue if s["character_id"] == mrs["id"]), key=lambda s: len(s["text"])
    )
    assert mrs["sample_lines"][0] == {"segment_id": longest["id"], "text": longest["text"]}
    assert len(mrs["sample_lines"]) == 3


async def test_names_of_one_person_are_merged_into_one_character_with_aliases(
    tenant, project, worker
):
    await upload(tenant, project["id"], ALIASES)
    assert (await detect(tenant, project["id"]))["status"] == "succeeded"
    found = await characters(tenant, project["id"])
    elizabeth = found["Elizabeth Bennet"]
    assert {"Elizabeth", "Lizzy"} <= set(elizabeth["aliases"])
    assert elizabeth["gender"] == "female"
    assert not {"Lizzy", "Elizabeth", "Miss Elizabeth Bennet"} & set(found)
    text = await segments(tenant, project["id"])
    assert line(text, "“I was walking, papa,”")["character_id"] == elizabeth["id"]
    assert line(text, "“It is from my aunt,”")["character_id"] == elizabeth["id"]


async def test_a_rerun_keeps_a_renamed_character_and_a_reassigned_line(tenant, project, worker):
    await upload(tenant, project["id"], chapter_one_text())
    await detect(tenant, project["id"])
    found = await characters(tenant, project["id"])
    mr, mrs = found["Mr. Bennet"], found["Mrs. Bennet"]
    renamed = await tenant.patch(f"/api/v1/characters/{mrs['id']}", json={"name": "Mamma Bennet"})
    assert renamed.status_code == 200, renamed.text
    assert "Mrs. Bennet" in renamed.json()["aliases"]  # the old name still finds her
    text = await segments(tenant, project["id"])
    corrected = line(text, "“But it is,”")  # hers, but the person says it is his
    moved = await tenant.patch(
        f"/api/v1/segments/{corrected['id']}", json={"character_id": mr["id"]}
    )
    assert moved.status_code == 200 and moved.json()["character_id"] == mr["id"]

    again = await detect(tenant, project["id"])

    assert again["status"] == "succeeded" and again["result"]["created"] == 0, again
    after = await characters(tenant, project["id"])
    assert set(after) == {"Mr. Bennet", "Mamma Bennet"}
    assert after["Mamma Bennet"]["id"] == mrs["id"] and after["Mr. Bennet"]["id"] == mr["id"]
    text = await segments(tenant, project["id"])
    assert line(text, "“But it is,”")["character_id"] == mr["id"]
    assert line(text, "“have you heard that Netherfield")["character_id"] == mrs["id"]
    # The locked line takes the rest of its paragraph with it; no line is lost.
    assert after["Mamma Bennet"]["line_count"] < mrs["line_count"]
    assert (
        after["Mamma Bennet"]["line_count"] + after["Mr. Bennet"]["line_count"]
        == mrs["line_count"] + mr["line_count"]
    )


async def test_a_second_identical_run_changes_no_line(tenant, project, worker):
    await upload(tenant, project["id"], TWO_CHAPTERS)
    first = await detect(tenant, project["id"])
    before = await characters(tenant, project["id"])
    second = await detect(tenant, project["id"])
    dialogue = [s for s in await segments(tenant, project["id"]) if s["kind"] == "dialogue"]
    assert first["result"]["reassigned"] == first["result"]["dialogue_lines"] == len(dialogue)
    assert second["result"]["reassigned"] == 0 and second["result"]["created"] == 0
    assert await characters(tenant, project["id"]) == before


async def test_characters_no_longer_found_go_unless_a_person_edited_them(tenant, project, worker):
    story = TWO_CHAPTERS.replace(
        "“It has not stopped since Tuesday,” said Tom.",
        "“It has not stopped since Tuesday,” said Tom.\n\n“Nor will it,” said Martha.\n\n"
        "“How do you know?” said Tom.\n\n“My knees say so,” said Martha.\n\n"
        "Chapter 3\n\n“Supper is ready,” said Kate.\n\n“Coming,” said Tom.\n\n"
        "“Hurry, then,” said Kate.",
    )
    await upload(tenant, project["id"], story)
    await detect(tenant, project["id"])
    found = await characters(tenant, project["id"])
    assert {"Anne", "Tom", "Martha", "Kate"} <= set(found)
    kept = await tenant.patch(
        f"/api/v1/characters/{found['Kate']['id']}", json={"description": "The cook."}
    )
    assert kept.status_code == 200
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    for chapter in chapters[1:]:  # Martha and Kate speak only here
        await tenant.patch(f"/api/v1/chapters/{chapter['id']}", json={"included": False})

    again = await detect(tenant, project["id"])

    assert again["result"]["removed"] == 1, again
    after = await characters(tenant, project["id"])
    assert "Martha" not in after
    assert (
        after["Kate"]["description"] == "The cook." and after["Kate"]["id"] == found["Kate"]["id"]
    )
    assert after["Anne"]["id"] == found["Anne"]["id"]


async def test_asking_again_while_detection_runs_returns_the_same_job(tenant, project):
    await upload(tenant, project["id"], TWO_CHAPTERS)
    first = await start_detection(tenant, project["id"])
    again = await start_detection(tenant, project["id"], mode="local")
    assert first == again
    jobs = (await tenant.get(f"/api/v1/projects/{project['id']}/jobs")).json()["items"]
    assert [(j["kind"], j["status"]) for j in jobs] == [("characters_detect", "queued")]
    # A running job of the project keeps its manuscript as it is.
    problem(
        await tenant.post(
            f"/api/v1/projects/{project['id']}/manuscript",
            files={"file": ("b.txt", TWO_CHAPTERS.encode())},
        ),
        409,
    )
    assert (await tenant.post(f"/api/v1/jobs/{first}/cancel")).json()["status"] == "cancelled"


async def test_detection_needs_a_manuscript(tenant, project):
    body = problem(await tenant.post(f"/api/v1/projects/{project['id']}/characters/detect"), 409)
    assert "upload a manuscript" in body["detail"]


@pytest.mark.slow
async def test_the_whole_novel_is_detected_through_the_api_in_seconds(tenant, project, worker):
    await upload(tenant, project["id"], CORPUS.read_bytes(), "pride.epub")
    started = time.perf_counter()
    job = await detect(tenant, project["id"])
    seconds = time.perf_counter() - started
    assert job["status"] == "succeeded", job
    found = await characters(tenant, project["id"])
    by_lines = sorted(found.values(), key=lambda c: -c["line_count"])
    assert by_lines[0]["name"] == "Elizabeth Bennet"
    main = {c["name"] for c in by_lines[:10]}
    assert {"Mr. Darcy", "Jane Bennet", "Mrs. Bennet", "Mr. Bennet"} <= main
    assert job["result"]["attributed"] / job["result"]["dialogue_lines"] > 0.9
    assert seconds < 60, seconds
