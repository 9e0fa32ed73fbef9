"""ZIP of per-chapter MP3s for Google Play and Spotify: 256 kbps CBR, 44.1 kHz, ID3 tags and cover.

Spotify takes at most two hours per file, so longer chapters are split at a pause near an even
division. The archive is written member by member from files (MP3s stored, not deflated).
"""

from __future__ import annotations

import math
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

from khipu.core.ffmpeg import run_ffmpeg
from khipu.packaging.book import (
    BookMetadata,
    ChapterAudio,
    Cover,
    ExportNotReady,
    InvalidPackageInput,
    require_chapters,
)
from khipu.packaging.cover import cover_file_suffix
from khipu.packaging.encoding import encode_mp3, read_master_format, run_in_parallel, safe_file_stem

Profile = Literal["google", "spotify"]
PROFILES: tuple[Profile, ...] = ("google", "spotify")
ZIP_MP3_BITRATE_KBPS = 256
SPOTIFY_MAX_FILE_MS = 2 * 3600 * 1000
# Where to look for a pause around an even split point, and what counts as one.
PAUSE_SEARCH_MS = 60_000
PAUSE_THRESHOLD_DB = -50
PAUSE_MIN_SECONDS = 0.3


@dataclass(frozen=True, slots=True)
class Track:
    """One MP3 of the archive: a whole chapter, or one part of a long one."""

    chapter: ChapterAudio
    start_ms: int
    end_ms: int
    part: int | None  # 1-based when the chapter is split

    @property
    def title(self) -> str:
        if self.part is None:
            return self.chapter.title
        return f"{self.chapter.title} (Part {self.part})"


def build_zip_mp3(
    chapters: Sequence[ChapterAudio],
    meta: BookMetadata,
    cover: Cover | None,
    out_path: Path,
    *,
    profile: Profile,
    max_file_ms: int = SPOTIFY_MAX_FILE_MS,
) -> Path:
    """Write the ZIP at `out_path`: "01 <title>.mp3" … in reading order, plus the cover image.

    `max_file_ms` is Spotify's per-file limit (Google Play has none). Raises ExportNotReady when
    Spotify's ISBN is missing, InvalidPackageInput for an unknown profile or no chapters.
    """
    require_chapters(chapters)
    if profile not in PROFILES:
        raise InvalidPackageInput(f"unknown ZIP profile {profile!r}; use one of {PROFILES}")
    if profile == "spotify" and not (meta.isbn or "").strip():
        raise ExportNotReady("Spotify requires an ISBN for every audiobook", missing=["isbn"])
    cover_suffix = cover_file_suffix(cover.data) if cover else None
    limit = max_file_ms if profile == "spotify" else None
    tracks = plan_tracks(chapters, max_file_ms=limit)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".zip-") as scratch_name:
        scratch = Path(scratch_name)
        cover_path = None
        if cover is not None:
            cover_path = scratch / f"cover{cover_suffix}"
            cover_path.write_bytes(cover.data)
        jobs = [
            partial(
                _encode_track,
                track,
                scratch / f"track-{number:04d}.mp3",
                meta=meta,
                cover_path=cover_path,
                track_tag=f"{number}/{len(tracks)}",
            )
            for number, track in enumerate(tracks, start=1)
        ]
        mp3s = run_in_parallel(jobs)
        partial_zip = scratch / "package.zip"
        members = list(zip(track_file_names(tracks), mp3s, strict=True))
        _write_zip(partial_zip, members, cover_path)
        partial_zip.replace(out_path)
    return out_path


def plan_tracks(chapters: Sequence[ChapterAudio], *, max_file_ms: int | None) -> list[Track]:
    """Every chapter as one track, or split into the fewest parts under the limit."""
    tracks = []
    for chapter in chapters:
        duration_ms = read_master_format(chapter.master_path).duration_ms
        if max_file_ms is None or duration_ms <= max_file_ms:
            tracks.append(Track(chapter, 0, duration_ms, None))
            continue
        finder = partial(find_pause, chapter.master_path)
        spans = split_at_pauses(duration_ms, max_file_ms=max_file_ms, find_pause=finder)
        tracks += [
            Track(chapter, start, end, part) for part, (start, end) in enumerate(spans, start=1)
        ]
    return tracks


