"""M4B export: chapters in both forms, tags, cover, AAC format, fast start, gapless joins, parts."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from mutagen.mp4 import MP4, MP4Cover
from PIL import Image

from khipu.core.ffmpeg import run_ffmpeg
from khipu.packaging import m4b
from khipu.packaging.book import BookMetadata, ChapterAudio, Cover, InvalidPackageInput
from khipu.packaging.cover import UnsupportedCover
from khipu.packaging.m4b import M4BOptions, build_m4b, split_into_parts
from tests.packaging.conftest import BODY_SPECS, BODY_TITLES, SAMPLE_RATE
from tests.packaging.mp4boxes import (
    chapter_references,
    edit_list,
    handler,
    read_boxes,
    track_id,
)

EXPECTED_STARTS_MS = [
    sum(spec.samples for spec in BODY_SPECS[:i]) * 1000 / SAMPLE_RATE
    for i in range(len(BODY_SPECS))
]
TOTAL_SAMPLES = sum(spec.samples for spec in BODY_SPECS)


@pytest.fixture(scope="module")
def book(
    tmp_path_factory: pytest.TempPathFactory,
    body_chapters: list[ChapterAudio],
    meta: BookMetadata,
    cover_bytes: bytes,
) -> Path:
    out = tmp_path_factory.mktemp("m4b")
    (path,) = build_m4b(body_chapters, meta, Cover(cover_bytes), out)
    return path


def ffmetadata(path: Path) -> str:
    return run_ffmpeg(["-i", str(path), "-f", "ffmetadata", "-"]).decode()


def ffmetadata_chapters(path: Path) -> list[tuple[float, str]]:
    """(start in ms, title) of every [CHAPTER] section ffmpeg reports."""
    chapters = []
    for section in ffmetadata(path).split("[CHAPTER]")[1:]:
        fields = dict(line.split("=", 1) for line in section.strip().splitlines() if "=" in line)
        numerator, denominator = fields["TIMEBASE"].split("/")
        start_ms = int(fields["START"]) * int(numerator) * 1000 / int(denominator)
        chapters.append((start_ms, fields["title"].replace("\\", "")))
    return chapters


def decode(path: Path) -> np.ndarray:
    return np.frombuffer(run_ffmpeg(["-i", str(path), "-ac", "1", "-f", "f32le", "-"]), "<f4")


def decode_masters(chapters: list[ChapterAudio]) -> np.ndarray:
    return np.concatenate([decode(chapter.master_path) for chapter in chapters])


def test_file_is_named_after_the_book(book: Path) -> None:
    assert book.name == "Pride and Prejudice.m4b"
    assert [p.name for p in book.parent.iterdir()] == [book.name]  # no scratch files left


def test_ffmpeg_reads_every_chapter_title_and_start(book: Path) -> None:
    chapters = ffmetadata_chapters(book)
    assert [title for _, title in chapters] == list(BODY_TITLES)
    for (start_ms, _), expected in zip(chapters, EXPECTED_STARTS_MS, strict=True):
        assert start_ms == pytest.approx(expected, abs=2)


def test_mutagen_reads_nero_chapters(book: Path) -> None:
    chapters = MP4(book).chapters
    assert chapters is not None
    assert [chapter.title for chapter in chapters] == list(BODY_TITLES)
    for chapter, expected in zip(chapters, EXPECTED_STARTS_MS, strict=True):
        assert chapter.start * 1000 == pytest.approx(expected, abs=2)


def test_audio_track_references_a_quicktime_chapter_text_track(book: Path) -> None:
    (moov,) = [box for box in read_boxes(book) if box.kind == "moov"]
    tracks = {track_id(trak): trak for trak in moov.find("trak")}
    (audio,) = [trak for trak in tracks.values() if handler(trak) == "soun"]
    referenced = chapter_references(audio)
    assert referenced, "the audio track has no tref/chap"
    assert [handler(tracks[ref]) for ref in referenced] == ["text"]
    assert moov.find("udta", "chpl"), "the Nero chpl atom is missing"


def test_tags_and_cover_are_written(book: Path, meta: BookMetadata, cover_bytes: bytes) -> None:
    tags = MP4(book).tags
    assert tags is not None
    assert tags["©nam"] == [meta.title]
    assert tags["©alb"] == [meta.title]
    assert tags["©ART"] == [meta.author]
    assert tags["©wrt"] == [meta.narrator]
    assert tags["©day"] == ["1813"]
    assert tags["©gen"] == [meta.genre]
    assert tags["desc"] == [meta.description]
    assert tags["cprt"] == [meta.copyright]
    assert tags["©pub"] == [meta.publisher]
    assert tags["stik"] == [2]
    assert bytes(tags["----:com.apple.iTunes:ISBN"][0]) == meta.isbn.encode()
    assert bytes(tags["----:com.apple.iTunes:LANGUAGE"][0]) == b"en"
    (cover,) = tags["covr"]
    assert cover.imageformat == MP4Cover.FORMAT_JPEG
    assert bytes(cover) == cover_bytes


def test_ffmpeg_reads_the_tags_too(book: Path, meta: BookMetadata) -> None:
    text = ffmetadata(book)
    assert f"artist={meta.author}" in text
    assert f"ISBN={meta.isbn}" in text
    assert "media_type=2" in text


def test_audio_is_mono_aac_at_the_default_bitrate(book: Path) -> None:
    info = MP4(book).info
    assert info.codec == "mp4a.40.2"  # AAC-LC
    assert info.channels == 1
    assert info.sample_rate == SAMPLE_RATE
    assert info.bitrate == pytest.approx(64_000, rel=0.15)


def test_index_comes_before_the_media_with_room_for_tag_edits(book: Path) -> None:
    boxes = read_boxes(book)
    kinds = [box.kind for box in boxes]
    assert kinds[0] == "ftyp"
    assert kinds.index("moov") < kinds.index("mdat")
    (moov,) = [box for box in boxes if box.kind == "moov"]
    padding = [box for box in moov.find("udta", "meta")[0].children if box.kind == "free"]
    assert padding and padding[0].size >= m4b.TAG_PADDING_BYTES


def test_priming_is_skipped_by_the_edit_list_and_the_length_is_exact(book: Path) -> None:
    (moov,) = [box for box in read_boxes(book) if box.kind == "moov"]
    (audio,) = [trak for trak in moov.find("trak") if handler(trak) == "soun"]
    assert edit_list(audio) == [(TOTAL_SAMPLES, m4b.AAC_FRAME)]


def test_joined_pieces_play_without_gaps_or_clicks(
    book: Path, body_chapters: list[ChapterAudio]
) -> None:
    source = decode_masters(body_chapters)
    played = decode(book)
    # A priming gap at a join would shift everything after it; exact length and a high SNR
    # at zero lag rule that out.
    assert len(played) == len(source) == TOTAL_SAMPLES
    assert snr_db(played, source) > 20
    for start_ms in EXPECTED_STARTS_MS[1:]:
        join = round(start_ms * SAMPLE_RATE / 1000)
        around = slice(join - 2205, join + 2205)  # ±50 ms
        # Room tone on both sides: a click or a dropout would stand out from it.
        assert np.max(np.abs(played[around] - source[around])) < 0.003
        assert rms_db(played[around]) == pytest.approx(rms_db(source[around]), abs=1.5)


def test_pieces_cut_inside_chapters_join_exactly(
    tmp_path: Path,
    body_chapters: list[ChapterAudio],
    meta: BookMetadata,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Long chapters are cut into several pieces, mid-speech; shrink the piece size to see it.
    monkeypatch.setattr(m4b, "MIN_PIECE_SECONDS", 1)
    monkeypatch.setattr(m4b, "MAX_PIECE_SECONDS", 1)
    (path,) = build_m4b(body_chapters, meta, None, tmp_path)
    source = decode_masters(body_chapters)
    played = decode(path)
    assert len(played) == len(source)
    assert snr_db(played, source) > 20
    # Every second, mid-speech included, plays as a single encode would: no local breakdown.
    for second in range(1, int(len(source) / SAMPLE_RATE)):
        window = slice(second * SAMPLE_RATE - 2048, second * SAMPLE_RATE + 2048)
        if rms_db(source[window]) > -40:
            assert snr_db(played[window], source[window]) > 15
    assert [title for _, title in ffmetadata_chapters(path)] == list(BODY_TITLES)


def test_long_book_is_split_into_parts_at_chapter_boundaries(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    limit_s = 11.5  # chapters last 6.1 s, 4.8 s and 6.6 s
    paths = build_m4b(
        body_chapters,
        meta,
        None,
        tmp_path,
        options=M4BOptions(bitrate_kbps=96, max_part_hours=limit_s / 3600),
    )
    assert [p.name for p in paths] == [
        "Pride and Prejudice Part 1.m4b",
        "Pride and Prejudice Part 2.m4b",
    ]
    titles = [[title for _, title in ffmetadata_chapters(path)] for path in paths]
    assert titles == [list(BODY_TITLES[:2]), list(BODY_TITLES[2:])]
    for number, path in enumerate(paths, start=1):
        mp4 = MP4(path)
        assert mp4.tags is not None
        assert mp4.tags["trkn"] == [(number, 2)]
        assert mp4.tags["©nam"] == [f"{meta.title}, Part {number}"]
        assert mp4.info.length <= limit_s
        assert mp4.info.bitrate == pytest.approx(96_000, rel=0.15)
        assert ffmetadata_chapters(path)[0][0] == 0


def test_parts_are_as_few_as_the_limit_allows_and_even() -> None:
    assert split_into_parts([63, 41, 77, 50], max_part=108) == [
        range(0, 2),
        range(2, 3),
        range(3, 4),
    ]
    assert split_into_parts([10] * 6, max_part=35) == [range(0, 3), range(3, 6)]
    assert split_into_parts([10] * 6, max_part=None) == [range(0, 6)]


def test_a_chapter_longer_than_the_limit_gets_a_part_of_its_own() -> None:
    assert split_into_parts([5, 200, 5, 5], max_part=100) == [
        range(0, 1),
        range(1, 2),
        range(2, 4),
    ]


def test_masters_at_another_rate_or_in_stereo_are_resampled_to_mono(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    stereo_48k = tmp_path / "stereo-48k.flac"
    run_ffmpeg(
        ["-i", str(body_chapters[1].master_path), "-ac", "2", "-ar", "48000", str(stereo_48k)]
    )
    chapters = [body_chapters[0], ChapterAudio("Converted", stereo_48k, 0)]
    (path,) = build_m4b(chapters, meta, None, tmp_path / "out")
    info = MP4(path).info
    assert (info.channels, info.sample_rate) == (1, SAMPLE_RATE)
    starts = ffmetadata_chapters(path)
    assert starts[1][0] == pytest.approx(EXPECTED_STARTS_MS[1], abs=2)
    total_ms = (BODY_SPECS[0].samples + BODY_SPECS[1].samples) * 1000 / SAMPLE_RATE
    assert len(decode(path)) * 1000 / SAMPLE_RATE == pytest.approx(total_ms, abs=2)


def test_png_cover_is_embedded_as_png(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    png = io.BytesIO()
    Image.new("RGB", (1400, 1400), (120, 30, 60)).save(png, format="PNG")
    (path,) = build_m4b(body_chapters[:1], meta, Cover(png.getvalue()), tmp_path)
    tags = MP4(path).tags
    assert tags is not None
    (cover,) = tags["covr"]
    assert cover.imageformat == MP4Cover.FORMAT_PNG
    assert bytes(cover) == png.getvalue()


def test_cover_that_is_not_an_image_is_unsupported_media(
    tmp_path: Path, body_chapters: list[ChapterAudio], meta: BookMetadata
) -> None:
    with pytest.raises(UnsupportedCover) as raised:
        build_m4b(body_chapters, meta, Cover(b"%PDF-1.7 not an image"), tmp_path)
    assert raised.value.status == 415
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bitrate", [32, 63, 129, 320])
def test_bitrate_outside_64_to_128_kbps_is_refused(bitrate: int) -> None:
    with pytest.raises(InvalidPackageInput):
        M4BOptions(bitrate_kbps=bitrate)


def test_a_book_without_chapters_is_refused(tmp_path: Path, meta: BookMetadata) -> None:
    with pytest.raises(InvalidPackageInput):
        build_m4b([], meta, None, tmp_path)


def snr_db(played: np.ndarray, source: np.ndarray) -> float:
    error = played.astype(np.float64) - source
    return 10 * np.log10(np.sum(np.square(source, dtype=np.float64)) / np.sum(error**2))


def rms_db(samples: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(samples, dtype=np.float64)))
