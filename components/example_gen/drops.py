"""A window of data drops: each input file converted once into its own Examples artifact, cached
by the file's bytes, and a window artifact that lists them (no copy).

A daily retraining over the last 30 files then reads and converts only the file that is new: the
other 29 are artifacts of earlier runs, found by their key (the file's content digest, the
encoding parameters, the contract, ExampleGen's code, and the column types they were encoded
with). Splits are assigned by a hash of each row, so a row is in the same split in every window.

Column types are a window's, not a file's: a column inferred as integers in one file and as
numbers in another is encoded as numbers in both (the integer file is converted again, once,
under a key with the wider types). Statistics are kept per drop as mergeable figures (counts,
Welford means, value counts, the hash-ordered sample) and merged for the window.

Drops live beside the step's artifacts, ``<root>/<step>.drop/<key>``, committed by the same
protocol (one writer under the lock, staged payload, manifest last), on a local or object store.
"""

from __future__ import annotations

import copy
import io
import json
import os
import time
from typing import Any

import numpy as np
import pyarrow as pa

from tfpipe.components.artifacts import Examples
from tfpipe.components.artifacts.base import (
    artifact_lock,
    open_artifact,
    read_manifest,
    remove_stale_staging,
    staged,
)
from tfpipe.components.artifacts.layout import ArtifactAddress
from tfpipe.components.core.contract import load_contract
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.fingerprint import code_version, content_digests, digest, file_digest
from tfpipe.components.core.schema import Schema
from tfpipe.components.core.spec import Context
from tfpipe.components.example_gen.convert import describe, encode
from tfpipe.components.example_gen.inputs import S3, check_unchanged, local_copies
from tfpipe.components.example_gen.params import ExampleGenParams
from tfpipe.components.example_gen.readers import ARROW, LADDER, detect_format
from tfpipe.components.example_gen.stats import (
    SplitStats,
    arrow_kind,
    stats_from_state,
    stats_state,
)

DROP_SUFFIX = ".drop"
STATE = "drop_statistics.json"
SAMPLES = "drop_samples.npz"


def kind_of(t: pa.DataType) -> str:
    """A column's type on the ladder, "null" for a column with no value yet."""
    return "null" if pa.types.is_null(t) else arrow_kind(t)


def arrow_of(kind: str) -> pa.DataType:
    return pa.null() if kind == "null" else ARROW[kind]


def window_types(drops: list[dict[str, str]]) -> dict[str, str]:
    """Each column's type in the window: the widest any drop needed (int → float → string)."""
    out: dict[str, str] = {}
    for types in drops:
        for name, kind in types.items():
            have = out.get(name, "null")
            out[name] = max(have, kind, key=lambda k: LADDER.index(arrow_of(k)))
    return out


def needs_wider(types: dict[str, str], window: dict[str, str]) -> bool:
    """A drop encoded narrower than the window (an all-missing column fits any type)."""
    return any(kind not in ("null", window[name]) for name, kind in types.items())


def check_same_columns(p: ExampleGenParams, files: list[str], drops: list[dict[str, Any]]) -> None:
    """CSV files of one window share a header (a changed export is an error, not new columns
    that most of the window lacks); TFRecord and Parquet drops may omit features."""
    if detect_format(files, p.format) != "csv":
        return
    first = list(drops[0]["types"])
    for source, drop in zip(files[1:], drops[1:], strict=True):
        if list(drop["types"]) != first:
            raise InputDataError(
                f"example_gen: '{source}' has columns {list(drop['types'])} but '{files[0]}' has "
                f"{first}; all files of one input must share a header"
            )


