"""Casting: proposals from the active engine's catalogue, auditions with real Piper, and a new
voice re-synthesising exactly the lines of the character it was given to."""

from __future__ import annotations

import io
import uuid
import wave

import pytest
from sqlalchemy import func, select

from khipu.analytics.models import UsageEvent
from khipu.audio.engines import VoiceInfo, VoiceSpec
from khipu.characters.casting import CastingCandidate, language_pool, propose_casting
from tests.characters.scenes import TWO_CHAPTERS, characters, detect, segments, upload
from tests.support import problem, wait_for_job


def voice(voice_id: str, locale: str, gender: str) -> VoiceInfo:
    return VoiceInfo(engine="azure", voice_id=voice_id, name=voice_id, locale=locale, gender=gender)


CATALOGUE = [
    voice("us-her", "en-US", "female"),
    voice("us-him", "en-US", "male"),
    voice("gb-her", "en-GB", "female"),
    voice("gb-him", "en-GB", "male"),
    voice("gb-them", "en-GB", "neutral"),
    voice("fr-her", "fr-FR", "female"),
]
HER, HIM, THEM, MINOR = (uuid.uuid4() for _ in range(4))


def candidates(**overrides: VoiceSpec) -> list[CastingCandidate]:
    return [
        CastingCandidate(HER, "female", 40, overrides.get("her")),
        CastingCandidate(HIM, "male", 30, None),
        CastingCandidate(THEM, "unknown", 20, None),
        CastingCandidate(MINOR, "female", 1, None),
    ]


def test_voices_of_the_books_locale_come_first_then_its_language_never_another():
    assert [v.voice_id for v in language_pool(CATALOGUE, "en-GB")] == [
        "gb-her",
        "gb-him",
        "gb-them",
        "us-her",
        "us-him",
    ]
    assert [v.voice_id for v in language_pool(CATALOGUE, "fr")] == ["fr-her"]
    assert len(language_pool(CATALOGUE, "de-DE")) == len(CATALOGUE)  # nothing speaks it


def test_main_characters_get_distinct_voices_of_their_gender_and_locale():
    casting = propose_casting(
        CATALOGUE,
        locale="en-GB",
        default_narrator=VoiceSpec.of("azure", "gb-him"),
        narrator=None,
        characters=candidates(),
    )
    assert casting.narrator == VoiceSpec.of("azure", "gb-him") and not casting.narrator_kept
    assert casting.voices == {
        HER: VoiceSpec.of("azure", "gb-her"),
        HIM: VoiceSpec.of("azure", "us-him"),  # gb-him narrates
        THEM: VoiceSpec.of("azure", "gb-them"),  # neutral first
        MINOR: None,  # one line: the narrator reads it
    }


def test_voices_people_chose_are_kept_and_given_to_nobody_else():
    chosen = VoiceSpec.of("azure", "gb-him", {"rate": 1.1})
    casting = propose_casting(
        CATALOGUE,
        locale="en-GB",
        default_narrator=VoiceSpec.of("azure", "gb-him"),
        narrator=VoiceSpec.of("azure", "us-her"),
        characters=candidates(her=chosen),
    )
    assert casting.narrator_kept and casting.narrator == VoiceSpec.of("azure", "us-her")
    assert casting.voices[HER] == chosen
    assert casting.voices[HIM] == VoiceSpec.of("azure", "us-him")
    assert casting.voices[THEM] == VoiceSpec.of("azure", "gb-them")


def test_when_a_gender_runs_out_of_voices_the_character_with_fewest_lines_goes_without():
    casting = propose_casting(
        [voice("gb-her", "en-GB", "female"), voice("gb-him", "en-GB", "male")],
        locale="en-GB",
        default_narrator=VoiceSpec.of("azure", "gb-him"),
        narrator=None,
        characters=[
            CastingCandidate(HER, "female", 40, None),
            CastingCandidate(MINOR, "female", 10, None),
            CastingCandidate(HIM, "male", 30, None),
        ],
    )
    assert casting.voices == {HER: VoiceSpec.of("azure", "gb-her"), MINOR: None, HIM: None}


# -- through the API ----------------------------------------------------------------------------


@pytest.fixture
async def project(tenant):
    return await tenant.add_project(title="The Orchard", language="en-GB")


@pytest.fixture
async def cast(tenant, project, worker):
    await upload(tenant, project["id"], TWO_CHAPTERS)
    assert (await detect(tenant, project["id"]))["status"] == "succeeded"
    return await characters(tenant, project["id"])


def piper(voice_id: str) -> dict:
    return {"engine": "piper", "voice_id": voice_id, "settings": {}}


