"""A worker host whose clock is 60 s ahead (libfaketime, as Debian ships it) takes no lease over
early, and a dead holder's lease is taken over after the lease time on the store's clock, whoever's
clock is off: leases on the object store are judged by the store's clock alone."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
from object_store_support import moto_server

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
LEASE_SECONDS = 4.0
URI = "s3://tfpipe/skew/artifact/.lease"

# Holds the lease for argv[1] seconds (its heartbeat refreshing it meanwhile), announcing each
# event with this process's own clock; a lease lost to a waiter raises LeaseLost at the end.
HOLDER = """
import sys, time
from tfpipe.components.artifacts.object_store import lease
print("@@clock", time.time(), flush=True)
with lease(sys.argv[1]):
    print("@@held", flush=True)
    time.sleep(float(sys.argv[2]))
print("@@released", flush=True)
"""

WAITER = """
import sys, time
from tfpipe.components.artifacts.object_store import lease
print("@@clock", time.time(), flush=True)
with lease(sys.argv[1]):
    print("@@got", flush=True)
"""


class Host:
    """A process on a 'host' whose clock is ``skew`` seconds off; its @@ events are timed on the
    test's own monotonic clock as they arrive."""

    def __init__(self, script: str, args: list[str], env: dict[str, str], skew: int = 0) -> None:
        env = {**os.environ, **env, "TFPIPE_LEASE_SECONDS": str(LEASE_SECONDS)}
        if skew:
            env.update(LD_PRELOAD=FAKETIME, FAKETIME=f"{skew:+d}s")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, URI, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.events: queue.Queue[tuple[str, float, str]] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("@@"):
                name, _, value = line[2:].strip().partition(" ")
                self.events.put((name, time.monotonic(), value))

    def wait_for(self, name: str, timeout: float = 60) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event, at, value = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no @@{name}: {''.join(self.output)[-3000:]}") from None
            if event == name:
                return at, value

    def clock_skew(self) -> float:
        _, value = self.wait_for("clock")
        return float(value) - time.time()


@pytest.fixture(scope="module")
def store():
    assert os.path.exists(FAKETIME), "libfaketime is missing: run `make system-deps`"
    with moto_server() as env:
        yield env


def test_a_waiter_whose_clock_is_60_s_ahead_does_not_take_a_live_lease(store):
    holder = Host(HOLDER, ["12"], store)  # holds for 3 lease times, heartbeating
    holder.wait_for("held")
    waiter = Host(WAITER, [], store, skew=60)
    assert waiter.clock_skew() > 55  # the waiter's host really is a minute ahead
    released, _ = holder.wait_for("released", timeout=60)
    got, _ = waiter.wait_for("got", timeout=60)
    assert got >= released, "the skewed waiter took over a lease whose holder was alive"
    assert holder.proc.wait(timeout=30) == 0, "".join(holder.output)  # no LeaseLost
    assert waiter.proc.wait(timeout=30) == 0, "".join(waiter.output)


@pytest.mark.parametrize("holder_skew, waiter_skew", [(60, 0), (0, 60)])
def test_a_dead_holders_lease_is_taken_over_after_the_lease_time_on_the_stores_clock(
    store, holder_skew, waiter_skew
):
    holder = Host(HOLDER, ["600"], store, skew=holder_skew)
    holder.wait_for("held")
    os.killpg(holder.proc.pid, signal.SIGKILL)  # the host dies holding it: no release
    killed = time.monotonic()
    holder.proc.wait()
    waiter = Host(WAITER, [], store, skew=waiter_skew)
    got, _ = waiter.wait_for("got", timeout=60)
    waited = got - killed
    # Not before the lease time (a 60 s skew either way would make it immediate), and not much
    # after it (a minute's skew the other way would make it a minute late).
    assert LEASE_SECONDS - 0.5 <= waited <= LEASE_SECONDS + 6, waited
    assert waiter.proc.wait(timeout=30) == 0, "".join(waiter.output)
