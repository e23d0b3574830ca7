"""Retraining that costs what changed: a window of data drops, each converted once and analysed
once, reused by every later window that holds it (issue 18).

The fair dataset (6,366 rows) cut into five daily drops; a window of four drops, then the window
shifted by one drop. What is reused is asserted from the steps' summaries (cache hits), and the
shifted window's transform graph is compared with a from-scratch analysis of the same drops."""

from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
import pytest
from conftest import step
from datasets import MODULES, load_frame

from tfpipe.components.artifacts import ExampleValidation, open_artifact
from tfpipe.pipelines.definition import Pipeline, Step
from tfpipe.pipelines.local_runner import run_pipeline

pytestmark = pytest.mark.slow

DROPS = 5


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The fair data as five daily files (the same header, consecutive rows)."""
    root = tmp_path_factory.mktemp("drops")
    frame = load_frame("fair")
    size = -(-len(frame) // DROPS)
    paths = []
    for day in range(DROPS):
        path = str(root / f"day-{day}.csv")
        frame.iloc[day * size : (day + 1) * size].to_csv(path, index=False)
        paths.append(path)
    return paths


def window(files: list[str], module: str, runtime: str = "modern") -> Pipeline:
    return Pipeline(
        name="window",
        runtime=runtime,
        steps=(
            Step("example_gen", "example_gen", {"input": files}),
            Step("example_validator", "example_validator", {}, {"examples": "example_gen"}),
            Step(
                "transform",
                "transform",
                # Forced on: these drops are far below the size where "auto" turns it on.
                {"module_file": module, "analyzer_cache": True},
                {"examples": "example_gen"},
            ),
        ),
    )


def run(home: str, files: list[str], module: str, runtime: str = "modern") -> dict[str, Any]:
    record = run_pipeline(window(files, module, runtime), home)
    failed = [(s["step"], s.get("error")) for s in record["steps"] if s.get("error")]
    assert record["status"] == "succeeded", failed
    return record


def reuse(record: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """(ExampleGen's drops, Transform's analysis) counts of a run."""
    return (
        step(record, "example_gen")["summary"]["drops"],
        step(record, "transform")["summary"]["analysis"],
    )


def outputs(record: dict[str, Any], raw: list[bytes]) -> dict[str, np.ndarray]:
    import tensorflow as tf
    import tensorflow_transform as tft

    graph = os.path.join(step(record, "transform")["uri"], "transform_graph")
    output = tft.TFTransformOutput(graph)
    parsed = tf.io.parse_example(tf.constant(raw), output.raw_feature_spec())
    transformed = output.transform_features_layer()(parsed)
    return {
        k: np.asarray(tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v)
        for k, v in transformed.items()
    }


def raw_rows(path: str) -> list[bytes]:
    """Every row of a drop as a serialized tf.Example (the raw features, as ExampleGen wrote)."""
    import tensorflow as tf

    from tfpipe.components.artifacts import Examples, open_artifact

    rows: list[bytes] = []
    examples = open_artifact(path, Examples)
    for split in examples.splits():
        for f in examples.split_files(split):
            rows += [r.numpy() for r in tf.data.TFRecordDataset(f)]
    return rows


def vocabulary(record: dict[str, Any]) -> dict[str, list[str]]:
    import tensorflow_transform as tft

    graph = os.path.join(step(record, "transform")["uri"], "transform_graph")
    assets = os.path.join(graph, "transform_fn", "assets")
    out = tft.TFTransformOutput(graph)
    return {name: out.vocabulary_by_name(name) for name in sorted(os.listdir(assets))}


def test_shifted_window_converts_and_analyses_the_new_drop_only(tmp_path, drops):
    module = os.path.join(MODULES, "window_module.py")
    home = str(tmp_path / "home")
    first = run(home, drops[0:4], module)
    assert reuse(first) == (
        {"count": 4, "reused": 0, "converted": 4},
        {"drops": 4, "reused": 0, "analysed": 4, "read": 4, "cache": True},
    )
    shifted = run(home, drops[1:5], module)
    assert reuse(shifted) == (
        {"count": 4, "reused": 3, "converted": 1},
        {"drops": 4, "reused": 3, "analysed": 1, "read": 1, "cache": True},
    )
    # The new drop's drift against the rest of the window is reported, column by column.
    validation = step(shifted, "example_validator")
    report = open_artifact(validation["uri"], ExampleValidation).report()
    new_drop = report["drift"]["drops"][drops[4]]["window"]
    assert set(new_drop) >= {"age", "occupation", "affairs"}
    assert all(0 <= d <= 1 for d in new_drop.values()) and max(new_drop.values()) > 0
    assert validation["summary"]["new_drops_max_drift"] == {drops[4]: max(new_drop.values())}
    assert "new_drops_max_drift" not in step(first, "example_validator")["summary"]
    # The drops both windows hold are the same artifacts: a row keeps its split.
    first_drops = {d["source"]: d["uri"] for d in drop_list(first)}
    for d in drop_list(shifted)[:3]:
        assert first_drops[d["source"]] == d["uri"] and d["reused"]

    # The graph equals a from-scratch analysis of the same four drops.
    scratch = run(str(tmp_path / "scratch"), drops[1:5], module)
    assert reuse(scratch)[1] == {"drops": 4, "reused": 0, "analysed": 4, "read": 4, "cache": True}
    assert vocabulary(shifted) == vocabulary(scratch)
    raw = raw_rows(step(shifted, "example_gen")["uri"])
    cached, fresh = outputs(shifted, raw), outputs(scratch, raw)
    assert set(cached) == set(fresh)
    np.testing.assert_allclose(cached["age_z"], fresh["age_z"], rtol=1e-6)
    np.testing.assert_allclose(cached["married_01"], fresh["married_01"], rtol=1e-6)
    np.testing.assert_array_equal(cached["married_bucket"], fresh["married_bucket"])
    np.testing.assert_array_equal(cached["occupation_id"], fresh["occupation_id"])
    # ... and differs from the first window's (the statistics did move with the window).
    assert not np.allclose(outputs(first, raw)["age_z"], cached["age_z"], rtol=1e-6)

    # One changed byte in an old drop: that drop only is converted and analysed again.
    changed = drops[2].replace(".csv", "-edited.csv")
    shutil.copy(drops[2], changed)
    with open(changed, "r+", encoding="utf-8") as f:
        text = f.read().rstrip("\n")  # the last value of the last row: ...,0.0 -> ...,0.7
        f.seek(0)
        f.write(text[:-1] + ("7" if text[-1] != "7" else "8") + "\n")
    assert open(changed).read() != open(drops[2]).read()
    edited = run(home, [drops[1], changed, drops[3], drops[4]], module)
    assert reuse(edited) == (
        {"count": 4, "reused": 3, "converted": 1},
        {"drops": 4, "reused": 3, "analysed": 1, "read": 1, "cache": True},
    )

    # A changed preprocessing_fn: every analyzer cache entry misses, no drop is converted again.
    # (This one imputes the mean before z-scoring: a second analysis phase, which reads every
    # drop of a window even when the first phase's accumulators are cached.)
    other = str(tmp_path / "window_module_v2.py")
    with open(module, encoding="utf-8") as f:
        source = f.read()
    with open(other, "w", encoding="utf-8") as f:
        f.write(
            source.replace(
                'scale_to_z_score_filled(inputs["age"])',
                'tft.scale_to_z_score(fill_missing_with_mean(inputs["age"]))',
            ).replace("import fill_missing,", "import fill_missing, fill_missing_with_mean,")
        )
    again = run(home, drops[1:5], other)
    assert step(again, "example_gen")["status"] == "cached"  # the same window: the whole step
    assert reuse(again)[1] == {"drops": 4, "reused": 0, "analysed": 4, "read": 4, "cache": True}
    back = run(home, drops[0:4], other)
    assert reuse(back)[1] == {"drops": 4, "reused": 3, "analysed": 1, "read": 4, "cache": True}
    two_phase = run(str(tmp_path / "scratch2"), drops[0:4], other)
    np.testing.assert_allclose(
        outputs(back, raw)["age_z"], outputs(two_phase, raw)["age_z"], rtol=1e-6
    )


def drop_list(record: dict[str, Any]) -> list[dict[str, Any]]:
    from tfpipe.components.artifacts import Examples, open_artifact

    return open_artifact(step(record, "example_gen")["uri"], Examples).drops()


def test_shifted_window_on_the_estimator_runtime(tmp_path, drops):
    module = os.path.join(MODULES, "window_module.py")
    home = str(tmp_path / "home")
    run(home, drops[0:3], module, "estimator")
    shifted = run(home, drops[1:4], module, "estimator")
    assert reuse(shifted) == (
        {"count": 3, "reused": 2, "converted": 1},
        {"drops": 3, "reused": 2, "analysed": 1, "read": 1, "cache": True},
    )
    scratch = run(str(tmp_path / "scratch"), drops[1:4], module, "estimator")
    assert vocabulary(shifted) == vocabulary(scratch)
