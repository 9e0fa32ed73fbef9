"""Projects: metadata, settings, validators, and who sees what."""

from __future__ import annotations

import uuid

from tests.support import problem


async def test_only_the_title_is_required(tenant):
    response = await tenant.post("/api/v1/projects", json={"title": "Persuasion"})
    assert response.status_code == 201, response.text
    project = response.json()
    assert (
        project["title"] == "Persuasion"
        and project["author"] is None
        and project["language"] == "en-US"
    )
    assert project["owner_id"] == tenant.admin.id
    assert (
        project["settings"]["pauses"]["sentence_ms"] > 0
        and project["settings"]["narrator_voice"] is None
    )


async def test_publishing_metadata_round_trips(tenant):
    metadata = {
        "title": "Emma",
        "author": "Jane Austen",
        "narrator": "Joe (synthetic)",
        "language": "en-GB",
        "publisher": "Khipu Press",
        "year": 1815,
        "genre": "Fiction",
        "isbn": "978-0-306-40615-7",
        "copyright": "Public domain",
        "description": "Handsome, clever, and rich.",
    }
    created = (await tenant.post("/api/v1/projects", json=metadata)).json()
    fetched = (await tenant.get(f"/api/v1/projects/{created['id']}")).json()
    assert fetched["isbn"] == "9780306406157"
    assert {k: fetched[k] for k in metadata if k != "isbn"} == {
        k: v for k, v in metadata.items() if k != "isbn"
    }


async def test_invalid_metadata_is_rejected_with_the_field_named(tenant):
    for body, field in (
        ({"title": ""}, "title"),
        ({"title": "X", "isbn": "978-0-306-40615-8"}, "isbn"),
        ({"title": "X", "year": 99999}, "year"),
        ({"title": "X", "language": "english please"}, "language"),
        ({"title": "X", "settings": {"pauses": {"sentence_ms": -5}}}, "pauses"),
        ({"title": "X", "settings": {"unknown_knob": 1}}, "unknown_knob"),
    ):
        detail = problem(await tenant.post("/api/v1/projects", json=body), 422)["detail"]
        assert field in detail, (field, detail)


async def test_settings_are_merged_on_update(tenant):
    project = await tenant.add_project(settings={"pauses": {"sentence_ms": 500}})
    response = await tenant.patch(
        f"/api/v1/projects/{project['id']}",
        json={
            "settings": {
                "pauses": {"scene_ms": 3000},
                "narrator_voice": {"engine": "piper", "voice_id": "joe"},
            }
        },
    )
    assert response.status_code == 200, response.text
    settings = response.json()["settings"]
    assert settings["pauses"]["sentence_ms"] == 500 and settings["pauses"]["scene_ms"] == 3000
    assert settings["narrator_voice"] == {"engine": "piper", "voice_id": "joe", "settings": {}}
    problem(await tenant.patch(f"/api/v1/projects/{project['id']}", json={"title": None}), 422)


async def test_list_shows_each_role_its_own_projects(tenant):
    creator = await tenant.add_user("creator")
    other_creator = await tenant.add_user("creator")
    validator = await tenant.add_user("validator")
    mine = await tenant.add_project(owner=creator)
    theirs = await tenant.add_project(owner=other_creator)
    await tenant.assign(theirs["id"], validator)

    def ids(response):
        return {p["id"] for p in response.json()["items"]}

    assert ids(await tenant.get("/api/v1/projects")) == {mine["id"], theirs["id"]}
    assert ids(await tenant.get("/api/v1/projects", as_user=creator)) == {mine["id"]}
    assert ids(await tenant.get("/api/v1/projects", as_user=validator)) == {theirs["id"]}


async def test_project_list_paginates_without_overlap(tenant):
    created = {(await tenant.add_project())["id"] for _ in range(5)}
    seen, cursor = [], None
    while True:
        page = (
            await tenant.get(
                "/api/v1/projects", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5 and set(seen) == created


async def test_only_validators_can_be_assigned(tenant):
    project = await tenant.add_project()
    creator = await tenant.add_user("creator")
    problem(
        await tenant.post(
            f"/api/v1/projects/{project['id']}/members", json={"user_id": creator.id}
        ),
        422,
    )
    problem(
        await tenant.post(
            f"/api/v1/projects/{project['id']}/members", json={"user_id": str(uuid.uuid4())}
        ),
        404,
    )
    validator = await tenant.add_user("validator")
    await tenant.assign(project["id"], validator)
    problem(
        await tenant.post(
            f"/api/v1/projects/{project['id']}/members", json={"user_id": validator.id}
        ),
        409,
    )
    members = (await tenant.get(f"/api/v1/projects/{project['id']}/members")).json()["items"]
    assert [m["user_id"] for m in members] == [validator.id]
    assert (
        await tenant.delete(f"/api/v1/projects/{project['id']}/members/{validator.id}")
    ).status_code == 204
    problem(await tenant.get(f"/api/v1/projects/{project['id']}", as_user=validator), 404)


async def test_deleting_a_project_removes_it(tenant):
    project = await tenant.add_project()
    assert (await tenant.delete(f"/api/v1/projects/{project['id']}")).status_code == 204
    problem(await tenant.get(f"/api/v1/projects/{project['id']}"), 404)
