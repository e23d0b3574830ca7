"""Run records: one JSON file per run under ``<home>/<pipeline>/runs/``."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import uuid
from typing import Any

from components.core.artifacts import write_json_atomic
from components.core.errors import TfpipeError


def new_run_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def runs_dir(home: str, pipeline: str) -> str:
    return os.path.join(home, pipeline, "runs")


def artifacts_root(home: str, pipeline: str) -> str:
    return os.path.join(home, pipeline, "artifacts")


def save_run(home: str, record: dict[str, Any]) -> str:
    directory = runs_dir(home, record["pipeline"])
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{record['run_id']}.json")
    write_json_atomic(path, record)
    return path


def list_runs(home: str, pipeline: str | None = None) -> list[dict[str, Any]]:
    pattern = os.path.join(home, pipeline or "*", "runs", "*.json")
    records = []
    for path in glob.glob(pattern):
        with open(path, encoding="utf-8") as f:
            records.append(json.load(f))
    return sorted(records, key=lambda r: r.get("started_at", ""))


def find_run(home: str, run_id: str) -> dict[str, Any]:
    """A run by id, id prefix, or ``latest``."""
    records = list_runs(home)
    if run_id == "latest" and records:
        return records[-1]
    matches = [r for r in records if r["run_id"].startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise TfpipeError(f"no run '{run_id}' under {home} (see `tfpipe runs`)")
    raise TfpipeError(f"run id '{run_id}' is ambiguous: {[r['run_id'] for r in matches]}")
