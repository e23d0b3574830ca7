"""The baseline's scores per eval shard, reused across evaluations (no TensorFlow).

Every run scores the served model on the eval split to compare the candidate with it, and a
rolling window of data drops hands the Evaluator mostly the shards it read last time (each drop's
Examples are an immutable artifact). Neither the served model nor those shards changed, so
neither can the baseline's scores: they are kept per (model identity, what is scored, shard
content) in the artifact store beside the Evaluator's own artifacts,

    <store>/<pipeline>/artifacts/<evaluator step>.baseline/<key>/   scores.npy + manifest.json

committed by the same protocol as any artifact (staged payload, manifest last, one writer per
key under the artifact lock), so it works on a local store and an object store alike. The
candidate is new every run and is always scored on every row.

A shard is identified by its content (sha256, hashed once per file as data inputs are), not its
path: the same rows in another window's artifact, or on a store mirrored elsewhere, are the same
shard. The scores kept are the full output the metrics read (``probabilities`` or
``predictions``) for every row of the shard, in file order, so metrics computed from them are
those of scoring the rows again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tfpipe.components.artifacts import (
    BaselinePredictions,
    artifact_lock,
    is_committed,
    open_artifact,
    remove_stale_staging,
    staged,
)
from tfpipe.components.artifacts.layout import ArtifactAddress
from tfpipe.components.core.fingerprint import content_digests, digest

SUFFIX = ".baseline"


class BaselineCache:
    """Scores of one baseline model (``identity``: its content's identity, plus what of it is
    scored), keyed per shard, under the artifacts root of ``output_uri`` (the evaluation being
    written)."""

    def __init__(self, output_uri: str, identity: dict[str, Any], run_id: str = "") -> None:
        address = ArtifactAddress.of(output_uri)
        self.root, self.step = address.root, address.step + SUFFIX
        self.identity = identity
        self.run_id = run_id
        self.rows_reused = 0
        self.rows_scored = 0
        self._keys: dict[str, str] = {}
        self._held: dict[str, Any] = {}

    def key(self, shard: str) -> str:
        if shard not in self._keys:
            # sha256 of the bytes, remembered per (path, size, mtime, ctime, inode): a shard
            # read again is not hashed again
            self._keys[shard] = digest([self.identity, content_digests([shard])[shard]])
        return self._keys[shard]

    def uri(self, shard: str) -> str:
        return ArtifactAddress(self.root, self.step, self.key(shard)).uri

    def load(self, shard: str) -> Any:
        """The shard's cached scores, or None."""
        uri = self.uri(shard)
        if not is_committed(uri):
            return None
        scores = open_artifact(uri, BaselinePredictions).scores()
        self.rows_reused += int(scores.shape[0])
        return scores

    def scores(self, shard: str, compute: Callable[[], Any]) -> Any:
        """The shard's scores: cached, else ``compute()``d and committed (another evaluator that
        computes the same key meanwhile waits on the lock, then reads ours)."""
        cached = self.load(shard)
        if cached is not None:
            return cached
        uri = self.uri(shard)
        with artifact_lock(uri):
            cached = self.load(shard)
            if cached is not None:
                return cached
            scores = compute()
            self.rows_scored += int(scores.shape[0])
            self._commit(shard, scores)
        return scores

    def hold(self, shard: str, scores: Any) -> Any:
        """Scores computed by the caller (a candidate's), kept by ``commit_held`` if wanted."""
        self.rows_scored += int(scores.shape[0])
        self._held[shard] = scores
        return scores

    def commit_held(self) -> int:
        """Keep the held scores (those not kept already); returns how many shards were new."""
        new = 0
        for shard, scores in self._held.items():
            uri = self.uri(shard)
            if is_committed(uri):
                continue
            with artifact_lock(uri):
                if not is_committed(uri):
                    self._commit(shard, scores)
                    new += 1
        self._held.clear()
        return new

    def _commit(self, shard: str, scores: Any) -> None:
        """Under the key's lock: the staged payload and its manifest, committed together."""
        uri = self.uri(shard)
        remove_stale_staging(uri)
        manifest = {
            "type": BaselinePredictions.TYPE,
            "producer": {"component": "evaluator", "step": self.step},
            "run_id": self.run_id,
            "fingerprint": self.key(shard),
            "summary": {
                "rows": int(scores.shape[0]),
                "shard": os.path.basename(shard),
                "model": self.identity,
            },
        }
        with staged(uri, manifest) as artifact:
            artifact.write_scores(scores)

    def counts(self) -> dict[str, int]:
        return {"baseline_rows_scored": self.rows_scored, "baseline_rows_reused": self.rows_reused}
