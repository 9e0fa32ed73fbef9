"""The compliance report as one self-contained HTML page: verdict, per-file rules, cover problems,
readiness, and an inline SVG loudness plot per chapter with ACX's ranges drawn in.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from khipu.core.ffmpeg import run_ffmpeg
from khipu.packaging.compliance import (
    ACX_MAX_NOISE_FLOOR_DB,
    ACX_MAX_PEAK_DB,
    ACX_RMS_DB,
    ComplianceReport,
    FileReport,
)

PLOT_WIDTH = 640
PLOT_HEIGHT = 160
PLOT_FLOOR_DB = -90.0  # the bottom of the plot; quieter windows are drawn on it
PLOT_TOP_DB = 0.0
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 60rem; }
.verdict { font-size: 1.4rem; font-weight: 600; }
.pass { color: #17693b; } .fail { color: #b3261e; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
figure { margin: 0.5rem 0 1.5rem; } figcaption { font-size: 0.9rem; color: #555; }
.notes li { margin-bottom: 0.4rem; }
"""


def render_report_page(
    report: ComplianceReport | None,
    readiness: Mapping | None,
    *,
    title: str,
    loudness_curves: Mapping[str, Sequence[float]] | None = None,
) -> str:
    """A full HTML document; every value from the book or the files is escaped.

    `loudness_curves` maps a chapter (or file) name to its short-window RMS levels in dBFS, in
    time order; each becomes a plot with the ACX RMS band, peak ceiling and noise-floor lines.
    """
    sections = [f"<h1>{escape(title)}</h1>"]
    if report is not None:
        sections.append(_verdict(report.passed))
        sections += [_file_section(file_report) for file_report in report.files]
        if report.cover is not None:
            sections.append(_cover_section(report.cover.problems))
        if report.notes:
            items = "".join(f"<li>{escape(note)}</li>" for note in report.notes)
            sections.append(f'<h2>Notes</h2><ul class="notes">{items}</ul>')
    if readiness is not None:
        sections.append(_readiness_section(readiness))
    for name, levels in (loudness_curves or {}).items():
        sections.append(_loudness_figure(name, levels))
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _verdict(passed: bool) -> str:
    if passed:
        return '<p class="verdict pass">Meets the ACX technical requirements.</p>'
    return '<p class="verdict fail">Does not meet the ACX technical requirements yet.</p>'


