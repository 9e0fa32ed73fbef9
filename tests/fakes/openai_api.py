"""A local stand-in for the OpenAI and Azure OpenAI HTTP APIs: speech and chat completions.

`async with FakeOpenAI() as fake:` then point the real SDK at `fake.base_url` (OpenAI) or
`fake.azure_endpoint` (Azure OpenAI). Replies are scripted per endpoint kind and consumed in
order; unscripted speech requests get a tone, unscripted chat requests an explicit error.
Every request is recorded (path, query, headers, JSON body).
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import struct
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SAMPLE_RATE = 24_000  # what OpenAI speech returns for wav and pcm
MS_PER_CHARACTER = 60
TONE_HZ = 330.0
MAX_SPEECH_INPUT = 4_096
# OpenAI streams WAV before its length is known: both RIFF sizes are this placeholder.
STREAMED_SIZE = 0xFFFFFFFF

Kind = Literal["speech", "chat"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    json: dict[str, Any] | None  # None when the body was not JSON


@dataclass(frozen=True)
class ErrorReply:
    """An error in OpenAI's format: `{"error": {"message", "type", "param", "code"}}`."""

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class ChatReply:
    body: dict[str, Any]


@dataclass(frozen=True)
class SpeechReply:
    """A tone for the request's input (the default speech answer)."""


Reply = ErrorReply | ChatReply | SpeechReply
# A reply may also be computed from the request's JSON body, e.g. to answer a prompt.
ScriptedReply = Reply | Callable[[dict[str, Any]], Reply]


def rate_limited(retry_after: float | None = 1.0) -> ErrorReply:
    return ErrorReply(
        429,
        "Rate limit reached for requests. Please try again later.",
        type="requests",
        code="rate_limit_exceeded",
        retry_after=retry_after,
    )


def server_error() -> ErrorReply:
    return ErrorReply(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


def bad_request(message: str, *, code: str | None = None) -> ErrorReply:
    return ErrorReply(400, message, type="invalid_request_error", code=code)


def chat_completion(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "gpt-4o-mini",
    finish_reason: str | None = None,
    prompt_tokens: int = 100,
    completion_tokens: int | None = None,
) -> ChatReply:
    """A Chat Completions body; `tool_calls` items are `{"name": ..., "arguments": {...}}`."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
            }
            for call in tool_calls
        ]
    if completion_tokens is None:
        completion_tokens = max(1, len(json.dumps(message)) // 4)
    return ChatReply(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


class FakeOpenAI:
    """The fake server; `script("speech" | "chat", [...])` queues replies for that endpoint."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[Kind, deque[ScriptedReply]] = {"speech": deque(), "chat": deque()}
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._serving: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakeOpenAI:
        app = Starlette(
            routes=[
                Route("/v1/audio/speech", self._speech, methods=["POST"]),
                Route(
                    "/openai/deployments/{deployment}/audio/speech", self._speech, methods=["POST"]
                ),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route(
                    "/openai/deployments/{deployment}/chat/completions",
                    self._chat,
                    methods=["POST"],
                ),
            ]
        )
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        # uvicorn exposes a `started` flag, not an event to wait on.
        while not self._server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._socket is not None and self._serving
        self._server.should_exit = True
        await self._serving
        self._socket.close()

    @property
    def base_url(self) -> str:
        """For `AsyncOpenAI(base_url=...)`."""
        return f"{self._origin}/v1"

    @property
    def azure_endpoint(self) -> str:
        """For `AsyncAzureOpenAI(azure_endpoint=...)`."""
        return self._origin

    @property
    def _origin(self) -> str:
        assert self._socket is not None
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def script(self, kind: Kind, replies: list[ScriptedReply]) -> None:
        self._scripts[kind].extend(replies)

    def reset(self) -> None:
        self.requests.clear()
        for queue in self._scripts.values():
            queue.clear()

    def requests_to(self, kind: Kind) -> list[RecordedRequest]:
        suffix = "/audio/speech" if kind == "speech" else "/chat/completions"
        return [r for r in self.requests if r.path.endswith(suffix)]

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = None
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=body,
        )
        self.requests.append(recorded)
        return recorded

    def _next_reply(self, kind: Kind, body: dict[str, Any], default: Reply) -> Reply:
        queue = self._scripts[kind]
        reply = queue.popleft() if queue else default
        return reply(body) if callable(reply) else reply

    async def _speech(self, request: Request) -> Response:
        recorded = await self._record(request)
        if (refusal := refusal_of(recorded)) is not None:
            return refusal
        assert recorded.json is not None
        reply = self._next_reply("speech", recorded.json, SpeechReply())
        if isinstance(reply, ErrorReply):
            return error_response(reply)
        return speech_response(recorded.json)

    async def _chat(self, request: Request) -> Response:
        recorded = await self._record(request)
        if (refusal := refusal_of(recorded)) is not None:
            return refusal
        assert recorded.json is not None
        unscripted = ErrorReply(500, "FakeOpenAI: no chat completion was scripted", "server_error")
        reply = self._next_reply("chat", recorded.json, unscripted)
        if isinstance(reply, ErrorReply):
            return error_response(reply)
        if not isinstance(reply, ChatReply):
            return error_response(bad_request("FakeOpenAI: a speech reply was scripted for chat"))
        return JSONResponse(reply.body, headers={"x-request-id": f"req_{uuid.uuid4().hex}"})


