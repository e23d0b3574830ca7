"""Fault injection for the fault-table tests: ``TFPIPE_FAULT=<point>`` makes the process that
reaches ``<point>`` kill itself with SIGKILL, the way the OOM killer or ``kill -9`` would.

Points sit at the worst moments of each write: ``commit:<step>`` after a component wrote its
whole payload and manifest into staging but before the rename that makes it visible, and
``publish`` after the Pusher copied a model into the serving directory but before the rename that
makes it a version. A test can then show that nothing half-written becomes visible and that a
re-run completes. Unset (always, outside tests), this is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def fault_point(point: str) -> None:
    if os.environ.get("TFPIPE_FAULT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
