"""The TensorFlow Serving directory layout: ``<base>/<name>/<integer version>/``, newest served.

Every change (publish, prune, rollback) happens under an exclusive ``fcntl`` lock on
``<base>/<name>/.lock``, so concurrent pushers and a rollback are serialised. A publish is a
compare-and-swap: it names the version the model was evaluated against and is refused if the
newest version is no longer that one. Rolled-back versions move to ``.rolled_back/`` (a
non-integer name, which TF Serving ignores), so nothing is lost. New versions are copied in under a
hidden name and renamed, so TF Serving never loads a half-copied model.

The directory may also be an ``s3://`` prefix (:class:`ObjectServingDirectory`, which TF Serving
reads with its S3 file system): the same operations over objects, with a lease object for the lock
and ``saved_model.pb`` uploaded last and deleted first, so a poller never loads a partial version.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import tfpipe.components.artifacts.object_store as objects
from tfpipe.components.artifacts.layout import absolute_uri
from tfpipe.components.artifacts.layout import join as join_uri
from tfpipe.components.artifacts.local_store import leased_dir, read_json, remove_dead_dirs
from tfpipe.components.artifacts.types import ASSETS_EXTRA, MODEL_CARD, MODEL_INFO
from tfpipe.components.core.errors import TfpipeError
from tfpipe.components.core.faults import fault_point

ROLLED_BACK = ".rolled_back"
INCOMING = ".incoming-"
SAVED_MODEL = "saved_model.pb"


class StaleBaseline(TfpipeError):
    """A newer version was published after this model was evaluated against an older one."""


@dataclass(frozen=True)
class PinnedVersion:
    """A served version held still for a reader: its number, a private local copy, its info."""

    version: int
    path: str
    info: dict[str, Any] | None
    card: dict[str, Any] | None


class _Held:
    """A lock that cannot be lost while its holder lives."""

    def check(self) -> None:
        pass


class ServingDirectory:
    """A TF Serving model directory on a local or mounted filesystem. The publish, prune and
    rollback rules live here; subclasses change only the storage primitives (the ``_`` methods,
    ``locked`` and ``version_dir``)."""

    @classmethod
    def of(cls, base: str, name: str) -> ServingDirectory:
        """The serving directory ``<base>/<name>``, on the store ``base`` names."""
        if base.startswith("s3://"):
            return ObjectServingDirectory(base, name)
        return cls(base, name)

    @classmethod
    def at(cls, model_dir: str | None) -> ServingDirectory | None:
        """The serving directory of one model, from its path (``<base>/<name>``); None for
        none (a parameter left unset)."""
        if not model_dir:
            return None
        path = absolute_uri(model_dir)
        base, _, name = path.rpartition("/")
        return cls.of(base, name)

    def __init__(self, base: str, name: str) -> None:
        self.base = absolute_uri(base)
        self.name = name
        self.model_dir = join_uri(self.base, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_dir!r})"

    # -- reading ------------------------------------------------------------------------------
    def versions(self) -> list[int]:
        return self._int_dirs(self.model_dir)

    def rolled_back(self) -> list[int]:
        return self._int_dirs(join_uri(self.model_dir, ROLLED_BACK))

    def latest(self) -> int | None:
        found = self.versions()
        return found[-1] if found else None

    def version_dir(self, version: int) -> str:
        """Where a version lives (a path or a URI: what TF Serving is pointed at)."""
        return join_uri(self.model_dir, str(version))

    def local_copy(self, version: int) -> str:
        """A local directory holding the version, to load it."""
        return self.version_dir(version)

    @contextlib.contextmanager
    def pinned(self, version: int) -> Iterator[PinnedVersion]:
        """A private copy of a served version, with its model info and card, for as long as the
        block runs. Taken under the directory's lock, so a prune or rollback running meanwhile
        can neither delete it while it is read nor leave a half copy; the version must still
        be served (else :class:`StaleBaseline`, naming it)."""
        with self.locked():
            if version not in self.versions():
                raise StaleBaseline(
                    f"version {version} of {self.model_dir} was pruned or rolled back after this "
                    f"run was planned (served now: {self.versions()}); re-run to evaluate against "
                    "the version served now"
                )
            copy = self._pin(version)
            info, card = self.info(version), self.card(version)
        try:
            yield PinnedVersion(version, copy, info, card)
        finally:
            self._unpin(copy)

    def _pin(self, version: int) -> str:
        """Hard links (same file system) or copies of the version's files in a private temporary
        directory: a version's files are never rewritten, only removed."""
        copy = os.path.join(tempfile.mkdtemp(prefix="tfpipe-pinned-"), str(version))

        def link_or_copy(src: str, dst: str) -> None:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

        shutil.copytree(self.version_dir(version), copy, copy_function=link_or_copy)
        return copy

    def _unpin(self, copy: str) -> None:
        shutil.rmtree(os.path.dirname(copy), ignore_errors=True)

    def card(self, version: int) -> dict[str, Any] | None:
        return self._json(join_uri(self.version_dir(version), ASSETS_EXTRA, MODEL_CARD))

    def info(self, version: int) -> dict[str, Any] | None:
        return self._json(join_uri(self.version_dir(version), ASSETS_EXTRA, MODEL_INFO))

    def model_fingerprint(self, version: int) -> str | None:
        """The tfpipe model fingerprint a version was pushed from (None: pushed by others)."""
        card = self.card(version)
        return card.get("model_fingerprint") if card else None

    def identity(self, version: int) -> str:
        """What identifies a version's content: its model fingerprint, or its graph's digest."""
        return self._identity(self.version_dir(version))

    def identity_rolled_back(self, version: int) -> str:
        return self._identity(join_uri(self.model_dir, ROLLED_BACK, str(version)))

    def _identity(self, version_dir: str) -> str:
        card = self._json(join_uri(version_dir, ASSETS_EXTRA, MODEL_CARD)) or {}
        if card.get("model_fingerprint"):
            return str(card["model_fingerprint"])
        return self._graph_digest(join_uri(version_dir, SAVED_MODEL)) or "missing"

    # -- changing -----------------------------------------------------------------------------
    def publish(
        self,
        saved_model_dir: str,
        *,
        expected_latest: int | None,
        prepare: Callable[[str], None] = lambda path: None,
    ) -> int:
        """Copy a SavedModel in as a new version, only if the newest version is still
        ``expected_latest`` (the one it was evaluated against; None = there was none).
        ``prepare`` may check and add to the copy (a model card) before it becomes visible."""
        with self._incoming() as tmp:
            model = os.path.join(tmp, "model")
            shutil.copytree(saved_model_dir, model)
            prepare(model)
            with self.locked() as lock:
                latest = self.latest()
                if latest != expected_latest:
                    raise StaleBaseline(
                        f"version {latest} was published to {self.model_dir} after this model "
                        f"was evaluated against "
                        f"{'version ' + str(expected_latest) if expected_latest else 'no model'}"
                        "; not pushing over it. Re-run the pipeline to evaluate against "
                        f"version {latest}."
                    )
                version = self._next_version()
                fault_point("publish")
                lock.check()  # still ours (an object-store lease can be taken over)
                self._install(model, version)
                return version

    def _next_version(self) -> int:
        """A timestamp version (as TFX uses), bumped past every existing or rolled-back one."""
        existing = self.versions() + self.rolled_back()
        return max(int(time.time()), max(existing) + 1 if existing else 0)

    def prune(self, keep_last: int) -> list[int]:
        """Delete all but the newest ``keep_last`` versions; return the deleted ones. A version
        that cannot be deleted fails the call (it is not reported as deleted)."""
        with self.locked() as lock:
            doomed = self.versions()[:-keep_last]
            for version in doomed:
                lock.check()
                self._delete(version)
            return doomed

    def rollback(self, to: int | None = None) -> tuple[list[int], int]:
        """Make ``to`` (default: the previous version) the served one; return (moved aside,
        served). The newer versions are kept in ``.rolled_back/``."""
        with self.locked() as lock:
            available = self.versions()
            if len(available) < 2 and to is None:
                raise TfpipeError(f"nothing to roll back to in {self.model_dir}: {available}")
            target = to if to is not None else available[-2]
            if target not in available:
                raise TfpipeError(
                    f"version {target} is not in {self.model_dir}; versions: {available}"
                )
            newer = [v for v in available if v > target]
            for version in newer:
                lock.check()
                self._move_aside(version)
            return newer, target

    # -- storage primitives (local filesystem) -------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[Any]:
        """Exclusive use of the directory; the object yielded has ``check()``, which raises if
        the lock was lost meanwhile (an ``fcntl`` lock cannot be: it is held to the end)."""
        os.makedirs(self.model_dir, exist_ok=True)
        with open(os.path.join(self.model_dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield _Held()

    @contextlib.contextmanager
    def _incoming(self) -> Iterator[str]:
        # Leased: a copy left by a killed Pusher is removed by the next publish, never mistaken
        # for a live one (TF Serving ignores dot-directories either way).
        os.makedirs(self.model_dir, exist_ok=True)
        remove_dead_dirs(self.model_dir, INCOMING)
        with leased_dir(os.path.join(self.model_dir, f"{INCOMING}{uuid.uuid4().hex[:8]}")) as tmp:
            yield tmp

    def _install(self, model: str, version: int) -> None:
        os.rename(model, self.version_dir(version))

    def _delete(self, version: int) -> None:
        # Hide it from TF Serving first (a rename is atomic), then delete.
        hidden = os.path.join(self.model_dir, f".pruning-{version}")
        os.rename(self.version_dir(version), hidden)
        shutil.rmtree(hidden)

    def _move_aside(self, version: int) -> None:
        aside = os.path.join(self.model_dir, ROLLED_BACK)
        os.makedirs(aside, exist_ok=True)
        os.rename(self.version_dir(version), os.path.join(aside, str(version)))

    def _json(self, path: str) -> dict[str, Any] | None:
        return dict(read_json(path)) if os.path.exists(path) else None

    def _graph_digest(self, path: str) -> str | None:
        from tfpipe.components.core.fingerprint import file_digest

        return file_digest(path) if os.path.exists(path) else None

    def _int_dirs(self, directory: str) -> list[int]:
        if not os.path.isdir(directory):
            return []
        return sorted(int(d) for d in os.listdir(directory) if d.isdigit())


class ObjectServingDirectory(ServingDirectory):
    """A TF Serving model directory under an ``s3://`` prefix (see the module docstring)."""

    def _pin(self, version: int) -> str:
        return self.local_copy(version)  # downloaded under the lease: whole; a cached copy stays

    def _unpin(self, copy: str) -> None:
        pass  # the worker's cache: the same version is never rewritten

    def local_copy(self, version: int) -> str:
        uri = self.version_dir(version)
        target = objects.cache_dir(uri, "copy")
        if not os.path.isdir(target):  # versions are never rewritten: a copy stays valid
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with leased_dir(f"{target}.{uuid.uuid4().hex[:8]}") as tmp:
                objects.download_tree(uri, objects.list_objects(uri), tmp)
                with contextlib.suppress(OSError):
                    os.rename(tmp, target)
        return target

    @contextlib.contextmanager
    def locked(self) -> Iterator[Any]:
        with objects.lease(join_uri(self.model_dir, ".lock")) as held:
            yield held

    @contextlib.contextmanager
    def _incoming(self) -> Iterator[str]:
        parent = objects.cache_dir(self.model_dir)
        os.makedirs(parent, exist_ok=True)
        with leased_dir(os.path.join(parent, f"{INCOMING}{uuid.uuid4().hex[:8]}")) as tmp:
            yield tmp

    def _install(self, model: str, version: int) -> None:
        objects.upload_tree(model, self.version_dir(version), last=(SAVED_MODEL,))

    def _delete(self, version: int) -> None:
        objects.delete_prefix(self.version_dir(version), first=(SAVED_MODEL,))

    def _move_aside(self, version: int) -> None:
        aside = join_uri(self.model_dir, ROLLED_BACK, str(version))
        objects.copy_prefix(self.version_dir(version), aside, last=(SAVED_MODEL,))
        objects.delete_prefix(self.version_dir(version), first=(SAVED_MODEL,))

    def _json(self, path: str) -> dict[str, Any] | None:
        found = objects.get_json(path)
        return dict(found) if found is not None else None

    def _graph_digest(self, path: str) -> str | None:
        meta = objects.head(path)
        return str(meta["ETag"]).strip('"') if meta else None

    def _int_dirs(self, directory: str) -> list[int]:
        """Versions whose ``saved_model.pb`` is there: one being uploaded or deleted is not."""
        found = {
            rel.split("/")[0]
            for rel in objects.list_objects(directory)
            if rel.count("/") == 1 and rel.endswith("/" + SAVED_MODEL)
        }
        return sorted(int(d) for d in found if d.isdigit())
