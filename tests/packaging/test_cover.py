"""Cover checks: retailer rules as readable problems; damaged or hostile images never crash."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from khipu.packaging.compliance import check_acx_cover
from khipu.packaging.cover import UnsupportedCover, cover_file_suffix, inspect_cover


def image_bytes(size: tuple[int, int], *, fmt: str = "JPEG", mode: str = "RGB", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "white").save(buffer, format=fmt, **save)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size but carries almost no pixels: what a bomb looks like."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_acx_portrait_fixture_is_not_square_and_too_small(cover_bytes: bytes) -> None:
    check = check_acx_cover(cover_bytes)
    assert (check.width, check.height, check.format, check.mode) == (1400, 2100, "JPEG", "RGB")
    assert check.problems == (
        "cover is 1400×2100; it must be square",
        "cover is 1400×2100; it must be at least 2400×2400 pixels",
    )
    assert not check.passed


def test_square_rgb_jpeg_of_2400_pixels_at_300_dpi_passes_acx() -> None:
    check = check_acx_cover(image_bytes((2400, 2400), dpi=(300, 300)))
    assert check.problems == ()
    assert check.dpi == (300.0, 300.0)


def test_acx_refuses_png_cmyk_and_low_dpi() -> None:
    assert (
        "cover is PNG; a JPEG is required"
        in check_acx_cover(image_bytes((2400, 2400), fmt="PNG")).problems
    )
    assert (
        "cover uses colour mode CMYK; 24-bit RGB is required"
        in check_acx_cover(image_bytes((2400, 2400), mode="CMYK")).problems
    )
    assert (
        "cover is 50 dpi; at least 72 dpi is required"
        in check_acx_cover(image_bytes((2400, 2400), dpi=(50, 50))).problems
    )


def test_apple_style_rules_accept_a_square_png() -> None:
    check = inspect_cover(
        image_bytes((1400, 1400), fmt="PNG"), min_side=1400, require_square=True, require_jpeg=False
    )
    assert check.passed


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", image_bytes((600, 600))[:300]],
    ids=["empty", "text", "truncated-jpeg"],
)
def test_unreadable_data_is_a_problem_not_a_crash(data: bytes) -> None:
    check = inspect_cover(data, min_side=1400, require_square=True, require_jpeg=True)
    assert not check.passed
    assert check.problems[0].startswith("cover is not a readable image")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    check = inspect_cover(
        png_header_only(30_000, 30_000), min_side=1400, require_square=True, require_jpeg=False
    )
    assert not check.passed
    assert "too many pixels" in check.problems[0]


def test_image_beyond_the_cover_pixel_budget_is_refused() -> None:
    check = inspect_cover(
        png_header_only(9_000, 9_000), min_side=1400, require_square=True, require_jpeg=False
    )
    assert (check.width, check.height) == (9_000, 9_000)
    assert check.problems == ("cover is 9000×9000; images above 50,000,000 pixels are refused",)


def test_only_jpeg_and_png_can_be_embedded() -> None:
    assert cover_file_suffix(image_bytes((10, 10))) == ".jpg"
    assert cover_file_suffix(image_bytes((10, 10), fmt="PNG")) == ".png"
    with pytest.raises(UnsupportedCover):
        cover_file_suffix(image_bytes((10, 10), fmt="GIF", mode="P"))
