"""Artifacts on an S3-compatible object store (AWS S3, MinIO, SeaweedFS, moto, GCS's S3 API).

An object store has no rename and no ``fcntl``, so the local commit protocol becomes:

- **payload under its own prefix**: a writer uploads its files to ``<uri>/payload-<writer id>/``;
  nothing there is trusted by itself;
- **manifest last, conditionally**: ``<uri>/manifest.json`` is created with ``If-None-Match: *``,
  naming the writer's payload prefix and every file's size and ETag. Two writers of the same URI
  cannot both commit: the second put is refused (HTTP 412), the loser deletes its payload and uses
  the winner's. Readers trust only a manifest, so they see a whole artifact or none;
- **a lease object per artifact** (``<root>/locks/<step>/<fingerprint>.lock``, created with
  ``If-None-Match``, refreshed by a heartbeat, taken over only with ``If-Match`` on the stale
  lease's ETag) so that two workers on two machines compute an artifact once; the conditional
  manifest, not the lease, is what guarantees one commit.

Components work on local directories: a committed payload is downloaded once into a local cache
(``$TFPIPE_CACHE/objects/...``, keyed by the writer id, so a cached copy can never be stale) and
checked against the manifest's sizes and ETags; a writer's staging directory becomes the cache
entry after its upload, so the next step on the same worker downloads nothing.

Endpoint and credentials come from the environment (``TFPIPE_S3_ENDPOINT_URL`` or
``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or any other source boto3
reads); they never go into a URI, a manifest or a log line.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from tfpipe.components.artifacts.layout import LEASE, MANIFEST, ArtifactAddress
from tfpipe.components.artifacts.layout import join as join_uri
from tfpipe.components.artifacts.local_store import leased_dir, remove_dead_dirs
from tfpipe.components.core.errors import InputDataError, TfpipeError
from tfpipe.components.core.faults import fault_point

SCHEME = "s3://"
PAYLOAD = "payload-"
# A lease not refreshed for this long belongs to a dead writer: how long a task retried on another
# host waits for the dead one's lease (``TFPIPE_LEASE_SECONDS``; shorter in the hosts test).
LEASE_SECONDS = float(os.environ.get("TFPIPE_LEASE_SECONDS") or 60.0)


class ObjectStoreError(TfpipeError):
    """The object store refused or failed a request (named with the URI, never the secrets)."""


class UnsafeKey(ObjectStoreError, InputDataError):
    """An object key (or a name from a manifest) that is not a plain relative path: as a local
    path it would leave the directory it is downloaded into."""


def local_path(root: str, key: str, where: str) -> str:
    """``root/<key>``: the local place of an object whose key (relative to a prefix) is ``key``.
    Keys are names, not paths, on an object store; any ``..`` or ``.`` segment, empty segment
    (an absolute key, ``a//b``) or NUL is refused here, naming the object, so that nobody who can
    write to a bucket can make a worker write outside ``root``."""
    parts = key.split("/")
    bad = [p for p in parts if p in ("", ".", "..") or "\0" in p]
    path = os.path.normpath(os.path.join(root, *parts))
    inside = os.path.commonpath([path, os.path.normpath(root)]) == os.path.normpath(root)
    if bad or not inside:
        which = "an empty" if "" in bad else f"a {bad[0]!r}" if bad else "an escaping"
        raise UnsafeKey(
            f"object key {key!r} under {where} is not a plain relative path (it has {which} "
            "segment), so it cannot be stored locally; rename the object (keys like a/b/c.csv)"
        )
    return path


def is_object_uri(uri: str) -> bool:
    return uri.startswith(SCHEME)


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b")``."""
    if not is_object_uri(uri):
        raise ValueError(f"not an object-store URI: {uri}")
    bucket, _, key = uri[len(SCHEME) :].partition("/")
    if not bucket:
        raise ValueError(f"object-store URI without a bucket: {uri}")
    return bucket, key.strip("/")


def client() -> Any:
    """A boto3 S3 client configured from the environment only (one per endpoint and process)."""
    endpoint = os.environ.get("TFPIPE_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    key = os.environ.get("AWS_ACCESS_KEY_ID", "")
    return _client(endpoint or None, region or None, key)


@functools.cache
def _client(endpoint: str | None, region: str | None, _key_id: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5),
    )


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _named(uri: str) -> Iterator[None]:
    """Turn a botocore failure into an error naming the URI and what to check."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = _error_code(exc)
        hint = {
            "NoSuchBucket": "create the bucket first",
            "AccessDenied": "check the credentials in the environment",
            "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID",
            "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY",
        }.get(code, "see the store's logs")
        raise ObjectStoreError(f"object store refused a request on {uri}: {code} ({hint})") from exc
    except BotoCoreError as exc:
        raise ObjectStoreError(
            f"object store unreachable for {uri}: {type(exc).__name__}; is the endpoint "
            "(TFPIPE_S3_ENDPOINT_URL / AWS_ENDPOINT_URL) up?"
        ) from exc


# -- object primitives ------------------------------------------------------------------------
def head(uri: str) -> dict[str, Any] | None:
    bucket, key = split_uri(uri)
    with _named(uri):
        try:
            return dict(client().head_object(Bucket=bucket, Key=key))
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise


def get_bytes(uri: str) -> bytes | None:
    bucket, key = split_uri(uri)
    with _named(uri):
        try:
            return bytes(client().get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise


def get_with_etag(uri: str) -> tuple[bytes | None, str]:
    """An object's bytes and ETag (``(None, "")`` when there is none): what a compare-and-swap
    reads before it writes with ``if_match``."""
    bucket, key = split_uri(uri)
    with _named(uri):
        try:
            response = client().get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None, ""
            raise
        return bytes(response["Body"].read()), str(response["ETag"])


def get_json(uri: str) -> Any:
    blob = get_bytes(uri)
    return None if blob is None else json.loads(blob)


def put_bytes(
    uri: str, body: bytes, *, if_none_match: bool = False, if_match: str = ""
) -> str | None:
    """Write an object; return its ETag, or None when the condition refused the write."""
    bucket, key = split_uri(uri)
    extra: dict[str, str] = {}
    if if_none_match:
        extra["IfNoneMatch"] = "*"
    if if_match:
        extra["IfMatch"] = if_match
    with _named(uri):
        try:
            return str(client().put_object(Bucket=bucket, Key=key, Body=body, **extra)["ETag"])
        except Exception as exc:
            if _error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return None
            raise


def delete(uri: str, *, if_match: str = "") -> bool:
    """Delete an object; with ``if_match``, only if its ETag is still that one (False when it
    is not, or is gone)."""
    bucket, key = split_uri(uri)
    extra = {"IfMatch": if_match} if if_match else {}
    with _named(uri):
        try:
            client().delete_object(Bucket=bucket, Key=key, **extra)
        except Exception as exc:
            refused = ("PreconditionFailed", "412")
            if _error_code(exc) in refused + (("404", "NoSuchKey") if if_match else ()):
                return False
            raise
    return True


def list_objects(prefix_uri: str) -> dict[str, dict[str, Any]]:
    """``{key relative to the prefix: {"size", "etag"}}`` of every object under a prefix."""
    bucket, prefix = split_uri(prefix_uri)
    prefix = prefix + "/" if prefix else ""
    found: dict[str, dict[str, Any]] = {}
    with _named(prefix_uri):
        for page in (
            client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            for obj in page.get("Contents", []):
                found[obj["Key"][len(prefix) :]] = {"size": obj["Size"], "etag": obj["ETag"]}
    return found


def list_children(prefix_uri: str) -> list[str]:
    """Names of the "directories" directly under a prefix."""
    bucket, prefix = split_uri(prefix_uri)
    prefix = prefix + "/" if prefix else ""
    names: list[str] = []
    with _named(prefix_uri):
        pages = client().get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            names += [
                p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])
            ]
    return names


def delete_prefix(prefix_uri: str, first: tuple[str, ...] = ()) -> int:
    """Delete everything under a prefix (the files named in ``first`` before the rest)."""
    files = list_objects(prefix_uri)
    order = [k for k in first if k in files] + [k for k in files if k not in first]
    bucket, prefix = split_uri(prefix_uri)
    with _named(prefix_uri):
        for rel in order:
            client().delete_object(Bucket=bucket, Key=f"{prefix}/{rel}")
    return len(order)


def copy_prefix(source_uri: str, dest_uri: str, last: tuple[str, ...] = ()) -> None:
    """Server-side copy of every object under a prefix (those in ``last`` copied last)."""
    files = list_objects(source_uri)
    order = [k for k in files if k not in last] + [k for k in last if k in files]
    src_bucket, src = split_uri(source_uri)
    dst_bucket, dst = split_uri(dest_uri)
    with _named(dest_uri):
        for rel in order:
            client().copy_object(
                Bucket=dst_bucket,
                Key=f"{dst}/{rel}",
                CopySource={"Bucket": src_bucket, "Key": f"{src}/{rel}"},
            )


def upload_tree(local: str, prefix_uri: str, last: tuple[str, ...] = ()) -> dict[str, Any]:
    """Upload every file under ``local`` (lease files excepted) to ``prefix_uri``; the files named
    in ``last`` go last. Returns ``{relative path: {"size", "etag"}}``."""
    files = []
    for directory, _dirs, names in os.walk(local):
        for name in names:
            rel = os.path.relpath(os.path.join(directory, name), local)
            if name != LEASE and rel != MANIFEST:
                files.append(rel)
    files.sort(key=lambda rel: (rel in last, rel))
    bucket, prefix = split_uri(prefix_uri)
    uploaded: dict[str, Any] = {}
    with _named(prefix_uri):
        for rel in files:
            path = os.path.join(local, rel)
            key = f"{prefix}/{rel.replace(os.sep, '/')}"
            with open(path, "rb") as f:
                etag = client().put_object(Bucket=bucket, Key=key, Body=f)["ETag"]
            uploaded[rel.replace(os.sep, "/")] = {"size": os.path.getsize(path), "etag": etag}
    return uploaded


def download_tree(prefix_uri: str, files: dict[str, Any], dest: str) -> None:
    """Download the listed files into ``dest``, checking each one's size and ETag."""
    bucket, prefix = split_uri(prefix_uri)
    with _named(prefix_uri):
        for rel, meta in files.items():
            path = local_path(dest, rel, prefix_uri)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            response = client().get_object(Bucket=bucket, Key=f"{prefix}/{rel}")
            with open(path, "wb") as f:
                shutil.copyfileobj(response["Body"], f, 1 << 20)
            etag, size = response.get("ETag"), os.path.getsize(path)
            if size != meta["size"] or (meta.get("etag") and etag != meta["etag"]):
                raise ObjectStoreError(
                    f"{prefix_uri}/{rel} does not match its manifest (size {size} vs "
                    f"{meta['size']}, etag {etag} vs {meta.get('etag')}); it was changed after "
                    "the commit: delete the artifact and re-run the step"
                )


# -- leases -------------------------------------------------------------------------------------
class LeaseLost(ObjectStoreError):
    """Another holder took this lease over (it judged it stale): whatever the holder was doing
    under it is no longer exclusive, so it stops."""


class Lease:
    """A held lease object: its current ETag (refreshed by the heartbeat) and whether it was
    lost. Operations that must be exclusive call :meth:`check` before each change they make."""

    def __init__(self, uri: str, holder: str, etag: str) -> None:
        self.uri, self.holder, self.etag = uri, holder, etag
        self.lost = threading.Event()

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(
                f"the lease {self.uri} held by {self.holder} was taken over by another holder "
                f"(no heartbeat reached the store for {LEASE_SECONDS:.0f} s); stopping: "
                "re-run the step"
            )


@contextlib.contextmanager
def lease(uri: str, on_wait: Callable[[], None] = lambda: None) -> Iterator[Lease]:
    """Hold the lease object ``uri`` for the duration of the block, across machines.

    Created with ``If-None-Match``; a heartbeat rewrites it every quarter of LEASE_SECONDS with a
    new generation (so its ETag and Last-Modified move) and ``If-Match`` on its own last ETag: a
    refused heartbeat means the lease was taken over, and the holder raises :class:`LeaseLost`
    instead of going on. A waiter judges staleness by the store's clock alone (the store's
    ``Date`` against the lease's ``Last-Modified``, or, from a store that sends no date, the
    waiter's own monotonic clock watching the ETag stay unchanged): a holder's clock is never
    compared with anyone's. A stale lease is taken over with ``If-Match`` on the ETag seen stale,
    so two waiters cannot both take it; release deletes with ``If-Match`` on the holder's own
    ETag, so it never deletes a lease another holder took over."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    waited, seen = False, None
    while True:
        etag = put_bytes(uri, _lease_body(holder, 0), if_none_match=True)
        if etag:
            break
        if not waited:
            on_wait()
            waited = True
        meta = head(uri)
        if meta is None:
            continue
        stale, seen = _stale(meta, seen)
        if stale:
            etag = put_bytes(uri, _lease_body(holder, 0), if_match=meta["ETag"])
            if etag:
                break
            seen = None
            continue
        time.sleep(min(0.5, LEASE_SECONDS / 4))
    held = Lease(uri, holder, etag)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(held, stop), daemon=True)
    beat.start()
    try:
        yield held
    finally:
        stop.set()
        beat.join()
        if not held.lost.is_set() and not delete(uri, if_match=held.etag):
            held.lost.set()  # taken over after the last heartbeat: theirs now, left alone
    held.check()  # reached only when the block completed: report a lease lost meanwhile


def _lease_body(holder: str, generation: int) -> bytes:
    return json.dumps({"holder": holder, "generation": generation}).encode()


def _stale(
    meta: dict[str, Any], seen: tuple[str, float] | None
) -> tuple[bool, tuple[str, float] | None]:
    """Whether a lease was not refreshed for LEASE_SECONDS, and what the waiter saw (ETag, its
    own monotonic time when that ETag first appeared)."""
    date = meta.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date and meta.get("LastModified") is not None:
        store_now = email.utils.parsedate_to_datetime(date)
        return (store_now - meta["LastModified"]).total_seconds() > LEASE_SECONDS, None
    now = time.monotonic()
    if seen is None or seen[0] != meta["ETag"]:
        return False, (meta["ETag"], now)
    return now - seen[1] > LEASE_SECONDS, seen


def _heartbeat(held: Lease, stop: threading.Event) -> None:
    generation = 0
    while not stop.wait(LEASE_SECONDS / 4):
        generation += 1
        try:
            etag = put_bytes(held.uri, _lease_body(held.holder, generation), if_match=held.etag)
        except ObjectStoreError:
            continue  # unreachable for now: try again; a waiter may take it meanwhile
        if etag is None:  # If-Match refused: another holder has it
            held.lost.set()
            return
        held.etag = etag


# -- the artifact store -------------------------------------------------------------------------
def cache_root() -> str:
    base = os.path.expanduser(os.environ.get("TFPIPE_CACHE", "~/.cache/tfpipe"))
    return os.path.join(base, "objects")


def cache_dir(uri: str, *parts: str) -> str:
    """The local cache's place for ``uri`` (plus ``parts``, e.g. a manifest's payload prefix),
    confined to the cache: a hostile key or manifest cannot point it elsewhere."""
    bucket, key = split_uri(uri)
    return local_path(cache_root(), "/".join([bucket, key, *parts]), uri)


class ObjectStore:
    """Artifacts as prefixes of an S3-compatible bucket (see the module docstring)."""

    scheme = "s3"

    def manifest_path(self, uri: str) -> str:
        return join_uri(uri, MANIFEST)

    def is_committed(self, uri: str) -> bool:
        return head(self.manifest_path(uri)) is not None

    def read_manifest(self, uri: str) -> dict[str, Any] | None:
        manifest = get_json(self.manifest_path(uri))
        return dict(manifest) if manifest is not None else None

    def local_dir(self, uri: str) -> str:
        """The committed payload in the local cache, downloaded on first use."""
        manifest = self.read_manifest(uri)
        if manifest is None or "payload" not in manifest:
            raise ObjectStoreError(f"no committed artifact at {uri} (no manifest)")
        payload = manifest["payload"]
        target = cache_dir(uri, payload["prefix"])
        if os.path.isdir(target):
            return target
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        remove_dead_dirs(parent, ".download-")
        with leased_dir(os.path.join(parent, f".download-{uuid.uuid4().hex[:8]}")) as tmp:
            download_tree(join_uri(uri, payload["prefix"]), payload["files"], tmp)
            with contextlib.suppress(OSError):  # a concurrent download finished first: same bytes
                os.rename(tmp, target)
        return target

    @contextlib.contextmanager
    def staging(self, uri: str) -> Iterator[str]:
        """A private local directory for the payload; it becomes the cache entry once committed."""
        parent = cache_dir(uri)
        os.makedirs(parent, exist_ok=True)
        with leased_dir(os.path.join(parent, f".staging-{uuid.uuid4().hex[:8]}")) as staging:
            yield staging

    def commit(self, staging: str, uri: str, manifest: dict[str, Any]) -> bool:
        """Upload the payload under its own prefix, then create the manifest unless one exists.
        ``False`` when another writer committed first: our payload is deleted, theirs is kept."""
        prefix = f"{PAYLOAD}{uuid.uuid4().hex[:12]}"
        files = upload_tree(staging, join_uri(uri, prefix))
        manifest["payload"] = {"prefix": prefix, "files": files}
        fault_point(f"commit:{uri.rstrip('/').split('/')[-2]}")
        body = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode()
        if put_bytes(self.manifest_path(uri), body, if_none_match=True) is None:
            delete_prefix(join_uri(uri, prefix))
            return False
        with contextlib.suppress(OSError):  # keep the bytes we have as the local copy
            os.remove(os.path.join(staging, LEASE))
            os.rename(staging, cache_dir(uri, prefix))
        return True

    @contextlib.contextmanager
    def lock(self, uri: str, on_wait: Callable[[], None]) -> Iterator[None]:
        with lease(ArtifactAddress.of(uri).lock, on_wait):
            yield

    def remove_stale_staging(self, uri: str) -> list[str]:
        """Under the artifact's lease: payload prefixes of an uncommitted URI were left by dead
        writers (a kill between upload and manifest) and are deleted."""
        if self.is_committed(uri):
            return []
        removed = []
        for name in list_children(uri):
            if name.startswith(PAYLOAD):
                delete_prefix(join_uri(uri, name))
                removed.append(join_uri(uri, name))
        return removed

    def scratch_dir(self, uri: str) -> str:
        """Local: scratch work (checkpoints) stays on the worker that does it."""
        return cache_dir(ArtifactAddress.of(uri).scratch)
