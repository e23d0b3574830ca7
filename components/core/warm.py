"""Warm runtime workers: one interpreter per runtime per host with TensorFlow already imported,
from which each Airflow task's step gets a process of its own by ``fork``.

Why: every Airflow task runs its step in a new component process, and each such process pays the
TensorFlow, tf.Transform and Beam imports again (~3 s on a quiet 2-core machine, more on a busy
one) where the local runner pays them once per run. A warm worker pays them once per host.

Why it is safe: TensorFlow is not fork-safe once its runtime has started threads (its thread pools
start with the first op), so the warm worker imports and never runs an op, and stays
single-threaded in Python (one ``selectors`` loop; children are reaped on ``SIGCHLD`` through a
wake-up pipe). The native threads that exist after the imports (pyarrow's jemalloc background
thread) have fork handlers. A forked child is a fresh component process in everything that matters:
its own session (killable as a process group), the task's environment, working directory and
temporary directory, its stdout/stderr on the pipe the task reads, and the task's lifeline (passed
as a file descriptor), so a killed task kills its step exactly as it does a process it started.

A task finds the worker of its runtime by a socket whose name carries the runtime's identity and a
digest of tfpipe's sources, so a worker started before the code changed is never borrowed from.
No worker, a dead one or a refused request: the task starts a process as before.

The local runner borrows the same way: its per-run worker (JSON requests on stdin, results on a
descriptor of their own, output to the run's worker log) is forked from the warm worker when one
serves, so ``tfpipe warm modern &`` once makes every later ``tfpipe run`` skip the imports too.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from tfpipe.components.core.runtime import runtime_identity

HEADER = struct.Struct("!I")  # the request's length; the descriptors travel with it
RESULT_FD = "{result_fd}"  # in a borrowed worker's argv: the number of its results descriptor


def source_digest() -> str:
    """A digest of every tfpipe source file: a worker serves only tasks of the same code."""
    import tfpipe

    h = hashlib.sha256()
    for root in tfpipe.__path__:
        for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
            if f"{os.sep}tests{os.sep}" in path or f"{os.sep}.venvs{os.sep}" in path:
                continue
            h.update(path.encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:12]


def socket_dir() -> str:
    base = os.environ.get("TFPIPE_WARM_DIR") or os.path.join(
        os.path.expanduser(os.environ.get("TFPIPE_CACHE", "~/.cache/tfpipe")), "warm"
    )
    return base


def socket_path(runtime: str, digest: str | None = None) -> str:
    identity = runtime_identity(runtime).replace("@", "-")
    return os.path.join(socket_dir(), f"{identity}-{digest or source_digest()}.sock")


# -- the worker ---------------------------------------------------------------------------------
@dataclass
class _Borrow:
    conn: socket.socket
    pid: int = 0
    started: float = field(default_factory=time.monotonic)


def serve(runtime: str, path: str | None = None, idle_seconds: float = 0.0) -> int:
    """Import the runtime's heavy modules, then fork a component process per request until
    SIGTERM (or ``idle_seconds`` without a request, when given)."""
    from tfpipe.components.core.worker import warm_up

    warm_up()
    _preload_components()
    path = path or socket_path(runtime)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # the socket is the owner's only: it runs code as them
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(16)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "wake")
    borrowed: dict[int, _Borrow] = {}
    last_request = time.monotonic()
    print(f"tfpipe warm worker ({runtime}) ready on {path}", flush=True)
    try:
        while not stopping:
            for key, _ in selector.select(timeout=5.0):
                if key.data == "accept":
                    conn, _ = listener.accept()
                    last_request = time.monotonic()
                    borrow = _fork_for(conn, listener, runtime)
                    if borrow is not None:
                        borrowed[borrow.pid] = borrow
                elif key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
            _reap(borrowed)
            if idle_seconds and not borrowed and time.monotonic() - last_request > idle_seconds:
                break
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        listener.close()
    return 0


def _preload_components() -> None:
    """Import every component's entry point now, so a forked child starts with them loaded."""
    import importlib

    from tfpipe.components.registry import COMPONENTS

    for package in COMPONENTS.values():
        with contextlib.suppress(Exception):  # a missing optional dependency: imported on use
            importlib.import_module(f"{package}.run")


def _fork_for(conn: socket.socket, listener: socket.socket, runtime: str) -> _Borrow | None:
    try:
        request, fds = _receive(conn)
    except (OSError, ValueError) as exc:
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"refused": str(exc)}).encode() + b"\n")
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:  # the component process
        try:
            listener.close()
            conn.close()
            _become_component(request, fds, runtime)
        finally:
            os._exit(70)  # _become_component exits itself; this is the last resort
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    return _Borrow(conn, pid)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    conn.settimeout(10.0)
    head, fds, _, _ = socket.recv_fds(conn, HEADER.size, 4)
    if len(head) != HEADER.size or len(fds) not in (2, 4):
        for fd in fds:
            os.close(fd)
        raise ValueError(
            "a request is its length, with two descriptors (output, lifeline) or four (and "
            "a worker's requests and results)"
        )
    (length,) = HEADER.unpack(head)
    body = b""
    while len(body) < length:
        chunk = conn.recv(min(1 << 20, length - len(body)))
        if not chunk:
            raise ValueError("the request ended early")
        body += chunk
    conn.settimeout(None)
    return json.loads(body), fds


