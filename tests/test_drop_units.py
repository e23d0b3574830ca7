"""Pure logic of windows of data drops: a window's column types, the mergeable statistics kept
beside each drop, and when Transform's analyzer cache pays."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa

from tfpipe.components.example_gen.drops import needs_wider, window_types
from tfpipe.components.example_gen.split import row_hash
from tfpipe.components.example_gen.stats import SplitStats, stats_from_state, stats_state
from tfpipe.components.transform.params import AUTO_CACHE_ROWS_PER_DROP, TransformParams


def test_window_types_take_the_widest_any_drop_needed():
    drops = [
        {"a": "int", "b": "null", "c": "float"},
        {"a": "float", "b": "string", "c": "float"},
        {"a": "int", "b": "null", "c": "int"},
    ]
    window = window_types(drops)
    assert window == {"a": "float", "b": "string", "c": "float"}
    # An all-missing column fits any type; an integer drop in a float window is re-encoded.
    assert [needs_wider(d, window) for d in drops] == [True, False, True]


def batch(values: list[float | None], words: list[str | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(values, pa.float64()), pa.array(words, pa.string())], ["x", "w"]
    )


def test_statistics_kept_beside_a_drop_merge_like_the_live_ones():
    rng = np.random.default_rng(0)
    parts = []
    for k in range(3):
        values = [float(v) if v > -2 else None for v in rng.normal(k, 1 + k, 5000)]
        words = [str(w) if w else None for w in rng.integers(0, 30, 5000)]
        parts.append(batch(values, words))
    live = SplitStats(["x", "w"], {})
    restored = SplitStats(["x", "w"], {})
    for part in parts:
        one = SplitStats(["x", "w"], {})
        one.add(part, row_hash(part, None))
        live.merge(one)
        figures, arrays = stats_state({"train": one})
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        buffer.seek(0)
        with np.load(buffer, allow_pickle=False) as loaded:
            restored.merge(stats_from_state(figures, loaded, {})["train"])
    types = {"x": "float", "w": "string"}
    assert restored.to_json(types) == live.to_json(types)
    assert restored.rows == 15000 and restored.columns["x"].missing > 0


def test_the_analyzer_cache_is_used_where_it_pays():
    auto = TransformParams(module_file="m.py")
    assert not auto.uses_analyzer_cache(rows=1_000_000, drops=30)  # 33k rows a drop
    assert auto.uses_analyzer_cache(rows=AUTO_CACHE_ROWS_PER_DROP * 30, drops=30)
    assert not auto.uses_analyzer_cache(rows=10_000_000, drops=1)  # nothing to reuse
    forced = TransformParams(module_file="m.py", analyzer_cache=True)
    assert forced.uses_analyzer_cache(rows=344, drops=3)
    assert not TransformParams(module_file="m.py", analyzer_cache=False).uses_analyzer_cache(
        rows=10**9, drops=300
    )
    # Cached or not, the graph is the same: the choice is not part of the fingerprint.
    assert "analyzer_cache" not in forced.fingerprint_params()
