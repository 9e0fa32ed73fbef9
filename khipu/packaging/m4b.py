"""M4B audiobooks: AAC in MP4 with both chapter forms (QuickTime chapter track and Nero `chpl`),
cover, tags, the index in front, and long books split into parts at chapter boundaries.

Encoding is parallel and gapless: the book is cut into pieces on AAC frame boundaries, each piece is
encoded by its own ffmpeg with a few frames of its neighbours' audio before and after, and those
overlap frames are dropped packet-exactly when the ADTS pieces are joined. The joined stream is
what one continuous encode would produce (no priming or padding at the joins), so chapter starts
are exact sample positions. The final mux copies the stream, adds chapters, cover and tags.
"""

from __future__ import annotations

import math
import re
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np
from mutagen.mp4 import MP4, MP4FreeForm

from khipu.core.ffmpeg import run_ffmpeg
from khipu.packaging.book import (
    BookMetadata,
    ChapterAudio,
    Cover,
    InvalidPackageInput,
    require_chapters,
)
from khipu.packaging.cover import cover_file_suffix
from khipu.packaging.encoding import (
    read_master_format,
    run_in_parallel,
    safe_file_stem,
)

AAC_FRAME = 1024  # samples per AAC-LC packet; also the decoder delay (priming) of one packet
# Frames of neighbouring audio each piece encodes and then drops. Measured on tonal material cut
# mid-signal: from 4 frames on, the error at a join equals a single encode's; 8 leaves margin for
# the encoder's block switching and psychoacoustic state.
OVERLAP_FRAMES = 8
# Pieces: at least a chapter each, and cut inside long chapters so a book of a few long chapters
# still keeps every core busy. Counted per book, not per core, so every machine writes the same
# bytes for the same book.
MIN_PIECES_PER_BOOK = 8
MAX_PIECE_SECONDS = 30 * 60
MIN_PIECE_SECONDS = 120
AAC_SAMPLE_RATES = (22050, 24000, 32000, 44100, 48000)
# Room left after the tags so later edits (by us or by a publisher's tool) rewrite only the index.
TAG_PADDING_BYTES = 16 * 1024
_COPY_CHUNK = 1 << 20
_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


@dataclass(frozen=True, slots=True)
class M4BOptions:
    bitrate_kbps: int = 64
    sample_rate: int = 44100
    max_part_hours: float | None = 24.0  # older Apple devices fail beyond ~27 h

    def __post_init__(self) -> None:
        if not 64 <= self.bitrate_kbps <= 128:
            raise InvalidPackageInput(f"M4B bit rate must be 64–128 kbps, not {self.bitrate_kbps}")
        if self.sample_rate not in AAC_SAMPLE_RATES:
            raise InvalidPackageInput(
                f"M4B sample rate must be one of {AAC_SAMPLE_RATES}, not {self.sample_rate}"
            )
        if self.max_part_hours is not None and self.max_part_hours <= 0:
            raise InvalidPackageInput("max_part_hours must be positive (or None for one file)")


def build_m4b(
    chapters: Sequence[ChapterAudio],
    meta: BookMetadata,
    cover: Cover | None,
    out_dir: Path,
    *,
    options: M4BOptions = M4BOptions(),
) -> list[Path]:
    """Write the book as one M4B, or as "<title> Part N.m4b" files when it exceeds the part limit.

    Returns the written paths in reading order. Raises InvalidPackageInput for no chapters or an
    unreadable master, UnsupportedCover for a cover that is not JPEG/PNG, FFmpegError from ffmpeg.
    """
    require_chapters(chapters)
    cover_suffix = cover_file_suffix(cover.data) if cover else None
    frames = [_frames_at(chapter, options.sample_rate) for chapter in chapters]
    max_part_frames = (
        None
        if options.max_part_hours is None
        else int(options.max_part_hours * 3600 * options.sample_rate)
    )
    groups = split_into_parts(frames, max_part=max_part_frames)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_file_stem(meta.title, fallback="Audiobook")
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".m4b-") as scratch_name:
        scratch = Path(scratch_name)
        cover_path = None
        if cover is not None:
            cover_path = scratch / f"cover{cover_suffix}"
            cover_path.write_bytes(cover.data)
        parts = [
            _Part.plan(
                number=number,
                chapters=[chapters[i] for i in group],
                frames=[frames[i] for i in group],
                scratch=scratch,
                options=options,
            )
            for number, group in enumerate(groups, start=1)
        ]
        _encode_pieces([piece for part in parts for piece in part.pieces], options=options)
        written = []
        for part in parts:
            name = f"{stem}.m4b" if len(parts) == 1 else f"{stem} Part {part.number}.m4b"
            part.assemble(out_dir / name, meta=meta, cover_path=cover_path, part_count=len(parts))
            written.append(out_dir / name)
    return written


