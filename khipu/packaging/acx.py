"""ACX (Audible) delivery: one MP3 per section (192 kbps CBR, 44.1 kHz, mono), opening and closing
credits, a 1–5 minute retail sample, and a compliance report measured on the files written.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from khipu.audio.loudness import measure
from khipu.core.ffmpeg import run_ffmpeg
from khipu.packaging.book import (
    BookMetadata,
    ChapterAudio,
    Cover,
    InvalidPackageInput,
    require_chapters,
)
from khipu.packaging.compliance import (
    SYNTHETIC_NARRATION_NOTE,
    ComplianceReport,
    FileReport,
    RuleResult,
    check_acx_cover,
    check_acx_file,
)
from khipu.packaging.encoding import (
    encode_mp3,
    mp3_output_args,
    read_master_format,
    run_in_parallel,
    safe_file_stem,
)

ACX_BITRATE_KBPS = 192
RETAIL_SAMPLE_MIN_MS = 60_000
RETAIL_SAMPLE_MAX_MS = 300_000
RETAIL_SAMPLE_NAME = "Retail Sample.mp3"
# Room tone around the sample, taken from the chapter's own head and tail: inside ACX's ranges.
SAMPLE_HEAD_ROOM_TONE_MS = 750
SAMPLE_TAIL_ROOM_TONE_MS = 2000
SAMPLE_FADE_IN_MS = 150
SAMPLE_FADE_OUT_MS = 750


@dataclass(frozen=True, slots=True)
class ACXOptions:
    sample_start_ms: int = 0  # within the sample chapter
    sample_chapter: int = 0  # index into the body chapters
    sample_length_ms: int = 180_000  # clamped to ACX's 1–5 minutes

    def __post_init__(self) -> None:
        if self.sample_start_ms < 0 or self.sample_chapter < 0 or self.sample_length_ms <= 0:
            raise InvalidPackageInput("retail sample start, chapter and length must be positive")


@dataclass(frozen=True, slots=True)
class ACXPackage:
    files: tuple[Path, ...]  # reading order: opening credits, chapters, closing credits, sample
    retail_sample: Path
    report: ComplianceReport  # one FileReport per MP3, in the order of `files`


@dataclass(frozen=True, slots=True)
class RetailSampleCut:
    """Where the sample's narration comes from, and what the publisher should know about it."""

    start_ms: int
    end_ms: int
    head_room_tone_ms: int  # taken from the chapter's head, never longer than its room tone
    tail_room_tone_ms: int  # taken from the chapter's tail
    notes: tuple[str, ...]


def build_acx(
    chapters: Sequence[ChapterAudio],
    meta: BookMetadata,
    out_dir: Path,
    *,
    opening_credits: ChapterAudio,
    closing_credits: ChapterAudio,
    options: ACXOptions = ACXOptions(),
    cover: Cover | None = None,
) -> ACXPackage:
    """Write "00 Opening Credits.mp3", "01 <title>.mp3" … "NN Closing Credits.mp3" and
    "Retail Sample.mp3" into `out_dir`, then measure each against the ACX rules.

    The cover, when given, is checked (ACX takes it as a separate upload, not inside the MP3s).
    """
    require_chapters(chapters)
    if options.sample_chapter >= len(chapters):
        raise InvalidPackageInput(
            f"retail sample chapter {options.sample_chapter} does not exist "
            f"(the book has {len(chapters)} chapters)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [opening_credits, *chapters, closing_credits]
    names = [*section_file_names(sections), RETAIL_SAMPLE_NAME]
    sample_chapter = chapters[options.sample_chapter]
    cut = plan_retail_sample(sample_chapter, options)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".acx-") as scratch_name:
        scratch = Path(scratch_name)
        jobs = [
            partial(
                encode_mp3,
                section.master_path,
                scratch / name,
                bitrate_kbps=ACX_BITRATE_KBPS,
                tags=_section_tags(meta, section, track=number, tracks=len(sections)),
            )
            for number, (section, name) in enumerate(zip(sections, names, strict=False))
        ]
        jobs.append(
            partial(_write_retail_sample, sample_chapter, cut, scratch / names[-1], meta=meta)
        )
        # Files move into place only once all are written: a failed export leaves no partial set.
        files = tuple(encoded.replace(out_dir / encoded.name) for encoded in run_in_parallel(jobs))
    sample_path = files[-1]
    reports = run_in_parallel([partial(check_acx_file, path) for path in files])
    reports[-1] = _with_sample_length_rule(reports[-1])
    notes = (SYNTHETIC_NARRATION_NOTE, *cut.notes)
    report = ComplianceReport(
        files=tuple(reports),
        cover=check_acx_cover(cover.data) if cover else None,
        notes=notes,
    )
    return ACXPackage(files=files, retail_sample=sample_path, report=report)


def section_file_names(sections: Sequence[ChapterAudio]) -> list[str]:
    """File names numbered so they sort in reading order: "00 Opening Credits.mp3",
    "01 <title>.mp3", …, "NN Closing Credits.mp3". Titles never become paths."""
    width = max(2, len(str(len(sections) - 1)))
    names = []
    for number, section in enumerate(sections):
        if number == 0:
            title = "Opening Credits"
        elif number == len(sections) - 1:
            title = "Closing Credits"
        else:
            title = safe_file_stem(section.title, fallback=f"Chapter {number}")
        names.append(f"{number:0{width}d} {title}.mp3")
    return names


