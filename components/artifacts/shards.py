"""A directory of TFRecord shards written by workers that a runner may retry (Beam bundles).

A runner re-executes a bundle whose worker failed or whose result it lost, so a shard written by
a bundle is not yet data: each shard is written under a hidden temporary name (which no reader's
glob matches) and only the finalize step, which receives the shards of the bundles the runner
*committed*, renames them into place and writes a listing (``shards.json``: every shard's name,
record count and size) last. A retried bundle's first attempt, whole or cut short, stays a
temporary file and is deleted. Readers trust only the listing: a shard it does not name (a
duplicate), one it names that is missing or of another size (partial), or a directory without a
listing (an unfinished write) is an error naming the file.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from tfpipe.components.artifacts.local_store import read_json, write_json_atomic
from tfpipe.components.core.errors import InputDataError

LISTING = "shards.json"
TEMP = ".tmp-"
SUFFIX = ".tfrecord"


def temp_shard_path(directory: str) -> str:
    """Where one bundle writes its shard until the finalize step commits it."""
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, f"{TEMP}{uuid.uuid4().hex[:12]}{SUFFIX}")


def written_shard(path: str, records: int) -> dict[str, Any]:
    """What a bundle reports about the shard it wrote (its output, committed with the bundle)."""
    return {"file": os.path.basename(path), "records": records, "bytes": os.path.getsize(path)}


def commit_shards(directory: str, written: list[dict[str, Any]]) -> int:
    """Rename the committed bundles' shards into place, delete every other temporary shard, write
    the listing; return the number of records. Idempotent (a retried finalize finds the shards
    already renamed)."""
    os.makedirs(directory, exist_ok=True)
    written = sorted(written, key=lambda w: w["file"])
    listing = []
    for index, shard in enumerate(written):
        final = f"part-{index:05d}-of-{len(written):05d}{SUFFIX}"
        temp = os.path.join(directory, shard["file"])
        if os.path.exists(temp):
            os.replace(temp, os.path.join(directory, final))
        listing.append({"file": final, "records": shard["records"], "bytes": shard["bytes"]})
    for name in os.listdir(directory):
        if name.startswith(TEMP):  # an attempt the runner did not commit
            os.remove(os.path.join(directory, name))
    write_json_atomic(
        os.path.join(directory, LISTING),
        {"shards": listing, "records": sum(s["records"] for s in listing)},
    )
    return sum(s["records"] for s in listing)


def listed_shards(directory: str, what: str) -> list[str]:
    """The shards the listing names, after checking the directory holds exactly those, whole."""
    path = os.path.join(directory, LISTING)
    if not os.path.exists(path):
        raise InputDataError(
            f"{what}: {directory} has no {LISTING}: its shards were never committed (an "
            "interrupted write); re-run the step that writes it"
        )
    listing = read_json(path)
    names = {s["file"]: s for s in listing["shards"]}
    present = {n for n in os.listdir(directory) if n.endswith(SUFFIX) and not n.startswith(".")}
    extra = sorted(present - set(names))
    if extra:
        raise InputDataError(
            f"{what}: {os.path.join(directory, extra[0])} is not in {LISTING} (a duplicate or a "
            "partial shard of a retried write); delete the artifact and re-run the step"
        )
    files = []
    for name, shard in sorted(names.items()):
        file = os.path.join(directory, name)
        size = os.path.getsize(file) if os.path.exists(file) else None
        if size != shard["bytes"]:
            raise InputDataError(
                f"{what}: {file} is {'missing' if size is None else f'{size} bytes'} where "
                f"{LISTING} lists {shard['bytes']} bytes (a partial shard); delete the artifact "
                "and re-run the step"
            )
        files.append(file)
    return files


def listed_records(directory: str) -> int:
    return int(read_json(os.path.join(directory, LISTING))["records"])
