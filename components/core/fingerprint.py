"""Fingerprints: cheap, deterministic identities computed from files and parameters.

An artifact's fingerprint is the hash of everything that determines its content: the component and
its code version, the validated parameters, the fingerprints of its input artifacts, the contents of
user files it runs (the module file), the listing of external data it reads (path, size, mtime) and
the runtime's lock file. Because the fingerprint is known *before* a component runs, the runner can
decide what is cached for a whole pipeline without loading a model or importing TensorFlow.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any

_COMPONENTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digest(payload: Any) -> str:
    """A short stable hash of a JSON-serialisable value."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:20]


@functools.cache
def code_version(component: str) -> str:
    """Hash of the component's own sources plus the shared core (any edit invalidates the cache)."""
    files: list[str] = []
    for package in ("core", component):
        root = os.path.join(_COMPONENTS_DIR, package)
        files += sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True))
    return digest([(os.path.relpath(p, _COMPONENTS_DIR), file_digest(p)) for p in files])


def listing_digest(paths: Iterable[str]) -> str:
    """Identity of a set of data files by name, size and modification time (no content read)."""
    entries = []
    for p in sorted(paths):
        st = os.stat(p)
        entries.append((os.path.abspath(p), st.st_size, st.st_mtime_ns))
    return digest(entries)


def artifact_fingerprint(
    *,
    component: str,
    params: dict[str, Any],
    inputs: dict[str, str],
    external: dict[str, str],
    runtime: str,
) -> str:
    return digest(
        {
            "component": component,
            "code": code_version(component),
            "params": params,
            "inputs": inputs,
            "external": external,
            "runtime": runtime,
        }
    )
