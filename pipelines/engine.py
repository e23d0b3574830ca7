"""The run engine shared by the local runner and the Airflow tasks: plan, execute, record.

- :func:`plan` resolves every step (validated parameters, fingerprint, URI, frozen external
  inputs) without TensorFlow, so caching is decided from files alone.
- A step executes in its runtime's interpreter, either in a long-lived :class:`Worker` (the local
  runner: TensorFlow imported once per runtime per run) or as one component CLI process
  (:func:`run_step_process`, an Airflow task).
- Each executed step leaves a step record (:func:`step_record`) in the run's directory; the run
  record and the report are assembled from them (:func:`finish_run`), whichever runner ran it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from tfpipe.components import get_spec
from tfpipe.components.artifacts import is_committed, open_artifact
from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.execute import Invocation, resolve
from tfpipe.components.core.lifeline import lifeline
from tfpipe.components.core.runtime import child_environment, interpreter
from tfpipe.components.core.warm import RESULT_FD, BorrowedProcess, borrow
from tfpipe.pipelines.definition import Pipeline
from tfpipe.pipelines.home import artifacts_root
from tfpipe.pipelines.runs import RunLog

if TYPE_CHECKING:
    from tfpipe.pipelines.report.ahead import SectionsAhead


def plan(pipeline: Pipeline, home: str) -> list[Invocation]:
    """Resolve every step in topological order, then check each step against what its committed
    ancestors produced, or a contract says the data will have (see :func:`check_ahead`)."""
    resolved: dict[str, Invocation] = {}
    for step in pipeline.topological():
        upstream = {name: resolved[src] for name, src in step.inputs.items()}
        resolved[step.name] = resolve_step(
            pipeline,
            step.name,
            {n: (inv.uri, inv.fingerprint) for n, inv in upstream.items()},
            home,
        )
    known: dict[str, dict[str, Any]] = {}
    for name, inv in resolved.items():
        if is_committed(inv.uri):
            known[name] = open_artifact(inv.uri).summary
        elif "contract_columns" in inv.external.values:
            # Before any data is read, a contract says which columns the data will have.
            known[name] = {COLUMNS: inv.external.values["contract_columns"], "planned": True}
    if known and len([n for n, s in known.items() if not s.get("planned")]) < len(resolved):
        check_ahead(pipeline, known)
    return list(resolved.values())


# Summary keys of steps that say which raw columns the data has (ExampleGen's, Transform's).
COLUMNS, RAW_FEATURES = "column_names", "raw_features"


def check_ahead(pipeline: Pipeline, summaries: dict[str, dict[str, Any]]) -> None:
    """Check every step that has not committed against the summaries of its committed ancestors,
    so a step that cannot work is refused now, before the steps between them run: the raw
    columns its parameters name (``ComponentParams.COLUMN_FIELDS``: a label column, slices, a
    passthrough column) against the data's columns, as soon as an ExampleGen (or a contract)
    knows them, and the component's own ``check_ancestors``. Raises a ParameterError naming
    the step."""
    problems = []
    for step in pipeline.topological():
        known = {a: summaries[a] for a in pipeline.ancestors(step.name) if a in summaries}
        if not known or (step.name in summaries and not summaries[step.name].get("planned")):
            continue
        spec = get_spec(step.component)
        params = spec.validate_params(
            pipeline.step_params(step), step.name, pipeline.step_runtime(step)
        )
        columns = next(
            (
                s.get(COLUMNS) or s[RAW_FEATURES]
                for s in known.values()
                if s.get(COLUMNS) or s.get(RAW_FEATURES)
            ),
            None,
        )
        if columns is not None:
            problems += missing_columns(step.name, params, columns)
        try:
            params.check_ancestors(known)
        except ParameterError as exc:
            problems.append(f"step '{step.name}' cannot work: {exc}")
    if problems:
        raise ParameterError("; ".join(problems))


def missing_columns(step: str, params: Any, columns: list[str]) -> list[str]:
    problems = []
    for field_name, names in params.named_columns().items():
        for name in names:
            if name not in columns:
                near = difflib.get_close_matches(name, columns, n=1)
                problems.append(
                    f"{step}.{field_name} names '{name}', which is not a column of the data"
                    + (f" (did you mean '{near[0]}'?)" if near else "")
                    + f"; the data's columns: {', '.join(sorted(columns))}"
                )
    return problems


def resolve_step(
    pipeline: Pipeline, step_name: str, upstream: dict[str, tuple[str, str]], home: str
) -> Invocation:
    """The one resolution of a step, from its upstream results (``{input name: (URI,
    fingerprint)}``): validated parameters, what it reads from outside the store, its
    fingerprint, and the cross-step checks (see ``ComponentParams.check_upstream``). The planner
    and the Airflow tasks call it; the process that runs the step receives its result."""
    step = pipeline.step(step_name)
    inv = resolve(
        component=step.component,
        step=step.name,
        raw_params=pipeline.step_params(step),
        input_uris={name: uri for name, (uri, _) in upstream.items()},
        input_fingerprints={name: fingerprint for name, (_, fingerprint) in upstream.items()},
        runtime=pipeline.step_runtime(step),
        artifacts_root=artifacts_root(home, pipeline.name),
    )
    inv.params.check_upstream(
        {
            name: (pipeline.step(src).component, pipeline.step_params(pipeline.step(src)))
            for name, src in step.inputs.items()
        }
    )
    return inv


def run_header(pipeline: Pipeline, runner: str, overrides: dict[str, Any]) -> dict[str, Any]:
    return {
        "runner": runner,
        "runtime": pipeline.runtime,
        "overrides": overrides,
        "plan": [
            {
                "step": s.name,
                "component": s.component,
                "runtime": pipeline.step_runtime(s),
                "inputs": dict(s.inputs),
                "after": list(s.after),
            }
            for s in pipeline.topological()
        ],
    }


def step_record(
    step: str,
    component: str,
    runtime: str,
    result: dict[str, Any],
    *,
    seconds: float,
    cpu_seconds: float | None = None,
) -> dict[str, Any]:
    """One step's record from a component result (``ok`` or an error payload)."""
    record: dict[str, Any] = {
        "step": step,
        "component": component,
        "runtime": runtime,
        "seconds": round(seconds, 3),
        "fingerprint": result.get("fingerprint", ""),
        "uri": result.get("uri", ""),
    }
    if cpu_seconds is not None:
        record["cpu_seconds"] = round(cpu_seconds, 3)
    elif "cpu_seconds" in result:
        record["cpu_seconds"] = result["cpu_seconds"]
    if "peak_rss_mb" in result:
        record["peak_rss_mb"] = result["peak_rss_mb"]
    if result.get("ok"):
        record["status"] = "cached" if result.get("cached") else "executed"
        record["summary"] = result.get("summary", {})
        if result.get("halt"):
            record["halt"] = result["halt"]
        if result.get("committed") is False:
            record["status"] = "executed"
            record["note"] = result.get("message", "")
    else:
        record.update(status="failed", error=result.get("error", "unknown error"))
        if result.get("error_type"):
            record["error_type"] = result["error_type"]
        if result.get("traceback"):
            record["traceback"] = result["traceback"]
    return record


