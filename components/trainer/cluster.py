"""A local TF_CONFIG cluster: one process per task on 127.0.0.1, supervised until done.

Every task runs in its own process group with a TF_CONFIG naming free ports. Output is streamed
line by line with a ``[role:index]`` prefix. The first chief/worker that fails ends the run: every
other task is terminated, and the error names the failing task. ps tasks serve forever by design
(``server.join()``), so they are terminated once the chief and workers have exited. No process is
left behind on any path.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tfpipe.components.core.errors import TfpipeError
from tfpipe.components.core.lifeline import lifeline

PROGRESS_MARK = "@@progress "
GRACE_SECONDS = 5.0


class ClusterTaskFailed(TfpipeError):
    """A chief/worker task of a local training cluster exited with an error."""


@dataclass
class Task:
    role: str
    index: int
    port: int
    proc: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"{self.role}:{self.index}"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def cluster_spec(tasks: list[Task]) -> dict[str, list[str]]:
    spec: dict[str, list[str]] = {}
    for t in tasks:
        if t.role != "evaluator":
            spec.setdefault(t.role, []).append(f"127.0.0.1:{t.port}")
    return spec


def _stream(task: Task, log: Callable[[str], None], progress: Callable[[str], None]) -> None:
    assert task.proc and task.proc.stdout
    for raw in task.proc.stdout:
        line = raw.decode(errors="replace").rstrip()
        if line.startswith(PROGRESS_MARK):
            line = line[len(PROGRESS_MARK) :]
            progress(f"[{task.name}] {line}")
        log(f"[{task.name}] {line}")


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop(tasks: list[Task]) -> None:
    """SIGTERM each task's process group, then SIGKILL what is still there after a grace period."""
    live = [t for t in tasks if t.proc and t.proc.poll() is None]
    for t in live:
        _signal_group(t.proc, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for t in live:
        try:
            t.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(t.proc, signal.SIGKILL)
            t.proc.wait()
    for t in tasks:  # also reap children that outlived their leader
        if t.proc:
            _signal_group(t.proc, signal.SIGKILL)


def run_cluster(
    roles: dict[str, int],
    command: list[str],
    env: dict[str, str],
    *,
    state_file: str,
    log: Callable[[str], None],
    progress: Callable[[str], None],
    timeout: float,
) -> None:
    """Run ``command`` once per task of ``roles`` and supervise the cluster until it is done.

    Each task holds a lifeline to this process (``tfpipe.components.core.lifeline``): when this
    process dies, however it dies, the tasks end themselves, so no task outlives its supervisor.
    """
    layout = [
        (role, i)
        for role in ("chief", "worker", "ps", "evaluator")
        for i in range(roles.get(role, 0))
    ]
    tasks = [
        Task(role, i, port)
        for (role, i), port in zip(layout, free_ports(len(layout)), strict=False)
    ]
    spec = cluster_spec(tasks)
    threads: list[threading.Thread] = []
    with lifeline() as (lifeline_fd, lifeline_env):
        try:
            for t in tasks:
                tf_config = {"cluster": spec, "task": {"type": t.role, "index": t.index}}
                t.proc = subprocess.Popen(
                    command,
                    env={**env, **lifeline_env, "TF_CONFIG": json.dumps(tf_config)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    pass_fds=(lifeline_fd,),
                    start_new_session=True,  # its own process group: killed as a whole
                )
                thread = threading.Thread(target=_stream, args=(t, log, progress), daemon=True)
                thread.start()
                threads.append(thread)
            with open(state_file, "w") as f:
                json.dump({"cluster": spec, "pids": {t.name: t.proc.pid for t in tasks}}, f)
            progress(f"local cluster up: {', '.join(t.name for t in tasks)} on 127.0.0.1")
            _supervise(tasks, timeout)
        finally:
            stop(tasks)
            for thread in threads:
                thread.join(timeout=2)


def _failure_message(tasks: list[Task]) -> str:
    """Name the task that failed first. When one task dies, its peers fail moments later (their
    collectives lose a member), so wait briefly and prefer a task killed by a signal."""
    time.sleep(1.0)
    failed = [(t, t.proc.poll()) for t in tasks if t.proc and t.proc.poll() not in (None, 0)]
    failed.sort(key=lambda item: (item[1] >= 0,))
    first, code = failed[0]
    cause = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    others = ", ".join(f"{t.name} (exit {c})" for t, c in failed[1:])
    return (
        f"training task {first.name} failed ({cause})"
        + (f"; then {others}" if others else "")
        + "; the other tasks were stopped. Re-running resumes from the last checkpoint."
    )


def _supervise(tasks: list[Task], timeout: float) -> None:
    trainers = [t for t in tasks if t.role in ("chief", "worker")]
    deadline = time.monotonic() + timeout
    while True:
        if any(t.proc and t.proc.poll() not in (None, 0) for t in tasks):
            raise ClusterTaskFailed(_failure_message(tasks))
        if all(t.proc and t.proc.poll() == 0 for t in trainers):
            evaluators = [t for t in tasks if t.role == "evaluator"]
            if all(t.proc and t.proc.poll() is not None for t in evaluators):
                return
        if time.monotonic() > deadline:
            raise ClusterTaskFailed(
                f"the training cluster did not finish within {timeout:.0f}s (trainer parameter "
                "cluster_timeout_seconds); its tasks were stopped"
            )
        time.sleep(0.2)
