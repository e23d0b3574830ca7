"""tf.Transform's analyzer cache, one entry per data drop, kept in the artifact store.

A window of drops is analysed as one tf.Transform dataset per drop
(``tft_beam.AnalyzeDatasetWithCache``): each drop's analyzer accumulators (counts, sums, vocabulary
counts, quantile sketches) are written once, then merged with the other drops' on every later
window, so a window shifted by one drop analyses one drop. The graph equals a from-scratch
analysis: accumulators merge exactly (quantiles within the sketch's own error).

An entry is ``<root>/<step>.analysis/<key>``: ``key`` digests the drop and everything the
accumulators depend on — the user module's bytes and function name, the raw feature spec, the
analysed split, tf.Transform's and Python's versions, Transform's code — so a changed
``preprocessing_fn``, contract (column types) or runtime misses every entry, and nothing else
does. Entries are committed like artifacts (one writer under the lock, payload staged, manifest
last), so a failed run leaves none half-written; tf.Transform reads them from a local directory of
links (the store's local copy when the store is remote).
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tfpipe.components.artifacts.base import (
    artifact_lock,
    open_artifact,
    read_manifest,
    remove_stale_staging,
    staged,
)
from tfpipe.components.artifacts.layout import ArtifactAddress
from tfpipe.components.core.fingerprint import code_version, digest

SUFFIX = ".analysis"


@dataclass(frozen=True)
class Dataset:
    """One drop's share of the analysed splits: its tf.Transform dataset key, its files, and
    whether the store already holds its accumulators."""

    key: str  # tf.Transform's DatasetKey (letters, digits, '.', '-', '_')
    uri: str  # where its cache entry lives
    files: tuple[str, ...]
    cached: bool


class AnalysisCache:
    def __init__(
        self,
        output_uri: str,
        identity: dict[str, Any],
        drops: list[tuple[str, list[str]]],
        work_dir: str,
    ) -> None:
        """``identity``: what the accumulators depend on besides the data (see module doc);
        ``drops``: ``[(drop fingerprint, analysed files)]``; ``work_dir``: private scratch."""
        import tensorflow_transform as tft

        address = ArtifactAddress.of(output_uri)
        base = digest(
            {
                **identity,
                "tft": tft.__version__,
                "python": platform.python_version(),
                "code": code_version("transform"),
            }
        )
        self.root, self.step = address.root, address.step + SUFFIX
        self.read_dir = os.path.join(work_dir, "cache-in")
        self.write_dir = os.path.join(work_dir, "cache-out")
        self.read = 0
        self.datasets = []
        for drop, files in drops:
            key = f"drop-{drop}"
            uri = ArtifactAddress(self.root, self.step, digest([base, drop])).uri
            self.datasets.append(Dataset(key, uri, tuple(files), read_manifest(uri) is not None))

    @property
    def reused(self) -> list[Dataset]:
        return [d for d in self.datasets if d.cached]

    @property
    def fresh(self) -> list[Dataset]:
        return [d for d in self.datasets if not d.cached]

    def summary(self) -> dict[str, Any]:
        return {
            "cache": True,
            "drops": len(self.datasets),
            "reused": len(self.reused),
            "analysed": len(self.fresh),
            "read": self.read,
        }

    def analyze(
        self,
        pipeline: Any,
        read: Callable[[Any, str, list[str]], Any],
        preprocessing_fn: Callable[..., Any],
        feature_spec: dict[str, Any],
        adapter: Any,
    ) -> Any:
        """The transform_fn of the window, analysing only the drops without an entry (and every
        drop a second-phase analyzer needs); new entries are written for :meth:`commit_fresh`."""
        import tensorflow_transform.beam as tft_beam
        from tensorflow_transform.beam import analysis_graph_builder

        from tfpipe.components.transform.beam_io import ReadCacheEntry, WriteCacheEntry

        key = tft_beam.analyzer_cache.DatasetKey
        self._link_cached()
        input_cache = (
            pipeline
            | "ReadCache"
            >> tft_beam.analyzer_cache.ReadAnalysisCacheFromFS(
                self.read_dir, [key(d.key) for d in self.reused], source=ReadCacheEntry
            )
            if self.reused
            else {}
        )
        # A second-phase analyzer (its input depends on another analyzer's output, e.g. the
        # z-score of mean-imputed values) has no per-drop accumulator: it reads every drop.
        needed = (
            set(
                analysis_graph_builder.get_analysis_dataset_keys(
                    preprocessing_fn,
                    feature_spec,
                    [key(d.key) for d in self.datasets],
                    input_cache,
                    True,
                )
            )
            if self.reused
            else {key(d.key) for d in self.datasets}
        )
        self.read = len(needed)
        datasets = {
            key(d.key): read(pipeline, d.key, list(d.files)) if key(d.key) in needed else None
            for d in self.datasets
        }
        analyze = tft_beam.AnalyzeDatasetWithCache(preprocessing_fn)
        analyze.pipeline = pipeline  # every dataset may be cached: no input names the pipeline
        transform_fn, output_cache = (datasets, input_cache, adapter) | analyze
        if output_cache:
            _ = output_cache | "WriteCache" >> tft_beam.analyzer_cache.WriteAnalysisCacheToFS(
                pipeline, self.write_dir, [key(d.key) for d in self.fresh], sink=WriteCacheEntry
            )
        return transform_fn

    def _link_cached(self) -> None:
        """tf.Transform reads ``<dir>/<dataset key>/``: link each reused entry's local copy."""
        shutil.rmtree(self.read_dir, ignore_errors=True)
        os.makedirs(self.read_dir)
        for d in self.reused:
            os.symlink(open_artifact(d.uri).root, os.path.join(self.read_dir, d.key))

    def commit_fresh(self, run_id: str) -> int:
        """Commit the entries this run wrote, each under its own lock; returns how many."""
        committed = 0
        for d in self.fresh:
            written = os.path.join(self.write_dir, d.key)
            if not os.path.isdir(written):
                continue  # no cacheable analyzer: nothing to keep
            with artifact_lock(d.uri):
                if read_manifest(d.uri) is not None:
                    continue  # another run committed the same entry meanwhile
                remove_stale_staging(d.uri)
                manifest = {
                    "type": "AnalyzerCache",
                    "producer": {"component": "transform", "step": self.step},
                    "run_id": run_id,
                    "fingerprint": d.uri.rstrip("/").rpartition("/")[2],
                    "dataset_key": d.key,
                }
                with staged(d.uri, manifest) as entry:
                    shutil.copytree(written, entry.root, dirs_exist_ok=True)
            committed += 1
        shutil.rmtree(self.write_dir, ignore_errors=True)
        shutil.rmtree(self.read_dir, ignore_errors=True)
        return committed