def cached_result(inv: Invocation) -> dict[str, Any]:
    artifact = open_artifact(inv.uri)
    return {
        "ok": True,
        "cached": True,
        "uri": inv.uri,
        "fingerprint": inv.fingerprint,
        "summary": artifact.summary,
        "halt": artifact.halt,
    }


class Worker:
    """A component worker process in a runtime's interpreter, spoken to over JSON lines."""

    def __init__(
        self, runtime: str, log_path: str, warm: bool = False, named: tuple[str, ...] = ()
    ) -> None:
        read_fd, write_fd = os.pipe()
        self.runtime = runtime
        self.log_path = log_path
        self._log = open(log_path, "ab")
        # Its own temporary directory, removed when it ends: TensorFlow's AutoGraph sources and
        # Beam's temp files are otherwise left in /tmp by every run (the worker ends with
        # os._exit, which skips their clean-up).
        self.tmp = tempfile.mkdtemp(prefix=f"tfpipe-worker-{runtime}-")
        env = child_environment(runtime, {"TMPDIR": self.tmp}, named)
        self._lifeline = contextlib.ExitStack()
        self.borrowed = self._borrow(env, write_fd)
        if self.borrowed is not None:
            self.proc: Any = self.borrowed
            note = f"tfpipe: worker process {self.proc.pid} forked by the warm {runtime} worker"
            self._log.write(f"{note}\n".encode())
            self._log.flush()
            os.close(write_fd)
            self.results: IO[str] = os.fdopen(read_fd, "r", buffering=1)
            return
        # The worker reads requests from stdin: EOF there (this process gone) ends it too.
        self.proc = subprocess.Popen(
            [
                interpreter(runtime),
                "-m",
                "tfpipe.components",
                "worker",
                "--result-fd",
                str(write_fd),
                "--runtime",
                runtime,
                *(["--warm"] if warm else []),
            ],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=self._log,
            pass_fds=(write_fd,),
            env=env,
            start_new_session=True,
        )
        os.close(write_fd)
        self.results = os.fdopen(read_fd, "r", buffering=1)

    def _borrow(self, env: dict[str, str], results_fd: int) -> BorrowedProcess | None:
        """This worker forked from the host's warm worker of its runtime (TensorFlow imported
        already), or None. It ends with this process through a lifeline, like a started one."""
        fd, lifeline_env = self._lifeline.enter_context(lifeline())
        requests_r, requests_w = os.pipe()
        try:
            proc = borrow(
                self.runtime,
                ["worker", "--result-fd", RESULT_FD, "--runtime", self.runtime],
                {**env, **lifeline_env},
                fd,
                output_fd=self._log.fileno(),
                worker_fds=(requests_r, results_fd),
            )
        finally:
            os.close(requests_r)
        if proc is None:
            os.close(requests_w)
            self._lifeline.close()
            return None
        proc.stdin = os.fdopen(requests_w, "wb")
        return proc

    def call(self, request: dict[str, Any], on_progress: Callable[[str], None]) -> dict[str, Any]:
        assert self.proc.stdin
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        for line in self.results:
            message = json.loads(line)
            if message.get("event") == "progress":
                on_progress(message["message"])
            elif message.get("event") == "result":
                return dict(message)
        code = self.proc.wait()
        return {
            "ok": False,
            "error": f"the {self.runtime} worker process died ({describe_exit(code)}) while "
            f"running '{request['step']}'; its log is {self.log_path}",
        }

    def close(self) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait()
        self.results.close()
        self._log.close()
        self._lifeline.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return code


