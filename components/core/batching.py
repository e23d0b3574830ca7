"""Batch sizes from a memory budget and the model's measured cost per row, not a fixed row count.

A fixed batch (the Evaluator used 32k rows) is right for one model and wrong for the next: a
model with one-hot inputs thousands wide holds tens of KB per row in flight, a small MLP a few
hundred bytes. So the caller hands over the work done per batch (e.g. ``serving_default`` on a
batch and the numpy conversion of its outputs) and a sample of rows; the work runs on two sample
sizes, each after the process's peak resident set size is reset (Linux: ``/proc/self/clear_refs``,
with free heap memory handed back first by ``malloc_trim``), and the difference of the two peaks
over the difference of the rows is the cost of one more row. The batch is then as large as the
budget allows (within [MIN_BATCH, MAX_BATCH]).

Where the peak cannot be reset (not Linux), the default batch is used and the plan says so.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

MIN_BATCH = 256
MAX_BATCH = 131_072
DEFAULT_BATCH = 8_192
DEFAULT_BUDGET_MB = 256
PROBES = (512, 2048)  # rows: big enough to rise above allocator noise, small enough to be cheap
_KB = 1024


@dataclass(frozen=True)
class BatchPlan:
    """The batch size chosen and why (shown in the step summary and the run report)."""

    batch_size: int
    budget_mb: int
    how: str  # "measured", "set" (a fixed batch_size) or "default (...)"
    per_row_bytes: int | None = None
    fixed_bytes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """E.g. "12,288 rows (41.2 KB per row measured, memory budget 512 MB)"."""
        if self.how == "measured" and self.per_row_bytes:
            return (
                f"{self.batch_size:,} rows ({self.per_row_bytes / _KB:,.1f} KB per row measured, "
                f"memory budget {self.budget_mb} MB)"
            )
        return f"{self.batch_size:,} rows ({self.how})"


def plan_batches(
    work: Callable[[Any], Any],
    sample: Any,
    *,
    budget_mb: int = DEFAULT_BUDGET_MB,
    batch_size: int | None = None,
    take: Callable[[Any, int], Any] = lambda sample, n: sample[:n],
    rows: Callable[[Any], int] = len,
    extra_per_row: int = 0,
) -> BatchPlan:
    """The batch size for ``work`` under ``budget_mb``. ``sample``: rows to probe with (the first
    rows of the real data; ``take(sample, n)`` its first n). ``extra_per_row``: bytes per row the
    caller holds outside ``work`` (e.g. batches queued between threads). A ``batch_size`` given by
    the user wins: nothing is measured."""
    if batch_size:
        return BatchPlan(batch_size, budget_mb, "set")
    available = rows(sample)
    if not peak_resettable():
        return BatchPlan(DEFAULT_BATCH, budget_mb, "default (peak memory not measurable here)")
    if available < 2 * MIN_BATCH:
        return BatchPlan(DEFAULT_BATCH, budget_mb, f"default (only {available} rows to measure)")
    small, large = min(PROBES[0], available // 4), min(PROBES[1], available)
    work(take(sample, min(64, available)))  # the first call traces the signature: not per row
    costs = [(n, peak_growth(lambda n=n: work(take(sample, n)))) for n in (small, large)]
    (n1, c1), (n2, c2) = costs
    slope = (c2 - c1) / (n2 - n1)
    # Noise can flatten the slope (memory the allocator kept from the smaller probe): never count
    # a row as cheaper than a quarter of the large probe's average.
    per_row = max(slope, c2 / n2 / 4, 64.0) + extra_per_row
    fixed = max(c1 - slope * n1, 0.0)
    fitting = (budget_mb * _KB * _KB - fixed) / per_row
    size = int(min(max(fitting, MIN_BATCH), MAX_BATCH)) // MIN_BATCH * MIN_BATCH
    return BatchPlan(size, budget_mb, "measured", round(per_row), round(fixed))


def peak_resettable() -> bool:
    return os.path.exists("/proc/self/clear_refs") and os.access("/proc/self/clear_refs", os.W_OK)


def peak_growth(action: Callable[[], Any]) -> int:
    """Bytes by which the process's resident set grows at its peak while ``action`` runs."""
    _trim()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    before = _status_kb("VmRSS")
    action()
    return max(_status_kb("VmHWM") - before, 0) * _KB


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _trim() -> None:
    """Hand free heap memory back to the system, so a probe's peak is its own allocations."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
