"""ExampleGen on a Beam runner: each input file is one Beam element, converted by a Beam worker
with the same streaming pass as the in-process path (``streaming_pass.one_pass``) into its own
shards.

The driver merges what the workers report (row counts, per-split statistics, rejected rows, the
types the columns were encoded with). A file that needs a wider column type than assumed reports
it instead of failing, and the driver restarts the conversion of every file with the widened types
(as the in-process pass does), so all shards share one encoding. Errors about the data keep their
type and message (a Beam stack trace would bury the file and line they name).

Results travel back through small pickle files next to the shards (the workers of the runners
this is tested on, direct ``multi_processing`` and ``PortableRunner`` with an external worker
pool, share the machine's filesystem; on a cluster the artifact's staging must be shared storage,
as it is for tf.Transform).
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from tfpipe.components.artifacts import Examples
from tfpipe.components.core.errors import TfpipeError
from tfpipe.components.core.schema import Schema
from tfpipe.components.example_gen.params import ExampleGenParams
from tfpipe.components.example_gen.readers import LADDER, Rejected, Widen, open_source
from tfpipe.components.example_gen.stats import SplitStats
from tfpipe.components.example_gen.streaming_pass import PassResult, one_pass

RESULTS = "_beam_results"


def convert_file(
    element: tuple[int, str],
    *,
    params: dict[str, Any],
    out_root: str,
    types: dict[str, pa.DataType],
    contract: Schema,
    file_count: int,
) -> int:
    """The Beam step: convert one file; write its outcome for the driver. Runs on a worker."""
    index, path = element
    p = ExampleGenParams(**params)
    out = Examples(uri=out_root, manifest={"type": Examples.TYPE}, root=out_root)
    outcome: tuple[Any, ...]
    try:
        source = open_source([path], p.format, p.na_values, p.on_malformed)
        result = one_pass(
            lambda message: None, p, out, source, types, contract, [path], index, file_count
        )
        outcome = ("done", result)
    except Widen as wider:
        outcome = ("widen", wider.types, str(wider), wider.column, wider.first_unfit)
    except TfpipeError as error:
        outcome = ("error", error)
    results = os.path.join(out_root, RESULTS)
    os.makedirs(results, exist_ok=True)
    tmp = os.path.join(results, f".{index:06d}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(outcome, f)
    os.replace(tmp, os.path.join(results, f"{index:06d}.pkl"))
    return index


def beam_pass(
    progress: Callable[[str], None],
    p: ExampleGenParams,
    out: Examples,
    files: list[str],
    types: dict[str, pa.DataType],
    contract: Schema,
) -> PassResult:
    """Convert ``files`` on the Beam runner ``p.beam_args`` names; raises Widen like one_pass."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    results = out.path(RESULTS)
    shutil.rmtree(results, ignore_errors=True)
    progress(f"converting {len(files)} file(s) on Beam ({' '.join(p.beam_args)})")
    with beam.Pipeline(options=PipelineOptions(list(p.beam_args))) as pipeline:
        _ = (
            pipeline
            | "Files" >> beam.Create(list(enumerate(files)))
            | "Spread" >> beam.Reshuffle()
            | "Convert"
            >> beam.Map(
                convert_file,
                params=p.model_dump(mode="json"),
                out_root=out.root,
                types=types,
                contract=contract,
                file_count=len(files),
            )
        )
    outcomes = []
    for index in range(len(files)):
        path = os.path.join(results, f"{index:06d}.pkl")
        if not os.path.exists(path):
            raise RuntimeError(
                f"example_gen: the Beam runner reported no result for {files[index]}; do its "
                "workers share this machine's filesystem?"
            )
        with open(path, "rb") as f:
            outcomes.append(pickle.load(f))
    shutil.rmtree(results, ignore_errors=True)
    for outcome in outcomes:
        if outcome[0] == "error":
            raise outcome[1]
    widened = [o for o in outcomes if o[0] == "widen"]
    if widened:
        raise _merged_widening(types, widened)
    return _merge([o[1] for o in outcomes])


def _merged_widening(types: dict[str, pa.DataType], widened: list[tuple[Any, ...]]) -> Widen:
    """One Widen with, per column, the widest type any file asked for."""
    merged = dict(types)
    for _kind, wider, *_ in widened:
        for name, wanted in wider.items():
            have = merged.get(name)
            if have is None or _rank(wanted) > _rank(have):
                merged[name] = wanted
    _kind, _types, why, column, first_unfit = widened[0]
    return Widen(merged, why, column, first_unfit)


def _rank(t: pa.DataType) -> int:
    return LADDER.index(t) if t in LADDER else len(LADDER)


def _merge(results: list[PassResult]) -> PassResult:
    counts: dict[str, int] = {}
    stats: dict[str, SplitStats] = {}
    rejected = Rejected()
    final_types: dict[str, pa.DataType] = {}
    for file_counts, file_stats, file_rejected, file_types in results:
        for split, n in file_counts.items():
            counts[split] = counts.get(split, 0) + n
        for split, split_stats in file_stats.items():
            if split in stats:
                stats[split].merge(split_stats)
            else:
                stats[split] = split_stats
        rejected.rows += file_rejected.rows
        for name, t in file_types.items():
            if name not in final_types or _rank(t) > _rank(final_types[name]):
                final_types[name] = t
    return counts, stats, rejected, final_types
