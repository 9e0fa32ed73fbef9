"""The character API: the list, corrections (edit, merge, split, a line's speaker) and who may do
what."""

from __future__ import annotations

import uuid

import pytest

from khipu.characters.models import Character
from tests.characters.scenes import TWO_CHAPTERS, characters, detect, line, segments, upload
from tests.support import all_items, problem


@pytest.fixture
async def project(tenant):
    return await tenant.add_project(title="The Orchard")


@pytest.fixture
async def detected(tenant, project, worker):
    """TWO_CHAPTERS uploaded and detected: Anne and Tom."""
    await upload(tenant, project["id"], TWO_CHAPTERS)
    job = await detect(tenant, project["id"])
    assert job["status"] == "succeeded", job
    return await characters(tenant, project["id"])


async def add_character(runtime, tenant, project_id: str, name: str, **fields) -> str:
    """A character stored directly, for tests about access rather than detection."""
    async with runtime.db.transaction(uuid.UUID(tenant.id)) as session:
        character = Character(
            tenant_id=uuid.UUID(tenant.id), project_id=uuid.UUID(project_id), name=name, **fields
        )
        session.add(character)
    return str(character.id)


async def test_the_list_has_the_character_shape_and_pages(tenant, project, detected):
    anne = detected["Anne"]
    assert set(anne) == {
        "id",
        "name",
        "aliases",
        "gender",
        "description",
        "line_count",
        "voice",
        "sample_lines",
    }
    assert (anne["gender"], anne["line_count"], anne["voice"]) == ("female", 3, None)
    assert [s["text"] for s in anne["sample_lines"]] == [
        "“Then we shall pick them on Sunday,”",
        "“Is it still raining?”",
        "“Good morning, Tom,”",
    ]
    first = (await tenant.get(f"/api/v1/projects/{project['id']}/characters?limit=1")).json()
    assert [c["name"] for c in first["items"]] == ["Anne"] and first["next_cursor"]
    rest = (
        await tenant.get(
            f"/api/v1/projects/{project['id']}/characters",
            params={"limit": 1, "cursor": first["next_cursor"]},
        )
    ).json()
    assert [c["name"] for c in rest["items"]] == ["Tom"] and rest["next_cursor"] is None


async def test_a_rename_keeps_the_old_name_as_an_alias_unless_aliases_are_given(
    tenant, project, detected
):
    url = f"/api/v1/characters/{detected['Tom']['id']}"
    renamed = (await tenant.patch(url, json={"name": "Thomas", "gender": "male"})).json()
    assert (renamed["name"], renamed["aliases"]) == ("Thomas", ["Tom"])
    assert renamed["line_count"] == detected["Tom"]["line_count"]
    explicit = (
        await tenant.patch(url, json={"name": "Tommy", "aliases": ["Tom", " Tom ", "Tommy", "T."]})
    ).json()
    assert (explicit["name"], explicit["aliases"]) == ("Tommy", ["Tom", "T."])
    described = (await tenant.patch(url, json={"description": "A farmer's son."})).json()
    assert described["description"] == "A farmer's son." and described["name"] == "Tommy"


async def test_a_voice_is_checked_against_the_engines_catalogue(tenant, project, detected):
    url = f"/api/v1/characters/{detected['Anne']['id']}"
    unknown = problem(
        await tenant.patch(url, json={"voice": {"engine": "piper", "voice_id": "nobody"}}), 422
    )
    assert "nobody" in unknown["detail"]
    too_fast = problem(
        await tenant.patch(
            url,
            json={"voice": {"engine": "piper", "voice_id": "joe-soft", "settings": {"rate": 9}}},
        ),
        422,
    )
    assert "rate" in too_fast["detail"]
    other_engine = problem(
        await tenant.patch(url, json={"voice": {"engine": "azure", "voice_id": "joe-soft"}}),
        422,
    )
    assert "joe-soft" in other_engine["detail"]
    cast = await tenant.patch(
        url, json={"voice": {"engine": "piper", "voice_id": "joe-soft", "settings": {"rate": 1.1}}}
    )
    assert cast.status_code == 200
    assert cast.json()["voice"] == {
        "engine": "piper",
        "voice_id": "joe-soft",
        "settings": {"rate": 1.1},
    }
    uncast = await tenant.patch(url, json={"voice": None})
    assert uncast.json()["voice"] is None
    assert (await characters(tenant, project["id"]))["Anne"]["voice"] is None


