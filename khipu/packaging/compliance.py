"""ACX compliance of delivered MP3s: levels measured by `khipu.audio.loudness` (plain RMS, as ACX
defines it), format read by mutagen from the MPEG frame headers and the Xing/Info header.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from mutagen.mp3 import MONO, MP3, STEREO, BitrateMode, HeaderNotFoundError

from khipu.audio.loudness import LoudnessReport, measure
from khipu.packaging.book import InvalidPackageInput
from khipu.packaging.cover import CoverCheck, inspect_cover

ACX_RMS_DB = (-23.0, -18.0)
ACX_MAX_PEAK_DB = -3.0
ACX_MAX_NOISE_FLOOR_DB = -60.0
ACX_HEAD_ROOM_TONE_MS = (500, 1000)
ACX_TAIL_ROOM_TONE_MS = (1000, 5000)
ACX_MAX_DURATION_MS = 120 * 60 * 1000
ACX_MIN_BITRATE_KBPS = 192
ACX_SAMPLE_RATE = 44100
ACX_COVER_MIN_SIDE = 2400
ACX_COVER_MIN_DPI = 72.0
# The ACX Check plugin measures the noise floor over windows of about half a second.
NOISE_FLOOR_WINDOW_MS = 500

SYNTHETIC_NARRATION_NOTE = (
    "ACX/Audible, Google Play, Apple Books and Spotify each set their own policy on synthetic "
    "(AI) narration; this report checks the technical specification only, so the publisher "
    "must check the retailer's current policy before submitting."
)
_CHANNEL_MODES = {0: "stereo", 1: "joint stereo", 2: "dual channel", 3: "mono"}
# MPEG audio Layer III frame header tables, by version id (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5).
_LAYER3_KBPS = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_FRAMES_SAMPLED = 32
_SCAN_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str
    passed: bool
    measured: str
    required: str


@dataclass(frozen=True, slots=True)
class FileReport:
    name: str
    duration_ms: int
    loudness: LoudnessReport
    bitrate_kbps: int
    cbr: bool
    sample_rate: int
    channels: int
    rules: tuple[RuleResult, ...]

    @property
    def passed(self) -> bool:
        return all(rule.passed for rule in self.rules)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "duration_ms": self.duration_ms,
            "loudness": asdict(self.loudness),
            "bitrate_kbps": self.bitrate_kbps,
            "cbr": self.cbr,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "passed": self.passed,
            "rules": [asdict(rule) for rule in self.rules],
        }


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    files: tuple[FileReport, ...]
    cover: CoverCheck | None
    notes: tuple[str, ...]

    @property
    def passed(self) -> bool:
        cover_passed = self.cover is None or self.cover.passed
        return cover_passed and all(report.passed for report in self.files)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: plain dicts, lists, strings, numbers and booleans."""
        return {
            "passed": self.passed,
            "files": [report.as_dict() for report in self.files],
            "cover": self.cover.as_dict() if self.cover else None,
            "notes": list(self.notes),
        }


def check_acx_file(path: Path) -> FileReport:
    """Measure one MP3 and judge it against every ACX audio rule."""
    try:
        info = MP3(path).info
    except (HeaderNotFoundError, OSError) as exc:
        raise InvalidPackageInput(f"{path.name} is not a readable MP3 file") from exc
    loudness = measure(path, window_ms=NOISE_FLOOR_WINDOW_MS)
    channel_mode = audio_frames_channel_mode(path)
    if channel_mode is None:
        channel_mode = info.mode
    bitrate_kbps = round(info.bitrate / 1000)
    cbr = info.bitrate_mode == BitrateMode.CBR
    rules = (
        *_loudness_rules(loudness),
        _rule(
            "duration",
            loudness.duration_ms <= ACX_MAX_DURATION_MS,
            f"{loudness.duration_ms / 60000:.1f} min",
            f"at most {ACX_MAX_DURATION_MS // 60000} min",
        ),
        _rule(
            "bitrate",
            bitrate_kbps >= ACX_MIN_BITRATE_KBPS,
            f"{bitrate_kbps} kbps",
            f"at least {ACX_MIN_BITRATE_KBPS} kbps",
        ),
        _rule("constant_bitrate", cbr, _bitrate_mode_name(info.bitrate_mode), "CBR"),
        _rule(
            "sample_rate",
            info.sample_rate == ACX_SAMPLE_RATE,
            f"{info.sample_rate} Hz",
            f"{ACX_SAMPLE_RATE} Hz",
        ),
        _rule(
            "channel_mode",
            channel_mode in (MONO, STEREO),
            _CHANNEL_MODES.get(channel_mode, f"mode {channel_mode}"),
            "mono (or stereo, not joint stereo)",
        ),
    )
    return FileReport(
        name=path.name,
        duration_ms=loudness.duration_ms,
        loudness=loudness,
        bitrate_kbps=bitrate_kbps,
        cbr=cbr,
        sample_rate=info.sample_rate,
        channels=info.channels,
        rules=rules,
    )


