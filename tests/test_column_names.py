"""Any column name a CSV can carry works end to end: spaces, punctuation, unicode, a leading
digit, names that differ only in case. The pushed model serves tf.Examples keyed by the original
names, and ``serving_raw`` takes the argument names recorded in the model's info."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from conftest import REPO, step

from tfpipe import Pipeline, Step, serving_base
from tfpipe.pipelines.local_runner import run_pipeline
from tfpipe.pipelines.penguins.pipeline import default_data

MODULE = os.path.join(REPO, "tests", "modules", "odd_names_module.py")
RENAMED = {
    "bill_length_mm": "bill length (mm)",
    "bill_depth_mm": "bill-depth/mm",
    "flipper_length_mm": "flipper länge mm",
    "body_mass_g": "1st body mass g",
    "island": "Island",
    "species": "Species (label)",
}


def odd_csv(path: str) -> pd.DataFrame:
    frame = pd.read_csv(default_data()).rename(columns=RENAMED)
    frame["island"] = frame["Island"].str.upper()  # differs from "Island" only in case
    frame.to_csv(path, index=False)
    return frame


def odd_pipeline(home: str, data: str, runtime: str) -> Pipeline:
    return Pipeline(
        name="odd_names",
        runtime=runtime,
        steps=(
            Step("example_gen", "example_gen", {"input": data}),
            Step("transform", "transform", {"module_file": MODULE}, {"examples": "example_gen"}),
            Step(
                "trainer",
                "trainer",
                {
                    "module_file": MODULE,
                    "label": "species label",
                    "label_vocabulary": "species",
                    "raw_label": "Species (label)",
                    "train_steps": 300,
                },
                {"transform": "transform"},
            ),
            Step(
                "evaluator",
                "evaluator",
                {
                    "label": "Species (label)",
                    "slice_by": ["Island"],
                    "thresholds": {"accuracy": {"lower": 0.8}},
                },
                {"examples": "example_gen", "model": "trainer"},
            ),
            Step(
                "pusher",
                "pusher",
                {"serving_base": serving_base(home), "model_name": "odd_names"},
                {"model": "trainer", "evaluation": "evaluator"},
            ),
        ),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "runtime", ["modern", pytest.param("estimator", marks=pytest.mark.estimator)]
)
def test_columns_named_as_a_spreadsheet_names_them_train_evaluate_and_serve(tmp_path, runtime):
    import json

    frame = odd_csv(str(tmp_path / "penguins export.csv"))
    home = str(tmp_path / "home")
    record = run_pipeline(odd_pipeline(home, str(tmp_path / "penguins export.csv"), runtime), home)
    assert record["status"] == "succeeded", record.get("error")
    evaluation = step(record, "evaluator")["summary"]
    assert evaluation["blessed"] and evaluation["metrics"]["accuracy"] >= 0.8
    pushed = step(record, "pusher")["summary"]["destination"]
    with open(os.path.join(pushed, "assets.extra", "model_info.json")) as f:
        arguments = json.load(f)["serving_raw_arguments"]
    assert arguments["bill length (mm)"] == "bill_length__mm_"
    assert arguments["1st body mass g"] == "c_1st_body_mass_g"
    assert {arguments["Island"], arguments["island"]} == {"Island", "island_2"}
    # A client sends tf.Examples keyed by the original names, in a process of its own.
    rows = frame.dropna().head(20)
    kinds = {column: frame[column].dtype.kind for column in frame.columns}
    script = (
        "import json, sys\n"
        "import tensorflow as tf\n"
        "rows, kinds, model = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]\n"
        "def feature(v, kind):\n"
        "    if kind == 'O':\n"
        "        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))\n"
        "    if kind == 'f':\n"
        "        return tf.train.Feature(float_list=tf.train.FloatList(value=[v]))\n"
        "    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))\n"
        "examples = [tf.train.Example(features=tf.train.Features(feature={\n"
        "    k: feature(v, kinds[k]) for k, v in r.items() if k != 'Species (label)'}))\n"
        "    .SerializeToString() for r in rows]\n"
        "out = tf.saved_model.load(model).signatures['serving_default'](\n"
        "    examples=tf.constant(examples))\n"
        "print(json.dumps([c.decode() for c in out['classes'].numpy()]))\n"
    )
    import subprocess

    python = os.path.join(REPO, ".venvs", runtime, "bin", "python")
    served = subprocess.run(
        [python, "-c", script, rows.to_json(orient="records"), json.dumps(kinds), pushed],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert served.returncode == 0, served.stderr[-3000:]
    classes = json.loads(served.stdout.strip().splitlines()[-1])
    agreement = sum(c == s for c, s in zip(classes, rows["Species (label)"], strict=True))
    assert agreement >= 18, (classes, list(rows["Species (label)"]))


def test_a_column_with_no_name_is_refused_when_the_data_is_first_read(tmp_path):
    from tfpipe.pipelines.registry import load_pipeline

    data = tmp_path / "export.csv"
    data.write_text("a,b,\n1,2,3\n")
    home = str(tmp_path / "home")
    pipeline = load_pipeline("penguins", home).with_overrides({"data": str(data)})
    record = run_pipeline(pipeline, home)
    error = step(record, "example_gen")["error"]
    assert "has a column with no name (column 3 of 3)" in error and str(data) in error
    assert step(record, "transform")["status"] == "not run"
