"""The artifact contract: a directory holding its payload and a ``manifest.json`` written last.

A component writes into a private staging directory next to the final one. Only when the payload is
complete is the manifest written and the staging directory renamed onto the final URI (an atomic
``rename`` on a local or POSIX filesystem). Readers therefore either see a committed artifact with a
manifest, or nothing: a crash, a kill or an exception leaves at most a staging directory, which no
reader ever looks at and which the next attempt removes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MANIFEST = "manifest.json"
STAGING_MARK = ".staging-"


class ArtifactNotCommitted(LookupError):
    """The URI holds no committed artifact (no manifest)."""


@dataclass(frozen=True)
class Artifact:
    """A committed artifact: where it lives and what its manifest says."""

    uri: str
    manifest: dict[str, Any] = field(repr=False)

    @property
    def type(self) -> str:
        return str(self.manifest["type"])

    @property
    def fingerprint(self) -> str:
        return str(self.manifest["fingerprint"])

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.manifest.get("summary", {}))

    def path(self, *parts: str) -> str:
        return os.path.join(self.uri, *parts)


def is_committed(uri: str) -> bool:
    return os.path.isfile(os.path.join(uri, MANIFEST))


def read_artifact(uri: str) -> Artifact:
    manifest_path = os.path.join(uri, MANIFEST)
    try:
        with open(manifest_path, encoding="utf-8") as f:
            return Artifact(uri=uri, manifest=json.load(f))
    except FileNotFoundError:
        raise ArtifactNotCommitted(
            f"no committed artifact at {uri} (no {MANIFEST}); was the producing step run?"
        ) from None


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_json_atomic(path: str, payload: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never a torn one."""
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def remove_stale_staging(uri: str) -> None:
    """Remove staging directories left by crashed attempts at this URI."""
    parent, name = os.path.split(uri.rstrip("/"))
    if not os.path.isdir(parent):
        return
    for entry in os.listdir(parent):
        if entry.startswith(name + STAGING_MARK):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


@contextlib.contextmanager
def staged_artifact(uri: str, manifest: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(staging_dir, manifest)``; commit both to ``uri`` if the block succeeds.

    The caller fills the staging directory and may add to ``manifest`` (e.g. its ``summary``). If
    another writer committed the same URI meanwhile (same fingerprint, so the same content), that
    artifact wins and ours is discarded.
    """
    parent = os.path.dirname(uri.rstrip("/"))
    os.makedirs(parent, exist_ok=True)
    staging = f"{uri.rstrip('/')}{STAGING_MARK}{uuid.uuid4().hex[:8]}"
    os.makedirs(staging)
    try:
        yield staging, manifest
        manifest.setdefault("committed_at", utc_now())
        write_json_atomic(os.path.join(staging, MANIFEST), manifest)
        try:
            os.rename(staging, uri)
        except OSError:
            if not is_committed(uri):
                raise
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