def split_into_parts(lengths: Sequence[int], *, max_part: int | None) -> list[range]:
    """Group consecutive chapters into as few parts as the limit allows, the longest part as short
    as that count permits.

    A chapter longer than the limit gets a part of its own (chapters are never cut).
    """
    if max_part is None or sum(lengths) <= max_part:
        return [range(len(lengths))]
    fewest = len(_fill_greedily(lengths, cap=max_part))
    # The smallest cap that still needs no more parts gives the most even split.
    low, high = 1, max_part
    while low < high:
        middle = (low + high) // 2
        if len(_fill_greedily(lengths, cap=middle)) <= fewest:
            high = middle
        else:
            low = middle + 1
    return _fill_greedily(lengths, cap=low)


def _fill_greedily(lengths: Sequence[int], *, cap: int) -> list[range]:
    parts = []
    first, filled = 0, 0
    for index, length in enumerate(lengths):
        if index > first and filled + length > cap:
            parts.append(range(first, index))
            first, filled = index, 0
        filled += length
    parts.append(range(first, len(lengths)))
    return parts


def _frames_at(chapter: ChapterAudio, sample_rate: int) -> int:
    found = read_master_format(chapter.master_path)
    if found.sample_rate == sample_rate:
        return found.frames
    # Resampled masters are counted as the resampler should emit them; a one-sample error only
    # moves a chapter mark by 23 µs.
    return round(found.frames * sample_rate / found.sample_rate)


@dataclass(frozen=True, slots=True)
class _Span:
    """Frames [start, end) of one master, counted at the output sample rate."""

    path: Path
    start: int
    end: int
    length: int  # the whole master


@dataclass(frozen=True, slots=True)
class _Piece:
    """One encoder's share of a part: the frames it feeds and the packets the join keeps."""

    spans: tuple[_Span, ...]
    skip_packets: int  # leading packets that belong to the previous piece (its overlap)
    keep_packets: int | None  # None: every packet through the end of the part
    adts_path: Path

    @property
    def fed_frames(self) -> int:
        return sum(span.end - span.start for span in self.spans)


@dataclass(frozen=True, slots=True)
class _Part:
    number: int
    chapters: tuple[ChapterAudio, ...]
    chapter_frames: tuple[int, ...]
    pieces: tuple[_Piece, ...]
    sample_rate: int
    scratch: Path

    @classmethod
    def plan(
        cls,
        *,
        number: int,
        chapters: Sequence[ChapterAudio],
        frames: Sequence[int],
        scratch: Path,
        options: M4BOptions,
    ) -> _Part:
        starts = _chapter_starts(frames)
        cuts = _piece_cuts(frames, sample_rate=options.sample_rate)
        total = starts[-1]
        overlap = OVERLAP_FRAMES * AAC_FRAME
        pieces = []
        for index, (begin, end) in enumerate(zip(cuts, [*cuts[1:], total], strict=True)):
            last = index == len(cuts) - 1
            fed_from = max(0, begin - overlap)
            fed_to = total if last else min(total, end + overlap)
            pieces.append(
                _Piece(
                    spans=_spans(chapters, frames, starts, fed_from, fed_to),
                    skip_packets=(begin - fed_from) // AAC_FRAME,
                    keep_packets=None if last else (end - begin) // AAC_FRAME,
                    adts_path=scratch / f"part{number:02d}-piece{index:04d}.aac",
                )
            )
        return cls(
            number=number,
            chapters=tuple(chapters),
            chapter_frames=tuple(frames),
            pieces=tuple(pieces),
            sample_rate=options.sample_rate,
            scratch=scratch,
        )

    @property
    def total_frames(self) -> int:
        return sum(self.chapter_frames)

    def assemble(
        self, target: Path, *, meta: BookMetadata, cover_path: Path | None, part_count: int
    ) -> None:
        joined = self.scratch / f"part{self.number:02d}.aac"
        packets = _join_pieces(self.pieces, joined)
        expected = math.ceil(self.total_frames / AAC_FRAME) + 1
        if packets != expected:
            raise RuntimeError(f"joined AAC has {packets} packets where {expected} were planned")
        chapters_file = self.scratch / f"part{self.number:02d}.ffmetadata"
        chapters_file.write_text(
            _ffmetadata(self, meta=meta, part_count=part_count), encoding="utf-8"
        )
        muxed = self.scratch / f"part{self.number:02d}.m4b"
        _mux(
            joined,
            chapters_file,
            cover_path,
            muxed,
            packets=packets,
            total_frames=self.total_frames,
            sample_rate=self.sample_rate,
        )
        joined.unlink()
        _write_extra_tags(muxed, meta)
        finished = self.scratch / f"part{self.number:02d}-faststart.m4b"
        _move_index_to_front(muxed, finished)
        muxed.unlink()
        finished.replace(target)  # whole files only: a failed export leaves no half-written book