def component_command(inv: Invocation, run_id: str) -> list[str]:
    request = inv.to_request(run_id)
    command = [
        interpreter(inv.runtime),
        "-m",
        "tfpipe.components",
        inv.spec.name,
        "--params",
        json.dumps(request["params"]),
        "--external",
        json.dumps(request["external"]),
        "--planned",
        json.dumps(request["planned"]),
        "--artifacts-root",
        request["artifacts_root"],
        "--step",
        inv.step,
        "--runtime",
        inv.runtime,
        "--run-id",
        run_id,
    ]
    for name, uri in inv.input_uris.items():
        command += ["--input", f"{name}={uri}"]
    return command


def run_step_process(
    inv: Invocation,
    run_id: str,
    log_path: str,
    echo: Callable[[str], None] = print,
    named: tuple[str, ...] = (),
    stop: threading.Event | None = None,
) -> tuple[dict[str, Any], float, float]:
    """Run one step as a component CLI process; return (result, wall seconds, CPU seconds of the
    process and its children). Its output goes to ``echo`` and to ``log_path``. The process is
    borrowed from this host's warm worker of the step's runtime when one serves (TensorFlow
    already imported; see ``tfpipe.components.core.warm``), else started here. ``stop``, once
    set, kills the process (and its group): the step then ends as killed."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # A private temporary directory for the step (see Worker), removed when it ends.
    scratch = tempfile.TemporaryDirectory(prefix="tfpipe-step-")
    with lifeline() as (fd, lifeline_env), scratch as tmp:
        command = component_command(inv, run_id)
        env = child_environment(inv.runtime, {**lifeline_env, "TMPDIR": tmp}, named)
        proc: Any = borrow(inv.runtime, command[3:], env, fd)
        if proc is not None:
            echo(f"tfpipe: step process {proc.pid} forked by the warm {inv.runtime} worker")
        else:
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                pass_fds=(fd,),
                start_new_session=True,
            )
        finished = threading.Event()
        if stop is not None:
            threading.Thread(target=_stop_on, args=(stop, finished, proc), daemon=True).start()
        try:
            return _follow(proc, inv, log_path, echo, start, before)
        finally:
            finished.set()


def _stop_on(stop: threading.Event, finished: threading.Event, proc: Any) -> None:
    """Kill the step's process group when ``stop`` is set before the step has finished."""
    import signal

    while not finished.is_set():
        if stop.wait(0.5):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return


def _follow(
    proc: Any,
    inv: Invocation,
    log_path: str,
    echo: Callable[[str], None],
    start: float,
    before: resource.struct_rusage,
) -> tuple[dict[str, Any], float, float]:
    last = ""
    assert proc.stdout
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            for line in proc.stdout:
                echo(line.rstrip("\n"))
                log.write(line)
                if line.strip():
                    last = line
        code = proc.wait()
    finally:
        _kill_group(proc)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    cpu += getattr(proc, "cpu_seconds", 0.0)  # a borrowed process is the warm worker's child
    died = {"ok": False, "error": f"{inv.spec.name} process ended ({describe_exit(code)})"}
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        result = died
    if code != 0 and result.get("ok"):
        result = died
    return result, time.perf_counter() - start, cpu


def describe_exit(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def _kill_group(proc: Any) -> None:
    """Stop the component process and anything it started (it leads its own process group)."""
    import signal

    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def finish_run(
    run: RunLog,
    *,
    error: str | None = None,
    seconds: float | None = None,
    report: bool = True,
    ahead: SectionsAhead | None = None,
) -> dict[str, Any]:
    """Assemble, report and save the record of a run that is over (``ahead``: the sections
    rendered while it ran)."""
    record = run.assemble(final=True, error=error, seconds=seconds)
    if report:
        try:
            from tfpipe.pipelines.report import render_report

            record["report"] = render_report(record, run, ahead)
        except Exception as exc:  # a plotting problem is recorded, never fails the run
            record["report_error"] = f"{type(exc).__name__}: {exc}"
    run.save(record)
    return record


def committed(uri: str) -> bool:
    return bool(uri) and is_committed(uri)
