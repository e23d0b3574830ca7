"""Hostile values in data: the tf.Example encoder and the TFRecord framing against TensorFlow's own
parsing (hypothesis property tests: long and unicode feature names, long and empty strings, int64
extremes, NaN and infinities, missing values), bounded memory for one huge value, TFRecord input
errors that name the right file and record, damaged shards refused, and statistics that stay exact
for values like 1e9 ± 1."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from conftest import example_gen_invocation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.example_codec import serialize_batch
from tfpipe.components.core.execute import execute
from tfpipe.components.core.tfrecord import TFRecordWriter, encode_examples, read_records
from tfpipe.components.example_gen.stats import ColumnStats, SplitStats

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = st.one_of(st.text(max_size=12), st.text(min_size=120, max_size=400))
KINDS = {
    "int": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "float": (pa.float32(), st.floats(width=32, allow_nan=True, allow_infinity=True)),
    "string": (pa.string(), st.one_of(st.text(max_size=8), st.text(min_size=200, max_size=3000))),
}


@st.composite
def record_batches(draw) -> pa.RecordBatch:
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    rows = draw(st.integers(0, 12))
    arrays = []
    for _ in names:
        arrow_type, values = KINDS[draw(st.sampled_from(sorted(KINDS)))]
        cells = draw(st.lists(st.one_of(st.none(), values), min_size=rows, max_size=rows))
        arrays.append(pa.array(cells, arrow_type))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _parsed(record: bytes) -> dict[str, object]:
    example = tf.train.Example.FromString(record)
    out = {}
    for name, feature in example.features.feature.items():
        values = list(getattr(feature, feature.WhichOneof("kind")).value)
        assert len(values) == 1, (name, values)
        out[name] = values[0]
    return out


def _same(expected: object, got: object) -> bool:
    if isinstance(expected, float):
        return (math.isnan(expected) and math.isnan(got)) or expected == got
    if isinstance(expected, str):
        return expected.encode() == got
    return expected == got


@PROPERTY
@given(record_batches())
def test_every_encoded_row_parses_back_equal_in_tensorflow(batch):
    records = encode_examples(batch)
    assert len(records) == batch.num_rows
    for i, record in enumerate(records):
        got = _parsed(record)
        expected = {
            name: col[i].as_py()
            for name, col in zip(batch.schema.names, batch.columns, strict=True)
            if col[i].is_valid
        }
        assert sorted(got) == sorted(expected)  # a missing value is an absent feature
        for name, value in expected.items():
            assert _same(value, got[name]), (name, value, got[name])


@PROPERTY
@given(st.lists(st.binary(max_size=3000), max_size=20))
def test_tfrecord_framing_reads_back_in_tensorflow_and_here(tmp_path_factory, records):
    path = str(tmp_path_factory.mktemp("framing") / "r.tfrecord")
    writer = TFRecordWriter(path)
    writer.write_many(records)
    writer.close()
    assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == records
    assert list(read_records(path)) == records


def test_a_feature_name_of_200_bytes_goes_through_example_gen(tmp_path):
    name = "ö" * 100  # 200 bytes of UTF-8: its length needs a two-byte varint
    path = tmp_path / "long.csv"
    path.write_text(f"{name},b\n1,x\n2,y\n", encoding="utf-8")
    inv = example_gen_invocation(str(tmp_path / "store"), input=str(path), split_ratios={"a": 1})
    result = execute(inv, "test")
    from tfpipe.components.artifacts import Examples, open_artifact

    files = open_artifact(result["uri"], Examples).split_files("a")
    rows = sorted(_parsed(r)[name] for f in files for r in read_records(f))
    assert rows == [1, 2]


def test_one_huge_string_does_not_cost_rows_times_its_length():
    rows = 20_000
    batch = pa.record_batch([pa.array(["x" * (1 << 20)] + ["y"] * (rows - 1))], names=["s"])
    tracemalloc.start()
    try:
        buffer, offsets = serialize_batch(batch)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{peak / 1e6:.0f} MB for {buffer.nbytes / 1e6:.1f} MB of output"
    data = buffer.tobytes()
    assert _parsed(data[offsets[0] : offsets[1]])["s"] == b"x" * (1 << 20)
    assert _parsed(data[offsets[-2] : offsets[-1]])["s"] == b"y"


def _tfrecord(path: str, rows: list[dict[str, list]]) -> None:
    writer = TFRecordWriter(path)
    records = []
    for row in rows:
        example = tf.train.Example()
        for name, values in row.items():
            example.features.feature[name].int64_list.value.extend(values)
        records.append(example.SerializeToString())
    writer.write_many(records)
    writer.close()


def test_tfrecord_input_errors_name_the_file_and_the_record_in_it(tmp_path):
    first, second = str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")
    _tfrecord(first, [{"x": [i]} for i in range(10)])
    rows = [{"x": [i]} for i in range(70_000)]
    rows[66_000] = {"x": [1, 2]}
    _tfrecord(second, rows)
    inv = example_gen_invocation(
        str(tmp_path / "store"), input=str(tmp_path / "*.tfrecord"), split_ratios={"a": 1}
    )
    with pytest.raises(InputDataError) as info:
        execute(inv, "test")
    message = str(info.value)
    assert f"'{second}' record 66000: feature 'x' has 2 values" in message


def test_a_damaged_or_truncated_shard_is_refused_naming_the_record(tmp_path):
    path = str(tmp_path / "s.tfrecord")
    batch = pa.record_batch([pa.array(list(range(100)))], names=["v"])
    writer = TFRecordWriter(path)
    writer.write_many(encode_examples(batch))
    writer.close()
    blob = bytearray(open(path, "rb").read())
    size = len(blob) // 100  # every record has the same size here
    damaged = bytearray(blob)
    damaged[7 * size + 14] ^= 0x01  # one bit of record 7's data
    with open(path, "wb") as f:
        f.write(damaged)
    with pytest.raises(InputDataError, match=rf"record 7 \(byte {7 * size}\).*checksum"):
        list(read_records(path))
    with open(path, "wb") as f:
        f.write(blob[: 50 * size + 20])  # cut inside record 50
    with pytest.raises(InputDataError, match=r"record 50 .*ends inside a record"):
        list(read_records(path))


def test_std_stays_exact_for_values_far_from_zero():
    values = np.array([1e9 - 1, 1e9 + 1] * 500)
    first, second = ColumnStats("x"), ColumnStats("x")
    hashes = np.arange(len(values), dtype=np.uint64)
    for part in np.array_split(np.arange(len(values)), 7):  # several batches
        first.add(pa.array(values[part]), hashes[part])
    assert first.to_json("float")["std"] == pytest.approx(1.0, rel=1e-9)
    assert first.to_json("float")["mean"] == pytest.approx(1e9, rel=1e-15)
    second.add(pa.array(values[:10] + 2.0), hashes[:10])
    splits = SplitStats(["x"], {})
    splits.columns["x"].merge(first)
    splits.columns["x"].merge(second)  # merged across splits: same as all values at once
    together = np.concatenate([values, values[:10] + 2.0])
    assert splits.columns["x"].to_json("float")["std"] == pytest.approx(together.std(), rel=1e-9)


def _example_gen(tmp_path, blob: bytes) -> dict:
    path = tmp_path / "data.csv"
    path.write_bytes(blob)
    inv = example_gen_invocation(str(tmp_path / "store"), input=str(path), split_ratios={"a": 1})
    return execute(inv, "test")


def test_values_the_fuzzer_found_crashing_example_gen_now_round_trip(tmp_path):
    """Found by benchmarks/fuzz_csv.py: infinities and float32 overflow in a float column (the
    histogram's range), int64 extremes (statistics and the split hash cast them to float), and a
    column named "" (it was dropped from the types as if it were the split column; it is now
    refused by name when the header is read: the issue's one name a table cannot carry)."""
    from tfpipe.components.artifacts import Examples, open_artifact

    csv = "t,f,i,s\nx,inf,-9223372036854775808,a\ny,-inf,9223372036854775807,b\nz,1e39,0,c\n"
    result = _example_gen(tmp_path, csv.encode())
    examples = open_artifact(result["uri"], Examples)
    rows = [_parsed(r) for f in examples.split_files("a") for r in read_records(f)]
    assert [r["t"] for r in rows] == [b"x", b"y", b"z"]
    assert [r["f"] for r in rows] == [math.inf, -math.inf, math.inf]  # 1e39 overflows float32
    assert [r["i"] for r in rows] == [-(2**63), 2**63 - 1, 0]
    stats = examples.statistics()["columns"]["f"]
    # Statistics are of the float64 values: 1e39 is finite there (one value: one bin).
    assert stats["non_finite"] == 2 and stats["mean"] == 1e39 and stats["std"] == 0.0
    assert sum(stats["histogram"]["counts"]) == 1
    with pytest.raises(InputDataError, match=r"has a column with no name \(column 1 of 4\)"):
        (tmp_path / "unnamed").mkdir()
        _example_gen(tmp_path / "unnamed", (",f,i,s\n" + csv.split("\n", 1)[1]).encode())


@pytest.mark.parametrize(
    "blob",
    [  # the second, from the fuzzer: a quoted column name over several lines
        b'\xff,""\n1,2,3\n',
        b'1,"2\n\xff\n\x00,\n3,4,5\n1,"2\n1,"2\na,b\n',
    ],
)
def test_a_header_that_is_not_utf8_is_refused_naming_the_file(tmp_path, blob):
    with pytest.raises(InputDataError, match=r"data\.csv' header row is not UTF-8"):
        _example_gen(tmp_path, blob)