def _become_component(request: dict[str, Any], fds: list[int], runtime: str) -> None:
    """In the forked child: take the task's session, output, environment and lifeline, then run
    the component CLI as ``python -m tfpipe.components`` would."""
    import random
    import tempfile

    output, lifeline = fds[:2]
    argv = list(request["argv"])
    if len(fds) == 4:  # a local runner's worker: JSON requests on stdin, results on their own fd
        requests, results = fds[2:]
        os.dup2(requests, 0)
        os.close(requests)
        sys.stdin = open(0, buffering=1, closefd=False)  # the process's stdin, kept open
        argv = [str(results) if a == RESULT_FD else a for a in argv]
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.chdir(request["cwd"])
    env = dict(request["env"])
    env["TFPIPE_PARENT_FD"] = str(lifeline)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # the task's TMPDIR, not the worker's
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    sys.argv = ["python -m tfpipe.components", *argv]
    import runpy

    runpy.run_module("tfpipe.components", run_name="__main__")  # ends the process (hard_exit)


def _reap(borrowed: dict[int, _Borrow]) -> None:
    while borrowed:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        borrow = borrowed.pop(pid, None)
        if borrow is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        with contextlib.suppress(OSError):
            borrow.conn.sendall(json.dumps({"exit": code, "cpu": cpu}).encode() + b"\n")
        borrow.conn.close()


# -- a task borrowing from it -------------------------------------------------------------------
class BorrowedProcess:
    """A component process forked by a warm worker, seen from the task like a ``Popen``:
    ``stdout`` to read, ``wait()``/``poll()`` for its exit code, ``pid`` (its process group)."""

    def __init__(self, conn: socket.socket, pid: int, stdout: IO[str] | None) -> None:
        self.conn, self.pid, self.stdout = conn, pid, stdout
        self.stdin: IO[bytes] | None = None  # a borrowed local worker's requests
        self.returncode: int | None = None
        self.cpu_seconds = 0.0
        self._reply = conn.makefile("r")

    def wait(self) -> int:
        if self.returncode is None:
            line = self._reply.readline()
            if line:
                message = json.loads(line)
                self.returncode = int(message["exit"])
                self.cpu_seconds = float(message.get("cpu", 0.0))
            else:  # the warm worker died: the process is its orphan now; ask the kernel
                self.returncode = _wait_foreign(self.pid)
            self._reply.close()
            self.conn.close()
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None and not _alive(self.pid):
            return self.wait()
        return self.returncode


def borrow(
    runtime: str,
    argv: list[str],
    env: dict[str, str],
    lifeline_fd: int,
    *,
    output_fd: int | None = None,
    worker_fds: tuple[int, int] | None = None,
) -> BorrowedProcess | None:
    """A component process from this host's warm worker of ``runtime``, or None (no worker, a
    dead one — its socket is removed — or a refusal): the caller starts one itself.

    Its output comes back on a pipe (``stdout`` of the result), or goes to ``output_fd`` when
    given (a log file). ``worker_fds`` (requests read end, results write end) make it a local
    runner's worker: the first becomes its stdin, and :data:`RESULT_FD` in ``argv`` the second's
    number in the child."""
    path = socket_path(runtime)
    if not os.path.exists(path):
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    read_fd, write_fd = os.pipe() if output_fd is None else (None, output_fd)
    try:
        conn.settimeout(30.0)
        conn.connect(path)
        body = json.dumps({"argv": argv, "env": env, "cwd": os.getcwd()}).encode()
        fds = [write_fd, lifeline_fd, *(worker_fds or ())]
        socket.send_fds(conn, [HEADER.pack(len(body))], fds)
        conn.sendall(body)
        reply = json.loads(conn.makefile("r").readline() or "{}")
        conn.settimeout(None)
    except OSError as exc:
        conn.close()
        if read_fd is not None:
            os.close(read_fd)
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)  # a worker that died: bypassed, and not tried again
        return None
    finally:
        if read_fd is not None:  # only the child writes to its output pipe now
            with contextlib.suppress(OSError):
                os.close(write_fd)
    if "pid" not in reply:
        conn.close()
        if read_fd is not None:
            os.close(read_fd)
        return None
    stdout = os.fdopen(read_fd, "r") if read_fd is not None else None
    return BorrowedProcess(conn, int(reply["pid"]), stdout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split(") ", 1)[1].startswith("Z"):
                return False
    return True


def _wait_foreign(pid: int) -> int:
    """The exit of a process that is not our child: wait until it is gone (code unknown: -9)."""
    while _alive(pid):
        time.sleep(0.2)
    return -signal.SIGKILL


@contextlib.contextmanager
def warm_workers(runtimes: list[str], python_for: dict[str, str]) -> Iterator[list[Any]]:
    """Start warm workers of ``runtimes`` (for tests and benchmarks), wait until they serve, and
    stop them afterwards."""
    import subprocess

    from tfpipe.components.core.runtime import child_environment

    procs = []
    try:
        for runtime in runtimes:
            procs.append(
                subprocess.Popen(
                    [python_for[runtime], "-m", "tfpipe.components", "warm", "--runtime", runtime],
                    env=child_environment(runtime),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 180
        while not all(os.path.exists(socket_path(r)) for r in runtimes):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"warm workers for {runtimes} did not start")
            time.sleep(0.2)
        yield procs
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
