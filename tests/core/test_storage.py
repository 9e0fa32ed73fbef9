"""One suite, both blob backends: the local filesystem and Azure Blob Storage (Azurite)."""

from __future__ import annotations

import uuid

import pytest

from khipu.core.storage import (
    AzureBlobStore,
    BlobKeys,
    BlobNotFound,
    LocalBlobStore,
    open_blob_store,
    sha256_file,
)


@pytest.fixture(params=["local", "azure"])
async def store(request, tmp_path):
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
    else:
        azure = open_blob_store(
            request.getfixturevalue("azurite"), home=tmp_path, container=f"t{uuid.uuid4().hex[:12]}"
        )
        assert isinstance(azure, AzureBlobStore)
        yield azure
        await azure.close()


def key(area="manuscripts", name="m.epub"):
    return BlobKeys.project(uuid.uuid4(), uuid.uuid4(), area, name)


async def test_put_get_stat_and_replace(store):
    k = key()
    info = await store.put_bytes(k, b"first version", content_type="application/epub+zip")
    assert info.size == 13
    assert await store.get_bytes(k) == b"first version"
    await store.put_bytes(k, b"second")
    assert await store.get_bytes(k) == b"second"
    assert (await store.stat(k)).size == 6 and await store.exists(k)


async def test_missing_blobs(store):
    k = key()
    assert await store.stat(k) is None and not await store.exists(k)
    with pytest.raises(BlobNotFound):
        await store.get_bytes(k)


async def test_files_stream_in_and_out(store, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * 20_000)  # 5 MB, several chunks
    k = key("audio/chapters", "c.flac")
    assert (await store.put_file(k, source)).size == source.stat().st_size
    target = tmp_path / "copy.bin"
    await store.download_to(k, target)
    assert sha256_file(target) == sha256_file(source)


async def test_ranges(store):
    k = key("packages", "book.m4b")
    data = bytes(range(256)) * 10
    await store.put_bytes(k, data)
    assert b"".join([c async for c in store.iter_range(k, 10, 19)]) == data[10:20]
    assert b"".join([c async for c in store.iter_range(k, 2500)]) == data[2500:]
    assert b"".join([c async for c in store.iter_range(k)]) == data


async def test_delete_prefix_removes_one_project_only(store):
    tenant, mine, theirs = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for project in (mine, theirs):
        for area in ("manuscripts", "cover", "audio/segments"):
            await store.put_bytes(BlobKeys.project(tenant, project, area, "x.bin"), b"x")
    assert await store.delete_prefix(BlobKeys.project_prefix(tenant, mine)) == 3
    assert await store.exists(BlobKeys.project(tenant, theirs, "cover", "x.bin"))
    assert not await store.exists(BlobKeys.project(tenant, mine, "cover", "x.bin"))


async def test_health_check(store):
    await store.check()


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "a/b", "", ".hidden", "x" * 300, "name with space"]
)
def test_keys_are_built_only_from_ids_and_safe_names(name):
    with pytest.raises(ValueError):
        BlobKeys.project(uuid.uuid4(), uuid.uuid4(), "manuscripts", name)


def test_keys_need_uuids():
    with pytest.raises(TypeError):
        BlobKeys.project("tenant", uuid.uuid4(), "cover", "c.jpg")  # type: ignore[arg-type]


async def test_local_store_never_leaves_half_written_blobs(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    k = key()
    await store.put_bytes(k, b"the good version")
    unreadable_source = tmp_path  # a directory: reading it fails after the temp file exists
    with pytest.raises(OSError):
        await store.put_file(k, unreadable_source)
    assert await store.get_bytes(k) == b"the good version"
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))


async def test_local_store_refuses_keys_outside_its_root(tmp_path):
    store = LocalBlobStore(tmp_path / "root")
    with pytest.raises(ValueError):
        await store.put_bytes("../escape.txt", b"x")
    with pytest.raises(ValueError):
        await store.put_bytes("/abs/path", b"x")