def refusal_of(request: RecordedRequest) -> Response | None:
    """Refuse like the services do: OpenAI wants a bearer token, Azure an api-key and an
    api-version; both want a JSON body."""
    if request.path.startswith("/openai/deployments/"):
        if "api-version" not in request.query:
            return error_response(
                ErrorReply(404, "Resource not found", type="invalid_request_error", code="404")
            )
        if not request.headers.get("api-key") and not request.headers.get("authorization"):
            return error_response(
                ErrorReply(401, "Access denied due to missing subscription key.", code="401")
            )
    elif not request.headers.get("authorization", "").startswith("Bearer "):
        return error_response(
            ErrorReply(401, "You didn't provide an API key.", code="invalid_api_key")
        )
    if request.json is None:
        return error_response(bad_request("We could not parse the JSON body of your request."))
    return None


def error_response(reply: ErrorReply) -> JSONResponse:
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if reply.retry_after is not None:
        headers["retry-after"] = f"{reply.retry_after:g}"
        headers["retry-after-ms"] = f"{reply.retry_after * 1000:.0f}"
    body = {
        "error": {
            "message": reply.message,
            "type": reply.type,
            "param": None,
            "code": reply.code,
        }
    }
    return JSONResponse(body, status_code=reply.status, headers=headers)


def speech_response(body: dict[str, Any]) -> Response:
    text = body.get("input")
    if not isinstance(text, str) or not text:
        return error_response(bad_request("Missing required parameter: 'input'."))
    if len(text) > MAX_SPEECH_INPUT:
        return error_response(
            bad_request(
                f"[{{'type': 'string_too_long', 'loc': ('body', 'input'), 'msg': 'String should "
                f"have at most {MAX_SPEECH_INPUT} characters'}}]",
                code="string_above_max_length",
            )
        )
    response_format = body.get("response_format", "mp3")
    if response_format not in ("wav", "pcm"):
        return error_response(
            bad_request(f"FakeOpenAI speaks only wav and pcm, not {response_format!r}")
        )
    speed = float(body.get("speed", 1.0))
    pcm = tone(round(len(text) * MS_PER_CHARACTER / speed))
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if response_format == "pcm":
        return Response(pcm, media_type="audio/pcm", headers=headers)
    return Response(streamed_wav_header() + pcm, media_type="audio/wav", headers=headers)


def tone(duration_ms: int) -> bytes:
    t = np.arange(duration_ms * SAMPLE_RATE // 1000) / SAMPLE_RATE
    return (np.sin(2 * math.pi * TONE_HZ * t) * 0.3 * 32767).astype("<i2").tobytes()


def streamed_wav_header() -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", STREAMED_SIZE)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
        + b"data"
        + struct.pack("<I", STREAMED_SIZE)
    )