class DropStore:
    """The drops of one ExampleGen step: where each lives, converted or reused."""

    def __init__(self, ctx: Context, objects: dict[str, dict[str, Any]]) -> None:
        self.ctx = ctx
        self.p: ExampleGenParams = ctx.params
        self.objects = objects
        self.stamps = ctx.external.get("input_stamps") or {}
        address = ArtifactAddress.of(ctx.output.uri)
        self.root, self.step = address.root, address.step + DROP_SUFFIX
        self.contract = load_contract(self.p.schema_file) if self.p.schema_file else Schema()
        self.base = {
            "code": code_version("example_gen"),
            "params": self.p.fingerprint_params(),
            "contract": file_digest(self.p.schema_file) if self.p.schema_file else None,
        }

    def identities(self, files: list[str]) -> dict[str, str]:
        """Each file's identity by content: local bytes (digest cached by stamp), object ETag."""
        local = content_digests([f for f in files if not f.startswith(S3)])
        return {
            f: local[f]
            if not f.startswith(S3)
            else digest([self.objects[f]["etag"], self.objects[f]["size"]])
            for f in files
        }

    def uri(self, identity: str, types: dict[str, str] | None) -> str:
        key = digest({**self.base, "data": identity, "types": types})
        return ArtifactAddress(self.root, self.step, key).uri

    def get(self, source: str, identity: str, types: dict[str, str] | None) -> dict[str, Any]:
        """The drop of ``source`` encoded with ``types`` (None: its own inferred types),
        converted now unless an earlier run committed it."""
        uri = self.uri(identity, types)
        manifest = read_manifest(uri)
        if manifest is None:
            with artifact_lock(uri, lambda: self.ctx.progress(f"waiting for {source}")):
                manifest = read_manifest(uri)
                if manifest is None:
                    self._convert(source, identity, types, uri)
                    return {**self._entry(uri, source, identity), "reused": False}
        return {**self._entry(uri, source, identity), "reused": True}

    def _entry(self, uri: str, source: str, identity: str) -> dict[str, Any]:
        summary = dict((read_manifest(uri) or {}).get("summary") or {})
        return {
            "uri": uri,
            "source": source,
            "digest": identity,
            "rows": summary.get("rows", 0),
            "splits": sorted(summary.get("splits", {})),
            "split_rows": dict(summary.get("splits", {})),
            "types": summary.get("types", {}),
            "rejected_rows": summary.get("rejected_rows", 0),
            "first_unfit": summary.get("first_unfit", {}),
        }

    def _convert(self, source: str, identity: str, types: dict[str, str] | None, uri: str) -> None:
        remove_stale_staging(uri)
        manifest: dict[str, Any] = {
            "type": Examples.TYPE,
            "producer": {"component": "example_gen", "step": self.step},
            "run_id": self.ctx.run_id,
            "fingerprint": uri.rstrip("/").rpartition("/")[2],
            "source": source,
            "source_digest": identity,
            "parameters": self.p.model_dump(mode="json"),
            "code_version": self.base["code"],
        }
        start = time.perf_counter()
        forced = {n: arrow_of(k) for n, k in types.items()} if types else None
        with (
            local_copies([source], self.objects, self.ctx.progress) as (local,),
            staged(uri, manifest) as out,
        ):
            first_unfit: dict[str, str] = {}
            splits, stats, rejected, final = encode(
                self.p, out, [local], self.contract, self.ctx.progress, forced, first_unfit
            )
            # What was read is what the key names: a write meanwhile discards the drop.
            check_unchanged([source], self.stamps, self.p.data_roots)
            figures, samples = stats_state(stats)
            # Machine state, written compact by the C encoder (the store's pretty JSON took
            # 4 of 27 profiled seconds for 30 drops); the staging directory makes it atomic.
            with open(out.path(STATE), "w", encoding="utf-8") as f:
                f.write(json.dumps(figures, separators=(",", ":")))
            buffer = io.BytesIO()
            np.savez(buffer, **samples)
            with open(out.path(SAMPLES), "wb") as f:
                f.write(buffer.getvalue())
            if rejected.rows:
                out._write_json([list(r) for r in rejected.rows], "rejected.json")
            manifest["summary"] = {
                "rows": sum(splits.values()),
                "splits": splits,
                "types": {n: kind_of(t) for n, t in final.items()},
                "rejected_rows": len(rejected.rows),
                "first_unfit": first_unfit,
                "seconds": round(time.perf_counter() - start, 3),
            }

    def statistics(self, uri: str) -> tuple[dict[str, SplitStats], list[list[Any]]]:
        drop = open_artifact(uri, Examples)
        figures = drop._read_json(STATE)
        with np.load(drop.path(SAMPLES), allow_pickle=False) as arrays:
            stats = stats_from_state(figures, arrays, self.contract.columns)
        rejected_path = drop.path("rejected.json")
        rejected = drop._read_json("rejected.json") if os.path.exists(rejected_path) else []
        return stats, rejected


