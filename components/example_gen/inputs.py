"""The data ExampleGen reads: local (or mounted) files, or objects of an S3-compatible bucket.

Patterns are paths or globs; ``s3://bucket/landing/*.csv`` matches object keys the same way
(``fnmatch`` on the key, so ``*`` also crosses ``/``). What matched is frozen at planning, with an
identity by content: local files by their bytes (``data_digest``), objects by their ETags and sizes
(no download at planning). At run time objects are downloaded into the component's private
temporary directory, under ``s3/<bucket>/<key>`` so that error messages still name them, and each
is checked against the ETag seen at planning: data replaced in between is an error, not a silent
change of what was fingerprinted.
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
from tfpipe.components.core.fingerprint import data_digest, digest

S3 = "s3://"


def match_input(
    patterns: str | list[str], who: str = "example_gen", purpose: str = "train on"
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Files and objects matching a path or glob (or several), sorted, each once, with the
    objects' ``{"size", "etag"}``; a clear error naming a pattern that matches nothing (and
    ``who`` reads it to do what: ``purpose``)."""
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
        return {pattern: {"size": meta["ContentLength"], "etag": meta["ETag"]}} if meta else {}
    directory = key[:wild].rpartition("/")[0]
    found = object_store.list_objects(f"{S3}{bucket}/{directory}")
    return {
        f"{S3}{bucket}/{full}": meta
        for rel, meta in found.items()
        if fnmatch.fnmatchcase(full := f"{directory}/{rel}" if directory else rel, key)
    }


def input_digest(files: list[str], objects: dict[str, dict[str, Any]]) -> str:
    """Identity of the input by content: local bytes, object ETags (and sizes)."""
    local = [f for f in files if not f.startswith(S3)]
    remote = [[objects[f]["etag"], objects[f]["size"]] for f in files if f.startswith(S3)]
    if not remote:
        return data_digest(local)  # as before objects were supported: same fingerprints
    return digest([data_digest(local) if local else None, sorted(remote)])


def missing_inputs(files: list[str]) -> list[str]:
    return [f for f in files if not f.startswith(S3) and not os.path.isfile(f)]


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
        rel = key.rpartition("/")[2]
        try:
            object_store.download_tree(
                f"{S3}{bucket}/{key.rpartition('/')[0]}",
                {rel: objects[uri]},
                os.path.join(root, "s3", bucket, *key.split("/")[:-1]),
            )
        except object_store.ObjectStoreError as exc:
            raise InputDataError(
                f"example_gen: input {uri} changed or vanished after the run was planned ({exc}); "
                "re-run to plan on the new data"
            ) from None
        local[uri] = os.path.join(root, "s3", bucket, *key.split("/"))
    return [local.get(f, f) for f in files]
