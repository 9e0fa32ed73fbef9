"""Cover images checked against a retailer's rules (size, shape, format, colour mode, dpi).

Pillow reads the header first and refuses to decode anything beyond a pixel budget, so a
decompression bomb or a damaged upload becomes a reported problem, never a crash.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from khipu.core.errors import UnsupportedMediaType

# Far above any retailer's cover (ACX asks for 2400×2400, Apple for 1400×1400) and below Pillow's
# own bomb limit, so this check holds even if that global is loosened elsewhere.
MAX_COVER_PIXELS = 50_000_000
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
FILE_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png"}


@dataclass(frozen=True, slots=True)
class CoverCheck:
    width: int
    height: int
    format: str  # Pillow's name: "JPEG", "PNG", ... ("" when unreadable)
    mode: str  # "RGB", "CMYK", "L", ...
    dpi: tuple[float, float] | None
    problems: tuple[str, ...]  # human-readable, e.g. "cover is 1400×2100; it must be square"

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "mode": self.mode,
            "dpi": list(self.dpi) if self.dpi else None,
            "problems": list(self.problems),
            "passed": self.passed,
        }


def inspect_cover(
    data: bytes,
    *,
    min_side: int,
    require_square: bool,
    require_jpeg: bool,
    require_rgb: bool = False,
    min_dpi: float | None = None,
) -> CoverCheck:
    """Measure a cover and list every rule it breaks; an unreadable image is one problem."""
    try:
        with _open_within_budget(data) as image:
            width, height = image.size
            found = CoverCheck(
                width=width,
                height=height,
                format=image.format or "",
                mode=image.mode,
                dpi=_dpi(image),
                problems=(),
            )
            if width * height > MAX_COVER_PIXELS:
                return _with_problems(found, [_too_many_pixels(width, height)])
            image.load()  # decoding proves the data is whole, not just its header
    except _CoverTooLarge as exc:
        return CoverCheck(0, 0, "", "", None, (str(exc),))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return CoverCheck(0, 0, "", "", None, (f"cover is not a readable image ({exc})",))
    rules = _broken_rules(
        found,
        min_side=min_side,
        require_square=require_square,
        require_jpeg=require_jpeg,
        require_rgb=require_rgb,
        min_dpi=min_dpi,
    )
    return _with_problems(found, rules)


def read_cover_format(data: bytes) -> str:
    """The cover's format, "JPEG" or "PNG"; anything else (or damaged data) cannot be embedded."""
    check = inspect_cover(data, min_side=1, require_square=False, require_jpeg=False)
    if check.format not in FILE_SUFFIXES or not check.passed:
        found = "; ".join(check.problems) or check.format
        raise UnsupportedCover(f"the cover must be a readable JPEG or PNG image ({found})")
    return check.format


def cover_file_suffix(data: bytes) -> str:
    """The file suffix, ".jpg" or ".png", of a cover we can embed; else UnsupportedCover."""
    return FILE_SUFFIXES[read_cover_format(data)]


class UnsupportedCover(UnsupportedMediaType):
    title = "Unsupported cover image"


class _CoverTooLarge(Exception):
    """Pillow flagged the image as a possible decompression bomb while opening it."""


def _open_within_budget(data: bytes) -> Image.Image:
    # Pillow warns (and beyond twice its limit, raises) while opening a bomb; both become a problem.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _CoverTooLarge(f"cover has too many pixels to check safely ({exc})") from exc


def _too_many_pixels(width: int, height: int) -> str:
    return f"cover is {width}×{height}; images above {MAX_COVER_PIXELS:,} pixels are refused"


def _dpi(image: Image.Image) -> tuple[float, float] | None:
    dpi = image.info.get("dpi")
    if not dpi:
        return None
    return (float(dpi[0]), float(dpi[1]))


def _broken_rules(
    cover: CoverCheck,
    *,
    min_side: int,
    require_square: bool,
    require_jpeg: bool,
    require_rgb: bool,
    min_dpi: float | None,
) -> list[str]:
    size = f"{cover.width}×{cover.height}"
    problems = []
    if cover.format not in MEDIA_TYPES:
        problems.append(f"cover is {cover.format or 'an unknown format'}; use JPEG or PNG")
    elif require_jpeg and cover.format != "JPEG":
        problems.append(f"cover is {cover.format}; a JPEG is required")
    if require_square and cover.width != cover.height:
        problems.append(f"cover is {size}; it must be square")
    if min(cover.width, cover.height) < min_side:
        problems.append(f"cover is {size}; it must be at least {min_side}×{min_side} pixels")
    if require_rgb and cover.mode != "RGB":
        problems.append(f"cover uses colour mode {cover.mode}; 24-bit RGB is required")
    if min_dpi is not None and cover.dpi is not None and min(cover.dpi) < min_dpi:
        problems.append(f"cover is {min(cover.dpi):g} dpi; at least {min_dpi:g} dpi is required")
    return problems


def _with_problems(cover: CoverCheck, problems: list[str]) -> CoverCheck:
    return CoverCheck(
        cover.width, cover.height, cover.format, cover.mode, cover.dpi, tuple(problems)
    )
