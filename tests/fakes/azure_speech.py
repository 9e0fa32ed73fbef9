"""A local stand-in for the Azure Speech synthesis websocket, spoken to by the real Speech SDK.

Point the SDK at it with `SpeechConfig(host=fake.url, subscription="fake")`. It speaks the
service's USP framing: text frames are `Header:value\\r\\n...\\r\\n\\r\\nbody`, binary frames are a
big-endian 16-bit header length, the headers, then audio. A request is answered with
`turn.start`, `response` (naming the audio stream), `audio.metadata` (word boundaries), binary
`audio` frames of a tone as long as the text, a `SessionEnd` metadata frame and `turn.end`.
Each request gets the next scripted behaviour (`ok` when the script is empty).

The SDK sends `speech.config` once per connection and `synthesis.context` before every `ssml`;
neither is answered (the SDK expects no reply). Speech SDK 1.53 retries a refused upgrade once
by itself, so one failed SDK call consumes two scripted refusals.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import struct
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import numpy as np
from defusedxml import ElementTree
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

SYNTHESIS_PATH = "/cognitiveservices/websocket/v1"
TICKS_PER_MS = 10_000  # the service reports offsets in 100-ns ticks
MS_PER_CHARACTER = 60  # a fake "speaking rate": the tone lasts this long per character
LEAD_IN_MS = 50
TONE_HZ = 220.0
AUDIO_CHUNK_BYTES = 4_800
# A close frame's reason is limited to 123 bytes; the real service truncates its message too.
CLOSE_REASON_LIMIT = 123
# The service answers a request it cannot satisfy (bad SSML, unknown voice, unknown format)
# by closing the socket with 1007, "invalid payload data"; the SDK maps it to BadRequest.
CLOSE_BAD_REQUEST = 1007
CLOSE_INTERNAL_ERROR = 1011
PCM_FORMAT = re.compile(r"^(?P<container>raw|riff)-(?P<rate>\d+)(?P<unit>khz|hz)-16bit-mono-pcm$")

Kind = Literal["ok", "throttle", "server_error", "bad_request"]
REFUSED_UPGRADES: dict[str, HTTPStatus] = {
    "throttle": HTTPStatus.TOO_MANY_REQUESTS,
    "server_error": HTTPStatus.INTERNAL_SERVER_ERROR,
}


@dataclass(frozen=True)
class SpeechBehaviour:
    """How the fake answers one request.

    `throttle` and `server_error` refuse the next websocket upgrade with HTTP 429 / 500, as the
    service does (a request arriving over an already-open connection makes the fake drop that
    connection so the client reconnects into the refusal); `bad_request` closes the socket with
    1007 and `message` (default: the service's "Unsupported voice ...") as the reason.
    """

    kind: Kind
    message: str | None = None


@dataclass(frozen=True)
class SynthesisRequest:
    """One SSML request as the fake received it."""

    request_id: str
    ssml: str
    synthesis_context: dict[str, Any]
    speech_config: dict[str, Any] | None
    handshake_headers: Headers

    @property
    def output_format(self) -> str:
        return self.synthesis_context["synthesis"]["audio"].get("outputFormat", "")

    @property
    def word_boundaries_enabled(self) -> bool:
        options = self.synthesis_context["synthesis"]["audio"].get("metadataOptions", {})
        return bool(options.get("wordBoundaryEnabled"))


@dataclass
class _Connection:
    headers: Headers
    speech_config: dict[str, Any] | None = None
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeAzureSpeech:
    """`async with FakeAzureSpeech() as fake:`, then `fake.url`, `fake.script([...])`, and
    `fake.requests` / `fake.handshakes` for assertions."""

    def __init__(self) -> None:
        self.requests: list[SynthesisRequest] = []
        self.handshakes: list[Headers] = []  # every upgrade attempt, refused ones included
        self.open_connections = 0
        self._script: deque[SpeechBehaviour] = deque()
        self._server: Server | None = None

    async def __aenter__(self) -> FakeAzureSpeech:
        self._server = await serve(
            self._serve_connection,
            "127.0.0.1",
            0,
            process_request=self._answer_upgrade,
            compression=None,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    def script(self, behaviours: list[SpeechBehaviour | Kind]) -> None:
        """Queue answers for the next requests, in order; then `ok` again."""
        self._script.extend(
            b if isinstance(b, SpeechBehaviour) else SpeechBehaviour(b) for b in behaviours
        )

    def reset(self) -> None:
        self.requests.clear()
        self.handshakes.clear()
        self._script.clear()

    def _next_behaviour(self) -> SpeechBehaviour:
        return self._script.popleft() if self._script else SpeechBehaviour("ok")

    def _answer_upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes.append(request.headers)
        if request.path.split("?", 1)[0] != SYNTHESIS_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        if "Ocp-Apim-Subscription-Key" not in request.headers and (
            "Authorization" not in request.headers
        ):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Missing credentials\n")
        if self._script and self._script[0].kind in REFUSED_UPGRADES:
            status = REFUSED_UPGRADES[self._script.popleft().kind]
            return connection.respond(status, f"{status.phrase}\n")
        return None

    async def _serve_connection(self, websocket: ServerConnection) -> None:
        state = _Connection(headers=websocket.request.headers)
        self.open_connections += 1
        try:
            async for frame in websocket:
                if isinstance(frame, bytes):
                    continue  # synthesis clients send no audio
                headers, body = parse_text_frame(frame)
                path = headers.get("path", "").lower()
                if path == "speech.config":
                    state.speech_config = json.loads(body)
                elif path == "synthesis.context":
                    state.contexts[headers["x-requestid"]] = json.loads(body)
                elif path == "ssml":
                    await self._answer_ssml(websocket, state, headers["x-requestid"], body)
        except ConnectionClosed:
            return
        finally:
            self.open_connections -= 1

    async def _answer_ssml(
        self, websocket: ServerConnection, state: _Connection, request_id: str, ssml: str
    ) -> None:
        request = SynthesisRequest(
            request_id=request_id,
            ssml=ssml,
            synthesis_context=state.contexts.pop(request_id, {"synthesis": {"audio": {}}}),
            speech_config=state.speech_config,
            handshake_headers=state.headers,
        )
        self.requests.append(request)
        if self._script and self._script[0].kind in REFUSED_UPGRADES:
            # Refusals happen at the upgrade; this request came over an open connection. Drop
            # the connection (the SDK reconnects) and leave the refusal for that upgrade.
            await websocket.close(CLOSE_INTERNAL_ERROR, "Internal server error")
            return
        behaviour = self._next_behaviour()
        try:
            voice, text = spoken_text(ssml)
        except ValueError as error:
            await close_bad_request(websocket, str(error))
            return
        if behaviour.kind == "bad_request":
            await close_bad_request(websocket, behaviour.message or f"Unsupported voice {voice}.")
            return
        pcm_format = PCM_FORMAT.match(request.output_format)
        if pcm_format is None:
            await close_bad_request(websocket, f"Unsupported output format {request.output_format}")
            return
        await stream_synthesis(
            websocket,
            request_id=request_id,
            text=text,
            sample_rate=sample_rate_of(pcm_format),
            with_riff_header=pcm_format["container"] == "riff",
            word_boundaries=request.word_boundaries_enabled,
        )


def parse_text_frame(frame: str) -> tuple[dict[str, str], str]:
    head, _, body = frame.partition("\r\n\r\n")
    headers = {}
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body


def text_frame(path: str, request_id: str, body: str) -> str:
    return (
        f"X-RequestId:{request_id}\r\nContent-Type:application/json; charset=utf-8\r\n"
        f"Path:{path}\r\n\r\n{body}"
    )


def audio_frame(request_id: str, stream_id: str, audio: bytes) -> bytes:
    headers = (
        f"X-RequestId:{request_id}\r\nContent-Type:audio/x-wav\r\n"
        f"X-StreamId:{stream_id}\r\nPath:audio\r\n"
    ).encode("ascii")
    return struct.pack(">H", len(headers)) + headers + audio


def spoken_text(ssml: str) -> tuple[str, str]:
    """The first voice's name and all text the SSML would speak (`ValueError` if not SSML)."""
    try:
        root = ElementTree.fromstring(ssml)
    except ElementTree.ParseError as error:
        raise ValueError(f"SSML is invalid: {error}") from error
    if not root.tag.endswith("speak"):
        raise ValueError("SSML is invalid: the root element must be <speak>")
    voice = next((el.get("name", "") for el in root.iter() if el.tag.endswith("voice")), "")
    return voice, " ".join("".join(root.itertext()).split())


def sample_rate_of(pcm_format: re.Match[str]) -> int:
    rate = int(pcm_format["rate"])
    return rate * 1000 if pcm_format["unit"] == "khz" else rate


def tone(duration_ms: int, sample_rate: int) -> bytes:
    t = np.arange(duration_ms * sample_rate // 1000) / sample_rate
    return (np.sin(2 * math.pi * TONE_HZ * t) * 0.3 * 32767).astype("<i2").tobytes()


def riff_header(pcm_bytes: int, sample_rate: int) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + pcm_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", pcm_bytes)
    )


def word_boundary_metadata(text: str) -> list[dict[str, Any]]:
    """One WordBoundary per word, timed by the fake speaking rate (ticks, as the service does)."""
    entries = []
    for match in re.finditer(r"\w[\w'\u2019-]*", text):
        word = match.group()
        entries.append(
            {
                "Type": "WordBoundary",
                "Data": {
                    "Offset": (LEAD_IN_MS + match.start() * MS_PER_CHARACTER) * TICKS_PER_MS,
                    "Duration": len(word) * MS_PER_CHARACTER * TICKS_PER_MS,
                    "text": {"Text": word, "Length": len(word), "BoundaryType": "WordBoundary"},
                },
            }
        )
    return entries


async def stream_synthesis(
    websocket: ServerConnection,
    *,
    request_id: str,
    text: str,
    sample_rate: int,
    with_riff_header: bool,
    word_boundaries: bool,
) -> None:
    service_tag = uuid.uuid4().hex
    stream_id = uuid.uuid4().hex.upper()
    duration_ms = LEAD_IN_MS + len(text) * MS_PER_CHARACTER + LEAD_IN_MS
    await websocket.send(
        text_frame("turn.start", request_id, json.dumps({"context": {"serviceTag": service_tag}}))
    )
    response = {
        "context": {"serviceTag": service_tag},
        "audio": {"type": "inline", "streamId": stream_id},
    }
    await websocket.send(text_frame("response", request_id, json.dumps(response)))
    if word_boundaries:
        metadata = {"Metadata": word_boundary_metadata(text)}
        await websocket.send(text_frame("audio.metadata", request_id, json.dumps(metadata)))
    pcm = tone(duration_ms, sample_rate)
    audio = riff_header(len(pcm), sample_rate) + pcm if with_riff_header else pcm
    for start in range(0, len(audio), AUDIO_CHUNK_BYTES):
        await websocket.send(
            audio_frame(request_id, stream_id, audio[start : start + AUDIO_CHUNK_BYTES])
        )
        await asyncio.sleep(0)
    session_end = {
        "Metadata": [{"Type": "SessionEnd", "Data": {"Offset": duration_ms * TICKS_PER_MS}}]
    }
    await websocket.send(text_frame("audio.metadata", request_id, json.dumps(session_end)))
    await websocket.send(text_frame("turn.end", request_id, "{}"))


async def close_bad_request(websocket: ServerConnection, message: str) -> None:
    reason = message.encode()[:CLOSE_REASON_LIMIT].decode(errors="ignore")
    await websocket.close(CLOSE_BAD_REQUEST, reason)