def check_acx_cover(data: bytes) -> CoverCheck:
    """ACX cover rules: square, at least 2400×2400, JPEG, 24-bit RGB, 72 dpi or more."""
    return inspect_cover(
        data,
        min_side=ACX_COVER_MIN_SIDE,
        require_square=True,
        require_jpeg=True,
        require_rgb=True,
        min_dpi=ACX_COVER_MIN_DPI,
    )


def audio_frames_channel_mode(path: Path) -> int | None:
    """The channel mode the audio frames use (mutagen's MONO, STEREO, JOINTSTEREO, ...).

    mutagen reports the first frame's mode, and LAME writes its Xing/Info frame as plain stereo
    even when every audio frame is joint stereo, so the frames after it are read here.
    """
    with path.open("rb") as stream:
        data = stream.read(_SCAN_BYTES + 10)
        start = _id3v2_size(data)
        if start:
            stream.seek(start)
            data = stream.read(_SCAN_BYTES)
    modes: Counter[int] = Counter()
    position = 0
    while sum(modes.values()) < _FRAMES_SAMPLED and position + 40 <= len(data):
        frame = _layer3_frame(data[position : position + 4])
        if frame is None:
            position += 1  # not a frame header: keep looking for sync
            continue
        length, mode = frame
        body = data[position + 4 : position + 40]
        if b"Xing" not in body and b"Info" not in body:
            modes[mode] += 1
        position += length
    return modes.most_common(1)[0][0] if modes else None


def _id3v2_size(data: bytes) -> int:
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:  # "synchsafe": 7 bits per byte
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def _layer3_frame(header: bytes) -> tuple[int, int] | None:
    """(frame length in bytes, channel mode) of a valid Layer III frame header, else None."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 0x03, (header[1] >> 1) & 0x03
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 0x03
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    kbps = _LAYER3_KBPS[3 if version == 3 else 2][bitrate_index]
    sample_rate = _SAMPLE_RATES[version][rate_index]
    slots = 144 if version == 3 else 72
    padding = (header[2] >> 1) & 0x01
    return slots * kbps * 1000 // sample_rate + padding, header[3] >> 6


def _loudness_rules(loudness: LoudnessReport) -> tuple[RuleResult, ...]:
    rms_low, rms_high = ACX_RMS_DB
    head_low, head_high = ACX_HEAD_ROOM_TONE_MS
    tail_low, tail_high = ACX_TAIL_ROOM_TONE_MS
    return (
        _rule(
            "rms",
            rms_low <= loudness.rms_db <= rms_high,
            f"{loudness.rms_db:.1f} dB",
            f"{rms_low:g} to {rms_high:g} dB",
        ),
        _rule(
            "peak",
            loudness.peak_db <= ACX_MAX_PEAK_DB,
            f"{loudness.peak_db:.1f} dB",
            f"at most {ACX_MAX_PEAK_DB:g} dB",
        ),
        _rule(
            "noise_floor",
            loudness.noise_floor_db <= ACX_MAX_NOISE_FLOOR_DB,
            f"{loudness.noise_floor_db:.1f} dB",
            f"at most {ACX_MAX_NOISE_FLOOR_DB:g} dB",
        ),
        _rule(
            "head_room_tone",
            head_low <= loudness.head_silence_ms <= head_high,
            f"{loudness.head_silence_ms / 1000:.2f} s",
            f"{head_low / 1000:g} to {head_high / 1000:g} s",
        ),
        _rule(
            "tail_room_tone",
            tail_low <= loudness.tail_silence_ms <= tail_high,
            f"{loudness.tail_silence_ms / 1000:.2f} s",
            f"{tail_low / 1000:g} to {tail_high / 1000:g} s",
        ),
    )


def _rule(rule: str, passed: bool, measured: str, required: str) -> RuleResult:
    return RuleResult(rule=rule, passed=passed, measured=measured, required=required)


def _bitrate_mode_name(mode: BitrateMode) -> str:
    if mode == BitrateMode.UNKNOWN:
        return "unknown (no Xing/Info header)"
    return str(mode).rsplit(".", 1)[-1]
