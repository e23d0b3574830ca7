"""ExampleGen entry point: typed Arrow record batches → hash-split, sharded tf.Example TFRecords,
the schema they were encoded with, per-split statistics and an inferred contract.

By default each input file is a *drop*, converted once into its own Examples artifact and reused
by every later window that holds the same bytes (``drops.py``); the step's artifact is the window:
a list of its drops, with their statistics merged. With ``beam_args`` the files are converted by
Beam workers into one artifact. One streaming pass per file (restarted only if a column must be
widened), no TensorFlow for CSV and Parquet: pyarrow parses, numpy hashes, tfx-bsl encodes, a
Python framer writes.
"""

from __future__ import annotations

from typing import Any

from tfpipe.components.core.spec import Context
from tfpipe.components.example_gen.convert import convert
from tfpipe.components.example_gen.drops import convert_window
from tfpipe.components.example_gen.inputs import check_unchanged, local_copies


def run(ctx: Context) -> dict[str, Any]:
    files = list(ctx.external["input_files"])
    stamps = ctx.external.get("input_stamps") or {}
    roots = ctx.params.data_roots
    objects = ctx.external.get("input_objects") or {}
    check_unchanged(files, stamps, roots)  # what is read is what was fingerprinted ...
    if ctx.params.beam_args:
        with local_copies(files, objects, ctx.progress) as local:
            summary = convert(ctx, local)
    else:
        summary = convert_window(ctx, files, objects)
    check_unchanged(files, stamps, roots)  # ... and nothing was written while it was read
    return summary
