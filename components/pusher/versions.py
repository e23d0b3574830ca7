"""The TensorFlow Serving layout: ``<base>/<name>/<version>/``, integer versions, newest served."""

from __future__ import annotations

import os
import shutil
import time
import uuid


def versions(model_dir: str) -> list[int]:
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir) if d.isdigit())


def next_version(model_dir: str) -> int:
    """A timestamp version (as TFX uses), bumped past the newest existing one."""
    existing = versions(model_dir)
    return max(int(time.time()), existing[-1] + 1 if existing else 0)


def publish(saved_model_dir: str, model_dir: str) -> tuple[int, str]:
    """Copy a SavedModel in as a new version: copied under a hidden name, then renamed.

    TensorFlow Serving ignores names that are not integers, so it never loads a half-copied model.
    """
    os.makedirs(model_dir, exist_ok=True)
    tmp = os.path.join(model_dir, f".incoming-{uuid.uuid4().hex[:8]}")
    shutil.copytree(saved_model_dir, tmp)
    while True:
        version = next_version(model_dir)
        target = os.path.join(model_dir, str(version))
        try:
            os.rename(tmp, target)
            return version, target
        except OSError:
            if not os.path.exists(target):
                shutil.rmtree(tmp, ignore_errors=True)
                raise