async def test_merging_moves_the_lines_and_names_and_deletes_the_merged_one(
    tenant, project, detected
):
    anne, tom = detected["Anne"], detected["Tom"]
    merged = await tenant.post(
        f"/api/v1/characters/{tom['id']}/merge", json={"into_id": anne["id"]}
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == anne["id"] and merged.json()["aliases"] == ["Tom"]
    assert merged.json()["line_count"] == anne["line_count"] + tom["line_count"]
    after = await characters(tenant, project["id"])
    assert list(after) == ["Anne"]
    dialogue = [s for s in await segments(tenant, project["id"]) if s["kind"] == "dialogue"]
    assert {s["character_id"] for s in dialogue} == {anne["id"]}
    problem(await tenant.patch(f"/api/v1/characters/{tom['id']}", json={"name": "Tom"}), 404)


async def test_merging_needs_another_character_of_the_same_project(
    tenant, project, detected, runtime
):
    anne = detected["Anne"]
    body = problem(
        await tenant.post(f"/api/v1/characters/{anne['id']}/merge", json={"into_id": anne["id"]}),
        422,
    )
    assert "itself" in body["detail"]
    elsewhere = await tenant.add_project(title="Elsewhere")
    stranger = await add_character(runtime, tenant, elsewhere["id"], "Stranger")
    problem(
        await tenant.post(f"/api/v1/characters/{anne['id']}/merge", json={"into_id": stranger}),
        404,
    )
    assert set(await characters(tenant, project["id"])) == {"Anne", "Tom"}


async def test_splitting_an_alias_off_takes_the_lines_whose_narration_names_it(
    tenant, project, detected
):
    anne, tom = detected["Anne"], detected["Tom"]
    await tenant.post(f"/api/v1/characters/{tom['id']}/merge", json={"into_id": anne["id"]})
    split = await tenant.post(f"/api/v1/characters/{anne['id']}/split", json={"aliases": ["tom"]})
    assert split.status_code == 201, split.text
    created = split.json()
    assert (created["name"], created["gender"], created["aliases"]) == ("Tom", "male", [])
    text = await segments(tenant, project["id"])
    # "said Tom" lines go back to Tom; “Good morning, Tom,” said Anne stays hers.
    assert line(text, "“Good morning to you,”")["character_id"] == created["id"]
    assert line(text, "“The apples are nearly ripe.”")["character_id"] == created["id"]
    assert line(text, "“It has not stopped since Tuesday,”")["character_id"] == created["id"]
    assert line(text, "“Good morning, Tom,”")["character_id"] == anne["id"]
    after = await characters(tenant, project["id"])
    assert after["Anne"]["aliases"] == [] and after["Anne"]["line_count"] == anne["line_count"]
    assert after["Tom"]["line_count"] == tom["line_count"]


async def test_only_an_alias_of_the_character_can_be_split_off(tenant, project, detected):
    body = problem(
        await tenant.post(
            f"/api/v1/characters/{detected['Anne']['id']}/split", json={"aliases": ["Martha"]}
        ),
        422,
    )
    assert "'Martha'" in body["detail"]
    problem(
        await tenant.post(
            f"/api/v1/characters/{detected['Anne']['id']}/split", json={"aliases": []}
        ),
        422,
    )


async def test_a_segments_speaker_is_set_locked_and_checked_against_the_project(
    tenant, project, detected, runtime
):
    text = await segments(tenant, project["id"])
    target = line(text, "“Is it still raining?”")
    url = f"/api/v1/segments/{target['id']}"
    changed = await tenant.patch(url, json={"character_id": detected["Tom"]["id"]})
    assert changed.status_code == 200 and changed.json()["character_id"] == detected["Tom"]["id"]
    assert changed.json()["status"] == "pending"
    elsewhere = await tenant.add_project(title="Elsewhere")
    stranger = await add_character(runtime, tenant, elsewhere["id"], "Stranger")
    problem(await tenant.patch(url, json={"character_id": stranger}), 404)
    problem(await tenant.patch(url, json={"character_id": str(uuid.uuid4())}), 404)
    nobody = await tenant.patch(url, json={"character_id": None})
    assert nobody.status_code == 200 and nobody.json()["character_id"] is None
    edited = await tenant.patch(url, json={"text": "“Is it raining still?”"})
    assert edited.json()["character_id"] is None  # a text edit leaves the speaker alone
    again = await detect(tenant, project["id"])
    assert again["status"] == "succeeded"
    assert (
        line(await segments(tenant, project["id"]), "“Is it raining still?”")["character_id"]
        is None
    )


CHANGES = [
    ("POST", "/api/v1/projects/{project}/characters/detect", {"mode": "local"}),
    ("PATCH", "/api/v1/characters/{anne}", {"name": "Annie"}),
    ("POST", "/api/v1/characters/{anne}/merge", {"into_id": "{tom}"}),
    ("POST", "/api/v1/characters/{anne}/split", {"aliases": ["Nan"]}),
    ("POST", "/api/v1/projects/{project}/casting/recommend", None),
    ("POST", "/api/v1/characters/{anne}/audition", {"text": "Hello."}),
    ("PATCH", "/api/v1/segments/{segment}", {"character_id": "{tom}"}),
]


def filled(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, ids) for v in value]
    return value


