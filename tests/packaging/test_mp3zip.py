"""ZIP of MP3s for Google Play and Spotify: order, format, tags, cover, Spotify's limits."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from mutagen.mp3 import MP3, BitrateMode

from khipu.packaging.book import BookMetadata, ChapterAudio, Cover, ExportNotReady
from khipu.packaging.mp3zip import build_zip_mp3, split_at_pauses


@pytest.fixture(scope="module")
def google_zip(
    tmp_path_factory: pytest.TempPathFactory,
    body_chapters: list[ChapterAudio],
    meta: BookMetadata,
    cover_bytes: bytes,
) -> Path:
    out = tmp_path_factory.mktemp("google") / "book.zip"
    return build_zip_mp3(body_chapters, meta, Cover(cover_bytes), out, profile="google")


def extract(archive_path: Path, into: Path) -> list[Path]:
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(into)
        return [into / name for name in archive.namelist()]


def test_members_are_the_chapters_in_reading_order_then_the_cover(google_zip: Path) -> None:
    with zipfile.ZipFile(google_zip) as archive:
        assert archive.namelist() == [
            "01 Chapter I.mp3",
            "02 Chapter II A B Test.mp3",
            "03 Chapter III.mp3",
            "cover.jpg",
        ]
        # Already compressed: stored, so the archive is written and read as a stream.
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
        assert archive.testzip() is None
    assert [p.name for p in google_zip.parent.iterdir()] == ["book.zip"]


def test_mp3s_are_256_kbps_cbr_44100_hz_with_tags_and_cover(
    google_zip: Path, tmp_path: Path, meta: BookMetadata, cover_bytes: bytes
) -> None:
    mp3s = [path for path in extract(google_zip, tmp_path) if path.suffix == ".mp3"]
    for number, path in enumerate(mp3s, start=1):
        audio = MP3(path)
        assert round(audio.info.bitrate / 1000) == 256, path.name
        assert audio.info.bitrate_mode == BitrateMode.CBR
        assert audio.info.sample_rate == 44100
        tags = audio.tags
        assert tags is not None
        assert str(tags["TALB"]) == meta.title
        assert str(tags["TPE1"]) == meta.author
        assert str(tags["TRCK"]) == f"{number}/3"
        assert str(tags["TXXX:ISBN"]) == meta.isbn
        (picture,) = tags.getall("APIC")
        assert picture.mime == "image/jpeg"
        assert picture.data == cover_bytes
    assert str(MP3(mp3s[1]).tags["TIT2"]) == 'Chapter II: A/B "Test"'


def test_google_profile_never_splits_chapters(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    out = build_zip_mp3(
        body_chapters, meta, None, tmp_path / "g.zip", profile="google", max_file_ms=1000
    )
    with zipfile.ZipFile(out) as archive:
        assert len(archive.namelist()) == 3


def test_spotify_splits_long_chapters_at_a_pause_under_the_limit(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    limit_ms = 4000  # stands in for Spotify's two hours; chapters last 6.1, 4.8 and 6.5 s
    out = build_zip_mp3(
        body_chapters, meta, None, tmp_path / "s.zip", profile="spotify", max_file_ms=limit_ms
    )
    paths = extract(out, tmp_path / "files")
    assert [p.name for p in paths] == [
        "01 Chapter I (Part 1).mp3",
        "02 Chapter I (Part 2).mp3",
        "03 Chapter II A B Test (Part 1).mp3",
        "04 Chapter II A B Test (Part 2).mp3",
        "05 Chapter III (Part 1).mp3",
        "06 Chapter III (Part 2).mp3",
    ]
    lengths_ms = [MP3(path).info.length * 1000 for path in paths]
    assert all(length <= limit_ms + 60 for length in lengths_ms)  # 60 ms: whole MP3 frames
    # Chapter I pauses from 2.25 to 2.85 s between its two bursts: the cut falls inside it.
    assert 2250 <= lengths_ms[0] <= 2850 + 60
    assert sum(lengths_ms[:2]) == pytest.approx(body_chapters[0].duration_ms, abs=120)
    assert str(MP3(paths[1]).tags["TIT2"]) == "Chapter I (Part 2)"
    assert str(MP3(paths[1]).tags["TRCK"]) == "2/6"


def test_spotify_without_isbn_is_not_ready(
    tmp_path: Path, body_chapters: list[ChapterAudio]
) -> None:
    with pytest.raises(ExportNotReady) as raised:
        build_zip_mp3(
            body_chapters,
            BookMetadata(title="No ISBN"),
            None,
            tmp_path / "s.zip",
            profile="spotify",
        )
    assert raised.value.status == 409
    assert raised.value.problem()["missing"] == ["isbn"]
    assert list(tmp_path.iterdir()) == []


def test_split_uses_the_fewest_files_and_falls_back_to_even_cuts() -> None:
    spans = split_at_pauses(10_000, max_file_ms=4_000, find_pause=lambda low, high, target: None)
    assert spans == [(0, 3333), (3333, 6666), (6666, 10_000)]
    assert all(end - start <= 4_000 for start, end in spans)


def test_split_prefers_the_pause_but_never_breaks_the_limit() -> None:
    asked = []

    def pause_at_5800(low: int, high: int, target: int) -> int | None:
        asked.append((low, high, target))
        return 5_800 if low <= 5_800 <= high else None

    spans = split_at_pauses(10_000, max_file_ms=6_000, find_pause=pause_at_5800)
    assert spans == [(0, 5_800), (5_800, 10_000)]
    assert asked == [(4_000, 6_000, 5_000)]  # the search window keeps both parts legal
