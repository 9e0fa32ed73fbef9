"""A small, independent MP4 box reader for the tests: the box tree, track ids, handlers, tref."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"tref", b"dinf"}


@dataclass
class Box:
    kind: str
    offset: int
    size: int
    payload: bytes = b""  # only for leaf boxes inside moov
    children: list[Box] = field(default_factory=list)

    def find(self, *path: str) -> list[Box]:
        found = [self]
        for kind in path:
            found = [child for box in found for child in box.children if child.kind == kind]
        return found


def read_boxes(path: Path) -> list[Box]:
    data = path.read_bytes()
    return _parse(data, 0, len(data), keep_payload=False)


def _parse(data: bytes, start: int, end: int, *, keep_payload: bool) -> list[Box]:
    boxes = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        name = kind.decode("latin-1")
        inside = keep_payload or kind == b"moov"
        box = Box(name, offset, size)
        if kind in CONTAINERS:
            box.children = _parse(data, offset + header, offset + size, keep_payload=inside)
        elif kind == b"meta":  # a full box: version and flags come before its children
            box.children = _parse(data, offset + header + 4, offset + size, keep_payload=inside)
        elif inside:
            box.payload = data[offset + header : offset + size]
        boxes.append(box)
        offset += size
    return boxes


def track_id(trak: Box) -> int:
    (tkhd,) = trak.find("tkhd")
    version = tkhd.payload[0]
    return struct.unpack_from(">I", tkhd.payload, 20 if version == 1 else 12)[0]


def handler(trak: Box) -> str:
    (hdlr,) = trak.find("mdia", "hdlr")
    return hdlr.payload[8:12].decode("latin-1")


def chapter_references(trak: Box) -> list[int]:
    """Track ids listed in the track's tref/chap box."""
    refs = trak.find("tref", "chap")
    if not refs:
        return []
    payload = refs[0].payload
    return list(struct.unpack(f">{len(payload) // 4}I", payload))


def edit_list(trak: Box) -> list[tuple[int, int]]:
    """(segment duration, media time) of each edit list entry."""
    (elst,) = trak.find("edts", "elst")
    version, count = elst.payload[0], struct.unpack_from(">I", elst.payload, 4)[0]
    entry = ">QqHH" if version == 1 else ">IiHH"
    width = struct.calcsize(entry)
    return [struct.unpack_from(entry, elst.payload, 8 + i * width)[:2] for i in range(count)]
