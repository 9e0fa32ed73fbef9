"""Speaker attribution by a language model (OpenAI or Azure OpenAI), one chapter at a time.

Each chapter goes out with the running character list and must come back as JSON matching a
strict schema (structured output). An answer that is not JSON, breaks the schema, misses or
repeats a line or names an unknown speaker is rejected and asked for again, at most `MAX_TRIES`
times per chapter; nothing of a rejected answer is kept. The result has the same shape as the
local engine's, so storing it is the same for both modes.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from khipu.characters.attribution import (
    Attribution,
    AttributionResult,
    DetectedCharacter,
    KnownCharacter,
    Line,
)
from khipu.config import Settings
from khipu.core.errors import InvalidInput, KhipuError

MAX_TRIES = 3
REQUEST_TIMEOUT_SECONDS = 180.0
# Throttling and server errors are retried by the SDK (with the service's Retry-After).
TRANSPORT_RETRIES = 3
SAMPLE_LINES = 3
# The model gives no score of its own; an answer that passed validation is taken as near-certain.
LLM_CONFIDENCE = 0.9
METHOD = "llm"

SYSTEM_PROMPT = """\
You attribute the dialogue of a novel to its speakers, one chapter at a time.

You get the characters found so far (key: name, other names, gender) and the chapter's text, one \
paragraph per line. Each dialogue line to attribute starts with its id in brackets, like [d3]. \
Lines marked [fixed c2] are already attributed (here to c2) and are there for context only.

Answer every id exactly once. A line's speaker is the key of a character from the list, or the \
key of a new character you add to new_characters, or null when the text does not say or imply \
who speaks. A new character gets a short key that is not in the list (n1, n2, ...), the name the \
book uses most for them, the other names they go by in this chapter, and a gender (female, male \
or unknown). Add only characters who speak in this chapter and are not already in the list under \
another name. Someone addressed inside a quote ("My dear Mr. Bennet, ...") is usually not its \
speaker; in an exchange without tags, speakers usually alternate."""

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "new_characters": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "name": {"type": "string"},
                    "aliases": {"type": "array", "items": {"type": "string"}},
                    "gender": {"type": "string", "enum": ["female", "male", "unknown"]},
                },
                "required": ["key", "name", "aliases", "gender"],
                "additionalProperties": False,
            },
        },
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "speaker": {"type": ["string", "null"]},
                },
                "required": ["id", "speaker"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["new_characters", "lines"],
    "additionalProperties": False,
}
RESPONSE_FORMAT: ResponseFormatJSONSchema = {
    "type": "json_schema",
    "json_schema": {"name": "speaker_attribution", "strict": True, "schema": ANSWER_SCHEMA},
}


class LLMNotConfigured(InvalidInput):
    title = "Language model not configured"


class LLMServiceError(KhipuError):
    status = 502
    title = "Language model service error"


class LLMAnswerRejected(KhipuError):
    status = 502
    title = "Language model answers rejected"


@dataclass(frozen=True)
class ChatModel:
    """A chat-completions client and the model (or Azure deployment) to ask."""

    client: AsyncOpenAI
    model: str


def configured(settings: Settings) -> bool:
    azure = bool(
        settings.azure_openai_endpoint and settings.azure_openai_api_key.get_secret_value()
    )
    return azure or bool(settings.openai_api_key.get_secret_value())


