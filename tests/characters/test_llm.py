"""Attribution by a language model, against a local server speaking the OpenAI and Azure OpenAI
Chat Completions protocol (scripted answers), and through the detection job end to end."""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from khipu.analytics.models import UsageEvent
from khipu.characters import llm
from khipu.characters.attribution import KnownCharacter, Line
from khipu.config import Settings
from khipu.manuscripts.document import Paragraph, ParsedChapter
from khipu.manuscripts.segmentation import segment_chapter
from tests.characters.scenes import TWO_CHAPTERS, characters, detect, line, segments, upload
from tests.fakes.openai_api import FakeOpenAI, bad_request, chat_completion, rate_limited
from tests.support import problem

GENDERS = {"Anne": "female", "Tom": "male"}
TOKENS_PER_ANSWER = 150  # what every scripted answer reports (100 prompt + 50 completion)


def scene_lines(text: str) -> list[Line]:
    """Chapters ("Chapter N" lines) of `text`, segmented by the real segmenter."""
    chapters = [c.strip() for c in re.split(r"^Chapter \d+$", text, flags=re.M) if c.strip()]
    lines = []
    for index, body in enumerate(chapters):
        paragraphs = tuple(Paragraph(p) for p in body.split("\n\n"))
        for n, segment in enumerate(
            segment_chapter(ParsedChapter(f"{index}", "chapter", paragraphs))
        ):
            lines.append(Line(f"{index}:{n}", index, segment.paragraph, segment.kind, segment.text))
    return lines


def prompt_of(body: dict[str, Any]) -> str:
    return body["messages"][1]["content"]


def answer(content: dict[str, Any] | str):
    text = content if isinstance(content, str) else json.dumps(content)
    return chat_completion(text, prompt_tokens=100, completion_tokens=50)


def reading_model(body: dict[str, Any]):
    """A stand-in model: each paragraph's lines are spoken by whoever "said"/"asked" in it; names
    not in the running list become new characters."""
    prompt = prompt_of(body)
    by_name = {name: key for key, name in re.findall(r"^(c\d+): ([^,(]+?)(?: \(|,)", prompt, re.M)}
    new: list[dict[str, Any]] = []
    lines = []
    for paragraph in prompt.splitlines():
        ids = re.findall(r"\[(d\d+)\]", paragraph)
        named = re.search(r"(?:said|asked) (\w+)", paragraph)
        speaker = None
        if ids and named:
            name = named.group(1)
            if name not in by_name:
                by_name[name] = f"n{len(new) + 1}"
                new.append(
                    {
                        "key": by_name[name],
                        "name": name,
                        "aliases": [],
                        "gender": GENDERS.get(name, "unknown"),
                    }
                )
            speaker = by_name[name]
        lines += [{"id": i, "speaker": speaker} for i in ids]
    return answer({"new_characters": new, "lines": lines})


def openai_settings(fake: FakeOpenAI) -> Settings:
    return Settings(
        openai_api_key=SecretStr("sk-fake"),
        openai_base_url=fake.base_url,
        openai_chat_model="gpt-4o-mini",
        azure_openai_endpoint="",
        azure_openai_api_key=SecretStr(""),
    )


def azure_settings(fake: FakeOpenAI) -> Settings:
    return Settings(
        azure_openai_endpoint=fake.azure_endpoint,
        azure_openai_api_key=SecretStr("azure-fake"),
        azure_openai_chat_deployment="attribution",
        azure_openai_api_version="2025-03-01-preview",
        openai_api_key=SecretStr(""),
    )


FLAVOURS = {"openai": openai_settings, "azure-openai": azure_settings}


async def attribute(settings: Settings, lines: list[Line], **kwargs: Any) -> llm.LLMAttribution:
    async with llm.chat_model(settings) as chat:
        return await llm.attribute_with_llm(lines, chat, **kwargs)


def speaker_names(result, lines: list[Line]) -> dict[str, str | None]:
    names = {c.key: c.name for c in result.characters}
    return {
        line.text: names.get(result.attributions[line.id].speaker)
        for line in lines
        if line.kind == "dialogue"
    }