def merge_into(total: dict[str, SplitStats], part: dict[str, SplitStats]) -> None:
    for split, s in part.items():
        if split in total:
            total[split].merge(s)
        else:
            total[split] = s


def convert_window(
    ctx: Context, files: list[str], objects: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Each file a drop (converted or reused), the window's types applied to every drop, the
    drops' statistics merged; the window artifact lists the drops."""
    start = time.perf_counter()
    store = DropStore(ctx, objects)
    identities = store.identities(files)
    drops = []
    for i, source in enumerate(files):
        drop = store.get(source, identities[source], None)
        drops.append(drop)
        if not drop["reused"]:
            ctx.progress(f"drop {i + 1}/{len(files)}: {source} converted ({drop['rows']:,} rows)")
    check_same_columns(ctx.params, files, drops)
    while True:  # encode every drop with the window's types (wider types restart the check)
        common = window_types([d["types"] for d in drops])
        narrow = [i for i, d in enumerate(drops) if needs_wider(d["types"], common)]
        if not narrow:
            break
        for i in narrow:
            ctx.progress(f"{files[i]}: encoding again with the window's wider column types")
            before = drops[i]["types"]
            drops[i] = store.get(files[i], identities[files[i]], common)
            if drops[i]["types"] == before:  # never loop: say which column would not widen
                stuck = sorted(n for n, k in before.items() if k not in ("null", common[n]))
                raise InputDataError(
                    f"example_gen: {files[i]} could not be encoded with the window's column "
                    f"types for {stuck} ({[common[n] for n in stuck]}); convert the window in "
                    "one pass with example_gen.beam_args, or fix the column's values"
                )
    reused = sum(d["reused"] for d in drops)
    ctx.progress(f"{len(drops)} drops: {reused} reused, {len(drops) - reused} converted")
    rest: dict[str, SplitStats] = {}  # the drops an earlier run converted: what new ones meet
    new: dict[str, dict[str, SplitStats]] = {}
    set_aside: dict[str, list[Any]] = {}
    first_unfit: dict[str, str] = {}
    splits: dict[str, int] = {}
    for d in drops:
        for split, n in d["split_rows"].items():
            splits[split] = splits.get(split, 0) + n
        for name, where in d["first_unfit"].items():
            first_unfit.setdefault(name, where)
    # The earlier drops first, merged once; then the window is a copy of them plus the new ones.
    for d in [d for d in drops if d["reused"]]:
        drop_stats, drop_rejected = store.statistics(d["uri"])
        merge_into(rest, drop_stats)
        set_aside[d["uri"]] = drop_rejected
    stats = copy.deepcopy(rest) if reused < len(drops) else rest
    for d in [d for d in drops if not d["reused"]]:
        drop_stats, drop_rejected = store.statistics(d["uri"])
        if rest:  # new drops among earlier ones: each one's drift against them
            new[d["source"]] = copy.deepcopy(drop_stats)
        merge_into(stats, drop_stats)
        set_aside[d["uri"]] = drop_rejected
    rejected = [r for d in drops for r in set_aside[d["uri"]]]  # in window order
    names = list(dict.fromkeys(n for d in drops for n in d["types"]))
    final = {n: arrow_of(common[n]) for n in names}
    out: Examples = ctx.output
    out.write_drops(
        [{k: d[k] for k in ("uri", "source", "digest", "rows", "splits", "reused")} for d in drops]
    )
    summary = describe(ctx, splits, stats, rejected, final, first_unfit, files, start)
    encoded = {n: k if k != "null" else "string" for n, k in common.items()}
    out.write_new_drops_statistics(
        {
            source: {
                "drop": {sp: s.to_json(encoded) for sp, s in drop_stats.items()},
                "rest": {sp: s.to_json(encoded) for sp, s in rest.items()},
            }
            for source, drop_stats in new.items()
        }
        if rest
        else {}
    )
    summary["drops"] = {"count": len(drops), "reused": reused, "converted": len(drops) - reused}
    return summary
