"""ACX export: MP3 format read back with mutagen, compliance measured and cross-checked, retail
sample, credits, cover problems reported rather than crashing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from mutagen.mp3 import MONO, MP3, BitrateMode

from khipu.core.ffmpeg import run_ffmpeg
from khipu.packaging.acx import (
    ACXOptions,
    ACXPackage,
    build_acx,
    plan_retail_sample,
    section_file_names,
)
from khipu.packaging.book import BookMetadata, ChapterAudio, Cover, InvalidPackageInput
from khipu.packaging.compliance import SYNTHETIC_NARRATION_NOTE, check_acx_file
from tests.packaging.conftest import MasterSpec, chapter_audio, write_master

EXPECTED_NAMES = [
    "00 Opening Credits.mp3",
    "01 Chapter I.mp3",
    "02 Chapter II A B Test.mp3",
    "03 Chapter III.mp3",
    "04 Closing Credits.mp3",
    "Retail Sample.mp3",
]


@pytest.fixture(scope="module")
def package(
    tmp_path_factory: pytest.TempPathFactory,
    body_chapters: list[ChapterAudio],
    credits: tuple[ChapterAudio, ChapterAudio],
    meta: BookMetadata,
    cover_bytes: bytes,
) -> ACXPackage:
    opening, closing = credits
    return build_acx(
        body_chapters,
        meta,
        tmp_path_factory.mktemp("acx"),
        opening_credits=opening,
        closing_credits=closing,
        options=ACXOptions(sample_chapter=2, sample_start_ms=1000),
        cover=Cover(cover_bytes),
    )


def astats_levels(path: Path) -> tuple[float, float]:
    """Whole-file RMS and peak (dBFS) as ffmpeg's astats measures them: the independent check."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as printed:
        run_ffmpeg(
            [
                *("-i", str(path), "-af"),
                "astats=metadata=1:measure_perchannel=none,"
                f"ametadata=mode=print:file={printed.name}",
                *("-f", "null", "-"),
            ]
        )
        values = dict(
            line.split("=", 1)
            for line in Path(printed.name).read_text().splitlines()
            if line.startswith("lavfi.astats.Overall.")
        )  # later frames overwrite earlier ones: the last carries the whole file's figures
    return (
        float(values["lavfi.astats.Overall.RMS_level"]),
        float(values["lavfi.astats.Overall.Peak_level"]),
    )


def test_files_are_named_in_reading_order(package: ACXPackage) -> None:
    assert [path.name for path in package.files] == EXPECTED_NAMES
    assert package.retail_sample == package.files[-1]
    directory = package.files[0].parent
    assert sorted(p.name for p in directory.iterdir()) == sorted(EXPECTED_NAMES)


def test_every_mp3_is_192_kbps_cbr_44100_hz_mono(package: ACXPackage) -> None:
    for path in package.files:
        info = MP3(path).info
        assert round(info.bitrate / 1000) == 192, path.name
        assert info.bitrate_mode == BitrateMode.CBR, path.name
        assert info.sample_rate == 44100, path.name
        assert info.channels == 1, path.name
        assert info.mode == MONO, path.name  # channel mode mono, not joint stereo


def test_mp3_durations_match_the_masters(
    package: ACXPackage,
    body_chapters: list[ChapterAudio],
    credits: tuple[ChapterAudio, ChapterAudio],
) -> None:
    sections = [credits[0], *body_chapters, credits[1]]
    for path, entry, section in zip(package.files, package.report.files, sections, strict=False):
        # Decoded (encoder delay and padding removed, as players do): exact to a few ms.
        assert entry.duration_ms == pytest.approx(section.duration_ms, abs=3), path.name
        # mutagen counts whole frames: within two 26 ms frames.
        assert MP3(path).info.length * 1000 == pytest.approx(section.duration_ms, abs=60)


def test_report_has_one_entry_per_file_and_agrees_with_astats(package: ACXPackage) -> None:
    report = package.report
    assert [entry.name for entry in report.files] == EXPECTED_NAMES
    for path, entry in zip(package.files, report.files, strict=True):
        rms, peak = astats_levels(path)
        assert entry.loudness.rms_db == pytest.approx(rms, abs=0.5), path.name
        assert entry.loudness.peak_db == pytest.approx(peak, abs=0.5), path.name
        assert entry.bitrate_kbps == 192
        assert entry.cbr
        assert (entry.sample_rate, entry.channels) == (44100, 1)


