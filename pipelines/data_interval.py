"""From an Airflow run to a windowed step's data date: which daily partitions a run trains on.

A step whose data pattern has a date placeholder (``/data/dt={ds}/*.csv``, see
``components/example_gen/date_partitions.py``) is *windowed*: its ``window_days`` partitions end
with its ``data_date``. A run sets that date:

- a scheduled, backfilled or manual DAG run: the last whole UTC day before its data interval's
  end. For Airflow's classic daily interval [D, D+1) that is D (what ``{{ ds }}`` names); for a
  cron trigger at midnight of D+1 (tfpipe's timetable, an interval of no length) also D: the day
  that just ended, whose data is complete; a manual run at D 14:30 trains up to D-1, yesterday.
- a data drop (an asset event whose extra names files): the drop's day, read from each file's
  path where the pattern has its placeholder (``…/dt=2024-01-05/part-0.csv`` → 2024-01-05), or
  the extra's ``data_date``; the window ends with the latest drop's day, and a dropped file the
  window's patterns do not match (e.g. it landed outside the partition layout) is added to it, so
  every drop is trained on. A drop whose day cannot be told is refused, naming the file.
- a ``data_date`` given by the trigger (conf, extra, ``--set``) wins over both.

Pure: no Airflow import (the DAG builder passes the interval's end).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tfpipe.components import get_spec
from tfpipe.components.core.errors import ParameterError
from tfpipe.components.example_gen.date_partitions import (
    date_in_path,
    is_dated,
    last_whole_day,
    window,
)
from tfpipe.pipelines.definition import Pipeline

DATE_PARAM = "data_date"


def windowed_steps(pipeline: Pipeline) -> list[str]:
    """The steps whose data pattern names daily partitions (and that take a data date)."""
    found = []
    for step in pipeline.steps:
        spec = get_spec(step.component)
        if not spec.data_param or DATE_PARAM not in spec.params.model_fields:
            continue
        data = pipeline.step_params(step).get(spec.data_param)
        if data and is_dated(data):
            found.append(step.name)
    return found


def _given(pipeline: Pipeline, step: str, overrides: dict[str, Any]) -> Any:
    """The step's data date as the trigger gave it (by a run parameter or the step's name)."""
    aliases = {p.name: p.target for p in pipeline.run_params}
    return next(
        (
            value
            for key, value in overrides.items()
            if aliases.get(key, key) == f"{step}.{DATE_PARAM}" and value is not None
        ),
        None,
    )


def interval_overrides(
    pipeline: Pipeline, interval_end: dt.datetime | None, overrides: dict[str, Any]
) -> dict[str, Any]:
    """``{"<step>.data_date": …}`` for each windowed step whose date the trigger did not give:
    the last whole day before the run's data interval ends."""
    if interval_end is None:
        return {}
    day = last_whole_day(interval_end).isoformat()
    return {
        f"{step}.{DATE_PARAM}": day
        for step in windowed_steps(pipeline)
        if _given(pipeline, step, overrides) is None
    }


def drop_overrides(
    pipeline: Pipeline, overrides: dict[str, Any], data_key: str = "data"
) -> dict[str, Any]:
    """``overrides`` with a data drop's files (``overrides[data_key]``, a run parameter that sets
    a windowed step's data) turned into that step's window: its dated pattern kept, its data date
    the latest drop's day, and each dropped file the window does not match added to it."""
    target = next((p.target for p in pipeline.run_params if p.name == data_key), None)
    files = overrides.get(data_key)
    if target is None or files is None:
        return overrides
    step_name, _, param = target.partition(".")
    if step_name not in windowed_steps(pipeline) or is_dated(files):
        return overrides  # not windowed, or the trigger names another dated layout
    step = pipeline.step(step_name)
    params = pipeline.step_params(step)
    patterns = [params[param]] if isinstance(params[param], str) else list(params[param])
    dropped = [files] if isinstance(files, str) else list(files)
    given = _given(pipeline, step_name, overrides)
    if given is not None:
        last = dt.date.fromisoformat(str(given))
    else:
        last = max(drop_day(path, patterns) for path in dropped)
    days = set(window(patterns, last, int(params.get("window_days", 1))).days)
    outside = [path for path in dropped if not any(date_in_path(path, p) in days for p in patterns)]
    out = {k: v for k, v in overrides.items() if k != data_key}
    out[f"{step_name}.{param}"] = patterns + outside
    out[f"{step_name}.{DATE_PARAM}"] = last.isoformat()
    return out


def drop_day(path: str, patterns: list[str]) -> dt.date:
    """The day a dropped file belongs to, from its path and the windowed patterns."""
    for pattern in patterns:
        day = date_in_path(path, pattern)
        if day is not None:
            return day
    raise ParameterError(
        f"the data drop '{path}' does not say which day it belongs to: its path does not fit the "
        f"pipeline's daily partitions {patterns}; land it in its day's partition, or give "
        f"'{DATE_PARAM}' (YYYY-MM-DD) in the event's extra"
    )


def interval_note(start: Any, end: Any, day: str | None) -> str:
    """How a run's data interval became its data date, for error messages."""
    span = " – ".join(t.isoformat() if hasattr(t, "isoformat") else str(t) for t in (start, end))
    return f"the run's data interval {span} → data_date {day}" if day else ""
