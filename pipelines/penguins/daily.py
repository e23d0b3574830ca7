"""The penguins pipeline on a rolling window of daily data drops: each day's files land in
``$TFPIPE_HOME/data/penguins_daily/dt=YYYY-MM-DD/``, and a run trains on the last three days'
partitions, ending with its data date (see ``tfpipe.pipelines.data_interval`` for how an Airflow
run's data interval, or a data drop, sets it). A day without data fails the run at planning,
naming the partition."""

from __future__ import annotations

import os
from dataclasses import replace

from tfpipe import Pipeline, RunParam, serving_base

from .pipeline import build as build_penguins

NAME = "penguins_daily"
WINDOW_DAYS = 3


def partitions(home: str) -> str:
    """Where the daily drops land: one directory per day."""
    return os.path.join(home, "data", NAME, "dt={ds}")


def build(home: str) -> Pipeline:
    base = build_penguins(home)
    data_date = RunParam(
        "data_date",
        "example_gen.data_date",
        {"pattern": r"^\d{4}-\d{2}-\d{2}$"},  # refused in the trigger form, not in a task
        description="the window's last day (YYYY-MM-DD); empty: the last whole day before the "
        "run's data interval ends",
        optional=True,
    )
    run_params = tuple(
        replace(
            p,
            description="files of a data drop, added to the window ending with their day "
            "(read from their dt=YYYY-MM-DD directory)",
        )
        if p.name == "data"
        else p
        for p in base.run_params
    )
    served = os.path.join(serving_base(home), NAME)
    return replace(
        base,
        name=NAME,
        description="Penguin species, retrained daily on the last three days of data drops.",
        run_params=(*run_params, data_date),
    ).with_overrides(
        {
            "example_gen.input": os.path.join(partitions(home), "*.csv"),
            "example_gen.window_days": WINDOW_DAYS,
            "example_validator.baseline_model_dir": served,
            "evaluator.baseline_model_dir": served,
            "pusher.model_name": NAME,
        }
    )
