"""Both archive backends behave alike; the S3 one over real HTTP to the moto server."""

from __future__ import annotations

import hashlib
import os

import boto3
import pytest

from usage_archive.archive.store import (
    ArchiveStoreError,
    LocalArchiveStore,
    ObjectNotFound,
    S3ArchiveStore,
    parse_archive_url,
)
from usage_archive.resources.archive_store import ArchiveStoreResource


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, moto_endpoint: str, s3_bucket: str):
    if request.param == "local":
        return LocalArchiveStore(tmp_path / "root")
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    return S3ArchiveStore(client, s3_bucket, "team/archive", multipart_threshold=5 * 1024 * 1024)


def test_put_get_head_list_copy_delete(store, tmp_path) -> None:
    stored = store.put_bytes("a/b/one.json", b'{"x": 1}', content_type="application/json")
    assert stored.sha256 == hashlib.sha256(b'{"x": 1}').hexdigest()
    assert store.get_bytes("a/b/one.json") == b'{"x": 1}'
    assert store.head("a/b/one.json").bytes == 8
    assert store.head("a/b/missing.json") is None
    store.copy("a/b/one.json", "a/c/two.json")
    assert [o.key for o in store.list("a/")] == ["a/b/one.json", "a/c/two.json"]
    assert [o.key for o in store.list("a/c/")] == ["a/c/two.json"]
    store.delete("a/b/one.json")
    assert not store.exists("a/b/one.json") and store.exists("a/c/two.json")
    with pytest.raises(ObjectNotFound, match="missing.json"):
        store.get_bytes("a/missing.json")
    target = tmp_path / "downloaded"
    store.download("a/c/two.json", target)
    assert target.read_bytes() == b'{"x": 1}'


def test_large_files_go_up_in_parts_and_keep_their_digest(store, tmp_path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    stored = store.put_file("big/file.bin", big)
    assert stored.sha256 == digest and stored.bytes == 12 * 1024 * 1024
    back = tmp_path / "back.bin"
    store.download("big/file.bin", back)
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest
    if isinstance(store, S3ArchiveStore):
        head = store.client.head_object(Bucket=store.bucket, Key=store.object_key("big/file.bin"))
        assert "-" in head["ETag"]  # multipart
        assert head["Metadata"]["sha256"] == digest
        assert head["ServerSideEncryption"] == "AES256"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a\\b", "./a"])
def test_unsafe_keys_are_refused(store, key: str) -> None:
    with pytest.raises(ValueError, match="invalid archive key"):
        store.put_bytes(key, b"x")


def test_missing_bucket_is_a_clear_error(moto_endpoint: str) -> None:
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    store = S3ArchiveStore(client, "no-such-bucket-here")
    with pytest.raises(ArchiveStoreError, match="NoSuchBucket.*ARCHIVE_URL"):
        store.put_bytes("x.json", b"{}")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("s3", "bucket", "")),
        ("s3://bucket/some/prefix/", ("s3", "bucket", "some/prefix")),
        ("/var/archive", ("file", "/var/archive", "")),
        ("file:///var/archive", ("file", "/var/archive", "")),
    ],
)
def test_archive_url_parsing(url: str, expected: tuple[str, str, str]) -> None:
    assert parse_archive_url(url) == expected


@pytest.mark.parametrize("url", ["", "gs://bucket", "s3://"])
def test_unusable_archive_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="ARCHIVE_URL"):
        parse_archive_url(url)


def test_resource_honours_aws_endpoint_url(moto_endpoint: str, s3_bucket: str, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    store = ArchiveStoreResource(url=f"s3://{s3_bucket}/p", storage_class="STANDARD_IA").get_store()
    store.put_bytes("k.txt", b"hello")
    head = boto3.client("s3", endpoint_url=moto_endpoint).head_object(Bucket=s3_bucket, Key="p/k.txt")
    assert head["StorageClass"] == "STANDARD_IA"


def test_copy_works_in_a_bucket_with_default_object_lock_retention(
    moto_endpoint: str, s3_client, s3_bucket
) -> None:
    s3_client.put_object_lock_configuration(
        Bucket=s3_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    store = S3ArchiveStore(boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1"), s3_bucket)
    store.put_bytes("incoming/export.csv", b"a,b\n1,2\n")
    copied = store.copy("incoming/export.csv", "archived/export.csv")
    assert copied.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert store.get_bytes("archived/export.csv") == b"a,b\n1,2\n"