@contextlib.asynccontextmanager
async def chat_model(settings: Settings) -> AsyncIterator[ChatModel]:
    """Azure OpenAI when its endpoint and key are set, else OpenAI; closed on exit."""
    client: AsyncOpenAI
    azure_key = settings.azure_openai_api_key.get_secret_value()
    if settings.azure_openai_endpoint and azure_key:
        deployment = settings.azure_openai_chat_deployment
        client = AsyncAzureOpenAI(
            azure_endpoint=settings.azure_openai_endpoint,
            azure_deployment=deployment,
            api_key=azure_key,
            api_version=settings.azure_openai_api_version,
            max_retries=TRANSPORT_RETRIES,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        model = deployment
    elif openai_key := settings.openai_api_key.get_secret_value():
        client = AsyncOpenAI(
            api_key=openai_key,
            base_url=settings.openai_base_url or None,
            max_retries=TRANSPORT_RETRIES,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        model = settings.openai_chat_model
    else:
        raise LLMNotConfigured(
            "Attribution by a language model needs AZURE_OPENAI_ENDPOINT and "
            "AZURE_OPENAI_API_KEY, or OPENAI_API_KEY; use mode 'local' instead."
        )
    try:
        yield ChatModel(client, model)
    finally:
        await client.close()


# -- the answer and its validation --------------------------------------------------------------


class _NewCharacter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    aliases: list[str]
    gender: Literal["female", "male", "unknown"]


class _LineSpeaker(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    speaker: str | None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_characters: list[_NewCharacter]
    lines: list[_LineSpeaker]


class RejectedAnswer(Exception):
    """One answer that cannot be used; the message is told to the model when asking again."""


@dataclass
class _Member:
    """A character of the running list."""

    key: str  # the result's key (a known character's own key)
    name: str
    aliases: list[str]
    gender: str
    known: bool = False


@dataclass
class Roster:
    """The running character list; the prompt calls members c1, c2, ... in order of arrival."""

    members: dict[str, _Member] = field(default_factory=dict)  # prompt key -> member

    @classmethod
    def of(cls, known: Sequence[KnownCharacter]) -> Roster:
        roster = cls()
        for character in known:
            roster.add(
                _Member(
                    character.key,
                    character.name,
                    list(character.aliases),
                    character.gender,
                    known=True,
                )
            )
        return roster

    def add(self, member: _Member) -> str:
        prompt_key = f"c{len(self.members) + 1}"
        self.members[prompt_key] = member
        return prompt_key

    def prompt_key_of(self, key: str) -> str | None:
        return next((p for p, m in self.members.items() if m.key == key), None)

    def by_name(self, name: str) -> str | None:
        wanted = name.casefold()
        return next(
            (
                p
                for p, m in self.members.items()
                if wanted in {n.casefold() for n in (m.name, *m.aliases)}
            ),
            None,
        )

    def fresh_key(self) -> str:
        used = {m.key for m in self.members.values()}
        return next(k for n in itertools.count(1) if (k := f"new-{n}") not in used)

    def describe(self) -> str:
        if not self.members:
            return "(none yet)"
        return "\n".join(
            f"{p}: {m.name}"
            + (f" (also: {', '.join(m.aliases)})" if m.aliases else "")
            + f", {m.gender}"
            for p, m in self.members.items()
        )


@dataclass(frozen=True)
class ChapterTask:
    """One chapter as the model sees it: its text, and the line ids it must answer."""

    text: str
    line_ids: Mapping[str, str]  # prompt id (d1, d2, ...) -> line id


def chapter_task(lines: Sequence[Line], roster: Roster, locked: Mapping[str, str]) -> ChapterTask:
    """The chapter's paragraphs, one per line, dialogue marked with prompt ids."""
    ids: dict[str, str] = {}
    paragraphs: list[str] = []
    for _, group in itertools.groupby(lines, key=lambda line: line.paragraph):
        pieces = []
        for line in group:
            if line.kind == "heading":
                pieces.append(f"# {line.text}")
            elif line.kind != "dialogue":
                pieces.append(line.text)
            elif line.id in locked:
                fixed = roster.prompt_key_of(locked[line.id]) or "someone not in the list"
                pieces.append(f"[fixed {fixed}] {line.text}")
            else:
                prompt_id = f"d{len(ids) + 1}"
                ids[prompt_id] = line.id
                pieces.append(f"[{prompt_id}] {line.text}")
        paragraphs.append(" ".join(pieces))
    return ChapterTask("\n".join(paragraphs), ids)


def chapter_prompt(task: ChapterTask, roster: Roster, *, number: int) -> str:
    return (
        f"Characters so far:\n{roster.describe()}\n\n"
        f"Chapter {number}, {len(task.line_ids)} lines to attribute:\n{task.text}"
    )


@dataclass(frozen=True)
class ChapterAnswer:
    """A validated answer: speakers by line id (prompt keys), and the new characters by key."""

    speakers: Mapping[str, str | None]
    new_characters: Mapping[str, _NewCharacter]


def validate_answer(content: str | None, task: ChapterTask, roster: Roster) -> ChapterAnswer:
    """The answer, or RejectedAnswer saying what is wrong with it."""
    if not content:
        raise RejectedAnswer("the answer was empty")
    try:
        answer = _Answer.model_validate_json(content)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in error.errors()[:3]
        )
        raise RejectedAnswer(f"the answer does not match the schema ({problems})") from error
    new: dict[str, _NewCharacter] = {}
    for character in answer.new_characters:
        if character.key in roster.members or character.key in new:
            raise RejectedAnswer(f"the new character key {character.key!r} is already taken")
        new[character.key] = character
    speakers: dict[str, str | None] = {}
    for line in answer.lines:
        if line.id not in task.line_ids:
            raise RejectedAnswer(f"{line.id!r} is not the id of a line to attribute")
        if line.id in speakers:
            raise RejectedAnswer(f"line {line.id} is answered twice")
        if line.speaker is not None and not (line.speaker in roster.members or line.speaker in new):
            raise RejectedAnswer(
                f"the speaker {line.speaker!r} of line {line.id} is neither in the list nor "
                "a new character"
            )
        speakers[line.id] = line.speaker
    missing = [i for i in task.line_ids if i not in speakers]
    if missing:
        raise RejectedAnswer(f"lines {', '.join(missing[:10])} are not answered")
    return ChapterAnswer(speakers, new)


# -- asking -------------------------------------------------------------------------------------

TokensSpent = Callable[[int], Awaitable[None]]
ChapterDone = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class LLMAttribution:
    result: AttributionResult
    tokens: int


async def attribute_with_llm(
    lines: Sequence[Line],
    chat: ChatModel,
    *,
    known: Sequence[KnownCharacter] = (),
    locked: Mapping[str, str] | None = None,
    on_tokens: TokensSpent | None = None,
    on_chapter: ChapterDone | None = None,
) -> LLMAttribution:
    """Attribute every dialogue line, chapter by chapter, keeping known characters and locked
    lines as the local engine does. `on_tokens` hears of every answer's usage (rejected ones cost
    too), `on_chapter(done, total)` of every finished chapter."""
    locked = dict(locked or {})
    roster = Roster.of(known)
    speakers: dict[str, str | None] = {}  # line id -> prompt key
    tokens = 0
    chapters = [list(group) for _, group in itertools.groupby(lines, key=lambda x: x.chapter)]
    for number, chapter in enumerate(chapters, start=1):
        task = chapter_task(chapter, roster, locked)
        if task.line_ids:
            answer, spent = await _ask_chapter(chat, task, roster, number, on_tokens)
            tokens += spent
            _adopt(answer, task, roster, speakers)
        if on_chapter is not None:
            await on_chapter(number, len(chapters))
    return LLMAttribution(_result(lines, roster, speakers, locked), tokens)


async def _ask_chapter(
    chat: ChatModel, task: ChapterTask, roster: Roster, number: int, on_tokens: TokensSpent | None
) -> tuple[ChapterAnswer, int]:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": chapter_prompt(task, roster, number=number)},
    ]
    spent = 0
    problem = ""
    for _ in range(MAX_TRIES):
        content, tokens = await _complete(chat, messages)
        spent += tokens
        if on_tokens is not None and tokens:
            await on_tokens(tokens)
        try:
            return validate_answer(content, task, roster), spent
        except RejectedAnswer as rejected:
            problem = str(rejected)
        messages += [
            {"role": "assistant", "content": content or ""},
            {
                "role": "user",
                "content": f"That answer was rejected: {problem}. Answer again for the whole "
                "chapter, following the schema.",
            },
        ]
    raise LLMAnswerRejected(
        f"The language model gave no usable attribution for chapter {number} in {MAX_TRIES} "
        f"tries (last problem: {problem}); nothing was stored. Try again, or use mode 'local'."
    )


async def _complete(
    chat: ChatModel, messages: list[ChatCompletionMessageParam]
) -> tuple[str | None, int]:
    """The answer's text (None when there is none to use) and the tokens it cost."""
    try:
        completion = await chat.client.chat.completions.create(
            model=chat.model,
            messages=messages,
            response_format=RESPONSE_FORMAT,
        )
    except openai.APIStatusError as error:
        raise LLMServiceError(
            f"The language model service answered {error.status_code}: {_message(error)}"
        ) from error
    except openai.APIError as error:
        raise LLMServiceError(f"The language model service failed: {_message(error)}") from error
    tokens = completion.usage.total_tokens if completion.usage else 0
    if not completion.choices:
        return None, tokens
    choice = completion.choices[0]
    # A refusal or an answer cut off by the length limit is not JSON that can be trusted.
    if choice.message.refusal or choice.finish_reason == "length":
        return None, tokens
    return choice.message.content, tokens


def _message(error: openai.APIError) -> str:
    body = error.body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    return error.message


def _adopt(
    answer: ChapterAnswer, task: ChapterTask, roster: Roster, speakers: dict[str, str | None]
) -> None:
    """New characters who speak join the list (or the member they duplicate); lines take their
    speakers by prompt key."""
    used = {speaker for speaker in answer.speakers.values() if speaker in answer.new_characters}
    joined: dict[str, str] = {}
    for key, character in answer.new_characters.items():
        if key not in used:
            continue
        existing = roster.by_name(character.name)
        if existing is not None:
            joined[key] = existing
            continue
        aliases = [a for a in dict.fromkeys(character.aliases) if a and a != character.name]
        joined[key] = roster.add(
            _Member(roster.fresh_key(), character.name, aliases, character.gender)
        )
    for prompt_id, speaker in answer.speakers.items():
        speakers[task.line_ids[prompt_id]] = joined.get(speaker, speaker) if speaker else None


def _result(
    lines: Sequence[Line],
    roster: Roster,
    speakers: Mapping[str, str | None],
    locked: Mapping[str, str],
) -> AttributionResult:
    attributions: dict[str, Attribution] = {}
    for line in lines:
        if line.kind != "dialogue":
            continue
        if line.id in locked:
            attributions[line.id] = Attribution(locked[line.id], 1.0, "locked")
            continue
        prompt_key = speakers.get(line.id)
        if prompt_key is None:
            attributions[line.id] = Attribution(None, 0.0, "unknown")
        else:
            attributions[line.id] = Attribution(
                roster.members[prompt_key].key, LLM_CONFIDENCE, METHOD
            )
    text_of = {line.id: line.text for line in lines}
    by_speaker: dict[str, list[str]] = {}
    for line_id, attribution in attributions.items():
        if attribution.speaker is not None:
            by_speaker.setdefault(attribution.speaker, []).append(line_id)
    characters = [
        DetectedCharacter(
            key=member.key,
            name=member.name,
            aliases=tuple(member.aliases),
            gender=member.gender,  # type: ignore[arg-type]
            line_count=len(by_speaker.get(member.key, [])),
            sample_lines=tuple(
                sorted(by_speaker.get(member.key, []), key=lambda i: -len(text_of[i]))[
                    :SAMPLE_LINES
                ]
            ),
        )
        for member in roster.members.values()
        if member.known or member.key in by_speaker
    ]
    characters.sort(key=lambda c: (-c.line_count, c.name))
    return AttributionResult(tuple(characters), attributions)
