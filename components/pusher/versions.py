"""The TensorFlow Serving layout: ``<base>/<name>/<version>/``, integer versions, newest served.

Rolled-back versions move to ``<base>/<name>/.rolled_back/`` (a non-integer name, which TF Serving
ignores), so the previous version becomes the newest one and is served again, and nothing is lost.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable

from components.core.errors import TfpipeError
from components.core.serving import versions

ROLLED_BACK = ".rolled_back"


def next_version(model_dir: str) -> int:
    """A timestamp version (as TFX uses), bumped past every existing or rolled-back one."""
    existing = versions(model_dir) + versions(os.path.join(model_dir, ROLLED_BACK))
    return max(int(time.time()), max(existing) + 1 if existing else 0)


def publish(
    saved_model_dir: str, model_dir: str, prepare: Callable[[str], None] = lambda path: None
) -> tuple[int, str]:
    """Copy a SavedModel in as a new version: copied (and ``prepare``d) under a hidden name, then
    renamed. TF Serving ignores non-integer names, so it never loads a half-copied model."""
    os.makedirs(model_dir, exist_ok=True)
    tmp = os.path.join(model_dir, f".incoming-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copytree(saved_model_dir, tmp)
        prepare(tmp)
        while True:
            version = next_version(model_dir)
            target = os.path.join(model_dir, str(version))
            try:
                os.rename(tmp, target)
                return version, target
            except OSError:
                if not os.path.exists(target):
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prune(model_dir: str, keep_last: int) -> list[int]:
    """Delete all but the newest ``keep_last`` versions; return the deleted ones."""
    doomed = versions(model_dir)[:-keep_last]
    for v in doomed:
        shutil.rmtree(os.path.join(model_dir, str(v)), ignore_errors=True)
    return doomed


def rollback(model_dir: str, to: int | None = None) -> tuple[list[int], int]:
    """Make ``to`` (default: the previous version) the served one; return (moved aside, served)."""
    available = versions(model_dir)
    if len(available) < 2 and to is None:
        raise TfpipeError(f"nothing to roll back to in {model_dir}: versions {available}")
    target = to if to is not None else available[-2]
    if target not in available:
        raise TfpipeError(f"version {target} is not in {model_dir}; versions: {available}")
    newer = [v for v in available if v > target]
    aside = os.path.join(model_dir, ROLLED_BACK)
    os.makedirs(aside, exist_ok=True)
    for v in newer:
        os.rename(os.path.join(model_dir, str(v)), os.path.join(aside, str(v)))
    return newer, target
