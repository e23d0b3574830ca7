"""Run records, written the same way by the local runner and by Airflow tasks.

A run is a directory ``<home>/<pipeline>/runs/<run_id>/``:

- ``run.json``: the header (pipeline, runner, overrides, start time, the planned steps in order),
  written once by whoever starts the run;
- ``steps/<step>.json``: one record per step, written by the process that ran it, when it ends;
- ``record.json``: the assembled record once the run is over; ``report.html``; logs.

Steps write separate files, so tasks on different Airflow workers never race on one file, and a run
that is still going (or whose last task was killed) can be shown from what its steps recorded.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import uuid
from typing import Any

from tfpipe.components.artifacts import read_json, utc_now, write_json_atomic
from tfpipe.components.core.errors import TfpipeError
from tfpipe.pipelines.home import runs_dir

FINAL = ("succeeded", "failed")


def new_run_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def safe_run_id(run_id: str) -> str:
    """A run id usable as one path component (Airflow ids contain ':' and '+'); refuses ids that
    could climb out of the runs directory."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    if not safe.strip("._") or len(safe) > 200:
        raise TfpipeError(f"run id {run_id!r} is not usable; use letters, digits, '-', '_', '.'")
    return safe


class RunLog:
    """The files of one run."""

    def __init__(self, home: str, pipeline: str, run_id: str) -> None:
        self.home, self.pipeline, self.run_id = home, pipeline, safe_run_id(run_id)
        self.given_id = run_id  # as the orchestrator names it (Airflow ids hold ':' and '+')
        self.dir = os.path.join(runs_dir(home, pipeline), self.run_id)

    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    @property
    def report_path(self) -> str:
        return self.path("report.html")

    def log_path(self, name: str) -> str:
        os.makedirs(self.dir, exist_ok=True)
        return self.path(f"{name}.log")

    def start(self, header: dict[str, Any]) -> dict[str, Any]:
        """Write the header unless the run already has one (the first Airflow task of a run
        writes it; the others find it). Returns the header in force."""
        os.makedirs(self.path("steps"), exist_ok=True)
        existing = self.header()
        if existing is not None:
            return existing
        header = {"run_id": self.run_id, "pipeline": self.pipeline, **header}
        if self.given_id != self.run_id:  # the orchestrator's own id, shown in the report
            header.setdefault("given_id", self.given_id)
        header.setdefault("started_at", utc_now())
        write_json_atomic(self.path("run.json"), header)
        return header

    def header(self) -> dict[str, Any] | None:
        try:
            return dict(read_json(self.path("run.json")))
        except FileNotFoundError:
            return None

    def write_step(self, record: dict[str, Any]) -> None:
        os.makedirs(self.path("steps"), exist_ok=True)
        write_json_atomic(self.path("steps", f"{record['step']}.json"), record)

    def steps(self) -> dict[str, dict[str, Any]]:
        out = {}
        for path in glob.glob(self.path("steps", "*.json")):
            record = read_json(path)
            out[record["step"]] = record
        return out

    def assemble(
        self, *, final: bool, error: str | None = None, seconds: float | None = None
    ) -> dict[str, Any]:
        """The run record from the header and the step records. ``final``: the run is over, so
        a step without a record did not run."""
        header = self.header() or {"run_id": self.run_id, "pipeline": self.pipeline, "plan": []}
        recorded = self.steps()
        steps = []
        for planned in header.get("plan", []):
            step = recorded.get(planned["step"]) or {
                **planned,
                "status": "not run" if final else "pending",
            }
            steps.append(step)
        record = {k: v for k, v in header.items() if k != "plan"}
        record["steps"] = steps
        failed = [s for s in steps if s.get("status") == "failed"]
        if error:
            record["error"] = error
        elif failed:
            record["error"] = f"step '{failed[0]['step']}' failed: {failed[0].get('error')}"
        elif final and steps and not all(s.get("status") in ("executed", "cached") for s in steps):
            missing = [s["step"] for s in steps if s.get("status") not in ("executed", "cached")]
            record["error"] = f"steps {missing} did not run (see the orchestrator's logs)"
        done = all(s.get("status") in ("executed", "cached") for s in steps)
        if header.get("skipped") and not failed:  # e.g. its data drops were taken by another run
            record.pop("error", None)
        record["status"] = (
            "skipped"
            if header.get("skipped") and not failed
            else "failed"
            if failed or error
            else "succeeded"
            if done
            else "failed"
            if final
            else "running"
        )
        if final:
            record["finished_at"] = utc_now()
            started = _parse_time(record.get("started_at"))
            finished = _parse_time(record["finished_at"])
            if seconds is not None:
                record["seconds"] = round(seconds, 3)
            elif started and finished:
                record["seconds"] = round((finished - started).total_seconds(), 3)
        record.setdefault("seconds", 0.0)
        record["executed"] = [s["step"] for s in steps if s.get("status") == "executed"]
        record["cpu_seconds"] = round(sum(s.get("cpu_seconds", 0.0) for s in steps), 3)
        return record

    def save(self, record: dict[str, Any]) -> str:
        os.makedirs(self.dir, exist_ok=True)
        path = self.path("record.json")
        write_json_atomic(path, record)
        return path

    def record(self) -> dict[str, Any]:
        """The saved record, or (a run still going) one assembled from what is there."""
        try:
            return dict(read_json(self.path("record.json")))
        except FileNotFoundError:
            return self.assemble(final=False)


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None


def list_runs(home: str, pipeline: str | None = None) -> list[dict[str, Any]]:
    records = []
    for path in glob.glob(os.path.join(home, pipeline or "*", "runs", "*", "run.json")):
        run_dir = os.path.dirname(path)
        pipeline_name = os.path.basename(os.path.dirname(os.path.dirname(run_dir)))
        records.append(RunLog(home, pipeline_name, os.path.basename(run_dir)).record())
    return sorted(records, key=lambda r: r.get("started_at", ""))


def find_run(home: str, run_id: str, pipeline: str | None = None) -> dict[str, Any]:
    """A run by id, id prefix, or ``latest`` (of ``pipeline`` when given): the newest run that got
    past planning (one refused at planning executed nothing and has nothing to show), or the
    newest of all when every run was refused. The record's ``picked`` says which and why."""
    records = list_runs(home, pipeline)
    where = f" of pipeline '{pipeline}'" if pipeline else ""
    if run_id == "latest":
        if not records:
            raise TfpipeError(f"no runs{where} under {home} (see `tfpipe runs`)")
        planned = [r for r in records if not _refused_at_planning(r)]
        record = (planned or records)[-1]
        skipped = len(records) - 1 - records.index(record)
        note = f"latest run{where}: {record['run_id']} ({record['pipeline']}, {record['status']})"
        if skipped:
            note += f"; {skipped} newer run(s) refused at planning skipped"
        return {**record, "picked": note}
    matches = [r for r in records if r["run_id"].startswith(run_id)]
    exact = [r for r in matches if r["run_id"] == run_id]
    if exact:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise TfpipeError(f"no run '{run_id}'{where} under {home} (see `tfpipe runs`)")
    raise TfpipeError(f"run id '{run_id}' is ambiguous: {[r['run_id'] for r in matches]}")


def _refused_at_planning(record: dict[str, Any]) -> bool:
    steps = record.get("steps", [])
    return record.get("status") == "failed" and not any(
        s.get("status") in ("executed", "cached", "failed") for s in steps
    )