EXPECTED = {
    "“Good morning, Tom,”": "Anne",
    "“Good morning to you,”": "Tom",
    "“The apples are nearly ripe.”": "Tom",
    "“Then we shall pick them on Sunday,”": "Anne",
    "“Is it still raining?”": "Anne",
    "“It has not stopped since Tuesday,”": "Tom",
}


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
async def test_each_chapter_is_asked_with_strict_structured_output_and_the_running_list(
    fake_openai, flavour
):
    fake_openai.script("chat", [reading_model, reading_model])
    lines = scene_lines(TWO_CHAPTERS)

    attributed = await attribute(FLAVOURS[flavour](fake_openai), lines)

    assert speaker_names(attributed.result, lines) == EXPECTED
    assert {(c.name, c.gender, c.line_count) for c in attributed.result.characters} == {
        ("Anne", "female", 3),
        ("Tom", "male", 3),
    }
    assert attributed.tokens == 2 * TOKENS_PER_ANSWER
    first, second = fake_openai.requests_to("chat")
    for request in (first, second):
        assert request.json["response_format"] == {
            "type": "json_schema",
            "json_schema": {
                "name": "speaker_attribution",
                "strict": True,
                "schema": llm.ANSWER_SCHEMA,
            },
        }
    assert "(none yet)" in prompt_of(first.json)
    assert "c1: Anne, female" in prompt_of(second.json)
    assert "c2: Tom, male" in prompt_of(second.json)
    if flavour == "openai":
        assert first.path == "/v1/chat/completions" and first.json["model"] == "gpt-4o-mini"
        assert first.headers["authorization"] == "Bearer sk-fake"
    else:
        assert first.path == "/openai/deployments/attribution/chat/completions"
        assert first.query["api-version"] == "2025-03-01-preview"
        assert first.headers["api-key"] == "azure-fake"


async def test_a_malformed_answer_is_rejected_and_asked_again_with_the_reason(fake_openai):
    fake_openai.script(
        "chat",
        [
            answer("{not json"),
            answer({"new_characters": [], "lines": [{"id": "d99", "speaker": None}]}),
            reading_model,
            reading_model,
        ],
    )
    lines = scene_lines(TWO_CHAPTERS)
    spent: list[int] = []

    async def on_tokens(tokens: int) -> None:
        spent.append(tokens)

    attributed = await attribute(openai_settings(fake_openai), lines, on_tokens=on_tokens)

    assert speaker_names(attributed.result, lines) == EXPECTED
    assert spent == [TOKENS_PER_ANSWER] * 4 and attributed.tokens == sum(spent)
    retries = [r.json["messages"] for r in fake_openai.requests_to("chat")[1:3]]
    assert retries[0][2] == {"role": "assistant", "content": "{not json"}
    assert "does not match the schema" in retries[0][3]["content"]
    assert "'d99' is not the id of a line to attribute" in retries[1][5]["content"]


async def test_three_malformed_answers_fail_the_chapter_with_a_clear_error(fake_openai):
    fake_openai.script("chat", [answer("[]"), answer("nope"), answer({"lines": []})])

    with pytest.raises(llm.LLMAnswerRejected) as rejected:
        await attribute(openai_settings(fake_openai), scene_lines(TWO_CHAPTERS))

    assert "chapter 1 in 3 tries" in rejected.value.detail
    assert "nothing was stored" in rejected.value.detail
    assert len(fake_openai.requests_to("chat")) == 3


