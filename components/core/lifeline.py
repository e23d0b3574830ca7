"""Processes that end with the process that started them, however it ends.

The parent creates a pipe and keeps its write end; the child gets the read end (``ENV_VAR`` names
its file descriptor) and watches it on a thread. The pipe reaches EOF only when every write end is
closed, i.e. when the parent is gone (exit, exception, SIGKILL): the child then kills its own
process group. Used for component processes of Airflow tasks, the local runner's workers and the
tasks of a local training cluster, so none is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

ENV_VAR = "TFPIPE_PARENT_FD"


@contextlib.contextmanager
def lifeline() -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(read_fd, env)``: pass ``read_fd`` to children (``pass_fds``) with ``env``."""
    read_fd, write_fd = os.pipe()
    try:
        yield read_fd, {ENV_VAR: str(read_fd)}
    finally:
        os.close(read_fd)
        os.close(write_fd)


def watch_parent() -> None:
    """In a child: end this process group when the parent's end of the lifeline closes."""
    fd = os.environ.pop(ENV_VAR, None)
    if not fd:
        return

    def wait_for_eof(descriptor: int) -> None:
        try:
            while os.read(descriptor, 1):
                pass
        except OSError:
            pass
        print("tfpipe: the parent process is gone; ending this process", flush=True)
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(
        target=wait_for_eof, args=(int(fd),), daemon=True, name="tfpipe-lifeline"
    ).start()
