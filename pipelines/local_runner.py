"""The local runner: plan by fingerprint, then execute what is not cached in one worker process.

Planning (validating parameters, computing fingerprints, checking which artifacts are committed)
happens here without TensorFlow. Steps that must run are sent, in topological order, to a single
worker process started in the pipeline's runtime interpreter, so TensorFlow is imported once per
run, and the runner itself never loads it: a fully cached run stays fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from components.core.artifacts import is_committed, utc_now
from components.core.errors import TfpipeError
from components.core.execute import Invocation, resolve
from components.core.runtime import child_environment, interpreter
from pipelines.definition import Pipeline
from pipelines.runs import artifacts_root, new_run_id, runs_dir, save_run


@dataclass
class Events:
    """Callbacks for progress output (the CLI renders them; tests may collect them)."""

    planned: Callable[[list[Invocation], set[str]], None] = lambda plan, pending: None
    started: Callable[[str], None] = lambda step: None
    progress: Callable[[str, str], None] = lambda step, message: None
    finished: Callable[[dict[str, Any]], None] = lambda step_record: None


def plan(pipeline: Pipeline, home: str) -> list[Invocation]:
    """Resolve every step (validated parameters, fingerprint, URI) in topological order."""
    root = artifacts_root(home, pipeline.name)
    resolved: dict[str, Invocation] = {}
    for step in pipeline.topological():
        upstream = {name: resolved[src] for name, src in step.inputs.items()}
        resolved[step.name] = resolve(
            component=step.component,
            step=step.name,
            raw_params=step.params,
            input_uris={n: inv.uri for n, inv in upstream.items()},
            input_fingerprints={n: inv.fingerprint for n, inv in upstream.items()},
            runtime=pipeline.runtime,
            artifacts_root=root,
        )
    return list(resolved.values())


class Worker:
    """A component worker process in a runtime's interpreter, spoken to over JSON lines."""

    def __init__(self, runtime: str, log_path: str) -> None:
        read_fd, write_fd = os.pipe()
        env = child_environment()
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [interpreter(runtime), "-m", "components", "worker", "--result-fd", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=self._log,
            pass_fds=(write_fd,),
            env=env,
            cwd=os.getcwd(),
        )
        os.close(write_fd)
        self.results: IO[str] = os.fdopen(read_fd, "r", buffering=1)

    def call(self, request: dict[str, Any], on_progress: Callable[[str], None]) -> dict[str, Any]:
        assert self.proc.stdin
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        for line in self.results:
            message = json.loads(line)
            if message.get("event") == "progress":
                on_progress(message["message"])
            elif message.get("event") == "result":
                return message
        code = self.proc.wait()
        return {
            "ok": False,
            "error": f"the worker process died (exit code {code}) while running "
            f"'{request['step']}'; its log is {self.log_path}",
            "traceback": "",
        }

    def close(self) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait()
        self.results.close()
        self._log.close()
        return code


def run_pipeline(
    pipeline: Pipeline,
    home: str,
    *,
    run_id: str | None = None,
    overrides: dict[str, Any] | None = None,
    events: Events | None = None,
) -> dict[str, Any]:
    """Run ``pipeline`` locally; return (and save) its run record. Step failures do not raise."""
    events = events or Events()
    home = os.path.abspath(home)
    run_id = run_id or new_run_id()
    record: dict[str, Any] = {
        "run_id": run_id,
        "pipeline": pipeline.name,
        "runtime": pipeline.runtime,
        "runner": "local",
        "overrides": overrides or {},
        "started_at": utc_now(),
        "status": "running",
        "steps": [],
    }
    start = time.perf_counter()
    try:
        invocations = plan(pipeline, home)
    except TfpipeError as exc:
        record.update(status="failed", error=str(exc), finished_at=utc_now())
        save_run(home, record)
        return record
    pending = {inv.step for inv in invocations if not is_committed(inv.uri)}
    events.planned(invocations, pending)
    worker: Worker | None = None
    failed = False
    try:
        for inv in invocations:
            step = {
                "step": inv.step,
                "component": inv.spec.name,
                "fingerprint": inv.fingerprint,
                "uri": inv.uri,
            }
            if failed:
                step["status"] = "skipped"
            elif inv.step not in pending and is_committed(inv.uri):
                step.update(status="cached", seconds=0.0, summary=_summary(inv.uri))
            else:
                if worker is None:
                    log_dir = os.path.join(runs_dir(home, pipeline.name), run_id)
                    os.makedirs(log_dir, exist_ok=True)
                    worker = Worker(pipeline.runtime, os.path.join(log_dir, "worker.log"))
                events.started(inv.step)
                t0 = time.perf_counter()
                result = worker.call(
                    inv.to_request(run_id), lambda msg, s=inv.step: events.progress(s, msg)
                )
                step["seconds"] = round(time.perf_counter() - t0, 3)
                if result["ok"]:
                    step.update(
                        status="cached" if result["cached"] else "executed",
                        summary=result["summary"],
                    )
                    for key in ("cpu_seconds", "peak_rss_mb"):
                        if key in result:
                            step[key] = result[key]
                else:
                    failed = True
                    step.update(status="failed", error=result["error"])
                    if result.get("traceback"):
                        step["traceback"] = result["traceback"]
            record["steps"].append(step)
            events.finished(step)
    finally:
        if worker is not None:
            code = worker.close()
            record["worker_log"] = worker.log_path
            if code != 0 and not failed:
                failed = True
                record["error"] = f"the worker exited with code {code}; see {worker.log_path}"
    record["status"] = "failed" if failed else "succeeded"
    record["finished_at"] = utc_now()
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["executed"] = [s["step"] for s in record["steps"] if s.get("status") == "executed"]
    if record["executed"] or failed:
        record["report"] = _report(record, home)
    save_run(home, record)
    return record


def _report(record: dict[str, Any], home: str) -> str | None:
    """Render the run report; a plotting problem is recorded, never fails the run."""
    try:
        from pipelines.report import render_report

        return render_report(record, home)
    except Exception as exc:
        record["report_error"] = f"{type(exc).__name__}: {exc}"
        return None


def _summary(uri: str) -> dict[str, Any]:
    with open(os.path.join(uri, "manifest.json"), encoding="utf-8") as f:
        return json.load(f).get("summary", {})
