"""The export job: build one package from the chapter masters and store it.

Idempotent: a package that already succeeded is left as it is; otherwise it is built again
from the masters into the same blob key, so a re-run after a crash replaces a partial build.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from khipu.audio import service as audio
from khipu.core.errors import KhipuError
from khipu.core.models import utcnow
from khipu.core.storage import BlobKeys, sha256_file
from khipu.jobs.runner import JobContext, Task
from khipu.manuscripts import service as manuscripts
from khipu.packaging import repository
from khipu.packaging.acx import ACXOptions, build_acx
from khipu.packaging.book import BookMetadata, ChapterAudio, Cover, SegmentTiming, WordTiming
from khipu.packaging.compliance import ComplianceReport
from khipu.packaging.encoding import safe_file_stem
from khipu.packaging.epub3 import build_epub3
from khipu.packaging.m4b import M4BOptions, build_m4b
from khipu.packaging.mp3zip import build_zip_mp3
from khipu.packaging.report_page import loudness_curve, render_report_page
from khipu.packaging.service import EXPORT, report_page_key
from khipu.projects import service as projects
from khipu.projects.schemas import ProjectSettings

if TYPE_CHECKING:  # other modules' tables, for annotations only
    from khipu.manuscripts.models import Chapter, Segment
    from khipu.projects.models import Project

EXPORT_TIMEOUT_SECONDS = 3 * 3600
FORMAT_LABELS = {"m4b": "M4B", "acx": "ACX", "zip_mp3": "MP3", "epub3": "EPUB 3"}
CURVE_POINTS = 600


@dataclass(frozen=True)
class Built:
    path: Path
    report: dict[str, Any]
    failure: str | None = None  # the package is failed (e.g. ACX rules broken, by setting)
    compliance: ComplianceReport | None = None


@dataclass(frozen=True)
class ExportPlan:
    package_id: UUID
    format: str
    profile: str | None
    version: int
    readiness: dict[str, Any] | None
    project: Project
    settings: ProjectSettings
    meta: BookMetadata
    cover: Cover | None
    chapters: tuple[tuple[Chapter, tuple[Segment, ...]], ...]


async def export_package(ctx: JobContext) -> dict[str, Any]:
    package_id = UUID(ctx.job.params["package_id"])
    plan = await _plan(ctx, package_id)
    if plan is None:
        return {"package_id": str(package_id)}
    try:
        with tempfile.TemporaryDirectory(prefix="khipu-export-") as scratch:
            workdir = Path(scratch)
            chapters = await _download_masters(ctx, plan, workdir)
            await ctx.progress(0.2, force=True)
            built = await _build(ctx, plan, chapters, workdir)
            await ctx.progress(0.9, force=True)
            stored = await _store(ctx, plan, built)
    except Exception as error:
        detail = (
            error.detail
            if isinstance(error, KhipuError)
            else f"Export failed ({type(error).__name__})."
        )
        await _finish(ctx, package_id, status="failed", error=detail)
        raise
    return stored


async def _plan(ctx: JobContext, package_id: UUID) -> ExportPlan | None:
    async with ctx.transaction() as session:
        package = await repository.get(session, package_id, for_update=True)
        if package is None or package.status == "succeeded":
            return None
        package.status = "running"
        project = await projects.get_project(session, package.project_id)
        by_chapter = await manuscripts.segments_by_chapter(session, project.id)
        chapters = [
            (chapter, tuple(by_chapter.get(chapter.id, [])))
            for chapter in await manuscripts.chapters_of(session, project.id, included_only=True)
        ]
        cover = (
            Cover(await ctx.runtime.blobs.get_bytes(project.cover_key))
            if project.cover_key
            else None
        )
        return ExportPlan(
            package_id=package.id,
            format=package.format,
            profile=package.profile,
            version=package.version,
            readiness=(package.report or {}).get("readiness"),
            project=project,
            settings=projects.settings_of(project),
            meta=BookMetadata(
                title=project.title,
                author=project.author,
                narrator=project.narrator,
                publisher=project.publisher,
                year=project.year,
                genre=project.genre,
                description=project.description,
                language=project.language,
                isbn=project.isbn,
                copyright=project.copyright,
            ),
            cover=cover,
            chapters=tuple(chapters),
        )


async def _download_masters(ctx: JobContext, plan: ExportPlan, workdir: Path) -> list[ChapterAudio]:
    chapters = []
    for index, (chapter, segments) in enumerate(plan.chapters):
        if chapter.master_key is None or chapter.duration_ms is None:
            raise KhipuError(f"Chapter {chapter.title!r} has no master; run synthesis first.")
        path = workdir / f"chapter-{index:04d}.flac"
        await ctx.runtime.blobs.download_to(chapter.master_key, path)
        chapters.append(
            ChapterAudio(
                title=chapter.title,
                master_path=path,
                duration_ms=chapter.duration_ms,
                segments=segment_timings(chapter, segments),
            )
        )
    return chapters


def segment_timings(chapter: Chapter, segments: Sequence[Segment]) -> tuple[SegmentTiming, ...]:
    """Where each segment sits in the chapter master (from the stitch report), with its words."""
    placed = {item["id"]: item for item in (chapter.audio_report or {}).get("segments", [])}
    timings = []
    for segment in segments:
        place = placed.get(str(segment.id))
        if place is None:
            continue
        timings.append(
            SegmentTiming(
                segment_id=str(segment.id),
                text=segment.text,
                start_ms=place["start_ms"],
                end_ms=place["end_ms"],
                paragraph=segment.paragraph,
                kind=segment.kind,
                words=word_timings(segment.text, segment.word_boundaries or []),
            )
        )
    return tuple(timings)


def word_timings(text: str, boundaries: Sequence[dict[str, Any]]) -> tuple[WordTiming, ...]:
    """Engines report words with offsets into what they were sent (SSML for Azure); find each word
    in the reader's text, in order, so read-along can highlight it."""
    words, cursor = [], 0
    for boundary in boundaries:
        word = str(boundary.get("text", ""))
        found = text.find(word, cursor) if word else -1
        if found < 0:
            continue
        start = int(boundary["audio_offset_ms"])
        words.append(WordTiming(word, found, start, start + int(boundary["duration_ms"])))
        cursor = found + len(word)
    return tuple(words)


