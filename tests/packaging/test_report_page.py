"""The HTML compliance page: verdicts, rule tables, readiness, loudness plots, escaping."""

from __future__ import annotations

import pytest
from lxml import html

from khipu.packaging.book import ChapterAudio
from khipu.packaging.compliance import ComplianceReport, check_acx_cover, check_acx_file
from khipu.packaging.encoding import encode_mp3
from khipu.packaging.report_page import PLOT_WIDTH, loudness_curve, render_report_page
from tests.packaging.conftest import ROOM_TONE_DB, SPEECH_DB


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory, body_chapters: list[ChapterAudio], cover_bytes: bytes
) -> ComplianceReport:
    folder = tmp_path_factory.mktemp("report")
    good = encode_mp3(body_chapters[0].master_path, folder / "01 Good.mp3", bitrate_kbps=192)
    low = encode_mp3(body_chapters[1].master_path, folder / "02 Low <rate>.mp3", bitrate_kbps=128)
    return ComplianceReport(
        files=(check_acx_file(good), check_acx_file(low)),
        cover=check_acx_cover(cover_bytes),
        notes=("Publisher must check the synthetic narration policy.",),
    )


def test_loudness_curve_follows_room_tone_and_speech(body_chapters: list[ChapterAudio]) -> None:
    levels = loudness_curve(body_chapters[0].master_path, window_ms=250)
    assert len(levels) == 25  # 6.05 s in quarter seconds
    assert levels[0] == pytest.approx(ROOM_TONE_DB, abs=1.5)  # the head room tone
    assert max(levels) == pytest.approx(SPEECH_DB, abs=1.5)
    assert levels[-1] == pytest.approx(ROOM_TONE_DB, abs=1.5)


def test_page_shows_each_file_its_rules_and_the_verdict(
    report: ComplianceReport, body_chapters: list[ChapterAudio]
) -> None:
    curves = {chapter.title: loudness_curve(chapter.master_path) for chapter in body_chapters}
    page = render_report_page(
        report,
        {"missing": ["isbn", "opening credits"], "format": "acx"},
        title="Pride & Prejudice <ACX>",
        loudness_curves=curves,
    )
    tree = html.fromstring(page)
    assert tree.findtext(".//title") == "Pride & Prejudice <ACX>"
    assert tree.findtext(".//h1") == "Pride & Prejudice <ACX>"
    assert "Does not meet" in tree.find(".//p[@class='verdict fail']").text_content()
    headings = [h.text_content() for h in tree.findall(".//h2")]
    assert headings[:2] == ["01 Good.mp3", "02 Low <rate>.mp3"]
    rows = tree.findall(".//table")[1].findall(".//tbody/tr")
    bitrate = next(row for row in rows if row[0].text_content() == "bitrate")
    assert [cell.text_content() for cell in bitrate] == [
        "bitrate",
        "128 kbps",
        "at least 192 kbps",
        "fail",
    ]
    assert "cover is 1400×2100; it must be square" in page
    assert [li.text_content() for li in tree.xpath("//h2[.='Readiness']/following::ul[1]/li")] == [
        "isbn",
        "opening credits",
    ]
    svgs = tree.findall(".//svg")
    assert len(svgs) == len(body_chapters)
    captions = [caption.text_content() for caption in tree.findall(".//figcaption")]
    assert captions[1].startswith('Chapter II: A/B "Test"')


def test_long_curves_are_reduced_to_one_point_per_pixel(report: ComplianceReport) -> None:
    page = render_report_page(report, None, title="t", loudness_curves={"long": [-20.0] * 10_000})
    (polyline,) = html.fromstring(page).findall(".//polyline")
    assert len(polyline.get("points").split()) == PLOT_WIDTH


def test_passing_report_says_so(report: ComplianceReport) -> None:
    passing = ComplianceReport(files=report.files[:1], cover=None, notes=())
    assert passing.passed
    tree = html.fromstring(render_report_page(passing, None, title="ok"))
    assert tree.find(".//p[@class='verdict pass']") is not None
    assert tree.findall(".//svg") == []


def test_readiness_alone_can_be_rendered() -> None:
    page = render_report_page(None, {"missing": []}, title="Nothing yet")
    tree = html.fromstring(page)
    assert tree.find(".//p[@class='pass']").text_content() == "Nothing is missing."
    assert tree.find(".//p[@class='verdict pass']") is None  # no report, no verdict