def test_chapters_and_credits_mastered_within_acx_ranges_pass(package: ACXPackage) -> None:
    for entry in package.report.files[:-1]:
        failed = [rule.rule for rule in entry.rules if not rule.passed]
        assert failed == [], entry.name
        assert entry.passed


def test_short_chapter_gives_all_its_narration_to_the_sample(package: ACXPackage) -> None:
    # Chapter III speaks from 0.7 to 4.5 s: far less than the 3 minutes asked for, so the sample
    # takes all of it, 0.7 s head tone + 3.8 s narration + 2.0 s tail tone, and says so.
    sample = package.report.files[-1]
    assert sample.duration_ms == pytest.approx(6500, abs=30)
    assert 500 <= sample.loudness.head_silence_ms <= 1000
    assert 1000 <= sample.loudness.tail_silence_ms <= 5000
    (length_rule,) = [rule for rule in sample.rules if rule.rule == "retail_sample_length"]
    assert not length_rule.passed  # the test book is far shorter than ACX's one minute
    assert any("shorter than ACX's minimum" in note for note in package.report.notes)


def test_notes_always_say_synthetic_narration_policy_is_the_publishers_to_check(
    package: ACXPackage,
) -> None:
    assert package.report.notes[0] == SYNTHETIC_NARRATION_NOTE


def test_portrait_cover_fixture_is_reported_not_square_and_too_small(
    package: ACXPackage,
) -> None:
    cover = package.report.cover
    assert cover is not None
    assert (cover.width, cover.height, cover.format) == (1400, 2100, "JPEG")
    assert "cover is 1400×2100; it must be square" in cover.problems
    assert "cover is 1400×2100; it must be at least 2400×2400 pixels" in cover.problems
    assert not package.report.passed


def test_report_is_json_ready(package: ACXPackage) -> None:
    data = json.loads(json.dumps(package.report.as_dict()))
    assert data["passed"] is False
    assert data["files"][1]["name"] == "01 Chapter I.mp3"
    assert data["files"][1]["passed"] is True
    assert {rule["rule"] for rule in data["files"][1]["rules"]} >= {
        "rms",
        "peak",
        "noise_floor",
        "head_room_tone",
        "tail_room_tone",
        "duration",
        "bitrate",
        "constant_bitrate",
        "sample_rate",
        "channel_mode",
    }
    assert data["cover"]["problems"]


def test_too_quiet_chapter_fails_the_rms_rule(
    tmp_path: Path,
    credits: tuple[ChapterAudio, ChapterAudio],
    meta: BookMetadata,
) -> None:
    spec = MasterSpec(bursts=(2.0, 1.5), speech_db=-28.0)
    path = write_master(tmp_path / "quiet.flac", spec)
    quiet = chapter_audio(path, spec, title="Quiet", number=1)
    package = build_acx(
        [quiet],
        meta,
        tmp_path / "acx",
        opening_credits=credits[0],
        closing_credits=credits[1],
    )
    entry = package.report.files[1]
    assert entry.name == "01 Quiet.mp3"
    rules = {rule.rule: rule for rule in entry.rules}
    assert not rules["rms"].passed
    assert entry.loudness.rms_db == pytest.approx(-30, abs=1.5)
    assert rules["rms"].required == "-23 to -18 dB"
    assert rules["peak"].passed and rules["noise_floor"].passed
    assert not entry.passed
    assert package.report.files[0].passed  # the credits are fine


def test_vbr_joint_stereo_mp3_fails_the_format_rules(
    tmp_path: Path, body_chapters: list[ChapterAudio]
) -> None:
    mp3 = tmp_path / "vbr.mp3"
    run_ffmpeg(
        [
            *("-i", str(body_chapters[0].master_path), "-ac", "2", "-c:a", "libmp3lame"),
            *("-q:a", "4", "-joint_stereo", "1", "-ar", "48000", str(mp3)),
        ]
    )
    rules = {rule.rule: rule for rule in check_acx_file(mp3).rules}
    assert not rules["constant_bitrate"].passed
    assert rules["constant_bitrate"].measured == "VBR"
    assert not rules["sample_rate"].passed
    assert not rules["channel_mode"].passed
    assert rules["channel_mode"].measured == "joint stereo"


