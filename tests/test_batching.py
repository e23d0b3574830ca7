"""Batch sizes from a memory budget: the cost per row is measured, not assumed."""

from __future__ import annotations

import numpy as np

from tfpipe.components.core.batching import MIN_BATCH, plan_batches

ROW_BYTES = 100 * 1024  # what a wide one-hot model holds per row in flight


def wide_work(rows: list[int]) -> float:
    """Stands in for a model whose batch costs ROW_BYTES a row (all of it touched)."""
    activations = np.ones((len(rows), ROW_BYTES // 4), np.float32)
    return float(activations.sum())


def test_the_batch_fits_the_budget_at_the_measured_cost_per_row():
    plan = plan_batches(wide_work, list(range(4096)), budget_mb=256)
    assert plan.how == "measured"
    assert 0.8 * ROW_BYTES <= plan.per_row_bytes <= 1.3 * ROW_BYTES, plan
    expected = 256 * 1024 * 1024 / plan.per_row_bytes
    assert expected - 2 * MIN_BATCH <= plan.batch_size <= expected, plan
    assert "KB per row measured" in plan.describe()


def test_a_cheap_model_gets_large_batches_and_a_set_size_wins():
    cheap = plan_batches(lambda rows: np.ones((len(rows), 16)), list(range(4096)), budget_mb=256)
    assert cheap.batch_size >= 32_768, cheap
    fixed = plan_batches(wide_work, list(range(4096)), budget_mb=256, batch_size=1000)
    assert (fixed.batch_size, fixed.how) == (1000, "set")
