"""Artifacts on a local (or mounted) POSIX filesystem, and the local file primitives the object
store shares (JSON written atomically, leased directories).

Commit protocol: the payload is written into a private staging directory next to the final one,
``manifest.json`` is written into it last, and the staging directory is renamed onto the final
URI, which is atomic on a POSIX filesystem. A reader trusts only a manifest, so it sees a
committed artifact or nothing. Each staging directory holds an ``fcntl`` lock for as long as its
writer lives; the lock goes away with the process however it ends (a kill -9 included), so the
leftovers of dead writers can be told from a directory a concurrent writer is filling right now.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from tfpipe.components.artifacts.layout import LEASE, MANIFEST, STAGING_MARK, ArtifactAddress
from tfpipe.components.core.faults import fault_point


def write_json_atomic(path: str, payload: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never a torn one."""
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2, sort_keys=True, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class LocalStore:
    """Artifacts as directories of a local or mounted POSIX filesystem."""

    scheme = "file"

    def manifest_path(self, uri: str) -> str:
        return os.path.join(uri, MANIFEST)

    def is_committed(self, uri: str) -> bool:
        return os.path.isfile(self.manifest_path(uri))

    def read_manifest(self, uri: str) -> dict[str, Any] | None:
        try:
            return read_json(self.manifest_path(uri))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def local_dir(self, uri: str) -> str:
        """A local directory holding the committed payload (here: the artifact itself)."""
        return uri

    @contextlib.contextmanager
    def staging(self, uri: str) -> Iterator[str]:
        """A private, leased staging directory for ``uri``; removed unless committed."""
        parent, name = os.path.split(uri.rstrip("/"))
        os.makedirs(parent, exist_ok=True)
        # Hidden (a dot name): a reader globbing the parent never sees a half-written artifact.
        hidden = os.path.join(parent, f".{name}{STAGING_MARK}{uuid.uuid4().hex[:8]}")
        with leased_dir(hidden) as staging:
            yield staging

    def commit(self, staging: str, uri: str, manifest: dict[str, Any]) -> bool:
        """Write the manifest last and move the payload into place. ``False`` when another writer
        committed the same URI first (same fingerprint, so the same content): theirs is kept."""
        write_json_atomic(os.path.join(staging, MANIFEST), manifest)
        fault_point(f"commit:{ArtifactAddress.of(uri).step}")
        try:
            os.rename(staging, uri.rstrip("/"))
        except OSError:
            if not self.is_committed(uri):
                raise
            return False
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(uri, LEASE))  # still locked by our open handle until then
        return True

    @contextlib.contextmanager
    def lock(self, uri: str, on_wait: Callable[[], None]) -> Iterator[None]:
        """Exclusive right to write ``uri`` (an ``fcntl`` lock, released when the holder exits
        or dies). ``on_wait`` is called once if another holder makes us wait."""
        path = ArtifactAddress.of(uri).lock
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                on_wait()
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def remove_stale_staging(self, uri: str) -> list[str]:
        """Remove staging directories of ``uri`` whose writer is gone (its lease lock is free);
        a directory that a live writer holds is left alone. Returns what was removed."""
        parent, name = os.path.split(uri.rstrip("/"))
        if not os.path.isdir(parent):
            return []
        return remove_dead_dirs(parent, f".{name}{STAGING_MARK}") + remove_dead_dirs(
            parent,
            name + STAGING_MARK,  # named so by earlier versions
        )

    def scratch_dir(self, uri: str) -> str:
        """Beside the artifacts, on the same disk (see ``layout``)."""
        return ArtifactAddress.of(uri).scratch


@contextlib.contextmanager
def leased_dir(path: str) -> Iterator[str]:
    """Create ``path`` holding an ``fcntl`` lease for as long as this process lives (see
    ``remove_dead_dirs``); removed on exit unless it was renamed away (committed)."""
    os.makedirs(path)
    lease = open(os.path.join(path, LEASE), "w")
    fcntl.flock(lease, fcntl.LOCK_EX)
    try:
        yield path
    finally:
        lease.close()
        shutil.rmtree(path, ignore_errors=True)


def remove_dead_dirs(parent: str, prefix: str) -> list[str]:
    """Remove the ``leased_dir``s named ``prefix*`` in ``parent`` whose writer is gone (a kill -9
    included); those a live writer holds stay. Returns what was removed."""
    removed = []
    for entry in os.listdir(parent) if os.path.isdir(parent) else []:
        path = os.path.join(parent, entry)
        if entry.startswith(prefix) and not _writer_alive(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _writer_alive(staging: str) -> bool:
    try:
        lease = open(os.path.join(staging, LEASE))
    except FileNotFoundError:
        # No lease yet: a writer that is just starting (give it a minute), or one that died
        # before taking it.
        try:
            return time.time() - os.stat(staging).st_mtime < 60
        except FileNotFoundError:
            return False
    with lease:
        try:
            fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