def test_sample_length_is_clamped_to_acx_range(body_chapters: list[ChapterAudio]) -> None:
    cut = plan_retail_sample(body_chapters[0], ACXOptions(sample_length_ms=10_000))
    assert any("clamped to 60 s" in note for note in cut.notes)
    cut = plan_retail_sample(body_chapters[0], ACXOptions(sample_length_ms=900_000))
    assert any("clamped to 300 s" in note for note in cut.notes)


@pytest.fixture(scope="module")
def long_chapter(tmp_path_factory: pytest.TempPathFactory) -> ChapterAudio:
    """80 s of narration in 5 s segments with 1 s pauses: room for a real 1-minute sample."""
    spec = MasterSpec(bursts=(5.0,) * 14, pause=1.0)
    path = write_master(tmp_path_factory.mktemp("long") / "long.flac", spec)
    return chapter_audio(path, spec, title="Long", number=7)


def test_sample_starts_and_ends_on_segment_boundaries(long_chapter: ChapterAudio) -> None:
    # Segments start at 0.75, 6.75, 12.75, ... s; each lasts 5 s.
    cut = plan_retail_sample(
        long_chapter, ACXOptions(sample_start_ms=10_000, sample_length_ms=60_000)
    )
    # 60 s less 0.75 s head and 2 s tail room tone leaves 57.25 s of narration, widened to
    # whole segments: from the one under way at 10 s to the one under way at 64 s.
    assert cut.start_ms == 6_750
    assert cut.end_ms == 65_750
    assert cut.notes == ()


def test_sample_moves_earlier_rather_than_run_past_the_narration(
    long_chapter: ChapterAudio,
) -> None:
    cut = plan_retail_sample(
        long_chapter, ACXOptions(sample_start_ms=70_000, sample_length_ms=60_000)
    )
    speech_end = 0.75 + 14 * 5.0 + 13 * 1.0
    assert cut.end_ms == round(speech_end * 1000)
    assert cut.start_ms == 24_750  # a segment start, early enough for a full minute
    assert cut.head_room_tone_ms + (cut.end_ms - cut.start_ms) + cut.tail_room_tone_ms >= 60_000


def test_sample_never_starts_in_the_head_room_tone(body_chapters: list[ChapterAudio]) -> None:
    cut = plan_retail_sample(body_chapters[0], ACXOptions(sample_start_ms=0))
    assert cut.start_ms == 750  # the first segment: the head room tone is added separately
    assert cut.end_ms == 4050  # the end of the last segment
    assert cut.head_room_tone_ms == 750


def test_titles_never_become_paths() -> None:
    sections = [
        ChapterAudio("Opening", Path("a.flac"), 1),
        ChapterAudio("../../etc/passwd", Path("b.flac"), 1),
        ChapterAudio('CON: <"x"> | *?', Path("c.flac"), 1),
        ChapterAudio("\x00\x1f", Path("d.flac"), 1),
        ChapterAudio("Closing", Path("e.flac"), 1),
    ]
    names = section_file_names(sections)
    assert names == [
        "00 Opening Credits.mp3",
        "01 etc passwd.mp3",
        "02 CON x.mp3",
        "03 Chapter 3.mp3",
        "04 Closing Credits.mp3",
    ]
    assert all("/" not in name and "\\" not in name for name in names)


def test_sample_chapter_must_exist(
    tmp_path: Path,
    body_chapters: list[ChapterAudio],
    credits: tuple[ChapterAudio, ChapterAudio],
    meta: BookMetadata,
) -> None:
    with pytest.raises(InvalidPackageInput):
        build_acx(
            body_chapters,
            meta,
            tmp_path,
            opening_credits=credits[0],
            closing_credits=credits[1],
            options=ACXOptions(sample_chapter=3),
        )
