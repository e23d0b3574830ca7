"""Which DAG run trains on which data drop: a claim ledger for asset events.

Airflow hands the asset events queued for a DAG to one run (``triggering_asset_events``), and an
event posted while the scheduler is creating that run can end up in no run at all (it lands in
the asset's history but in nobody's triggering events). A data drop must be trained on exactly
once, so the first task of an asset-triggered run *claims* its events in this ledger: its own
triggering events plus every event of the same assets since the oldest of them that no run has
claimed yet. The claim is recorded per run, so every later task and every retry of that run sees
the same events; a run whose events were all claimed by an earlier run has nothing to do.

Events from before a run's oldest triggering event (for instance posted while the DAG was paused,
which Airflow does not queue) are never swept in.

Where the ledger lives decides who shares it, so it lives where the artifacts do:

- **a local store**: a JSON file under the pipeline's home, changed under an ``fcntl`` lock (the
  tasks of concurrent runs may claim at the same moment). One machine, one ledger.
- **an object store** (``s3://``): one JSON object, ``<store>/<pipeline>/asset_claims/<dag>.json``,
  changed by compare-and-swap: read it with its ETag, add the claim, write it back with
  ``If-Match: <etag>`` (``If-None-Match: *`` when it does not exist yet); a write refused with 412
  means another host claimed meanwhile, so the claim is recomputed on the new ledger and tried
  again. Workers on any number of hosts then share one ledger. moto, MinIO, SeaweedFS and AWS S3
  (since 2024) honour both conditions on PutObject; the artifact leases rely on them already.

Why the object store and not Airflow's metadata database: in Airflow 3 a task has no connection to
the metadata database (the Task SDK talks to the API server only, and direct DB access from tasks
is refused), the claims are tfpipe's data, not Airflow's (no table of ours to create or migrate in
Airflow's schema), and the store is the one service every worker already reaches with
credentials. A ledger grows by one small entry per run; it is read whole, which is fine for
thousands of runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tfpipe.components.artifacts import object_store, read_json, write_json_atomic
from tfpipe.components.artifacts.object_store import ObjectStoreError


@dataclass(frozen=True)
class Event:
    """An asset event as the ledger keeps it. ``key``: the asset's URI and the event's timestamp
    (a run's triggering events carry no event id, only these)."""

    key: str
    timestamp: str
    extra: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "timestamp": self.timestamp, "extra": self.extra}


@dataclass(frozen=True)
class Claim:
    """The events a run trains on, and (when it got none) which runs took its triggering ones."""

    events: list[Event]
    taken_by: dict[str, str]


class AssetClaims:
    """The claim ledger at ``path``: a local file, or an ``s3://`` object shared by every host."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conflicts = 0  # compare-and-swap writes refused because another host wrote first

    def claim(
        self, run_id: str, triggering: list[Event], candidates: Callable[[], Iterable[Event]]
    ) -> Claim:
        """The run's claim, made now (atomically) unless it already has one.

        ``candidates``: the assets' events since the oldest triggering event, queried only when
        the run claims for the first time (once, however many times a swap is retried)."""
        fetched: list[list[Event]] = []

        def history() -> list[Event]:
            if not fetched:
                fetched.append(list(candidates()))
            return fetched[0]

        if object_store.is_object_uri(self.path):
            return self._claim_on_store(run_id, triggering, history)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            ledger = self._read()
            if _add_claim(ledger, run_id, triggering, history):
                write_json_atomic(self.path, ledger)
            return _claim_of(ledger, run_id, triggering)

    def _claim_on_store(
        self, run_id: str, triggering: list[Event], history: Callable[[], list[Event]]
    ) -> Claim:
        for attempt in range(MAX_SWAPS):
            body, etag = object_store.get_with_etag(self.path)
            ledger = _empty() if body is None else _complete(json.loads(body))
            if not _add_claim(ledger, run_id, triggering, history):
                return _claim_of(ledger, run_id, triggering)
            data = json.dumps(ledger, indent=1, sort_keys=True).encode()
            written = object_store.put_bytes(
                self.path, data, if_none_match=body is None, if_match=etag
            )
            if written is not None:
                return _claim_of(ledger, run_id, triggering)
            self.conflicts += 1
            time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
        raise ObjectStoreError(
            f"asset claims: {MAX_SWAPS} writes of {self.path} in a row were refused because "
            "other hosts changed it first; is something rewriting it in a loop?"
        )

    def _read(self) -> dict[str, Any]:
        try:
            return _complete(dict(read_json(self.path)))
        except FileNotFoundError:
            return _empty()


MAX_SWAPS = 50


def _empty() -> dict[str, Any]:
    return {"runs": {}, "owner": {}}


def _complete(ledger: dict[str, Any]) -> dict[str, Any]:
    ledger.setdefault("runs", {})
    ledger.setdefault("owner", {})
    return ledger


def _add_claim(
    ledger: dict[str, Any],
    run_id: str,
    triggering: list[Event],
    history: Callable[[], Iterable[Event]],
) -> bool:
    """Record ``run_id``'s claim in ``ledger`` unless it has one; True when it changed."""
    if run_id in ledger["runs"]:
        return False
    owner: dict[str, str] = ledger["owner"]
    pool = {e.key: e for e in triggering}
    for event in history():
        pool.setdefault(event.key, event)
    mine = sorted((e for e in pool.values() if e.key not in owner), key=lambda e: e.timestamp)
    ledger["runs"][run_id] = [e.to_json() for e in mine]
    for event in mine:
        owner[event.key] = run_id
    return True


def _claim_of(ledger: dict[str, Any], run_id: str, triggering: list[Event]) -> Claim:
    owner = ledger["owner"]
    events = [Event(**e) for e in ledger["runs"][run_id]]
    taken = {e.key: owner[e.key] for e in triggering if owner.get(e.key) not in (None, run_id)}
    return Claim(events=events, taken_by=taken)
