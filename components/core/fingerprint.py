"""Fingerprints: cheap, deterministic identities computed from files and parameters.

An artifact's fingerprint is the hash of everything that determines its content: the component and
its code version, the validated parameters, the fingerprints of its input artifacts, the digests of
what it reads from outside the store (data files by content, the user module and what it imports,
the served baseline) and the identity of the runtime it runs in. Because the fingerprint is known
*before* a component runs, the runner decides what is cached for a whole pipeline without loading
a model or importing TensorFlow.

Data files are identified by content, not by path or modification time: a moved or re-touched
file is the same data, a rewritten one is not. Content digests are remembered per (path, size,
mtime, inode) in a small cache, so a large file is read once, not at every plan.
"""

from __future__ import annotations

import contextlib
import fcntl
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
    """Hash of the component's own sources plus the shared core and the artifact catalog."""
    files: list[str] = []
    for package in ("core", "artifacts", component):
        root = os.path.join(_COMPONENTS_DIR, package)
        files += sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True))
    return digest([(os.path.relpath(p, _COMPONENTS_DIR), file_digest(p)) for p in files])


def _digest_cache_path() -> str:
    base = os.path.expanduser(os.environ.get("TFPIPE_CACHE", "~/.cache/tfpipe"))
    return os.path.join(base, "content-digests.json")


def content_digests(paths: Iterable[str]) -> dict[str, str]:
    """``{path: sha256 prefix}`` of files, read only when unseen or changed since last time."""
    paths = list(paths)
    cache_path = _digest_cache_path()
    try:
        with open(cache_path, encoding="utf-8") as f:
            cache: dict[str, Any] = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        cache = {}
    out, changed = {}, False
    for path in paths:
        st = os.stat(path)
        key = os.path.abspath(path)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = cache.get(key)
        if hit and hit[0] == stamp:
            out[path] = hit[1]
            continue
        out[path] = file_digest(path)
        cache[key] = [stamp, out[path]]
        changed = True
    if changed:
        _save_cache(cache_path, cache)
    return out


def _save_cache(path: str, cache: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock, contextlib.suppress(OSError):
        fcntl.flock(lock, fcntl.LOCK_EX)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(cache, f)
        os.replace(tmp, path)


def data_digest(paths: Iterable[str]) -> str:
    """Identity of a set of data files: their contents, in order (names and places do not
    matter; the same bytes in another directory are the same data)."""
    digests = content_digests(sorted(paths))
    return digest([digests[p] for p in sorted(digests)])


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