async def _build(
    ctx: JobContext, plan: ExportPlan, chapters: list[ChapterAudio], workdir: Path
) -> Built:
    out = workdir / "out"
    out.mkdir()
    export = plan.settings.export
    if plan.format == "m4b":
        options = M4BOptions(
            bitrate_kbps=export.m4b_bitrate_kbps, max_part_hours=export.m4b_max_part_hours
        )
        parts = await asyncio.to_thread(
            build_m4b, chapters, plan.meta, plan.cover, out, options=options
        )
        path = parts[0] if len(parts) == 1 else _zip(parts, workdir / "parts.zip")
        return Built(path, {"parts": [p.name for p in parts]})
    if plan.format == "acx":
        return await _build_acx(ctx, plan, chapters, workdir, out)
    if plan.format == "zip_mp3":
        path = await asyncio.to_thread(
            build_zip_mp3,
            chapters,
            plan.meta,
            plan.cover,
            workdir / "book.zip",
            profile=plan.profile,
        )
        return Built(path, {"profile": plan.profile})
    path = await asyncio.to_thread(
        build_epub3, chapters, plan.meta, plan.cover, workdir / "book.epub"
    )
    return Built(path, {"read_along": "per word" if _has_words(chapters) else "per segment"})


def _has_words(chapters: Sequence[ChapterAudio]) -> bool:
    return any(segment.words for chapter in chapters for segment in chapter.segments)


