"""Reading ZIP containers (EPUB, DOCX) without letting a hostile archive exhaust memory or time.

Every member's declared size, the total, the compression ratio and the entry count are checked
before anything is decompressed, and members are then read with a hard cap in case the declared
sizes lie.
"""

from __future__ import annotations

import io
import struct
import zipfile

from khipu.manuscripts.document import ImportLimits
from khipu.manuscripts.errors import CorruptManuscript, ZipBombSuspected

# Tiny members compress extremely well without being dangerous (a run of spaces in a style
# sheet): the ratio is only judged for members large enough to matter.
_RATIO_FLOOR_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
# What zipfile raises for a damaged member, an unsupported compression or a password.
_UNREADABLE = (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


class SafeArchive:
    """A validated ZIP archive held in memory; `read` returns a member's bytes within the limits."""

    def __init__(self, data: bytes, *, limits: ImportLimits, label: str) -> None:
        self._limits = limits
        self._label = label
        # zipfile builds an object per entry while opening: count them before it does.
        self._check_entry_count(_declared_entry_count(data))
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
            raise CorruptManuscript(
                f"The {label} file is damaged or truncated and cannot be opened as a ZIP "
                f"archive ({error}). Export it again from your editor and re-upload it."
            ) from None
        self._check_declared_sizes(infos)
        self._members = {info.filename: info for info in infos if not info.is_dir()}

    def _check_entry_count(self, count: int) -> None:
        if count > self._limits.max_entries:
            raise ZipBombSuspected(
                f"The {self._label} archive has {count} entries; at most "
                f"{self._limits.max_entries} are accepted."
            )

    def _check_declared_sizes(self, infos: list[zipfile.ZipInfo]) -> None:
        limits = self._limits
        self._check_entry_count(len(infos))
        total = 0
        for info in infos:
            if info.file_size > limits.max_member_bytes:
                raise ZipBombSuspected(
                    f"The {self._label} member {info.filename!r} would expand to "
                    f"{info.file_size} bytes; at most {limits.max_member_bytes} are accepted."
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > _RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
                raise ZipBombSuspected(
                    f"The {self._label} member {info.filename!r} is compressed {ratio:.0f}:1, "
                    f"beyond the {limits.max_compression_ratio:.0f}:1 accepted; this is how "
                    f"decompression bombs look."
                )
            total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise ZipBombSuspected(
                f"The {self._label} archive would expand to {total} bytes; at most "
                f"{limits.max_uncompressed_bytes} are accepted."
            )

    @property
    def names(self) -> list[str]:
        return list(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def is_encrypted(self, name: str) -> bool:
        """True when the ZIP itself password-protects the member (bit 0 of the flags)."""
        return bool(self._members[name].flag_bits & 0x1)

    def read(self, name: str) -> bytes:
        """A member's content, never more than its declared size nor the per-member limit."""
        info = self._members.get(name)
        if info is None:
            raise CorruptManuscript(f"The {self._label} file has no member {name!r}.")
        cap = min(info.file_size, self._limits.max_member_bytes)
        chunks: list[bytes] = []
        size = 0
        try:
            with self._zip.open(info) as member:
                while chunk := member.read(_CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise ZipBombSuspected(
                            f"The {self._label} member {name!r} expands beyond its declared "
                            f"size; the archive was rejected."
                        )
                    chunks.append(chunk)
        except _UNREADABLE as error:
            raise CorruptManuscript(
                f"The {self._label} member {name!r} cannot be read ({error}); the file is "
                f"damaged. Export it again and re-upload it."
            ) from None
        return b"".join(chunks)

    def read_optional(self, name: str) -> bytes | None:
        """Like `read`, but None for a member that does not exist."""
        return self.read(name) if name in self._members else None


def _declared_entry_count(data: bytes) -> int:
    """Entry count from the end-of-central-directory record (ZIP64 aware); 0 if none is found,
    in which case zipfile itself reports the archive as damaged."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if end == -1 or end + 22 > len(data):
        return 0
    count = struct.unpack_from("<H", data, end + 10)[0]
    locator = end - 20
    if count == 0xFFFF and locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        record = struct.unpack_from("<Q", data, locator + 8)[0]
        if data[record : record + 4] == b"PK\x06\x06" and record + 40 <= len(data):
            count = struct.unpack_from("<Q", data, record + 32)[0]
    return int(count)
