"""ExampleGen: quoted fields, missing values, deterministic splits, schema inference, formats."""

from __future__ import annotations

import pytest
import tensorflow as tf
from conftest import example_gen_invocation

from tfpipe.components.artifacts import Examples, open_artifact
from tfpipe.components.core.errors import InputDataError, ParameterError
from tfpipe.components.core.execute import execute


def run_example_gen(tmp_path, **params):
    return execute(example_gen_invocation(str(tmp_path / "store"), **params), "test")


def read_split(uri: str, split: str) -> list[dict]:
    rows = []
    for f in open_artifact(uri, Examples).split_files(split):
        for rec in tf.data.TFRecordDataset(f):
            ex = tf.train.Example.FromString(rec.numpy())
            row = {}
            for k, feat in ex.features.feature.items():
                kind = feat.WhichOneof("kind")
                row[k] = next(iter(getattr(feat, kind).value))
            rows.append(row)
    return rows


CSV = (
    "name,comment,score,count\n"
    '"Smith, Jane","said ""hi""\nthen left",1.5,3\n'
    "Bob,,NA,4\n"
    "Eve,plain,2.25,\n"
)


def test_quoted_fields_embedded_newlines_and_missing_values(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    result = run_example_gen(tmp_path, input=str(path), split_ratios={"all": 1})
    rows = read_split(result["uri"], "all")
    assert rows[0] == {
        "name": b"Smith, Jane",
        "comment": b'said "hi"\nthen left',
        "score": pytest.approx(1.5),
        "count": 3,
    }
    assert rows[1] == {"name": b"Bob", "count": 4}  # empty and NA are missing, not ""
    schema = open_artifact(result["uri"], Examples).schema().to_json()
    cols = {c["name"]: c for c in schema["columns"]}
    assert cols["score"]["type"] == "float" and cols["count"]["type"] == "int"
    assert cols["score"]["min_presence"] == pytest.approx(2 / 3)
    assert cols["name"]["domain"] == ["Bob", "Eve", "Smith, Jane"]
    assert cols["count"]["min"] == 3 and cols["count"]["max"] == 4


def test_hash_split_is_deterministic_and_follows_ratios(tmp_path, penguins_csv):
    a = run_example_gen(tmp_path / "a", input=penguins_csv)
    b = run_example_gen(tmp_path / "b", input=penguins_csv)
    assert a["summary"]["splits"] == b["summary"]["splits"]
    assert read_split(a["uri"], "eval") == read_split(b["uri"], "eval")
    share = a["summary"]["splits"]["eval"] / a["summary"]["rows"]
    assert 0.12 < share < 0.28


def test_split_column_names_each_rows_split(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("x,fold\n1,train\n2,eval\n3,train\n")
    result = run_example_gen(tmp_path, input=str(path), split_column="fold")
    assert result["summary"]["splits"] == {"train": 2, "eval": 1}
    assert read_split(result["uri"], "eval") == [{"x": 2}]


def test_parquet_and_tfrecord_inputs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1, 2, None], "b": ["x", "y", "z"]}), tmp_path / "d.parquet")
    result = run_example_gen(tmp_path, input=str(tmp_path / "d.parquet"), split_ratios={"all": 1})
    assert read_split(result["uri"], "all")[2] == {"b": b"z"}
    # Its output is itself a valid TFRecord input.
    tfrecords = open_artifact(result["uri"], Examples).split_files("all")[0]
    again = run_example_gen(tmp_path / "2", input=tfrecords, split_ratios={"all": 1})
    assert read_split(again["uri"], "all") == read_split(result["uri"], "all")


def test_skip_mode_sets_malformed_rows_aside_without_losing_them(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("a,b\n1,2\n3\n4,5\n")
    result = run_example_gen(
        tmp_path,
        input=str(path),
        on_malformed="skip",
        max_rejected_fraction=0.5,  # one row in three; the default bound (1 %) would refuse it
        split_ratios={"t": 1},
    )
    assert result["summary"]["rows"] == 2 and result["summary"]["rejected_rows"] == 1
    rejected = open(open_artifact(result["uri"], Examples).rejected_path).read()
    assert "m.csv,3," in rejected


def test_header_only_csv_and_files_with_different_headers(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(InputDataError, match="header but no data rows"):
        run_example_gen(tmp_path, input=str(tmp_path / "h.csv"))
    (tmp_path / "d1.csv").write_text("a,b\n1,2\n")
    (tmp_path / "d2.csv").write_text("a,c\n1,2\n")
    with pytest.raises(InputDataError, match=r"d2.csv' has columns \['a', 'c'\]"):
        run_example_gen(tmp_path, input=str(tmp_path / "d*.csv"))


def test_bad_split_ratios_are_refused(tmp_path):
    (tmp_path / "x.csv").write_text("a\n1\n")
    with pytest.raises(ParameterError, match="split_ratios"):
        run_example_gen(tmp_path, input=str(tmp_path / "x.csv"), split_ratios={"train": -1})


def test_a_window_whose_drops_need_different_types_is_encoded_with_the_widest(tmp_path):
    """Drops are converted apart; a column one drop needs wider (int → float, here against the
    contract's INT) is encoded wider in every drop of the window, so Transform reads one type."""
    contract = tmp_path / "schema.pbtxt"
    contract.write_text(
        'feature {\n  name: "n"\n  type: INT\n}\nfeature {\n  name: "w"\n  type: BYTES\n}\n'
    )
    (tmp_path / "a.csv").write_text("n,w\n1,x\n2,y\n3,z\n")
    (tmp_path / "b.csv").write_text("n,w\n4,x\n5.5,y\n6,z\n")
    (tmp_path / "c.csv").write_text("n,w\n7,x\n8,y\n9,z\n")
    files = [str(tmp_path / f) for f in ("a.csv", "b.csv", "c.csv")]
    for schema in (None, str(contract)):
        params = {"input": files, "split_ratios": {"all": 1}}
        if schema:
            params["schema_file"] = schema
        result = run_example_gen(tmp_path / ("c" if schema else "n"), **params)
        rows = read_split(result["uri"], "all")
        assert sorted(r["n"] for r in rows) == pytest.approx([1, 2, 3, 4, 5.5, 6, 7, 8, 9])
        assert all(isinstance(r["n"], float) for r in rows)  # one type: float_list everywhere
        assert result["summary"]["drops"] == {"count": 3, "reused": 0, "converted": 3}
