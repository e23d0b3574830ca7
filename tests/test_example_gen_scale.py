"""ExampleGen's cost per row stays flat as inputs grow: the encoder runs once per split and batch
however many shards the input gets (one per 64 MB), and the statistics of a column with ever more
distinct values (ids, timestamps, free text) stay bounded and exact where they are defined."""

from __future__ import annotations

import collections
import csv
import json
import os

import pytest
from conftest import example_gen_invocation

from tfpipe.components.artifacts import Examples, open_artifact
from tfpipe.components.core.execute import execute
from tfpipe.components.core.tfrecord import read_records
from tfpipe.components.example_gen import readers, stats, streaming_pass


@pytest.fixture
def small_batches(monkeypatch):
    """64 KB CSV blocks: a few thousand rows make many record batches."""
    monkeypatch.setattr(readers, "BLOCK_SIZE", 1 << 16)


def write_csv(path: str, rows: int) -> str:
    """A unique id, a timestamp with seconds, long-tailed text and low-cardinality columns."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["trip_id", "ended", "comment", "payment", "area", "fare"])
        for i in range(rows):
            writer.writerow(
                [
                    f"{i * 2654435761 % 2**32:08x}{i:08x}",
                    f"2019-{1 + i % 12:02d}-{1 + i % 28:02d} "
                    f"{i % 24:02d}:{i % 60:02d}:{i // 60 % 60:02d}",
                    "" if i % 7 else " ".join(f"w{(i * k) % (1 + i // 3)}" for k in range(1, 4)),
                    ["Cash", "Credit Card", "Mobile", "Unknown"][i % 4 if i % 9 else 1],
                    "" if i % 31 == 0 else str(1 + i % 77),
                    f"{3.25 + (i % 400) * 0.25:.2f}",
                ]
            )
    return path


def run(tmp_path, name: str, data: str, **params) -> Examples:
    result = execute(example_gen_invocation(str(tmp_path / name), input=data, **params), "test")
    return open_artifact(result["uri"], Examples)


def records(examples: Examples, split: str) -> list[list[bytes]]:
    return [list(read_records(f)) for f in examples.split_files(split)]


def test_encoder_runs_once_per_split_and_batch_whatever_the_shard_count(
    tmp_path, small_batches, monkeypatch
):
    data = write_csv(str(tmp_path / "trips.csv"), 12_000)
    calls = collections.Counter()
    encode = streaming_pass.encode_examples

    def counted(batch):
        calls[shards] += 1
        return encode(batch)

    monkeypatch.setattr(streaming_pass, "encode_examples", counted)
    shards = 1
    one = run(tmp_path, "one", data, shards=1)
    shards = 16
    many = run(tmp_path, "many", data, shards=16)
    assert calls[1] > 10  # many batches, two splits each
    assert calls[16] == calls[1]  # per shard, it was 16 times as many calls on smaller batches
    for split in ("train", "eval"):
        whole = records(one, split)[0]
        parts = records(many, split)
        assert len(parts) == 16 and all(parts)
        assert sorted(r for part in parts for r in part) == sorted(whole)
        position = {r: i for i, r in enumerate(whole)}  # (every row is distinct: unique ids)
        for part in parts:  # each shard keeps the rows in input order
            assert [position[r] for r in part] == sorted(position[r] for r in part)
    assert one.statistics() == many.statistics()


def test_statistics_of_high_cardinality_columns_stay_bounded_and_exact(tmp_path, small_batches):
    sizes = (12_000, 36_000)  # both beyond the distinct values tracked (10,000)
    assert sizes[0] > stats.TRACK_DISTINCT
    figures = {}
    for rows in sizes:
        data = write_csv(str(tmp_path / f"trips-{rows}.csv"), rows)
        figures[rows] = run(tmp_path, f"store-{rows}", data).statistics()
        with open(data, newline="", encoding="utf-8") as f:
            table = list(csv.DictReader(f))
        columns = figures[rows]["columns"]
        for name in ("trip_id", "ended"):  # one value per row, or nearly
            assert columns[name]["count"] == rows and columns[name]["missing"] == 0
            assert columns[name]["distinct"] is None
            assert "top" not in columns[name] and "values" not in columns[name]
        for name in ("payment", "area"):  # few values: counted exactly, in every split too
            present = [r[name] for r in table if r[name]]
            counts = collections.Counter(present)
            assert columns[name]["count"] == len(present)
            assert columns[name]["missing"] == rows - len(present)
            assert columns[name]["distinct"] == len(counts)
            assert columns[name]["values"] == {str(k): v for k, v in counts.items()}
            assert [c for _, c in columns[name]["top"]] == sorted(counts.values(), reverse=True)[
                : stats.TOP
            ]
            split_values = collections.Counter()
            for split in figures[rows]["splits"].values():
                split_values.update(split["columns"][name]["values"])
            assert split_values == collections.Counter({str(k): v for k, v in counts.items()})
        fares = [float(r["fare"]) for r in table]
        assert columns["fare"]["min"] == min(fares) and columns["fare"]["max"] == max(fares)
        assert columns["fare"]["mean"] == pytest.approx(sum(fares) / rows, rel=1e-12)
        comment = columns["comment"]
        assert comment["count"] == sum(1 for r in table if r["comment"])
    # Three times the rows, three times the distinct ids: the statistics do not grow with them.
    small, large = (len(json.dumps(figures[n])) for n in sizes)
    assert large < 1.05 * small, (small, large)
    assert os.path.getsize(tmp_path / f"trips-{sizes[1]}.csv") > 2.5 * os.path.getsize(
        tmp_path / f"trips-{sizes[0]}.csv"
    )