ROSTER = llm.Roster.of([KnownCharacter("anne-id", "Anne", ("Nan",), "female")])
TASK = llm.ChapterTask("[d1] “Hello,” said Anne. [d2] “Hi.”", {"d1": "a", "d2": "b"})


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty"),
        ('{"new_characters": [], "lines": [], "mood": "sunny"}', "does not match the schema"),
        ('{"new_characters": [], "lines": [{"id": "d1", "speaker": "c1"}]}', "d2 are not answered"),
        (
            '{"new_characters": [], "lines": [{"id": "d1", "speaker": "c1"}, '
            '{"id": "d1", "speaker": "c1"}, {"id": "d2", "speaker": null}]}',
            "answered twice",
        ),
        (
            '{"new_characters": [], "lines": [{"id": "d1", "speaker": "c7"}, '
            '{"id": "d2", "speaker": null}]}',
            "'c7' of line d1 is neither in the list nor a new character",
        ),
        (
            '{"new_characters": [{"key": "c1", "name": "Bob", "aliases": [], "gender": "male"}], '
            '"lines": [{"id": "d1", "speaker": "c1"}, {"id": "d2", "speaker": "c1"}]}',
            "'c1' is already taken",
        ),
    ],
    ids=["empty", "extra-field", "missing-line", "twice", "unknown-speaker", "taken-key"],
)
def test_answers_that_break_the_contract_are_rejected(content: str, problem: str):
    with pytest.raises(llm.RejectedAnswer, match=re.escape(problem)):
        llm.validate_answer(content, TASK, ROSTER)


def test_known_characters_are_in_the_list_and_locked_lines_are_shown_but_not_asked():
    lines = [x for x in scene_lines(TWO_CHAPTERS) if x.chapter == 0]
    locked_line = next(x for x in lines if x.text == "“Good morning to you,”")
    roster = llm.Roster.of([KnownCharacter("tom-id", "Thomas", ("Tom",), "male")])
    task = llm.chapter_task(lines, roster, {locked_line.id: "tom-id"})
    prompt = llm.chapter_prompt(task, roster, number=1)
    assert "c1: Thomas (also: Tom), male" in prompt
    assert "[fixed c1] “Good morning to you,” said Tom." in prompt
    assert locked_line.id not in task.line_ids.values()
    assert len(task.line_ids) == 3 and "[d1] “Good morning, Tom,” said Anne." in prompt


async def test_a_new_character_who_is_already_listed_is_not_added_twice(fake_openai):
    def renames_anne(body):
        ids = re.findall(r"\[(d\d+)\]", prompt_of(body))
        return answer(
            {
                "new_characters": [{"key": "n1", "name": "Nan", "aliases": [], "gender": "female"}],
                "lines": [{"id": i, "speaker": "n1"} for i in ids],
            }
        )

    fake_openai.script("chat", [renames_anne, renames_anne])
    known = [KnownCharacter("anne-id", "Anne", ("Nan",), "female")]
    attributed = await attribute(
        openai_settings(fake_openai), scene_lines(TWO_CHAPTERS), known=known
    )
    assert [(c.key, c.line_count) for c in attributed.result.characters] == [("anne-id", 6)]


async def test_throttling_is_waited_out_and_a_refused_request_fails_clearly(fake_openai):
    fake_openai.script("chat", [rate_limited(retry_after=0.05), reading_model, reading_model])
    attributed = await attribute(openai_settings(fake_openai), scene_lines(TWO_CHAPTERS))
    assert len(attributed.result.characters) == 2 and len(fake_openai.requests_to("chat")) == 3

    fake_openai.script("chat", [bad_request("This model's maximum context length is exceeded.")])
    with pytest.raises(llm.LLMServiceError, match="maximum context length"):
        await attribute(openai_settings(fake_openai), scene_lines(TWO_CHAPTERS))


def test_without_credentials_no_chat_model_is_configured():
    bare = Settings(
        openai_api_key=SecretStr(""), azure_openai_endpoint="", azure_openai_api_key=SecretStr("")
    )
    assert not llm.configured(bare)


# -- through the API and a worker ---------------------------------------------------------------


async def llm_usage(runtime, tenant) -> list[int]:
    async with runtime.db.transaction(uuid.UUID(tenant.id)) as session:
        rows = await session.execute(
            select(UsageEvent.tokens).where(UsageEvent.kind == "llm").order_by(UsageEvent.tokens)
        )
        return [tokens for (tokens,) in rows]


