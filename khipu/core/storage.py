"""Blob storage behind one interface: the local filesystem (default) and Azure Blob Storage.

Keys are built only by `BlobKeys` from server-side ids and hex digests, never from a filename a
user sent: `tenants/{tenant_id}/projects/{project_id}/{area}/...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import unquote, urlparse
from uuid import UUID

CHUNK = 1024 * 1024
Area = Literal["manuscripts", "cover", "audio/segments", "audio/chapters", "packages", "cache"]
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True, slots=True)
class BlobInfo:
    size: int
    content_type: str | None = None


class BlobNotFound(LookupError):
    """No blob at that key."""


class BlobKeys:
    """The only place blob keys are made."""

    @staticmethod
    def project(tenant_id: UUID, project_id: UUID, area: Area, name: str) -> str:
        if not isinstance(tenant_id, UUID) or not isinstance(project_id, UUID):
            raise TypeError("blob keys are built from UUIDs")
        if not _SAFE_NAME.fullmatch(name) or ".." in name:
            raise ValueError(f"unsafe blob name {name!r}")
        return f"tenants/{tenant_id}/projects/{project_id}/{area}/{name}"

    @staticmethod
    def project_prefix(tenant_id: UUID, project_id: UUID) -> str:
        return f"tenants/{UUID(str(tenant_id))}/projects/{UUID(str(project_id))}/"


def _check_key(key: str) -> str:
    parts = key.split("/")
    if key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobStore(ABC):
    """Async blob operations. `put*` must be atomic: a reader never sees half a blob."""

    @abstractmethod
    async def put_bytes(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> BlobInfo:
        """Store `data` at `key`, replacing what was there."""

    @abstractmethod
    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> BlobInfo:
        """Store a local file's content at `key` (streamed, not read into memory)."""

    @abstractmethod
    async def get_bytes(self, key: str) -> bytes:
        """The whole blob; only for small blobs (covers, manuscripts within the upload limit)."""

    @abstractmethod
    async def download_to(self, key: str, path: Path) -> None:
        """Copy the blob into a local file (streamed)."""

    @abstractmethod
    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes `start..end` inclusive (end None = to the end)."""

    @abstractmethod
    async def stat(self, key: str) -> BlobInfo | None:
        """Size and content type, or None if absent."""

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Delete every blob under `prefix`; return how many."""

    @abstractmethod
    async def check(self) -> None:
        """Raise if the store cannot be reached (health checks)."""

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release network clients."""


class LocalBlobStore(BlobStore):
    """Blobs as files under `root`; writes go to a temp file in the same directory, then rename."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / _check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"invalid blob key {key!r}")
        return path

    def _write_atomic(self, key: str, write: Callable[[BinaryIO], object]) -> BlobInfo:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return BlobInfo(size=target.stat().st_size)

    async def put_bytes(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> BlobInfo:
        return await asyncio.to_thread(self._write_atomic, key, lambda out: out.write(data))

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> BlobInfo:
        def copy(out: BinaryIO) -> None:
            with path.open("rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)

        return await asyncio.to_thread(self._write_atomic, key, copy)

    async def get_bytes(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    async def download_to(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.exists():
            raise BlobNotFound(key)
        await asyncio.to_thread(_copy_file, source, path)

    async def iter_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                size = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = await asyncio.to_thread(handle.read, size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def stat(self, key: str) -> BlobInfo | None:
        path = self._path(key)
        try:
            return BlobInfo(size=(await asyncio.to_thread(path.stat)).st_size)
        except FileNotFoundError:
            return None

    async def delete_prefix(self, prefix: str) -> int:
        def delete() -> int:
            base = self._path(prefix.rstrip("/"))
            if not base.exists():
                return 0
            files = [p for p in base.rglob("*") if p.is_file()] if base.is_dir() else [base]
            for file in files:
                file.unlink()
            return len(files)

        return await asyncio.to_thread(delete)

    async def check(self) -> None:
        def probe() -> None:
            if not os.access(self.root, os.W_OK):
                raise OSError(f"{self.root} is not writable")

        await asyncio.to_thread(probe)


def _copy_file(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("wb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)


class AzureBlobStore(BlobStore):
    """Azure Blob Storage (or Azurite): a connection string, or an account URL with Entra ID."""

    def __init__(
        self, *, container: str, connection_string: str = "", account_url: str = ""
    ) -> None:
        from azure.storage.blob.aio import BlobServiceClient

        if connection_string:
            self._service = BlobServiceClient.from_connection_string(connection_string)
            self._credential = None
        else:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
            self._service = BlobServiceClient(account_url, credential=self._credential)
        self._container = self._service.get_container_client(container)
        self._container_ready = False

    async def _ensure_container(self) -> None:
        if self._container_ready:
            return
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            await self._container.create_container()
        self._container_ready = True

    def _blob(self, key: str):  # type: ignore[no-untyped-def]
        return self._container.get_blob_client(_check_key(key))

    async def _upload(self, key: str, data: object, content_type: str | None) -> BlobInfo:
        from azure.storage.blob import ContentSettings

        await self._ensure_container()
        settings = ContentSettings(content_type=content_type) if content_type else None
        # A block blob upload commits atomically: readers see the old or the new blob.
        await self._blob(key).upload_blob(data, overwrite=True, content_settings=settings)
        info = await self.stat(key)
        assert info is not None
        return info

    async def put_bytes(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> BlobInfo:
        return await self._upload(key, data, content_type)

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> BlobInfo:
        with path.open("rb") as handle:
            return await self._upload(key, handle, content_type)

    async def get_bytes(self, key: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            stream = await self._blob(key).download_blob()
            return await stream.readall()
        except ResourceNotFoundError as exc:
            raise BlobNotFound(key) from exc

    async def download_to(self, key: str, path: Path) -> None:
        with path.open("wb") as out:
            async for chunk in self.iter_range(key):
                out.write(chunk)

    async def iter_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        from azure.core.exceptions import ResourceNotFoundError

        length = None if end is None else end - start + 1
        try:
            stream = await self._blob(key).download_blob(offset=start, length=length)
        except ResourceNotFoundError as exc:
            raise BlobNotFound(key) from exc
        async for chunk in stream.chunks():
            yield chunk

    async def stat(self, key: str) -> BlobInfo | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            props = await self._blob(key).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return BlobInfo(size=props.size, content_type=props.content_settings.content_type)

    async def delete_prefix(self, prefix: str) -> int:
        await self._ensure_container()
        count = 0
        async for blob in self._container.list_blobs(name_starts_with=prefix):
            await self._container.delete_blob(blob.name)
            count += 1
        return count

    async def check(self) -> None:
        await self._ensure_container()
        await self._container.get_container_properties()

    async def close(self) -> None:
        await self._service.close()
        if self._credential is not None:
            await self._credential.close()


def open_blob_store(storage_url: str, *, home: Path, container: str = "khipu") -> BlobStore:
    """`file:///path`, an Azure connection string, or `https://account.blob.core.windows.net[/container]`."""
    if not storage_url:
        return LocalBlobStore(home / "blobs")
    if storage_url.startswith("file://"):
        return LocalBlobStore(Path(unquote(urlparse(storage_url).path)))
    if "AccountName=" in storage_url or "UseDevelopmentStorage" in storage_url:
        return AzureBlobStore(container=container, connection_string=storage_url)
    if storage_url.startswith("https://"):
        parsed = urlparse(storage_url)
        path_container = parsed.path.strip("/")
        account_url = f"{parsed.scheme}://{parsed.netloc}"
        return AzureBlobStore(container=path_container or container, account_url=account_url)
    raise ValueError(
        "KHIPU_STORAGE_URL must be file://..., an Azure connection string or https://..."
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
