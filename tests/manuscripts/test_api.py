"""Manuscripts through the HTTP API: upload, versions, chapters, segments, lexicon, cover."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from tests.manuscripts.builders import (
    EpubDocument,
    build_epub,
    png_bytes,
    with_declared_size,
    xhtml_document,
)
from tests.manuscripts.test_hostile import BILLION_LAUGHS
from tests.support import problem

FIXTURES = Path(__file__).parents[1] / "fixtures"
CORPUS = FIXTURES / "pride-and-prejudice.epub"
STORY = b"""Chapter 1

\xe2\x80\x9cGood morning,\xe2\x80\x9d said Anne. The sun was up.

Chapter 2

It rained all day.
"""


async def upload(tenant, project_id, data: bytes, filename: str = "book.epub", **kwargs):
    return await tenant.post(
        f"/api/v1/projects/{project_id}/manuscript",
        files={"file": (filename, data, "application/octet-stream")},
        **kwargs,
    )


async def all_items(tenant, url):
    items, cursor = [], None
    while True:
        page = (
            await tenant.get(url, params={"limit": 500, **({"cursor": cursor} if cursor else {})})
        ).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


@pytest.fixture
async def project(tenant):
    return await tenant.add_project(title="Pride and Prejudice")


async def test_corpus_epub_upload_yields_its_chapters_and_segments(tenant, project):
    data = CORPUS.read_bytes()
    response = await upload(tenant, project["id"], data, "pride.epub")
    assert response.status_code == 201, response.text
    summary = response.json()
    assert summary["format"] == "epub" and summary["version"] == 1
    assert summary["sha256"] == hashlib.sha256(data).hexdigest()
    assert summary["chapters"] == 61 and summary["segments"] > 4000 and summary["words"] > 120_000
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    included = [c for c in chapters if c["included"]]
    assert [c["title"] for c in included][:3] == ["I", "II", "III"] and len(included) == 61
    assert all(c["kind"] != "chapter" for c in chapters if not c["included"])
    assert {c["status"] for c in included} == {"pending"}
    first = await all_items(tenant, f"/api/v1/chapters/{included[0]['id']}/segments")
    assert first[0]["kind"] == "heading" and first[0]["text"] == "Chapter One"
    assert first[1]["text"].startswith("It is a truth universally acknowledged")
    said = next(i for i, s in enumerate(first) if s["text"] == "said his lady to him one day,")
    assert (
        first[said - 1]["text"] == "“My dear Mr. Bennet,”" and first[said - 1]["kind"] == "dialogue"
    )
    assert first[said]["kind"] == "narration"
    assert sum(c["segment_count"] for c in included) == summary["segments"]
    project_after = (await tenant.get(f"/api/v1/projects/{project['id']}")).json()
    assert project_after["author"] == "Jane Austen"


async def test_a_new_upload_replaces_chapters_and_keeps_earlier_versions(tenant, project):
    await upload(tenant, project["id"], CORPUS.read_bytes(), "pride.epub")
    second = await upload(tenant, project["id"], STORY, "story.txt")
    assert second.status_code == 201 and second.json()["version"] == 2
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    assert [c["title"] for c in chapters] == ["Chapter 1", "Chapter 2"]
    versions = (await tenant.get(f"/api/v1/projects/{project['id']}/manuscripts")).json()["items"]
    assert [(v["version"], v["format"], v["filename"]) for v in versions] == [
        (2, "txt", "story.txt"),
        (1, "epub", "pride.epub"),
    ]
    original = await tenant.get(
        f"/api/v1/projects/{project['id']}/manuscripts/{versions[1]['id']}/file"
    )
    assert original.status_code == 200 and original.content == CORPUS.read_bytes()
    assert original.headers["content-type"] == "application/epub+zip"
    partial = await tenant.get(
        f"/api/v1/projects/{project['id']}/manuscripts/{versions[1]['id']}/file",
        headers={"Range": "bytes=0-3"},
    )
    assert partial.status_code == 206 and partial.content == b"PK\x03\x04"
    assert partial.headers["content-range"] == f"bytes 0-3/{len(CORPUS.read_bytes())}"
    problem(
        await tenant.get(
            f"/api/v1/projects/{project['id']}/manuscripts/{versions[1]['id']}/file",
            headers={"Range": "bytes=99999999-"},
        ),
        416,
    )


async def test_the_filename_is_never_used_as_a_path(tenant, project, runtime):
    response = await upload(tenant, project["id"], STORY, "../../../etc/passwd.txt")
    assert response.status_code == 201
    versions = (await tenant.get(f"/api/v1/projects/{project['id']}/manuscripts")).json()["items"]
    assert versions[0]["filename"] == "passwd.txt"
    blobs_root = Path(runtime.settings.storage_url.removeprefix("file://"))
    stored = list(blobs_root.rglob(f"*{versions[0]['id']}*"))
    assert len(stored) == 1 and f"projects/{project['id']}/manuscripts/" in stored[0].as_posix()


HOSTILE = {
    "zip bomb": (
        lambda: with_declared_size(CORPUS.read_bytes(), "epub/text/chapter-1.xhtml", 1024**3),
        422,
    ),
    "billion laughs": (
        lambda: build_epub([EpubDocument("c1.xhtml", BILLION_LAUGHS, toc_title="One")]),
        422,
    ),
    "png with an epub name": (png_bytes, 415),
    "pdf": (lambda: b"%PDF-1.7\n" + b"0" * 200, 415),
    "empty": (lambda: b"", 422),
    "truncated epub": (lambda: CORPUS.read_bytes()[:5000], 422),
    "invalid utf-8": (lambda: b"Chapter 1\n\nCaf\xe9 society.\n", 422),
    "no text": (
        lambda: build_epub([EpubDocument("c1.xhtml", xhtml_document("<p> </p>"), toc_title="One")]),
        422,
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_uploads_are_refused_and_store_nothing(tenant, project, runtime, case):
    make, status = HOSTILE[case]
    body = problem(
        await upload(
            tenant, project["id"], make(), "book.txt" if case == "invalid utf-8" else "book.epub"
        ),
        status,
    )
    assert body["detail"]
    if case == "invalid utf-8":
        assert "byte offset 14" in body["detail"]
    assert (await tenant.get(f"/api/v1/projects/{project['id']}/manuscripts")).json()["items"] == []
    assert (await tenant.get(f"/api/v1/projects/{project['id']}/chapters")).json()["items"] == []
    blobs_root = Path(runtime.settings.storage_url.removeprefix("file://"))
    assert not list(blobs_root.glob(f"tenants/{tenant.id}/projects/{project['id']}/manuscripts/*"))


async def test_an_upload_over_the_limit_is_refused_before_it_is_read(tenant, project, settings):
    body = problem(
        await upload(
            tenant, project["id"], b"x" * (settings.max_upload_bytes + 100 * 1024), "big.txt"
        ),
        413,
    )
    assert "limit" in body["detail"]


async def test_a_failed_upload_keeps_the_previous_chapters(tenant, project):
    await upload(tenant, project["id"], STORY, "story.txt")
    problem(await upload(tenant, project["id"], b"", "empty.txt"), 422)
    chapters = (await tenant.get(f"/api/v1/projects/{project['id']}/chapters")).json()["items"]
    assert [c["title"] for c in chapters] == ["Chapter 1", "Chapter 2"]


async def test_chapters_can_be_renamed_and_included(tenant, project):
    await upload(tenant, project["id"], CORPUS.read_bytes())
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    colophon = next(c for c in chapters if not c["included"] and c["kind"] == "back_matter")
    response = await tenant.patch(
        f"/api/v1/chapters/{colophon['id']}", json={"included": True, "title": "About this edition"}
    )
    assert response.status_code == 200
    assert response.json()["included"] is True and response.json()["title"] == "About this edition"
    problem(await tenant.patch(f"/api/v1/chapters/{colophon['id']}", json={"title": ""}), 422)
    problem(await tenant.patch(f"/api/v1/chapters/{uuid.uuid4()}", json={"title": "x"}), 404)


async def test_segment_edit_sends_it_back_to_pending_and_bumps_its_revision(
    tenant, project, settings
):
    await upload(tenant, project["id"], STORY, "story.txt")
    chapter = (await tenant.get(f"/api/v1/projects/{project['id']}/chapters")).json()["items"][0]
    segments = (await tenant.get(f"/api/v1/chapters/{chapter['id']}/segments")).json()["items"]
    target = segments[1]
    response = await tenant.patch(
        f"/api/v1/segments/{target['id']}", json={"text": "“Good evening,”"}
    )
    assert response.status_code == 200
    edited = response.json()
    assert (
        edited["text"] == "“Good evening,”"
        and edited["revision"] == 2
        and edited["status"] == "pending"
    )
    same = await tenant.patch(f"/api/v1/segments/{target['id']}", json={"text": "“Good evening,”"})
    assert same.json()["revision"] == 2
    problem(
        await tenant.patch(
            f"/api/v1/segments/{target['id']}",
            json={"text": "x" * (settings.segment_max_chars + 1)},
        ),
        422,
    )
    problem(await tenant.patch(f"/api/v1/segments/{target['id']}", json={"kind": "shouting"}), 422)
    pending = (
        await tenant.get(f"/api/v1/chapters/{chapter['id']}/segments?status=pending&limit=2")
    ).json()
    assert len(pending["items"]) == 2 and pending["next_cursor"]
    assert (await tenant.get(f"/api/v1/chapters/{chapter['id']}/segments?status=approved")).json()[
        "items"
    ] == []
    problem(await tenant.get(f"/api/v1/chapters/{chapter['id']}/segments?status=bogus"), 422)


async def test_lexicon_round_trips_and_is_validated(tenant, project):
    entries = [
        {"grapheme": "Bennet", "phoneme": "ˈbɛnɪt", "alias": None},
        {"grapheme": "Mr.", "phoneme": None, "alias": "Mister"},
    ]
    response = await tenant.put(f"/api/v1/projects/{project['id']}/lexicon", json=entries)
    assert response.status_code == 200, response.text
    etag = response.headers["etag"]
    fetched = await tenant.get(f"/api/v1/projects/{project['id']}/lexicon")
    assert fetched.json() == entries and fetched.headers["etag"] == etag
    problem(
        await tenant.put(
            f"/api/v1/projects/{project['id']}/lexicon",
            json=[{"grapheme": "x", "phoneme": "a", "alias": "b"}],
        ),
        422,
    )
    problem(
        await tenant.put(f"/api/v1/projects/{project['id']}/lexicon", json=[{"grapheme": "x"}]), 422
    )
    empty = await tenant.put(f"/api/v1/projects/{project['id']}/lexicon", json=[])
    assert empty.json() == [] and empty.headers["etag"] != etag


async def test_cover_is_checked_by_content(tenant, project):
    jpeg = (FIXTURES / "pride-and-prejudice-cover.jpg").read_bytes()
    response = await tenant.put(
        f"/api/v1/projects/{project['id']}/cover", files={"file": ("cover.png", jpeg, "image/png")}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"format": "JPEG", "width": 1400, "height": 2100}
    fetched = await tenant.get(f"/api/v1/projects/{project['id']}/cover")
    assert fetched.content == jpeg and fetched.headers["content-type"] == "image/jpeg"
    problem(
        await tenant.put(
            f"/api/v1/projects/{project['id']}/cover",
            files={"file": ("c.jpg", b"GIF89a" + b"0" * 100, "image/jpeg")},
        ),
        415,
    )
    problem(
        await tenant.put(
            f"/api/v1/projects/{project['id']}/cover",
            files={"file": ("c.jpg", STORY, "image/jpeg")},
        ),
        415,
    )
    assert (await tenant.get(f"/api/v1/projects/{project['id']}/cover")).content == jpeg


async def test_a_validator_reads_assigned_projects_but_cannot_upload(tenant, project):
    validator = await tenant.add_user("validator")
    await tenant.assign(project["id"], validator)
    problem(await upload(tenant, project["id"], STORY, "story.txt", as_user=validator), 403)
    await upload(tenant, project["id"], STORY, "story.txt")
    chapters = (
        await tenant.get(f"/api/v1/projects/{project['id']}/chapters", as_user=validator)
    ).json()["items"]
    assert len(chapters) == 2
    problem(
        await tenant.patch(
            f"/api/v1/chapters/{chapters[0]['id']}", json={"title": "x"}, as_user=validator
        ),
        403,
    )


async def test_another_tenants_project_is_not_found(tenant, other_tenant, project):
    problem(await upload(other_tenant, project["id"], STORY, "story.txt"), 404)


async def test_a_book_that_marks_speech_with_single_quotes_gets_dialogue_segments(tenant, project):
    book = (
        "Chapter 1\n\n‘I can’t stay,’ said Anne. ‘The girls’ books are at home.’\n\n"
        "Chapter 2\n\nShe left. ‘Goodbye,’ called Tom.\n"
    ).encode()
    assert (await upload(tenant, project["id"], book, "quotes.txt")).status_code == 201
    chapters = await all_items(tenant, f"/api/v1/projects/{project['id']}/chapters")
    segments = await all_items(tenant, f"/api/v1/chapters/{chapters[0]['id']}/segments")
    assert [(s["kind"], s["text"]) for s in segments[1:]] == [
        ("dialogue", "‘I can’t stay,’"),
        ("narration", "said Anne."),
        ("dialogue", "‘The girls’ books are at home.’"),
    ]