async def test_llm_detection_through_the_api_stores_speakers_and_records_token_costs(
    tenant, worker, fake_openai, runtime
):
    project = await tenant.add_project(title="Orchard", settings={"attribution_mode": "llm"})
    await upload(tenant, project["id"], TWO_CHAPTERS)
    fake_openai.script("chat", [reading_model, reading_model])

    job = await detect(tenant, project["id"])

    assert job["status"] == "succeeded", job
    assert job["result"]["mode"] == "llm" and job["result"]["tokens"] == 2 * TOKENS_PER_ANSWER
    found = await characters(tenant, project["id"])
    assert {(n, c["gender"], c["line_count"]) for n, c in found.items()} == {
        ("Anne", "female", 3),
        ("Tom", "male", 3),
    }
    text = await segments(tenant, project["id"])
    for start, name in EXPECTED.items():
        assert line(text, start)["character_id"] == found[name]["id"], start
    assert await llm_usage(runtime, tenant) == [TOKENS_PER_ANSWER] * 2
    costs = (await tenant.get(f"/api/v1/analytics/costs?project_id={project['id']}")).json()
    assert costs["llm_tokens"] == 2 * TOKENS_PER_ANSWER and costs["estimated_cost_usd"] > 0


async def test_a_failed_llm_detection_stores_nothing_and_keeps_the_previous_speakers(
    tenant, worker, fake_openai, runtime
):
    project = await tenant.add_project(title="Orchard")
    await upload(tenant, project["id"], TWO_CHAPTERS)
    assert (await detect(tenant, project["id"], mode="local"))["status"] == "succeeded"
    before = (
        await characters(tenant, project["id"]),
        await segments(tenant, project["id"]),
    )
    bad = answer({"new_characters": [], "lines": [{"id": "d1", "speaker": "c9"}]})
    fake_openai.script("chat", [bad, bad, bad])

    job = await detect(tenant, project["id"], mode="llm")

    assert job["status"] == "failed"
    assert "no usable attribution for chapter 1 in 3 tries" in job["error"]
    assert "'c9'" in job["error"]
    after = await characters(tenant, project["id"]), await segments(tenant, project["id"])
    assert after == before
    assert await llm_usage(runtime, tenant) == [TOKENS_PER_ANSWER] * 3  # paid all the same


async def test_an_llm_detection_that_would_pass_the_spending_cap_is_refused(tenant, fake_openai):
    project = await tenant.add_project(title="Orchard")
    await upload(tenant, project["id"], TWO_CHAPTERS)
    capped = await tenant.patch("/api/v1/tenant", json={"monthly_spending_cap_usd": 0.0})
    assert capped.status_code == 200, capped.text
    url = f"/api/v1/projects/{project['id']}/characters/detect"
    refused = problem(await tenant.post(url, json={"mode": "llm"}), 402)
    assert "cap" in refused["detail"]
    assert fake_openai.requests_to("chat") == []
    local = await tenant.post(url, json={"mode": "local"})  # free: not capped
    assert local.status_code == 202
    await tenant.post(f"/api/v1/jobs/{local.json()['job_id']}/cancel")


async def test_llm_mode_without_credentials_is_refused(tenant_without_llm):
    tenant = tenant_without_llm
    project = await tenant.add_project(title="Orchard", settings={"attribution_mode": "llm"})
    await upload(tenant, project["id"], TWO_CHAPTERS)
    url = f"/api/v1/projects/{project['id']}/characters/detect"
    for body in ({"mode": "llm"}, None):  # asked for, or the project's default
        refused = problem(await tenant.post(url, json=body), 422)
        assert refused["title"] == "Language model not configured"
        assert "AZURE_OPENAI_ENDPOINT" in refused["detail"] and "'local'" in refused["detail"]
    assert (await tenant.get(f"/api/v1/projects/{project['id']}/jobs")).json()["items"] == []
    assert (await tenant.post(url, json={"mode": "local"})).status_code == 202


@pytest.mark.live
async def test_live_azure_openai_attributes_tagged_lines():
    needed = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")
    if missing := [name for name in needed if not os.environ.get(name)]:
        pytest.skip(f"live test needs {', '.join(missing)}")
    settings = Settings(openai_api_key=SecretStr(""))  # Azure from the environment
    lines = scene_lines(TWO_CHAPTERS)
    attributed = await attribute(settings, lines)
    assert speaker_names(attributed.result, lines) == EXPECTED
    assert attributed.tokens > 0
    assert {c.name for c in attributed.result.characters} == {"Anne", "Tom"}
