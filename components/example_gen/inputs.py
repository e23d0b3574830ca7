"""The data ExampleGen reads: local (or mounted) files, or objects of an S3-compatible bucket.

Patterns are paths or globs; ``s3://bucket/landing/*.csv`` matches object keys the same way
(``fnmatch`` on the key, so ``*`` also crosses ``/``). What matched is frozen at planning, with an
identity by content: local files by their bytes (and the stamp they were hashed at), objects by
their ETags and sizes (no download at planning). At run time objects are downloaded into the
component's private temporary directory, under ``s3/<bucket>/<key>`` so that error messages still
name them (a key that is not a plain relative path is refused: it would land elsewhere), and each
is checked against the ETag seen at planning; local files are checked against their stamps before
and after they are read. Data replaced in between is an error, not a silent change of what was
fingerprinted. Data a trigger named is also confined to the data roots, by real path.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.fingerprint import digest, file_stamp, stamped_digests

S3 = "s3://"


def match_input(
    patterns: str | list[str],
    roots: list[str] | None = None,
    who: str = "example_gen",
    purpose: str = "train on",
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Files and objects matching a path or glob (or several), sorted, each once, with the
    objects' ``{"size", "etag"}``; a clear error naming a pattern that matches nothing (and
    ``who`` reads it to do what: ``purpose``). With ``roots`` (data named by a trigger), every
    match must lie inside one of them once symlinks are resolved: a link or a ``*/..`` inside a
    data root cannot reach out of it."""
    files: set[str] = set()
    objects: dict[str, dict[str, Any]] = {}
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        if pattern.startswith(S3):
            matched_objects = _match_objects(pattern)
            objects.update(matched_objects)
            matched = set(matched_objects)
        else:
            matched = {
                os.path.abspath(p)
                for p in glob.glob(os.path.expanduser(pattern))
                if os.path.isfile(p)
            }
        if roots is not None:
            check_inside(sorted(matched), roots, f"matched by '{pattern}'")
        if not matched:
            raise InputDataError(
                f"{who}: input '{pattern}' matches no file; check the path or glob given "
                f"as the data to {purpose}"
            )
        files |= matched
    return sorted(files), objects


def _match_objects(pattern: str) -> dict[str, dict[str, Any]]:
    from tfpipe.components.artifacts import object_store

    bucket, key = object_store.split_uri(pattern)
    wild = min((key.find(c) for c in "*?[" if c in key), default=-1)
    if wild < 0:
        meta = object_store.head(pattern)
        matched = {key: {"size": meta["ContentLength"], "etag": meta["ETag"]}} if meta else {}
    else:
        directory = key[:wild].rpartition("/")[0]
        found = object_store.list_objects(f"{S3}{bucket}/{directory}")
        matched = {
            full: meta
            for rel, meta in found.items()
            if not rel.endswith("/")  # a "directory" marker object, not data
            and fnmatch.fnmatchcase(full := f"{directory}/{rel}" if directory else rel, key)
        }
    for full in matched:  # a key that is no plain path is refused at planning, by name
        object_store.local_path("/", full, f"{S3}{bucket} (matched by '{pattern}')")
    return {f"{S3}{bucket}/{full}": meta for full, meta in matched.items()}


def inside(path: str, roots: list[str]) -> bool:
    """Whether a file or object lies under one of the roots (local paths by their real path)."""
    if path.startswith(S3):
        return any(path.startswith(r.rstrip("/") + "/") for r in roots if r.startswith(S3))
    real = os.path.realpath(path)
    return any(
        real == r or real.startswith(r.rstrip(os.sep) + os.sep)
        for r in (os.path.realpath(r) for r in roots if not r.startswith(S3))
    )


def check_inside(paths: list[str], roots: list[str], how: str) -> None:
    for path in paths:
        if not inside(path, roots):
            where = "" if path.startswith(S3) else f" (it resolves to {os.path.realpath(path)})"
            raise InputDataError(
                f"example_gen: {path} {how} is outside the data roots {roots}{where}; a "
                "symbolic link or '..' cannot lead out of a data root"
            )


def input_digest(
    files: list[str], objects: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, list[int]]]:
    """Identity of the input by content (local bytes, object ETags and sizes), and the stamp of
    each local file as it was hashed (see :func:`check_unchanged`)."""
    local = [f for f in files if not f.startswith(S3)]
    stamped = stamped_digests(sorted(local))
    stamps = {path: stamp for path, (_value, stamp) in stamped.items()}
    local_digest = digest([stamped[p][0] for p in sorted(stamped)])  # = data_digest(local)
    remote = [[objects[f]["etag"], objects[f]["size"]] for f in files if f.startswith(S3)]
    if not remote:
        return local_digest, stamps  # as before objects were supported: same fingerprints
    return digest([local_digest if local else None, sorted(remote)]), stamps


def missing_inputs(files: list[str]) -> list[str]:
    return [f for f in files if not f.startswith(S3) and not os.path.isfile(f)]


def check_unchanged(
    files: list[str], stamps: dict[str, list[int]], roots: list[str] | None = None
) -> None:
    """Each local file is still the one fingerprinted at planning (same stamp: no write, no
    replacement since it was hashed) and, for data named by a trigger, still inside the data
    roots; else an error naming it. Checked before the step reads and again after, so what was
    read is what was fingerprinted."""
    for path in files:
        if path.startswith(S3) or path not in stamps:
            continue
        if roots is not None:
            check_inside([path], roots, "given as input")
        try:
            now = file_stamp(path)
        except FileNotFoundError:
            now = None
        if now != stamps[path]:
            what = "disappeared" if now is None else "changed (rewritten or replaced)"
            raise InputDataError(
                f"example_gen: input file {path} {what} after the run was planned; what would "
                "be read is not what was fingerprinted. Re-run to plan on the new data"
            )


@contextlib.contextmanager
def local_copies(
    files: list[str], objects: dict[str, dict[str, Any]], progress: Callable[[str], None]
) -> Iterator[list[str]]:
    """``files`` with every object replaced by a checked local copy, removed afterwards."""
    remote = [f for f in files if f.startswith(S3)]
    if not remote:
        yield files
        return
    with tempfile.TemporaryDirectory(prefix="tfpipe-input-") as root:
        yield _download(remote, files, objects, progress, root)


def _download(
    remote: list[str],
    files: list[str],
    objects: dict[str, dict[str, Any]],
    progress: Callable[[str], None],
    root: str,
) -> list[str]:
    from tfpipe.components.artifacts import object_store

    size = sum(objects[f]["size"] for f in remote)
    progress(f"downloading {len(remote)} object(s), {size / 1e6:.1f} MB, from the object store")
    local = {}
    for uri in remote:
        bucket, key = object_store.split_uri(uri)
        path = object_store.local_path(os.path.join(root, "s3"), f"{bucket}/{key}", uri)
        directory, _, name = key.rpartition("/")
        try:
            object_store.download_tree(
                f"{S3}{bucket}/{directory}", {name: objects[uri]}, os.path.dirname(path)
            )
        except object_store.UnsafeKey:
            raise
        except object_store.ObjectStoreError as exc:
            raise InputDataError(
                f"example_gen: input {uri} changed or vanished after the run was planned ({exc}); "
                "re-run to plan on the new data"
            ) from None
        local[uri] = path
    return [local.get(f, f) for f in files]
