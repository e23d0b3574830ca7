"""Which DAG run trains on which data drop: a claim ledger for asset events.

Airflow hands the asset events queued for a DAG to one run (``triggering_asset_events``), and an
event posted while the scheduler is creating that run can end up in no run at all (it lands in
the asset's history but in nobody's triggering events). A data drop must be trained on exactly
once, so the first task of an asset-triggered run *claims* its events in this ledger: its own
triggering events plus every event of the same assets since the oldest of them that no run has
claimed yet. The claim is recorded per run, so every later task and every retry of that run sees
the same events; a run whose events were all claimed by an earlier run has nothing to do.

The ledger is a JSON file under the pipeline's home, changed under an ``fcntl`` lock (the tasks of
concurrent runs may claim at the same moment); events from before a run's oldest triggering event
(for instance posted while the DAG was paused, which Airflow does not queue) are never swept in.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tfpipe.components.artifacts import read_json, write_json_atomic


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
    def __init__(self, path: str) -> None:
        self.path = path

    def claim(
        self, run_id: str, triggering: list[Event], candidates: Callable[[], Iterable[Event]]
    ) -> Claim:
        """The run's claim, made now (under the lock) unless it already has one.

        ``candidates``: the assets' events since the oldest triggering event, queried only when
        the run claims for the first time."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            ledger = self._read()
            owner: dict[str, str] = ledger["owner"]
            if run_id not in ledger["runs"]:
                pool = {e.key: e for e in triggering}
                for event in candidates():
                    pool.setdefault(event.key, event)
                mine = sorted(
                    (e for e in pool.values() if e.key not in owner), key=lambda e: e.timestamp
                )
                ledger["runs"][run_id] = [e.to_json() for e in mine]
                for event in mine:
                    owner[event.key] = run_id
                write_json_atomic(self.path, ledger)
            events = [Event(**e) for e in ledger["runs"][run_id]]
            taken = {
                e.key: owner[e.key] for e in triggering if owner.get(e.key) not in (None, run_id)
            }
            return Claim(events=events, taken_by=taken)

    def _read(self) -> dict[str, Any]:
        try:
            ledger = dict(read_json(self.path))
        except FileNotFoundError:
            ledger = {}
        ledger.setdefault("runs", {})
        ledger.setdefault("owner", {})
        return ledger
