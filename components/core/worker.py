"""A long-lived component process: the local runner's way to import TensorFlow once per run.

The runner starts one worker in the pipeline's runtime interpreter and sends it one JSON request per
line on stdin. Results and progress events go back as JSON lines on a dedicated file descriptor, so
whatever TensorFlow, Beam or user code prints on stdout/stderr never corrupts the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from typing import IO, Any

from tfpipe.components.core.errors import NothingToCommit, TfpipeError
from tfpipe.components.core.execute import Invocation, execute


def error_payload(exc: BaseException) -> dict[str, Any]:
    user_facing = isinstance(exc, TfpipeError)
    return {
        "ok": False,
        "error": str(exc) if user_facing else f"{type(exc).__name__}: {exc}",
        "error_type": type(exc).__name__,
        "traceback": "" if user_facing else traceback.format_exc(),
    }


def serve(requests: IO[str], results: IO[str]) -> int:
    failures = 0
    lock = threading.Lock()  # progress may come from threads (cluster log streams)

    def send(message: dict[str, Any]) -> None:
        with lock:
            results.write(json.dumps(message, default=str) + "\n")
            results.flush()

    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        step = request.get("step", "?")
        try:
            inv = Invocation.from_request(request)

            def report(msg: str, step: str = step) -> None:
                send({"event": "progress", "step": step, "message": msg})

            result = execute(
                inv,
                request["run_id"],
                progress=report,
            )
            send({"event": "result", "ok": True, **result})
        except NothingToCommit as done:
            send(
                {
                    "event": "result",
                    "ok": True,
                    "committed": False,
                    "step": step,
                    "message": str(done),
                    "summary": done.summary,
                }
            )
        except Exception as exc:
            failures += 1
            traceback.print_exc(file=sys.stderr)
            send({"event": "result", "step": step, **error_payload(exc)})
    return 1 if failures else 0


def warm_up() -> None:
    """Import TensorFlow, tf.Transform and Beam now (seconds), before the first request asks."""
    import apache_beam  # noqa: F401
    import tensorflow  # noqa: F401
    import tensorflow_transform  # noqa: F401


def main(result_fd: int, warm: bool = False) -> None:
    if warm:
        warm_up()
    with os.fdopen(result_fd, "w", buffering=1) as results:
        code = serve(sys.stdin, results)
    hard_exit(code)


def hard_exit(code: int) -> None:
    """Exit without interpreter teardown.

    All output is flushed and committed before this point. The estimator runtime's protobuf (upb)
    can segfault while deallocating at interpreter exit after a tf.Transform Beam pipeline ran; the
    exit status must reflect the work, not that teardown crash.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
