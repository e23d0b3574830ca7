"""The TensorFlow Serving directory layout: ``<base>/<name>/<integer version>/``, newest served.

Every change (publish, prune, rollback) happens under an exclusive ``fcntl`` lock on
``<base>/<name>/.lock``, so concurrent pushers and a rollback are serialised. A publish is a
compare-and-swap: it names the version the model was evaluated against and is refused if the
newest version is no longer that one. Rolled-back versions move to ``.rolled_back/`` (a
non-integer name, which TF Serving ignores), so nothing is lost. New versions are copied in under a
hidden name and renamed, so TF Serving never loads a half-copied model.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from components.artifacts.store import leased_dir, read_json, remove_dead_dirs
from components.artifacts.types import ASSETS_EXTRA, MODEL_CARD, saved_model_info
from components.core.errors import TfpipeError
from components.core.faults import fault_point

ROLLED_BACK = ".rolled_back"
INCOMING = ".incoming-"


class StaleBaseline(TfpipeError):
    """A newer version was published after this model was evaluated against an older one."""


class ServingDirectory:
    @classmethod
    def at(cls, model_dir: str | None) -> ServingDirectory | None:
        """The serving directory of one model, from its path (``<base>/<name>``); None for
        none (a parameter left unset)."""
        if not model_dir:
            return None
        path = os.path.abspath(model_dir)
        return cls(os.path.dirname(path), os.path.basename(path))

    def __init__(self, base: str, name: str) -> None:
        self.base = os.path.abspath(base)
        self.name = name
        self.model_dir = os.path.join(self.base, name)

    def __repr__(self) -> str:
        return f"ServingDirectory({self.model_dir!r})"

    # -- reading ------------------------------------------------------------------------------
    def versions(self) -> list[int]:
        return _int_dirs(self.model_dir)

    def rolled_back(self) -> list[int]:
        return _int_dirs(os.path.join(self.model_dir, ROLLED_BACK))

    def latest(self) -> int | None:
        found = self.versions()
        return found[-1] if found else None

    def version_dir(self, version: int) -> str:
        return os.path.join(self.model_dir, str(version))

    def card(self, version: int) -> dict[str, Any] | None:
        path = os.path.join(self.version_dir(version), ASSETS_EXTRA, MODEL_CARD)
        return dict(read_json(path)) if os.path.exists(path) else None

    def info(self, version: int) -> dict[str, Any] | None:
        try:
            return saved_model_info(self.version_dir(version))
        except FileNotFoundError:
            return None

    def model_fingerprint(self, version: int) -> str | None:
        """The tfpipe model fingerprint a version was pushed from (None: pushed by others)."""
        card = self.card(version)
        return card.get("model_fingerprint") if card else None

    def identity(self, version: int) -> str:
        """What identifies a version's content: its model fingerprint, or its graph's digest."""
        return _identity(self.version_dir(version))

    def identity_rolled_back(self, version: int) -> str:
        return _identity(os.path.join(self.model_dir, ROLLED_BACK, str(version)))

    # -- changing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        os.makedirs(self.model_dir, exist_ok=True)
        with open(os.path.join(self.model_dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def publish(
        self,
        saved_model_dir: str,
        *,
        expected_latest: int | None,
        prepare: Callable[[str], None] = lambda path: None,
    ) -> int:
        """Copy a SavedModel in as a new version, only if the newest version is still
        ``expected_latest`` (the one it was evaluated against; None = there was none)."""
        os.makedirs(self.model_dir, exist_ok=True)
        # Leased: a copy left by a killed Pusher is removed by the next publish, never mistaken
        # for a live one (TF Serving ignores dot-directories either way).
        remove_dead_dirs(self.model_dir, INCOMING)
        with leased_dir(os.path.join(self.model_dir, f"{INCOMING}{uuid.uuid4().hex[:8]}")) as tmp:
            shutil.copytree(saved_model_dir, os.path.join(tmp, "model"))
            model = os.path.join(tmp, "model")
            prepare(model)
            with self.locked():
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
                os.rename(model, self.version_dir(version))
                return version

    def _next_version(self) -> int:
        """A timestamp version (as TFX uses), bumped past every existing or rolled-back one."""
        existing = self.versions() + self.rolled_back()
        return max(int(time.time()), max(existing) + 1 if existing else 0)

    def prune(self, keep_last: int) -> list[int]:
        """Delete all but the newest ``keep_last`` versions; return the deleted ones. A version
        that cannot be deleted fails the call (it is not reported as deleted)."""
        with self.locked():
            doomed = self.versions()[:-keep_last]
            for version in doomed:
                # Hide it from TF Serving first (a rename is atomic), then delete.
                hidden = os.path.join(self.model_dir, f".pruning-{version}")
                os.rename(self.version_dir(version), hidden)
                shutil.rmtree(hidden)
            return doomed

    def rollback(self, to: int | None = None) -> tuple[list[int], int]:
        """Make ``to`` (default: the previous version) the served one; return (moved aside,
        served). The newer versions are kept in ``.rolled_back/``."""
        with self.locked():
            available = self.versions()
            if len(available) < 2 and to is None:
                raise TfpipeError(f"nothing to roll back to in {self.model_dir}: {available}")
            target = to if to is not None else available[-2]
            if target not in available:
                raise TfpipeError(
                    f"version {target} is not in {self.model_dir}; versions: {available}"
                )
            newer = [v for v in available if v > target]
            aside = os.path.join(self.model_dir, ROLLED_BACK)
            os.makedirs(aside, exist_ok=True)
            for version in newer:
                os.rename(self.version_dir(version), os.path.join(aside, str(version)))
            return newer, target


def _identity(version_dir: str) -> str:
    from components.core.fingerprint import file_digest

    card = os.path.join(version_dir, ASSETS_EXTRA, MODEL_CARD)
    if os.path.exists(card):
        fingerprint = read_json(card).get("model_fingerprint")
        if fingerprint:
            return str(fingerprint)
    pb = os.path.join(version_dir, "saved_model.pb")
    return file_digest(pb) if os.path.exists(pb) else "missing"


def _int_dirs(directory: str) -> list[int]:
    if not os.path.isdir(directory):
        return []
    return sorted(int(d) for d in os.listdir(directory) if d.isdigit())
