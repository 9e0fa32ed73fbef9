"""Streaming a blob over HTTP with Range support (audio players and resumable downloads need it).

One `bytes=start-end` range is honoured (206), several or unsatisfiable ones get 416; no range
streams the whole blob (200). The database session is closed before streaming starts.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from khipu.core.errors import KhipuError, NotFound
from khipu.core.storage import BlobStore

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(KhipuError):
    status = 416
    title = "Range not satisfiable"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive, or None for the whole blob; raises RangeNotSatisfiable."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise RangeNotSatisfiable(
            "Only one range of the form bytes=start-end is supported.", size=size
        )
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:  # a suffix: the last N bytes
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(f"The blob has {size} bytes.", size=size)
    return start, end


async def blob_response(
    store: BlobStore,
    key: str | None,
    *,
    media_type: str,
    range_header: str | None = None,
    download_name: str | None = None,
) -> StreamingResponse:
    info = await store.stat(key) if key else None
    if key is None or info is None:
        raise NotFound("There is no file here yet.")
    byte_range = parse_range(range_header, info.size)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}
    if download_name:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(download_name)}"
    if byte_range is None:
        headers["Content-Length"] = str(info.size)
        return StreamingResponse(store.iter_range(key), media_type=media_type, headers=headers)
    start, end = byte_range
    headers["Content-Length"] = str(end - start + 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    return StreamingResponse(
        store.iter_range(key, start, end), status_code=206, media_type=media_type, headers=headers
    )