def _file_section(report: FileReport) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{escape(rule.rule.replace('_', ' '))}</td>"
        f"<td>{escape(rule.measured)}</td>"
        f"<td>{escape(rule.required)}</td>"
        f'<td class="{_state(rule.passed)}">{"pass" if rule.passed else "fail"}</td>'
        "</tr>"
        for rule in report.rules
    )
    return (
        f'<h2 class="{_state(report.passed)}">{escape(report.name)}</h2>'
        "<table><thead><tr><th>Rule</th><th>Measured</th><th>Required</th><th></th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _cover_section(problems: Sequence[str]) -> str:
    if not problems:
        return '<h2>Cover</h2><p class="pass">The cover meets the requirements.</p>'
    items = "".join(f"<li>{escape(problem)}</li>" for problem in problems)
    return f'<h2>Cover</h2><ul class="fail">{items}</ul>'


def _readiness_section(readiness: Mapping) -> str:
    missing = readiness.get("missing")
    parts = ["<h2>Readiness</h2>"]
    if isinstance(missing, Sequence) and not isinstance(missing, str):
        if missing:
            items = "".join(f"<li>{escape(str(item))}</li>" for item in missing)
            parts.append(f'<p class="fail">Still missing:</p><ul>{items}</ul>')
        else:
            parts.append('<p class="pass">Nothing is missing.</p>')
    others = {key: value for key, value in readiness.items() if key != "missing"}
    if others:
        rows = "".join(
            f"<tr><th>{escape(str(key))}</th><td>{escape(str(value))}</td></tr>"
            for key, value in others.items()
        )
        parts.append(f"<table><tbody>{rows}</tbody></table>")
    return "".join(parts)


def _loudness_figure(name: str, levels: Sequence[float]) -> str:
    return (
        f"<figure>{loudness_svg(levels)}"
        f"<figcaption>{escape(name)}: short-window RMS (dBFS) over time; the green band is "
        "ACX's RMS range, the red line its peak ceiling, the grey line its noise-floor limit."
        "</figcaption></figure>"
    )


def loudness_curve(path: Path, *, window_ms: int = 1000) -> list[float]:
    """RMS level (dBFS) of each `window_ms` window of an audio file, from ffmpeg's astats, for
    the plots; silence reads as PLOT_FLOOR_DB."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as printed:
        run_ffmpeg(
            [
                *("-i", str(path), "-ac", "1", "-ar", "44100"),
                "-af",
                f"asetnsamples=n={44100 * window_ms // 1000}:p=0,"
                "astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=RMS_level,"
                f"ametadata=mode=print:key=lavfi.astats.Overall.RMS_level:file={printed.name}",
                *("-f", "null", "-"),
            ]
        )
        lines = Path(printed.name).read_text().splitlines()
    levels = []
    for line in lines:
        key, _, value = line.partition("=")
        if key == "lavfi.astats.Overall.RMS_level":
            level = float(value)
            levels.append(level if math.isfinite(level) else PLOT_FLOOR_DB)
    return levels


def loudness_svg(levels: Sequence[float]) -> str:
    """An inline SVG plot of levels (dBFS) over time, with the ACX ranges drawn behind.

    Long curves are reduced to one point per pixel column (the loudest window in it)."""
    levels = _per_column(levels)
    low, high = ACX_RMS_DB
    band_top, band_bottom = _y(high), _y(low)
    guides = (
        f'<rect x="0" y="{band_top:.1f}" width="{PLOT_WIDTH}" '
        f'height="{band_bottom - band_top:.1f}" fill="#d9f2e1"/>'
        f'<line x1="0" x2="{PLOT_WIDTH}" y1="{_y(ACX_MAX_PEAK_DB):.1f}" '
        f'y2="{_y(ACX_MAX_PEAK_DB):.1f}" stroke="#b3261e" stroke-dasharray="4 3"/>'
        f'<line x1="0" x2="{PLOT_WIDTH}" y1="{_y(ACX_MAX_NOISE_FLOOR_DB):.1f}" '
        f'y2="{_y(ACX_MAX_NOISE_FLOOR_DB):.1f}" stroke="#888" stroke-dasharray="4 3"/>'
    )
    curve = ""
    if levels:
        step = PLOT_WIDTH / max(1, len(levels) - 1)
        points = " ".join(f"{i * step:.1f},{_y(level):.1f}" for i, level in enumerate(levels))
        curve = f'<polyline points="{points}" fill="none" stroke="#1f4e99" stroke-width="1.2"/>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" '
        f'viewBox="0 0 {PLOT_WIDTH} {PLOT_HEIGHT}" role="img" aria-label="loudness plot">'
        f'<rect width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="#fafafa" stroke="#ccc"/>'
        f"{guides}{curve}</svg>"
    )


def _per_column(levels: Sequence[float]) -> list[float]:
    if len(levels) <= PLOT_WIDTH:
        return list(levels)
    per_column = len(levels) / PLOT_WIDTH
    return [
        max(levels[int(column * per_column) : int((column + 1) * per_column)])
        for column in range(PLOT_WIDTH)
    ]


def _y(level_db: float) -> float:
    clamped = min(max(level_db, PLOT_FLOOR_DB), PLOT_TOP_DB)
    return (PLOT_TOP_DB - clamped) / (PLOT_TOP_DB - PLOT_FLOOR_DB) * PLOT_HEIGHT


def _state(passed: bool) -> str:
    return "pass" if passed else "fail"