async def _build_acx(
    ctx: JobContext, plan: ExportPlan, chapters: list[ChapterAudio], workdir: Path, out: Path
) -> Built:
    meta = plan.meta
    opening_text = f"{meta.title}. Written by {meta.author}. Narrated by {meta.narrator}."
    closing_text = f"The End. {meta.copyright}"
    async with ctx.transaction() as session:
        opening = await audio.render_announcement(
            session, ctx.runtime, plan.project, opening_text, workdir
        )
        closing = await audio.render_announcement(
            session, ctx.runtime, plan.project, closing_text, workdir
        )
    export = plan.settings.export
    package = await asyncio.to_thread(
        build_acx,
        chapters,
        meta,
        out,
        opening_credits=ChapterAudio("Opening Credits", opening.master_path, opening.duration_ms),
        closing_credits=ChapterAudio("Closing Credits", closing.master_path, closing.duration_ms),
        options=ACXOptions(
            sample_start_ms=export.acx_sample_start_ms,
            sample_chapter=export.acx_sample_chapter,
            sample_length_ms=export.acx_sample_length_ms,
        ),
        cover=plan.cover,
    )
    curves = {path.name: await asyncio.to_thread(_curve, path) for path in package.files}
    report = {"compliance": package.report.as_dict(), "loudness_curves": curves}
    (out / "ACX compliance report.json").write_text(json.dumps(report["compliance"], indent=2))
    path = _zip([*package.files, out / "ACX compliance report.json"], workdir / "acx.zip")
    failing = [f.name for f in package.report.files if not f.passed]
    failure = None
    if failing and export.acx_on_failure == "fail":
        failure = (
            f"{len(failing)} file(s) break ACX rules ({', '.join(failing[:3])}); see the report."
        )
    return Built(path, report, failure, compliance=package.report)


def _curve(path: Path) -> list[float]:
    levels = loudness_curve(path)
    step = max(1, len(levels) // CURVE_POINTS)
    return [round(min(levels[i : i + step]), 1) for i in range(0, len(levels), step)]


def _zip(paths: Sequence[Path], target: Path) -> Path:
    """Audio is already compressed: store it."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in paths:
            archive.write(path, arcname=path.name)
    return target


async def _store(ctx: JobContext, plan: ExportPlan, built: Built) -> dict[str, Any]:
    extension = built.path.suffix.lstrip(".")
    key = BlobKeys.project(
        ctx.tenant_id, plan.project.id, "packages", f"{plan.package_id}.{extension}"
    )
    size, digest = built.path.stat().st_size, await asyncio.to_thread(sha256_file, built.path)
    filename = (
        f"{safe_file_stem(plan.project.title, fallback='audiobook')} - "
        f"{FORMAT_LABELS[plan.format]} v{plan.version}.{extension}"
    )
    if built.failure is None:
        await ctx.runtime.blobs.put_file(key, built.path)
    page = render_report_page(
        built.compliance,
        plan.readiness,
        title=f"{plan.project.title} — {FORMAT_LABELS[plan.format]} v{plan.version}",
        loudness_curves=built.report.get("loudness_curves"),
    )
    await ctx.runtime.blobs.put_bytes(
        report_page_key(ctx.tenant_id, plan.project.id, plan.package_id),
        page.encode(),
        content_type="text/html; charset=utf-8",
    )
    await _finish(
        ctx,
        plan.package_id,
        status="failed" if built.failure else "succeeded",
        error=built.failure,
        report=built.report,
        blob_key=None if built.failure else key,
        size=size,
        sha256=digest,
        filename=filename,
    )
    return {
        "package_id": str(plan.package_id),
        "size": size,
        "sha256": digest,
        "passed": built.failure is None,
    }


async def _finish(
    ctx: JobContext, package_id: UUID, *, status: str, error: str | None = None, **fields: Any
) -> None:
    async with ctx.transaction() as session:
        package = await repository.get(session, package_id, for_update=True)
        if package is None:
            return
        report = fields.pop("report", None)
        if report is not None:
            package.report = {**(package.report or {}), **report}
        for name, value in fields.items():
            setattr(package, name, value)
        package.status, package.error, package.finished_at = status, error, utcnow()


TASKS = [Task(EXPORT, export_package, timeout_seconds=EXPORT_TIMEOUT_SECONDS)]