def plan_retail_sample(chapter: ChapterAudio, options: ACXOptions) -> RetailSampleCut:
    """Choose the narration for the sample: inside the chapter's speech, the file 1–5 minutes
    long where the chapter allows, on segment boundaries when the chapter's segments are known."""
    notes = []
    length = min(max(options.sample_length_ms, RETAIL_SAMPLE_MIN_MS), RETAIL_SAMPLE_MAX_MS)
    if length != options.sample_length_ms:
        notes.append(
            f"retail sample length {options.sample_length_ms / 1000:g} s was clamped to "
            f"{length / 1000:g} s (ACX asks for 1–5 minutes)"
        )
    levels = measure(chapter.master_path)
    head = min(SAMPLE_HEAD_ROOM_TONE_MS, levels.head_silence_ms)
    tail = min(SAMPLE_TAIL_ROOM_TONE_MS, levels.tail_silence_ms)
    narration = length - head - tail
    speech_start = levels.head_silence_ms
    speech_end = max(speech_start, levels.duration_ms - levels.tail_silence_ms)
    start = min(max(options.sample_start_ms, speech_start), speech_end)
    if start + narration > speech_end:
        # Not enough narration after the requested start: begin earlier rather than run short.
        start = max(speech_start, speech_end - narration)
    end = min(start + narration, speech_end)
    start, end = _snap_to_segments(chapter, start, end, longest=RETAIL_SAMPLE_MAX_MS - head - tail)
    sample_ms = head + (end - start) + tail
    if sample_ms < RETAIL_SAMPLE_MIN_MS:
        notes.append(
            f"chapter {chapter.title!r} has only {(end - start) / 1000:.1f} s of narration to "
            f"offer; the {sample_ms / 1000:.1f} s retail sample is shorter than ACX's minimum "
            "of 1 minute"
        )
    return RetailSampleCut(
        start_ms=start,
        end_ms=end,
        head_room_tone_ms=head,
        tail_room_tone_ms=tail,
        notes=tuple(notes),
    )


def _snap_to_segments(
    chapter: ChapterAudio, start: int, end: int, *, longest: int
) -> tuple[int, int]:
    """Move [start, end) onto whole segments, so no sentence is cut: begin with the segment
    under way at `start`, finish with the one under way at the end unless that runs too long."""
    if not chapter.segments:
        return start, end
    starts = sorted(segment.start_ms for segment in chapter.segments)
    ends = sorted(segment.end_ms for segment in chapter.segments)
    begun = [at for at in starts if at <= start]
    snapped_start = begun[-1] if begun else starts[0]
    end -= max(0, start - snapped_start)  # starting earlier, end earlier too: keep the length
    later = [at for at in ends if at >= end and at - snapped_start <= longest]
    earlier = [at for at in ends if snapped_start < at <= end]
    if later:
        return snapped_start, later[0]
    if earlier:
        return snapped_start, earlier[-1]
    return start, end


def _write_retail_sample(
    chapter: ChapterAudio, cut: RetailSampleCut, target: Path, *, meta: BookMetadata
) -> Path:
    master = str(chapter.master_path)
    duration_ms = read_master_format(chapter.master_path).duration_ms
    body_ms = cut.end_ms - cut.start_ms
    fade_out_ms = min(SAMPLE_FADE_OUT_MS, body_ms // 2)
    # Room tone comes from the chapter's own head and tail, so it matches the narration's bed.
    inputs = [("-ss", f"{cut.start_ms}ms", "-to", f"{cut.end_ms}ms", "-i", master)]
    if cut.head_room_tone_ms:
        inputs.insert(0, ("-t", f"{cut.head_room_tone_ms}ms", "-i", master))
    if cut.tail_room_tone_ms:
        inputs.append(("-ss", f"{duration_ms - cut.tail_room_tone_ms}ms", "-i", master))
    body = 1 if cut.head_room_tone_ms else 0
    labels = "".join("[body]" if index == body else f"[{index}:a]" for index in range(len(inputs)))
    graph = (
        f"[{body}:a]afade=t=in:d={SAMPLE_FADE_IN_MS / 1000}"
        f",afade=t=out:st={(body_ms - fade_out_ms) / 1000}:d={fade_out_ms / 1000}[body];"
        f"{labels}concat=n={len(inputs)}:v=0:a=1[sample]"
    )
    args = ["-y", *(arg for options in inputs for arg in options)]
    args += ["-filter_complex", graph, "-map", "[sample]", "-map_metadata", "-1"]
    tags = {"title": "Retail Sample", "album": meta.title, "artist": meta.author}
    args += [arg for key, value in tags.items() if value for arg in ("-metadata", f"{key}={value}")]
    run_ffmpeg([*args, *mp3_output_args(bitrate_kbps=ACX_BITRATE_KBPS), "-f", "mp3", str(target)])
    return target


def _section_tags(
    meta: BookMetadata, section: ChapterAudio, *, track: int, tracks: int
) -> dict[str, str]:
    tags = {
        "title": section.title,
        "album": meta.title,
        "artist": meta.author,
        "album_artist": meta.author,
        "composer": meta.narrator,
        "track": f"{track + 1}/{tracks}",
    }
    return {key: value for key, value in tags.items() if value}


def _with_sample_length_rule(report: FileReport) -> FileReport:
    rule = RuleResult(
        rule="retail_sample_length",
        passed=RETAIL_SAMPLE_MIN_MS <= report.duration_ms <= RETAIL_SAMPLE_MAX_MS,
        measured=f"{report.duration_ms / 1000:.1f} s",
        required="1 to 5 min",
    )
    return dataclasses.replace(report, rules=(*report.rules, rule))
