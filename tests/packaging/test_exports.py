"""Exports through the API and a real worker: readiness, every format, versions, permissions."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from mutagen.mp4 import MP4
from PIL import Image

from tests.support import all_items, problem, wait_for_job

STORY = (
    "Chapter 1\n\n“Good morning,” said Anne. The sun was up.\n\n"
    "Chapter 2\n\nIt rained all day, and nobody came.\n"
).encode()
METADATA = {
    "author": "A. Writer",
    "narrator": "Joe (synthetic voice)",
    "copyright": "© 2026 Khipu Press",
}


def square_jpeg(side: int = 2400) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (40, 90, 160)).save(
        buffer, format="JPEG", quality=80, dpi=(300, 300)
    )
    return buffer.getvalue()


@pytest.fixture
async def synthesized(tenant, worker):
    project = await tenant.add_project(title="Anne's Day", **METADATA)
    url = f"/api/v1/projects/{project['id']}"
    assert (
        await tenant.post(f"{url}/manuscript", files={"file": ("s.txt", STORY)})
    ).status_code == 201
    started = await tenant.post(f"{url}/synthesis", json={})
    job = await wait_for_job(tenant, started.json()["job_id"])
    assert job["status"] == "succeeded" and job["result"]["failed"] == 0
    return project


async def export(tenant, project, **body):
    response = await tenant.post(f"/api/v1/projects/{project['id']}/packages", json=body)
    assert response.status_code == 202, response.text
    accepted = response.json()
    job = await wait_for_job(tenant, accepted["job_id"])
    package = (await tenant.get(f"/api/v1/packages/{accepted['package_id']}")).json()
    return job, package


async def download(tenant, package) -> bytes:
    response = await tenant.get(f"/api/v1/packages/{package['id']}/download")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == package["sha256"]
    assert len(response.content) == package["size"]
    return response.content


async def test_readiness_says_what_is_missing_and_export_refuses_with_409(tenant):
    project = await tenant.add_project(title="Unready")
    url = f"/api/v1/projects/{project['id']}"
    readiness = (await tenant.get(f"{url}/readiness?format=acx")).json()
    assert readiness["ready"] is False
    codes = {m["code"] for m in readiness["missing"]}
    assert codes == {
        "no_chapters",
        "missing_author",
        "missing_narrator",
        "missing_copyright",
        "missing_cover",
    }
    await tenant.post(f"{url}/manuscript", files={"file": ("s.txt", STORY)})
    body = problem(await tenant.post(f"{url}/packages", json={"format": "m4b"}), 409)
    assert {m["code"] for m in body["missing"]} == {"segments_not_synthesized", "missing_author"}
    problem(await tenant.post(f"{url}/packages", json={"format": "zip_mp3"}), 422)
    problem(await tenant.post(f"{url}/packages", json={"format": "m4b", "profile": "spotify"}), 422)
    problem(await tenant.get(f"{url}/readiness?format=wav"), 422)


async def test_m4b_export_is_versioned_and_downloadable(tenant, synthesized, tmp_path):
    job, package = await export(tenant, synthesized, format="m4b")
    assert job["status"] == "succeeded" and package["status"] == "succeeded"
    assert package["version"] == 1 and package["filename"].endswith(".m4b")
    data = await download(tenant, package)
    (tmp_path / "book.m4b").write_bytes(data)
    audio = MP4(tmp_path / "book.m4b")
    assert [c.title for c in audio.chapters] == ["Chapter 1", "Chapter 2"]
    assert audio.tags["\xa9nam"] == ["Anne's Day"] and audio.tags["\xa9ART"] == ["A. Writer"]
    _, second = await export(tenant, synthesized, format="m4b")
    assert second["version"] == 2 and second["id"] != package["id"]
    listed = (await tenant.get(f"/api/v1/projects/{synthesized['id']}/packages")).json()["items"]
    assert [p["version"] for p in listed] == [2, 1]
    partial = await tenant.get(
        f"/api/v1/packages/{package['id']}/download", headers={"Range": "bytes=4-7"}
    )
    assert partial.status_code == 206 and partial.content == b"ftyp"


async def test_acx_export_has_credits_sample_and_a_compliance_report(tenant, synthesized):
    url = f"/api/v1/projects/{synthesized['id']}"
    await tenant.put(f"{url}/cover", files={"file": ("c.jpg", square_jpeg())})
    # A book this short cannot have a 1-minute retail sample: flag instead of failing the package.
    await tenant.patch(url, json={"settings": {"export": {"acx_on_failure": "flag"}}})
    assert (await tenant.get(f"{url}/readiness?format=acx")).json() == {
        "format": "acx",
        "profile": None,
        "ready": True,
        "missing": [],
    }
    job, package = await export(tenant, synthesized, format="acx")
    assert job["status"] == "succeeded" and package["status"] == "succeeded", package
    names = zipfile.ZipFile(io.BytesIO(await download(tenant, package))).namelist()
    assert names[0] == "00 Opening Credits.mp3" and names[-2] == "Retail Sample.mp3"
    assert [n for n in names if n[:2] in ("01", "02")] == ["01 Chapter 1.mp3", "02 Chapter 2.mp3"]
    assert "03 Closing Credits.mp3" in names and names[-1] == "ACX compliance report.json"
    compliance = package["report"]["compliance"]
    chapter_report = next(f for f in compliance["files"] if f["name"] == "01 Chapter 1.mp3")
    rules = {r["rule"]: r["passed"] for r in chapter_report["rules"]}
    assert rules and all(rules[rule] for rule in rules if not rule.startswith("duration")), rules
    assert any("synthetic" in note.lower() for note in compliance["notes"])
    page = await tenant.get(f"/api/v1/packages/{package['id']}/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "Anne&#x27;s Day" in page.text


async def test_zip_and_epub_exports(tenant, synthesized):
    problem_body = problem(
        await tenant.post(
            f"/api/v1/projects/{synthesized['id']}/packages",
            json={"format": "zip_mp3", "profile": "spotify"},
        ),
        409,
    )
    assert [m["code"] for m in problem_body["missing"]] == ["missing_isbn"]
    _, google = await export(tenant, synthesized, format="zip_mp3", profile="google")
    members = zipfile.ZipFile(io.BytesIO(await download(tenant, google))).namelist()
    assert [m for m in members if m.endswith(".mp3")] == ["01 Chapter 1.mp3", "02 Chapter 2.mp3"]
    _, epub = await export(tenant, synthesized, format="epub3")
    book = zipfile.ZipFile(io.BytesIO(await download(tenant, epub)))
    assert (
        book.infolist()[0].filename == "mimetype"
        and book.infolist()[0].compress_type == zipfile.ZIP_STORED
    )
    assert len([n for n in book.namelist() if n.endswith(".smil")]) == 2
    assert epub["report"]["read_along"] == "per segment"


async def test_validators_cannot_export_and_other_tenants_cannot_see_packages(
    tenant, other_tenant, synthesized
):
    validator = await tenant.add_user("validator")
    await tenant.assign(synthesized["id"], validator)
    problem(
        await tenant.post(
            f"/api/v1/projects/{synthesized['id']}/packages",
            json={"format": "m4b"},
            as_user=validator,
        ),
        403,
    )
    _, package = await export(tenant, synthesized, format="m4b")
    assert (
        await tenant.get(f"/api/v1/packages/{package['id']}", as_user=validator)
    ).status_code == 200
    for url in (
        f"/api/v1/packages/{package['id']}",
        f"/api/v1/packages/{package['id']}/download",
        f"/api/v1/packages/{package['id']}/report",
    ):
        problem(await other_tenant.get(url), 404)
    creator = await tenant.add_user("creator")
    problem(await tenant.get(f"/api/v1/packages/{package['id']}", as_user=creator), 404)


async def test_flagged_segments_block_export_unless_an_admin_forces(tenant, synthesized):
    chapter = (await all_items(tenant, f"/api/v1/projects/{synthesized['id']}/chapters"))[0]
    segment = (await all_items(tenant, f"/api/v1/chapters/{chapter['id']}/segments"))[1]
    await tenant.post(
        f"/api/v1/segments/{segment['id']}/reviews",
        json={"verdict": "flagged", "comment": "Mumbled"},
    )
    body = problem(
        await tenant.post(f"/api/v1/projects/{synthesized['id']}/packages", json={"format": "m4b"}),
        409,
    )
    assert [m["code"] for m in body["missing"]] == ["segments_flagged"]
    creator = await tenant.add_user("creator")
    owned = await tenant.add_project(owner=creator, title="Mine")
    problem(
        await tenant.post(
            f"/api/v1/projects/{owned['id']}/packages",
            json={"format": "m4b", "force": True},
            as_user=creator,
        ),
        403,
    )
    job, package = await export(tenant, synthesized, format="m4b", force=True)
    assert job["status"] == "succeeded" and package["report"]["forced"] is True