def track_file_names(tracks: Sequence[Track]) -> list[str]:
    """File names numbered so they sort in reading order: "01 <title>.mp3",
    "02 <title> (Part 1).mp3", …. Titles never become paths."""
    width = max(2, len(str(len(tracks))))
    return [
        f"{number:0{width}d} {safe_file_stem(track.title, fallback=f'Chapter {number}')}.mp3"
        for number, track in enumerate(tracks, start=1)
    ]


def split_at_pauses(
    duration_ms: int,
    *,
    max_file_ms: int,
    find_pause: Callable[[int, int, int], int | None],
) -> list[tuple[int, int]]:
    """Cut [0, duration) into the fewest spans of at most `max_file_ms`, each cut at the pause
    nearest an even division (`find_pause(low, high, target)`), else at the division itself."""
    count = math.ceil(duration_ms / max_file_ms)
    spans = []
    start = 0
    for parts_after in range(count - 1, 0, -1):
        target = start + (duration_ms - start) // (parts_after + 1)
        # The cut must keep this span under the limit and leave the rest room to fit.
        low = max(start + 1, duration_ms - parts_after * max_file_ms, target - PAUSE_SEARCH_MS)
        high = min(start + max_file_ms, duration_ms - 1, target + PAUSE_SEARCH_MS)
        cut = find_pause(low, high, target) if low < high else None
        if cut is None:
            cut = min(max(target, low), high)
        spans.append((start, cut))
        start = cut
    spans.append((start, duration_ms))
    return spans


def find_pause(master: Path, low_ms: int, high_ms: int, target_ms: int) -> int | None:
    """The middle of the pause in [low, high] nearest `target`, found with silencedetect."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as found:
        run_ffmpeg(
            [
                *("-ss", f"{low_ms}ms", "-to", f"{high_ms}ms", "-i", str(master)),
                "-af",
                f"silencedetect=noise={PAUSE_THRESHOLD_DB}dB:d={PAUSE_MIN_SECONDS},"
                f"ametadata=mode=print:file={found.name}",
                *("-f", "null", "-"),
            ]
        )
        pauses = _pauses(Path(found.name).read_text(), offset_ms=low_ms, end_ms=high_ms)
    if not pauses:
        return None
    middles = [(begin + end) // 2 for begin, end in pauses]
    return min(middles, key=lambda middle: abs(middle - target_ms))


def _pauses(printed: str, *, offset_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """(start, end) of each pause from ametadata's print-out; one still open at the end runs to
    the end of the window."""
    pauses = []
    begin = None
    for line in printed.splitlines():
        key, _, value = line.partition("=")
        if key == "lavfi.silence_start":
            begin = offset_ms + max(0, round(float(value) * 1000))
        elif key == "lavfi.silence_end" and begin is not None:
            pauses.append((begin, offset_ms + round(float(value) * 1000)))
            begin = None
    if begin is not None:
        pauses.append((begin, end_ms))
    return pauses


def _encode_track(
    track: Track, target: Path, *, meta: BookMetadata, cover_path: Path | None, track_tag: str
) -> Path:
    tags = {
        "title": track.title,
        "album": meta.title,
        "artist": meta.author,
        "album_artist": meta.author,
        "composer": meta.narrator,
        "publisher": meta.publisher,
        "date": str(meta.year) if meta.year else None,
        "genre": meta.genre,
        "copyright": meta.copyright,
        "language": meta.language,
        "ISBN": meta.isbn,  # no ID3 frame of its own: written as TXXX:ISBN
        "track": track_tag,
    }
    return encode_mp3(
        track.chapter.master_path,
        target,
        bitrate_kbps=ZIP_MP3_BITRATE_KBPS,
        tags={key: value for key, value in tags.items() if value},
        cover_path=cover_path,
        span_ms=None if track.part is None else (track.start_ms, track.end_ms),
    )


def _write_zip(target: Path, members: Sequence[tuple[str, Path]], cover_path: Path | None) -> None:
    # Written from files one member at a time; MP3 and JPEG/PNG are compressed already.
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in members:
            archive.write(path, arcname=name)
            path.unlink()
        if cover_path is not None:
            archive.write(cover_path, arcname=f"cover{cover_path.suffix}")