async def test_a_recommendation_uses_distinct_piper_presets_and_stores_only_when_applied(
    tenant, project, cast
):
    url = f"/api/v1/projects/{project['id']}/casting/recommend"
    proposal = (await tenant.post(url)).json()
    assert proposal["engine"] == "piper" and proposal["locale"] == "en-GB"
    assert proposal["narrator"] == {"voice": piper("joe"), "kept": False}
    assert [(c["name"], c["voice"], c["kept"]) for c in proposal["characters"]] == [
        ("Anne", piper("joe-light"), False),
        ("Tom", piper("joe-deep"), False),
    ]
    assert proposal["applied"] is False
    assert {c["voice"] for c in (await characters(tenant, project["id"])).values()} == {None}

    applied = (await tenant.post(url, params={"apply": "true"})).json()

    assert applied["applied"] is True
    stored = await characters(tenant, project["id"])
    assert stored["Anne"]["voice"] == piper("joe-light")
    assert stored["Tom"]["voice"] == piper("joe-deep")
    settings = (await tenant.get(f"/api/v1/projects/{project['id']}")).json()["settings"]
    assert settings["narrator_voice"] == piper("joe")
    again = (await tenant.post(url)).json()
    assert again["narrator"]["kept"] and all(c["kept"] for c in again["characters"])


async def test_a_voice_a_person_chose_is_kept_by_the_recommendation(tenant, project, cast):
    await tenant.patch(
        f"/api/v1/characters/{cast['Tom']['id']}", json={"voice": piper("joe-light")}
    )
    proposal = (await tenant.post(f"/api/v1/projects/{project['id']}/casting/recommend")).json()
    by_name = {c["name"]: c for c in proposal["characters"]}
    assert by_name["Tom"] == {**by_name["Tom"], "voice": piper("joe-light"), "kept": True}
    assert by_name["Anne"]["voice"] == piper("joe-soft")  # joe-light is Tom's


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth()) == (1, 2)
        return audio.getnframes() / audio.getframerate()


async def test_an_audition_speaks_the_characters_longest_line_or_the_text_given(
    tenant, project, cast, runtime
):
    url = f"/api/v1/characters/{cast['Anne']['id']}/audition"
    longest = cast["Anne"]["sample_lines"][0]["text"]
    default = await tenant.post(url, json={})
    assert default.status_code == 200 and default.headers["content-type"] == "audio/wav"
    explicit = await tenant.post(url, json={"text": longest, "voice": piper("joe-light")})
    short = await tenant.post(url, json={"text": "Yes."})
    seconds = [wav_seconds(r.content) for r in (default, explicit, short)]
    assert 1.0 < seconds[0] < 5.0, seconds
    assert abs(seconds[0] - seconds[1]) < 0.3 * seconds[0], seconds
    assert seconds[2] < 0.6 * seconds[0], seconds
    async with runtime.db.transaction(uuid.UUID(tenant.id)) as session:
        spoken = await session.scalar(
            select(func.sum(UsageEvent.characters)).where(
                UsageEvent.project_id == uuid.UUID(project["id"])
            )
        )
    assert spoken == 2 * len(longest) + len("Yes.")


async def test_an_audition_of_a_character_without_lines_needs_a_text(tenant, project, cast):
    # "Young Tom" is never named in the narration, so splitting it off takes no line.
    await tenant.patch(f"/api/v1/characters/{cast['Tom']['id']}", json={"aliases": ["Young Tom"]})
    split = await tenant.post(
        f"/api/v1/characters/{cast['Tom']['id']}/split", json={"aliases": ["Young Tom"]}
    )
    silent = split.json()
    assert split.status_code == 201 and silent["line_count"] == 0
    url = f"/api/v1/characters/{silent['id']}/audition"
    body = problem(await tenant.post(url, json={}), 422)
    assert "send a `text`" in body["detail"]
    spoken = await tenant.post(url, json={"text": "Hm, perhaps."})
    assert spoken.status_code == 200 and wav_seconds(spoken.content) > 0.3


async def synthesize(tenant, project_id: str) -> dict:
    response = await tenant.post(f"/api/v1/projects/{project_id}/synthesis", json={})
    assert response.status_code == 202, response.text
    return await wait_for_job(tenant, response.json()["job_id"])


async def test_casting_one_character_resynthesises_exactly_its_lines(tenant, project, cast):
    first = await synthesize(tenant, project["id"])
    total = first["result"]["synthesized"] + first["result"]["cached"]  # "said Anne." twice
    assert first["status"] == "succeeded" and first["result"]["failed"] == 0 and total > 0
    tom = cast["Tom"]

    recast = await tenant.patch(
        f"/api/v1/characters/{tom['id']}", json={"voice": piper("joe-deep")}
    )

    assert recast.status_code == 200
    pending = {s["id"] for s in await segments(tenant, project["id"]) if s["status"] == "pending"}
    toms = {
        s["id"]
        for s in await segments(tenant, project["id"])
        if s["kind"] == "dialogue" and s["character_id"] == tom["id"]
    }
    assert pending == toms and len(toms) == tom["line_count"]
    second = await synthesize(tenant, project["id"])
    assert second["result"] == {
        "synthesized": tom["line_count"],
        "cached": total - tom["line_count"],
        "failed": 0,
    }
    same_again = await tenant.patch(
        f"/api/v1/characters/{tom['id']}", json={"voice": piper("joe-deep")}
    )
    assert same_again.status_code == 200
    assert {s["status"] for s in await segments(tenant, project["id"])} == {"synthesized"}
