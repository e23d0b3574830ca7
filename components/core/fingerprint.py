"""Fingerprints: cheap, deterministic identities computed from files and parameters.

An artifact's fingerprint is the hash of everything that determines its content: the component and
its code version, the validated parameters, the fingerprints of its input artifacts, the digests of
what it reads from outside the store (data files by content, the user module and what it imports,
the served baseline) and the identity of the runtime it runs in. Because the fingerprint is known
*before* a component runs, the runner decides what is cached for a whole pipeline without loading
a model or importing TensorFlow.

Data files are identified by content, not by path or modification time: a moved or re-touched
file is the same data, a rewritten one is not. Content digests are remembered per (path, size,
mtime, ctime, inode, device) in a small cache, so a large file is read once, not at every plan;
the ctime is what a same-size rewrite that keeps the mtime (``cp -p``) cannot keep.
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


def file_stamp(path: str) -> list[int]:
    """What changes whenever a file's content can have changed: size, mtime, ctime, inode and
    device. ``cp -p`` of other bytes of the same size keeps the size, mtime and inode, but no
    write can keep the ctime (the kernel sets it, and nothing but a clock change turns it back)."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def stamped_digests(paths: Iterable[str]) -> dict[str, tuple[str, list[int]]]:
    """``{path: (sha256 prefix, stamp)}``: the stamp is the file's as it was hashed (a file
    that changes while it is hashed is hashed again), read only when unseen or changed since."""
    paths = list(paths)
    cache = _load_cache(_digest_cache_path())
    out: dict[str, tuple[str, list[int]]] = {}
    fresh: dict[str, Any] = {}
    for path in paths:
        key = os.path.abspath(path)
        stamp = file_stamp(path)
        hit = cache.get(key)
        if hit and hit[0] == stamp:
            out[path] = (hit[1], stamp)
            continue
        for _attempt in range(5):
            value = file_digest(path)
            after = file_stamp(path)
            if after == stamp:
                break
            stamp = after  # written while being hashed: hash the settled bytes
        else:
            raise OSError(f"{path} keeps changing while it is read; wait for the writer to finish")
        out[path] = (value, stamp)
        fresh[key] = [stamp, value]
    if fresh:
        _save_cache(_digest_cache_path(), fresh)
    return out


def content_digests(paths: Iterable[str]) -> dict[str, str]:
    """``{path: sha256 prefix}`` of files, read only when unseen or changed since last time."""
    return {path: value for path, (value, _stamp) in stamped_digests(paths).items()}


def _load_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return dict(json.load(f))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _save_cache(path: str, fresh: dict[str, Any]) -> None:
    """Merge ``fresh`` entries into the cache file under its lock: what another process saved
    since this one read the cache is kept, not overwritten."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock, contextlib.suppress(OSError):
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = _load_cache(path)
        cache.update(fresh)
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
