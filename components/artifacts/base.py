"""The artifact contract: a directory holding its payload and a ``manifest.json`` written last.

:class:`Artifact` is the typed view of one committed (or, for its producer, staged) artifact: the
manifest's fields, the lineage it records, and the payload's layout, which each subclass in
``tfpipe.components.artifacts.types`` owns. Nothing outside this package spells an
artifact's file names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

from tfpipe.components.artifacts.layout import LEASE, MANIFEST
from tfpipe.components.artifacts.local_store import read_json, write_json_atomic
from tfpipe.components.artifacts.store import store_for
from tfpipe.components.core.errors import TfpipeError

A = TypeVar("A", bound="Artifact")


class ArtifactNotCommitted(LookupError):
    """The URI holds no committed artifact (no manifest)."""


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Artifact:
    """A committed artifact: where it lives, what its manifest says, where its payload is."""

    TYPE: ClassVar[str] = "Artifact"
    _registry: ClassVar[dict[str, type[Artifact]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Artifact._registry[cls.TYPE] = cls

    def __init__(self, uri: str, manifest: dict[str, Any], root: str | None = None) -> None:
        self.uri = uri
        self.manifest = manifest
        self._root = root

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"

    # -- manifest -----------------------------------------------------------------------------
    @property
    def type(self) -> str:
        return str(self.manifest.get("type", self.TYPE))

    @property
    def fingerprint(self) -> str:
        return str(self.manifest["fingerprint"])

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.manifest.get("summary", {}))

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.manifest.get("parameters", {}))

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", ""))

    @property
    def halt(self) -> str | None:
        """Why steps that read this artifact must not run (e.g. blocking data anomalies)."""
        return self.manifest.get("halt") or None

    def input_refs(self) -> dict[str, dict[str, str]]:
        """Lineage: ``{input name: {"uri", "fingerprint"}}`` of the artifacts that made this one."""
        return {k: dict(v) for k, v in self.manifest.get("inputs", {}).items()}

    def input(self, name: str) -> Artifact:
        refs = self.input_refs()
        if name not in refs:
            raise KeyError(f"{self} was not made from an input named '{name}' ({sorted(refs)})")
        return open_artifact(refs[name]["uri"])

    def lineage(self) -> dict[str, Any]:
        """The tree of artifacts this one was made from: type, uri, fingerprint, inputs."""
        return {
            "type": self.type,
            "uri": self.uri,
            "fingerprint": self.manifest.get("fingerprint"),
            "inputs": {
                name: open_artifact(ref["uri"]).lineage()
                if is_committed(ref["uri"])
                else {"uri": ref["uri"], "fingerprint": ref.get("fingerprint"), "missing": True}
                for name, ref in self.input_refs().items()
            },
        }

    # -- payload ------------------------------------------------------------------------------
    @property
    def root(self) -> str:
        """A local directory with the payload (a cached copy when the store is remote)."""
        if self._root is None:
            self._root = store_for(self.uri).local_dir(self.uri)
        return self._root

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def _read_json(self, *parts: str) -> Any:
        return read_json(self.path(*parts))

    def _write_json(self, payload: Any, *parts: str) -> str:
        path = self.path(*parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_json_atomic(path, payload)
        return path


def artifact_class(type_name: str) -> type[Artifact]:
    return Artifact._registry.get(type_name, Artifact)


def is_committed(uri: str) -> bool:
    return store_for(uri).is_committed(uri)


def read_manifest(uri: str) -> dict[str, Any] | None:
    return store_for(uri).read_manifest(uri)


def open_artifact(uri: str, expected: type[A] = Artifact) -> A:  # type: ignore[assignment]
    """The committed artifact at ``uri``, as its typed accessor."""
    manifest = read_manifest(uri)
    if manifest is None:
        raise ArtifactNotCommitted(
            f"no committed artifact at {uri} (no manifest); was the producing step run?"
        )
    cls = artifact_class(str(manifest.get("type")))
    if expected is not Artifact and not issubclass(cls, expected):
        raise ArtifactNotCommitted(
            f"{uri} holds a {manifest.get('type')} artifact, expected {expected.TYPE}"
        )
    return cls(uri, manifest)  # type: ignore[return-value]


def artifact_lock(uri: str, on_wait: Callable[[], None] = lambda: None) -> Any:
    """A context manager: the exclusive right to compute the artifact at ``uri``."""
    return store_for(uri).lock(uri, on_wait)


def remove_stale_staging(uri: str) -> list[str]:
    return store_for(uri).remove_stale_staging(uri)


@contextlib.contextmanager
def staged(uri: str, manifest: dict[str, Any]) -> Iterator[Artifact]:
    """Yield the typed artifact being written (its root is a private staging directory); commit
    payload and manifest to ``uri`` together if the block succeeds, discard them if it raises.

    The caller fills the payload and may add to ``manifest`` (e.g. its ``summary``). If another
    writer committed the same URI meanwhile (same fingerprint, so the same content), that artifact
    wins and ours is discarded.
    """
    store = store_for(uri)
    with store.staging(uri) as staging_dir:
        artifact = artifact_class(str(manifest.get("type")))(uri, manifest, root=staging_dir)
        yield artifact
        manifest.setdefault("committed_at", utc_now())
        store.commit(staging_dir, uri, manifest)


def copy_committed(uri: str, target: str) -> bool:
    """Commit a copy of the committed artifact at ``uri`` to ``target`` (a directory or an
    object-store prefix someone else reads, e.g. ``tfpipe score --out``), by the same protocol:
    payload staged, manifest last, then visible at once. Files are hard links where the
    filesystem allows. Returns False when ``target`` already holds this artifact; refuses a
    ``target`` that holds something else."""
    artifact = open_artifact(uri)
    existing = read_manifest(target)
    if existing is not None:
        if existing.get("fingerprint") == artifact.fingerprint:
            return False
        raise TfpipeError(
            f"{target} already holds another {existing.get('type')} (fingerprint "
            f"{existing.get('fingerprint')}, run {existing.get('run_id')}); choose a new place "
            "or remove it"
        )
    if "://" not in target and os.path.isdir(target) and os.listdir(target):
        raise TfpipeError(f"{target} exists and holds other files; choose a new or empty directory")
    remove_stale_staging(target)
    source = artifact.root
    with staged(target, {**artifact.manifest, "copied_from": uri}) as copy:
        for directory, _dirs, files in os.walk(source):
            for name in files:
                if directory == source and name in (MANIFEST, LEASE):
                    continue
                path = os.path.join(directory, name)
                dest = os.path.join(copy.root, os.path.relpath(path, source))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                try:
                    os.link(path, dest)
                except OSError:
                    shutil.copy2(path, dest)
    return True
