"""Where artifacts live: the one place that picks the store doing I/O on an artifact URI.

An artifact URI is a directory: a local (or mounted) path (:class:`LocalStore`), or an
``s3://bucket/prefix`` with the same layout (:class:`ObjectStore`). Everything that reads or
writes artifact bytes goes through the :class:`Store` that :func:`store_for` picks, so a backend
is one class, not an edit in every component. The layout itself is ``layout.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from tfpipe.components.artifacts.layout import join
from tfpipe.components.artifacts.local_store import LocalStore
from tfpipe.components.artifacts.object_store import ObjectStore


class Store(Protocol):
    """What the artifact catalog needs of a storage backend."""

    scheme: str

    def manifest_path(self, uri: str) -> str: ...

    def is_committed(self, uri: str) -> bool: ...

    def read_manifest(self, uri: str) -> dict[str, Any] | None: ...

    def local_dir(self, uri: str) -> str:
        """A local directory holding the committed payload."""
        ...

    def staging(self, uri: str) -> AbstractContextManager[str]:
        """A private local directory to write ``uri``'s payload into."""
        ...

    def commit(self, staging: str, uri: str, manifest: dict[str, Any]) -> bool:
        """Make the payload visible, manifest last; False when another writer committed first."""
        ...

    def lock(self, uri: str, on_wait: Callable[[], None]) -> AbstractContextManager[None]: ...

    def remove_stale_staging(self, uri: str) -> list[str]: ...

    def scratch_dir(self, uri: str) -> str:
        """A local directory for work that outlives a failed attempt (checkpoints)."""
        ...


_LOCAL = LocalStore()
_OBJECTS = ObjectStore()


def store_for(uri: str) -> Store:
    """The store that serves ``uri``: an object store for ``s3://``, else the local filesystem."""
    return _OBJECTS if uri.startswith("s3://") else _LOCAL


def join_uri(uri: str, *parts: str) -> str:
    return join(uri, *parts)
