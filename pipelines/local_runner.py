"""The local runner: plan by fingerprint, then execute what is not cached, one worker per runtime.

Planning (validating parameters, computing fingerprints, checking which artifacts are committed)
happens here without TensorFlow. Pending steps are sent, in topological order, to a worker process
started in their runtime's interpreter (one per runtime, started on first use), so TensorFlow is
imported once per runtime per run, and the runner itself never loads it: a fully cached run stays
fast. Steps after a failure, or after an input that halts its readers, are not run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tfpipe.components.artifacts import is_committed
from tfpipe.components.core.errors import TfpipeError
from tfpipe.components.core.execute import Invocation
from tfpipe.pipelines.definition import Pipeline
from tfpipe.pipelines.engine import (
    Worker,
    cached_result,
    check_ahead,
    finish_run,
    plan,
    run_header,
    step_record,
)
from tfpipe.pipelines.report.ahead import SectionsAhead
from tfpipe.pipelines.runs import RunLog, new_run_id


@dataclass
class Events:
    """Callbacks for progress output (the CLI renders them; tests may collect them)."""

    planned: Callable[[list[Invocation], list[str]], None] = lambda plan, pending: None
    started: Callable[[str], None] = lambda step: None
    progress: Callable[[str, str], None] = lambda step, message: None
    finished: Callable[[dict[str, Any]], None] = lambda step_record: None


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
    run = RunLog(home, pipeline.name, run_id or new_run_id())
    run.start(run_header(pipeline, "local", overrides or {}))
    start = time.perf_counter()
    try:
        invocations = plan(pipeline, home)
    except TfpipeError as exc:
        return finish_run(run, error=str(exc), seconds=time.perf_counter() - start, report=False)
    pending = [inv.step for inv in invocations if not is_committed(inv.uri)]
    events.planned(invocations, pending)
    workers: dict[tuple[str, bool], Worker] = {}
    # Each step's report section, drawn while the next steps run (a cached run draws nothing).
    ahead = SectionsAhead() if pending else None
    # Start the workers that import TensorFlow now: their seconds of imports overlap the steps
    # that need none (ExampleGen, the validator), which run in a light worker meanwhile.
    for inv in invocations:
        key = (inv.runtime, inv.spec.needs_tensorflow)
        if inv.step in pending and key[1] and key not in workers:
            log = run.log_path(f"worker-{inv.runtime}")
            workers[key] = Worker(inv.runtime, log, warm=True, named=pipeline.environment)
    stop: str | None = None
    error: str | None = None
    summaries: dict[str, dict[str, Any]] = {}  # of committed steps, for the checks ahead
    try:
        for inv in invocations:
            if stop:
                continue  # no record: "not run"
            if inv.step not in pending and is_committed(inv.uri):
                record = step_record(
                    inv.step, inv.spec.name, inv.runtime, cached_result(inv), seconds=0.0
                )
            else:
                record = _execute(inv, run, workers, events, pipeline.environment)
            run.write_step(record)
            events.finished(record)
            if ahead:
                ahead.submit(record)
            if record["status"] == "failed":
                stop = f"step '{inv.step}' failed"
            elif record.get("halt"):
                stop = record["halt"]
                error = f"step '{inv.step}' stopped the run: {record['halt']}"
            elif record["status"] == "executed":
                summaries[inv.step] = record.get("summary", {})
                try:  # what it produced may show that a later step cannot work: stop now
                    check_ahead(pipeline, summaries)
                except TfpipeError as exc:
                    stop = error = str(exc)
            else:
                summaries[inv.step] = record.get("summary", {})
    finally:
        for worker in workers.values():
            code = worker.close()
            if code != 0 and not stop:
                error = (
                    f"the {worker.runtime} worker exited with code {code}; see {worker.log_path}"
                )
    record = finish_run(
        run,
        error=error,
        seconds=time.perf_counter() - start,
        report=bool(pending) or stop is not None,
        ahead=ahead,
    )
    record["worker_logs"] = [w.log_path for w in workers.values()]
    return record


def _execute(
    inv: Invocation,
    run: RunLog,
    workers: dict[tuple[str, bool], Worker],
    events: Events,
    named: tuple[str, ...],
) -> dict[str, Any]:
    key = (inv.runtime, inv.spec.needs_tensorflow)
    if key not in workers:
        light = "" if key[1] else "-light"
        log = run.log_path(f"worker-{inv.runtime}{light}")
        workers[key] = Worker(inv.runtime, log, named=named)
    events.started(inv.step)
    t0 = time.perf_counter()
    result = workers[key].call(
        inv.to_request(run.run_id), lambda msg, s=inv.step: events.progress(s, msg)
    )
    return step_record(
        inv.step, inv.spec.name, inv.runtime, result, seconds=time.perf_counter() - t0
    )