@pytest.fixture
async def guarded(tenant, runtime):
    """A creator's project with a manuscript and two characters, and validators in and out."""
    creator = await tenant.add_user("creator")
    project = await tenant.add_project(owner=creator)
    await upload(tenant, project["id"], TWO_CHAPTERS)
    segment = line(await segments(tenant, project["id"]), "“Is it still raining?”")
    ids = {
        "project": project["id"],
        "anne": await add_character(runtime, tenant, project["id"], "Anne", aliases=["Nan"]),
        "tom": await add_character(runtime, tenant, project["id"], "Tom"),
        "segment": segment["id"],
    }
    assigned = await tenant.add_user("validator")
    await tenant.assign(project["id"], assigned)
    people = {
        "assigned validator": assigned,
        "other validator": await tenant.add_user("validator"),
        "other creator": await tenant.add_user("creator"),
        "owner": creator,
    }
    return ids, people


@pytest.mark.parametrize(("method", "template", "body"), CHANGES, ids=[c[1] for c in CHANGES])
async def test_validators_may_not_detect_edit_or_cast(tenant, guarded, method, template, body):
    ids, people = guarded
    url = template.format(**ids)
    outcomes = {}
    for name in ("assigned validator", "other validator", "other creator"):
        response = await tenant.request(method, url, json=filled(body, ids), as_user=people[name])
        outcomes[name] = problem(response, response.status_code)["status"]
    assert outcomes == {"assigned validator": 403, "other validator": 404, "other creator": 404}
    assert set(await characters(tenant, ids["project"])) == {"Anne", "Tom"}


async def test_an_assigned_validator_reads_the_characters_and_others_do_not(tenant, guarded):
    ids, people = guarded
    url = f"/api/v1/projects/{ids['project']}/characters"
    seen = await tenant.get(url, as_user=people["assigned validator"])
    assert {c["name"] for c in seen.json()["items"]} == {"Anne", "Tom"}
    problem(await tenant.get(url, as_user=people["other validator"]), 404)
    problem(await tenant.get(url, as_user=people["other creator"]), 404)


async def test_the_owner_may_correct_its_characters(tenant, guarded):
    ids, people = guarded
    owner = people["owner"]
    renamed = await tenant.patch(
        f"/api/v1/characters/{ids['anne']}", json={"name": "Annie"}, as_user=owner
    )
    assert renamed.status_code == 200
    assert [
        c["name"] for c in await all_items(tenant, f"/api/v1/projects/{ids['project']}/characters")
    ] == [
        "Annie",
        "Tom",
    ]


async def test_another_tenants_character_cannot_be_named_as_speaker_or_merge_target(
    tenant, other_tenant, guarded, runtime
):
    ids, _ = guarded
    theirs = await other_tenant.add_project(title="Theirs")
    await upload(other_tenant, theirs["id"], TWO_CHAPTERS)
    their_segment = line(await segments(other_tenant, theirs["id"]), "“Is it still raining?”")
    their_character = await add_character(runtime, other_tenant, theirs["id"], "Intruder")
    problem(
        await other_tenant.patch(
            f"/api/v1/segments/{their_segment['id']}", json={"character_id": ids["anne"]}
        ),
        404,
    )
    problem(
        await other_tenant.post(
            f"/api/v1/characters/{their_character}/merge", json={"into_id": ids["anne"]}
        ),
        404,
    )
    assert set(await characters(tenant, ids["project"])) == {"Anne", "Tom"}
    assert set(await characters(other_tenant, theirs["id"])) == {"Intruder"}
