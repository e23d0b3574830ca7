"""A step's scratch (checkpoints, the training backup, final weights) mirrored to the object store.

With a local store the scratch sits beside the artifacts, so an attempt retried on the same
machine resumes from it. With an object store the scratch is in the worker's own cache, and a
task that Airflow retries on *another* host used to start again from step 0. So, when the store
is remote, the scratch is mirrored to ``<store>/<pipeline>/scratch/<step>/<fingerprint>/``:

- **restored at start** (:meth:`ScratchMirror.restore`): files on the store that the local scratch
  lacks, or has with another size, are downloaded before the step runs;
- **synced after each checkpoint** (:meth:`ScratchMirror.sync`): only files whose size or mtime
  changed since the last sync are uploaded (a checkpoint interval rewrites the backup and adds one
  epoch file; earlier epochs are not sent again). Pointer files (TensorFlow's ``checkpoint``
  index, ``final_stats.json``) go after the files they point to, and files deleted locally are
  deleted remotely only after that: a host that dies mid-sync leaves the previous consistent
  checkpoint on the store, never a pointer to a half-uploaded one;
- **discarded after the commit** (:meth:`ScratchMirror.discard`), as the local scratch is.

Only the artifact's lease holder writes a scratch prefix, so no conditional writes are needed.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field

from tfpipe.components.artifacts import object_store
from tfpipe.components.artifacts.layout import LEASE, ArtifactAddress
from tfpipe.components.core.faults import fault_point

# Files that say which other files are current: written to the store after those files.
POINTERS = ("checkpoint", "final_stats.json")


@dataclass
class MirrorStats:
    restored_files: int = 0
    restored_bytes: int = 0
    syncs: int = 0
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    deleted_files: int = 0
    sync_seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, float | int]:
        per = self.sync_seconds
        return {
            "restored_files": self.restored_files,
            "restored_mb": round(self.restored_bytes / 1e6, 3),
            "syncs": self.syncs,
            "uploaded_files": self.uploaded_files,
            "uploaded_mb": round(self.uploaded_bytes / 1e6, 3),
            "deleted_files": self.deleted_files,
            "mean_sync_seconds": round(sum(per) / len(per), 4) if per else 0.0,
            "max_sync_seconds": round(max(per), 4) if per else 0.0,
        }


class ScratchMirror:
    """The local scratch ``local`` mirrored under ``remote`` (an ``s3://`` prefix); with
    ``remote`` empty (a local store) every method is a no-op."""

    def __init__(self, local: str, remote: str = "", name: str = "") -> None:
        self.local, self.remote, self.name = local, remote.rstrip("/"), name
        self.stats = MirrorStats()
        # What the store holds, as far as this process knows: {rel: (size, mtime_ns)} of the
        # local file that was uploaded (or written by a download).
        self._known: dict[str, tuple[int, int]] = {}
        self._listed = False

    @classmethod
    def for_artifact(cls, uri: str, local: str) -> ScratchMirror:
        """The mirror of the scratch of artifact ``uri``: remote only on an object store."""
        if not object_store.is_object_uri(uri):
            return cls(local)
        address = ArtifactAddress.of(uri)
        return cls(local, address.scratch, address.step)

    @property
    def active(self) -> bool:
        return bool(self.remote)

    def _local_files(self) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        for directory, _dirs, names in os.walk(self.local):
            for name in names:
                if name == LEASE or name.startswith(".tmp"):
                    continue
                path = os.path.join(directory, name)
                try:
                    st = os.stat(path)
                except FileNotFoundError:  # removed while we walked (a checkpoint rotation)
                    continue
                rel = os.path.relpath(path, self.local).replace(os.sep, "/")
                found[rel] = (st.st_size, st.st_mtime_ns)
        return found

    def restore(self) -> int:
        """Download what the store has and the local scratch lacks; return the files fetched."""
        if not self.active:
            return 0
        remote = object_store.list_objects(self.remote)
        self._listed = True
        local = self._local_files()
        # The store is authoritative: a file whose bytes differ (a pointer file of the same size
        # naming another checkpoint) is fetched too. Local extras are left: harmless garbage.
        wanted = {
            rel: meta
            for rel, meta in remote.items()
            if local.get(rel, (-1,))[0] != meta["size"]
            or _etag(os.path.join(self.local, *rel.split("/"))) != meta["etag"]
        }
        if wanted:
            object_store.download_tree(self.remote, wanted, self.local)
        for rel in remote:
            path = object_store.local_path(self.local, rel, self.remote)
            st = os.stat(path)
            self._known[rel] = (st.st_size, st.st_mtime_ns)
        self.stats.restored_files += len(wanted)
        self.stats.restored_bytes += sum(int(m["size"]) for m in wanted.values())
        return len(wanted)

    def sync(self) -> int:
        """Upload the files changed since the last sync (pointers last), then delete on the
        store what was deleted locally; return the files uploaded."""
        if not self.active:
            return 0
        start = time.perf_counter()
        if not self._listed:
            remote = object_store.list_objects(self.remote)
            self._known = {rel: (int(m["size"]), -1) for rel, m in remote.items()}
            self._listed = True
        local = self._local_files()
        changed = sorted(
            (rel for rel, sig in local.items() if self._known.get(rel) != sig),
            key=lambda rel: (rel.rsplit("/", 1)[-1] in POINTERS, rel),
        )
        bucket, prefix = object_store.split_uri(self.remote)
        client = object_store.client()
        uploaded = 0
        with object_store._named(self.remote):
            for rel in changed:
                path = os.path.join(self.local, *rel.split("/"))
                try:
                    with open(path, "rb") as f:
                        client.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=f)
                except FileNotFoundError:
                    continue
                self._known[rel] = local[rel]
                self.stats.uploaded_bytes += local[rel][0]
                uploaded += 1
            for rel in sorted(set(self._known) - set(local)):
                client.delete_object(Bucket=bucket, Key=f"{prefix}/{rel}")
                del self._known[rel]
                self.stats.deleted_files += 1
        self.stats.syncs += 1
        self.stats.uploaded_files += uploaded
        self.stats.sync_seconds.append(time.perf_counter() - start)
        fault_point(f"scratch-mirrored:{self.name}:{self.stats.syncs}")
        return uploaded

    def discard(self) -> None:
        """Delete the mirrored scratch (once the step's artifact is committed)."""
        if self.active:
            object_store.delete_prefix(self.remote)
            self._known.clear()


def _etag(path: str) -> str:
    """The ETag an object store gives this file when put in one request (its quoted MD5)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f'"{digest.hexdigest()}"'