def _chapter_starts(frames: Sequence[int]) -> list[int]:
    starts = [0]
    for length in frames:
        starts.append(starts[-1] + length)
    return starts


def _piece_cuts(frames: Sequence[int], *, sample_rate: int) -> list[int]:
    """Frame-aligned piece starts: one at every chapter, more inside long chapters."""
    starts = _chapter_starts(frames)
    total = starts[-1]
    target = total / MIN_PIECES_PER_BOOK
    target = min(max(target, MIN_PIECE_SECONDS * sample_rate), MAX_PIECE_SECONDS * sample_rate)
    cuts = set()
    for start, length in zip(starts, frames, strict=False):
        inside = max(1, math.ceil(length / target))
        for k in range(inside):
            cuts.add((start + length * k // inside) // AAC_FRAME * AAC_FRAME)
    return sorted(cut for cut in cuts if cut < total)


def _spans(
    chapters: Sequence[ChapterAudio],
    frames: Sequence[int],
    starts: Sequence[int],
    fed_from: int,
    fed_to: int,
) -> tuple[_Span, ...]:
    spans = []
    for chapter, length, start in zip(chapters, frames, starts, strict=False):
        lo, hi = max(fed_from - start, 0), min(fed_to - start, length)
        if lo < hi:
            spans.append(_Span(chapter.master_path, lo, hi, length))
    return tuple(spans)


def _encode_pieces(pieces: Sequence[_Piece], *, options: M4BOptions) -> None:
    # Longest first, so the last piece to finish is a short one and the cores stay busy.
    ordered = sorted(pieces, key=lambda piece: piece.fed_frames, reverse=True)
    run_in_parallel([partial(_encode_piece, piece, options=options) for piece in ordered])


def _encode_piece(piece: _Piece, *, options: M4BOptions) -> None:
    rate = options.sample_rate
    # -ss is sample-exact when the position is a whole number of microseconds, i.e. a multiple of
    # `unit` frames (441 at 44.1 kHz); atrim then counts off the remaining frames exactly.
    unit = rate // math.gcd(rate, 1_000_000)
    args = ["-y"]
    chains = []
    for index, span in enumerate(piece.spans):
        seek = span.start // unit * unit
        if seek:
            args += ["-ss", f"{seek * 1_000_000 // rate}us"]
        if span.end < span.length:
            # Stop decoding soon after the span; atrim makes the cut exact.
            args += ["-t", f"{(span.end - seek) * 1_000_000 // rate + 200_000}us"]
        args += ["-i", str(span.path)]
        chains.append(
            f"[{index}:a:0]aresample={rate},aformat=sample_fmts=fltp:channel_layouts=mono,"
            f"atrim=start_sample={span.start - seek}:end_sample={span.end - seek}[s{index}]"
        )
    labels = "".join(f"[s{index}]" for index in range(len(piece.spans)))
    graph = ";".join(chains) + f";{labels}concat=n={len(piece.spans)}:v=0:a=1[pcm]"
    args += ["-filter_complex", graph, "-map", "[pcm]", "-map_metadata", "-1"]
    args += ["-c:a", "aac", "-b:a", f"{options.bitrate_kbps}k", "-f", "adts"]
    run_ffmpeg([*args, str(piece.adts_path)])


def _join_pieces(pieces: Sequence[_Piece], joined: Path) -> int:
    """Concatenate the kept packets of every piece into one ADTS stream; return the packet count."""
    count = 0
    with joined.open("wb") as out:
        for piece in pieces:
            data = piece.adts_path.read_bytes()  # one piece: at most MAX_PIECE_SECONDS of AAC
            offsets = _adts_frame_offsets(data, source=piece.adts_path)
            available = len(offsets) - 1
            stop = available
            if piece.keep_packets is not None:
                stop = piece.skip_packets + piece.keep_packets
            if stop > available:
                raise RuntimeError(f"{piece.adts_path.name} is shorter than planned")
            out.write(data[offsets[piece.skip_packets] : offsets[stop]])
            count += stop - piece.skip_packets
            piece.adts_path.unlink()
    return count


def _adts_frame_offsets(data: bytes, *, source: Path) -> list[int]:
    """Byte offset of every ADTS frame, plus the end offset."""
    offsets = []
    position = 0
    while position < len(data):
        if data[position] != 0xFF or data[position + 1] & 0xF0 != 0xF0:
            raise RuntimeError(f"{source.name}: lost ADTS sync at byte {position}")
        offsets.append(position)
        header = data[position + 3 : position + 6]
        position += ((header[0] & 0x03) << 11) | (header[1] << 3) | (header[2] >> 5)
    offsets.append(position)
    return offsets


def _ffmetadata(part: _Part, *, meta: BookMetadata, part_count: int) -> str:
    title = meta.title if part_count == 1 else f"{meta.title}, Part {part.number}"
    tags = {
        "title": title,
        "album": meta.title,
        "artist": meta.author,
        "album_artist": meta.author,
        "composer": meta.narrator,  # the audiobook convention for the narrator
        "date": str(meta.year) if meta.year else None,
        "genre": meta.genre,
        "comment": meta.description,
        "description": meta.description,
        "copyright": meta.copyright,
        "media_type": "2",  # iTunes `stik` 2: audiobook
        "track": f"{part.number}/{part_count}" if part_count > 1 else None,
    }
    lines = [";FFMETADATA1"]
    lines += [f"{key}={_escape(value)}" for key, value in tags.items() if value]
    starts = _chapter_starts(part.chapter_frames)
    for chapter, begin, end in zip(part.chapters, starts, starts[1:], strict=False):
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={round(begin * 1000 / part.sample_rate)}",
            f"END={round(end * 1000 / part.sample_rate)}",
            f"title={_escape(chapter.title)}",
        ]
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def _mux(
    joined: Path,
    chapters_file: Path,
    cover_path: Path | None,
    target: Path,
    *,
    packets: int,
    total_frames: int,
    sample_rate: int,
) -> None:
    # The joined ADTS carries one packet of priming and pads its last packet, which ADTS cannot
    # say: shift the timestamps back by the priming (the muxer then writes the edit list that
    # skips it) and shorten the last packet to the real length, as a single encode would.
    last_duration = total_frames + AAC_FRAME - (packets - 1) * AAC_FRAME
    timing = (
        f"setts=ts=TS-{AAC_FRAME}/(SR*TB)"
        f":duration=if(eq(N\\,{packets - 1})\\,{last_duration}/(SR*TB)\\,DURATION)"
    )
    args = ["-y", "-f", "aac", "-i", str(joined), "-f", "ffmetadata", "-i", str(chapters_file)]
    if cover_path is not None:
        args += ["-i", str(cover_path)]
    args += ["-map", "0:a:0", "-map_metadata", "1", "-map_chapters", "1"]
    args += ["-c:a", "copy", "-bsf:a", timing]
    if cover_path is not None:
        args += ["-map", "2:v:0", "-c:v", "copy", "-disposition:v:0", "attached_pic"]
    # The chapter track and the Nero chpl atom are both written (no disable_chpl); the index
    # goes to the end here and is moved to the front after the tags are in.
    args += ["-movie_timescale", str(sample_rate), "-f", "ipod", str(target)]
    run_ffmpeg(args)


def _write_extra_tags(path: Path, meta: BookMetadata) -> None:
    """Tags ffmpeg's MP4 muxer does not write. The index is still at the end of the file, so
    growing it moves no audio."""
    mp4 = MP4(path)
    assert mp4.tags is not None
    if meta.publisher:
        mp4.tags["©pub"] = [meta.publisher]
    freeform = {"ISBN": meta.isbn, "LANGUAGE": meta.language, "NARRATOR": meta.narrator}
    for name, value in freeform.items():
        if value:
            mp4.tags[f"----:com.apple.iTunes:{name}"] = [MP4FreeForm(value.encode("utf-8"))]
    mp4.save(padding=lambda _info: TAG_PADDING_BYTES)


@dataclass(frozen=True, slots=True)
class _Box:
    kind: bytes
    offset: int
    size: int
    header: int  # 8, or 16 with a 64-bit size


def _move_index_to_front(source: Path, target: Path) -> None:
    """Faststart: write `ftyp`, then `moov` with its chunk offsets shifted, then the media.

    ffmpeg's own faststart pass would run before our tags are written, and growing the index in
    front of the media makes mutagen move the whole media block; relocating it after tagging
    costs the same one copy and leaves the tag padding in place.
    """
    with source.open("rb") as src:
        boxes = _top_level_boxes(src, source.stat().st_size)
        moov = next(box for box in boxes if box.kind == b"moov")
        ftyp_end = boxes[0].offset + boxes[0].size if boxes[0].kind == b"ftyp" else 0
        src.seek(moov.offset)
        index = bytearray(src.read(moov.size))
        _shift_chunk_offsets(
            index,
            header=moov.header,
            moved_from=ftyp_end,
            moved_until=moov.offset,
            delta=moov.size,
        )
        with target.open("wb") as out:
            _copy_range(src, out, 0, ftyp_end)
            out.write(index)
            for box in boxes:
                if box.kind != b"moov" and box.offset >= ftyp_end:
                    _copy_range(src, out, box.offset, box.size)


def _top_level_boxes(stream: BinaryIO, file_size: int) -> list[_Box]:
    boxes = []
    offset = 0
    while offset < file_size:
        stream.seek(offset)
        size, kind = struct.unpack(">I4s", stream.read(8))
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", stream.read(8))
            header = 16
        elif size == 0:
            size = file_size - offset
        boxes.append(_Box(kind, offset, size, header))
        offset += size
    return boxes


def _shift_chunk_offsets(
    index: bytearray, *, header: int, moved_from: int, moved_until: int, delta: int
) -> None:
    """Add `delta` to every stco/co64 entry that points into [moved_from, moved_until)."""
    for kind, start, end in _child_boxes(index, header, len(index)):
        if kind not in (b"stco", b"co64"):
            continue
        width = 4 if kind == b"stco" else 8
        count = struct.unpack_from(">I", index, start + 4)[0]
        dtype = ">u4" if width == 4 else ">u8"
        entries = np.frombuffer(index, dtype=dtype, count=count, offset=start + 8).astype(np.int64)
        moved = (entries >= moved_from) & (entries < moved_until)
        entries[moved] += delta
        if width == 4 and count and int(entries.max()) > 0xFFFFFFFF:
            raise RuntimeError("moving the index would overflow 32-bit chunk offsets")
        index[start + 8 : end] = entries.astype(dtype).tobytes()


def _child_boxes(data: bytearray, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(kind, payload start, payload end) of every box under the containers that hold sample
    tables, depth first."""
    found = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        payload_start, payload_end = offset + header, offset + size
        found.append((kind, payload_start, payload_end))
        if kind in _MP4_CONTAINERS:
            found += _child_boxes(data, payload_start, payload_end)
        offset += size
    return found


def _copy_range(src: BinaryIO, out: BinaryIO, offset: int, size: int) -> None:
    src.seek(offset)
    remaining = size
    while remaining:
        chunk = src.read(min(_COPY_CHUNK, remaining))
        if not chunk:
            raise RuntimeError("MP4 file ended inside a box")
        out.write(chunk)
        remaining -= len(chunk)
