"""Windows of daily partitions: date placeholders, the days a run's data interval or a data drop
stands for, and a missing partition refused at planning, by name (fast: no TensorFlow, no
Airflow)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from conftest import example_gen_invocation

from tfpipe.components.core.errors import InputDataError, ParameterError
from tfpipe.components.example_gen.date_partitions import (
    date_in_path,
    expand,
    is_dated,
    last_whole_day,
    window,
)
from tfpipe.pipelines.data_interval import drop_overrides, interval_overrides, windowed_steps
from tfpipe.pipelines.registry import load_pipeline

JAN = [dt.date(2024, 1, d) for d in range(1, 8)]


def land(root, day: dt.date, name: str = "part-0.csv", rows: int = 3) -> str:
    directory = root / f"dt={day.isoformat()}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("a,b\n" + "".join(f"{i},{day.day}\n" for i in range(rows)))
    return str(path)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("/d/dt={ds}/*.csv", "/d/dt=2024-01-05/*.csv"),
        ("/d/dt={{ ds }}/*.csv", "/d/dt=2024-01-05/*.csv"),
        ("/d/{ds_nodash}.parquet", "/d/20240105.parquet"),
        ("/d/{ds:%Y/%m/%d}/*.csv", "/d/2024/01/05/*.csv"),
        ("s3://b/landing/dt={ds}/*", "s3://b/landing/dt=2024-01-05/*"),
    ],
)
def test_a_placeholder_stands_for_the_day_in_its_format(pattern, expected):
    assert is_dated(pattern)
    assert expand(pattern, JAN[4]) == expected


def test_an_unknown_placeholder_is_refused_naming_it():
    with pytest.raises(ParameterError, match=r"'\{date\}'.*\{ds\} \(YYYY-MM-DD\)"):
        is_dated("/d/dt={date}/*.csv")
    assert not is_dated(["/d/a.csv", "/d/*.csv"])


def test_the_window_is_the_last_n_days_oldest_first_and_keeps_undated_patterns():
    win = window(["/d/dt={ds}/*.csv", "/landing/extra.csv"], JAN[4], 3)
    assert win.days == (JAN[2], JAN[3], JAN[4])
    assert win.concrete() == [
        "/d/dt=2024-01-03/*.csv",
        "/d/dt=2024-01-04/*.csv",
        "/d/dt=2024-01-05/*.csv",
        "/landing/extra.csv",
    ]
    assert win.describe() == "the window of 3 daily partitions 2024-01-03 … 2024-01-05"


@pytest.mark.parametrize(
    ("end", "day"),
    [
        (dt.datetime(2024, 1, 6, 0, 0, tzinfo=dt.UTC), JAN[4]),  # midnight trigger: yesterday
        (dt.datetime(2024, 1, 6, 14, 30, tzinfo=dt.UTC), JAN[4]),  # a manual run at 14:30
        (dt.datetime(2024, 1, 6, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), JAN[3]),
        (dt.datetime(2024, 1, 6), JAN[4]),  # naive: UTC
    ],
)
def test_a_data_interval_ends_the_window_with_the_last_whole_utc_day_before_its_end(end, day):
    assert last_whole_day(end) == day


def test_a_drops_day_is_read_from_its_path_where_the_pattern_has_its_placeholder():
    assert date_in_path("/d/dt=2024-01-05/part-3.csv", "/d/dt={ds}/*.csv") == JAN[4]
    assert date_in_path("/d/2024/01/05/x.csv", "/d/{ds:%Y/%m/%d}/*.csv") == JAN[4]
    assert date_in_path("/d/20240105-x.csv", "/d/{ds_nodash}-*.csv") == JAN[4]
    assert date_in_path("/d/dt=2024-13-05/a.csv", "/d/dt={ds}/*.csv") is None  # no such day
    assert date_in_path("/elsewhere/a.csv", "/d/dt={ds}/*.csv") is None
    assert date_in_path("/d/dt=2024-01-05/sub/a.csv", "/d/dt={ds}/*.csv") is None  # * is one level


def test_the_resolve_hook_matches_every_day_of_the_window(tmp_path):
    files = [land(tmp_path / "data", day) for day in JAN[:5]]
    inv = example_gen_invocation(
        str(tmp_path / "artifacts"),
        input=str(tmp_path / "data" / "dt={ds}" / "*.csv"),
        window_days=3,
        data_date="2024-01-05",
    )
    assert inv.external.values["input_files"] == files[2:5]
    shifted = example_gen_invocation(
        str(tmp_path / "artifacts"),
        input=str(tmp_path / "data" / "dt={ds}" / "*.csv"),
        window_days=3,
        data_date="2024-01-04",
    )
    assert shifted.external.values["input_files"] == files[1:4]
    assert shifted.fingerprint != inv.fingerprint


def test_a_missing_partition_fails_planning_naming_every_missing_day(tmp_path):
    for day in (JAN[0], JAN[2]):
        land(tmp_path / "data", day)
    pattern = str(tmp_path / "data" / "dt={ds}" / "*.csv")
    with pytest.raises(InputDataError) as failed:
        example_gen_invocation(
            str(tmp_path / "artifacts"), input=pattern, window_days=4, data_date="2024-01-04"
        )
    message = str(failed.value)
    assert message.startswith(
        "example_gen: the window of 4 daily partitions 2024-01-01 … 2024-01-04 "
        "(data_date 2024-01-04) lacks 2 partition(s), no file matching: "
    )
    for day in ("2024-01-02", "2024-01-04"):
        assert f"{day} ('{expand(pattern, dt.date.fromisoformat(day))}')" in message
    assert "2024-01-03 (" not in message
    assert "re-run this interval" in message
    # An empty partition directory is a missing partition too: no file, no data.
    (tmp_path / "data" / "dt=2024-01-02").mkdir()
    lacks = r"lacks 1 partition\(s\), no file matching: 2024-01-02 "
    with pytest.raises(InputDataError, match=lacks):
        example_gen_invocation(
            str(tmp_path / "artifacts"), input=pattern, window_days=2, data_date="2024-01-03"
        )


def test_a_run_that_names_no_data_date_ends_its_window_yesterday(tmp_path):
    yesterday = last_whole_day()
    pattern = str(tmp_path / "data" / "dt={ds}" / "*.csv")
    with pytest.raises(InputDataError, match=f"data_date {yesterday}: yesterday, the run gave"):
        example_gen_invocation(str(tmp_path / "artifacts"), input=pattern)
    path = land(tmp_path / "data", yesterday)
    inv = example_gen_invocation(str(tmp_path / "artifacts"), input=pattern)
    assert inv.external.values["input_files"] == [path]


def test_a_window_without_a_placeholder_is_refused(tmp_path):
    land(tmp_path, JAN[0])
    with pytest.raises(ParameterError, match="window_days=3 needs a date placeholder"):
        example_gen_invocation(
            str(tmp_path / "artifacts"), input=str(tmp_path / "*" / "*.csv"), window_days=3
        )


@pytest.fixture
def daily(tmp_path):
    return load_pipeline("penguins_daily", str(tmp_path / "home"))


def test_the_data_interval_sets_the_windowed_steps_data_date_unless_the_trigger_gives_it(daily):
    assert windowed_steps(daily) == ["example_gen"]
    assert windowed_steps(load_pipeline("penguins", "/tmp/h")) == []
    end = dt.datetime(2024, 1, 6, tzinfo=dt.UTC)
    assert interval_overrides(daily, end, {}) == {"example_gen.data_date": "2024-01-05"}
    assert interval_overrides(daily, end, {"data_date": "2024-01-02"}) == {}
    assert interval_overrides(daily, None, {}) == {}


def test_a_data_drop_ends_the_window_with_its_day_and_is_always_in_it(daily, tmp_path):
    partitions = str(tmp_path / "home" / "data" / "penguins_daily" / "dt={ds}" / "*.csv")
    root = tmp_path / "home" / "data" / "penguins_daily"
    inside = land(root, JAN[4])
    older = land(root, JAN[3], "late.csv")
    got = drop_overrides(daily, {"data": [older, inside], "train_steps": 40})
    assert got == {
        "train_steps": 40,
        "example_gen.input": [partitions],  # both drops lie in the window's partitions
        "example_gen.data_date": "2024-01-05",
    }
    stale = land(root, JAN[0], "very-late.csv")  # outside the window ending 2024-01-05
    outside = str(tmp_path / "landing.csv")
    got = drop_overrides(daily, {"data": [inside, stale, outside], "data_date": "2024-01-05"})
    assert got["example_gen.input"] == [partitions, stale, outside]
    with pytest.raises(ParameterError, match=r"'/srv/x\.csv' does not say which day"):
        drop_overrides(daily, {"data": "/srv/x.csv"})
    assert drop_overrides(daily, {"data": "/srv/dt={ds}/*.csv"}) == {"data": "/srv/dt={ds}/*.csv"}
    assert os.path.isfile(inside)


def _serialized(dag):
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def test_a_windowed_dag_runs_one_at_a_time_and_catches_up_in_order_from_its_start_date(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    from airflow.timetables.base import TimeRestriction

    from tfpipe.airflow import build_dag

    home = str(tmp_path / "home")
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    daily = _serialized(build_dag("penguins_daily", home=home, start_date=start))
    assert (daily.max_active_runs, daily.catchup) == (1, True)
    restriction = TimeRestriction(earliest=daily.start_date, latest=None, catchup=True)
    info, ends = None, []
    for _ in range(3):
        info = daily.timetable.next_dagrun_info(
            last_automated_data_interval=info and info.data_interval, restriction=restriction
        )
        ends.append(last_whole_day(info.data_interval.end))
    assert ends == [dt.date(2023, 12, 31), JAN[0], JAN[1]]  # every missed day, oldest first
    plain = _serialized(build_dag("penguins_daily", home=home))  # no start date: no catch-up
    assert (plain.max_active_runs, plain.catchup) == (1, False)
    penguins = _serialized(build_dag("penguins", home=home))  # not windowed: unchanged
    assert (penguins.max_active_runs, penguins.catchup) == (4, False)


def test_an_airflow_run_sets_the_window_from_its_interval_its_trigger_or_its_drops(
    daily, tmp_path, monkeypatch
):
    from types import SimpleNamespace

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    from tfpipe.pipelines.airflow_dag import window_of_run

    def context(start=None, end=None, run_after=None):
        run = SimpleNamespace(data_interval_start=start, data_interval_end=end, run_after=run_after)
        return {"dag_run": run}

    midnight = dt.datetime(2024, 1, 6, tzinfo=dt.UTC)
    scheduled = window_of_run(daily, context(midnight, midnight), {"train_steps": 40})
    assert scheduled == {"train_steps": 40, "example_gen.data_date": "2024-01-05"}
    manual = window_of_run(daily, context(run_after=midnight + dt.timedelta(hours=14)), {})
    assert manual == {"example_gen.data_date": "2024-01-05"}  # no interval: when triggered
    given = window_of_run(daily, context(midnight, midnight), {"data_date": "2024-01-02"})
    assert given == {"data_date": "2024-01-02"}
    drop = land(tmp_path / "home" / "data" / "penguins_daily", JAN[2])
    dropped = window_of_run(daily, context(midnight, midnight), {"data": drop})
    assert dropped["example_gen.data_date"] == "2024-01-03"  # the drop's day, not the interval's
    penguins = load_pipeline("penguins", str(tmp_path / "home"))
    assert window_of_run(penguins, context(midnight, midnight), {"data": drop}) == {"data": drop}


def test_a_data_date_that_is_no_date_is_refused_before_a_run_exists(daily, tmp_path):
    from tfpipe.pipelines.triggers import check_values

    home = str(tmp_path / "home")
    assert check_values(daily, home, {"data_date": "2024-01-05"}, "conf") == []
    [problem] = check_values(daily, home, {"data_date": "yesterday"}, "conf")
    assert problem.startswith("conf: 'data_date' 'yesterday' does not match")
