"""Penguins retraining on a rolling window of daily partitions
(`$TFPIPE_HOME/data/penguins_daily/dt=YYYY-MM-DD/*.csv`, the last three days).

- `penguins_daily`: each daily run trains on the window ending with the last whole day before its
  data interval ends. One run at a time, so missed days (a backfill: `airflow backfill create
  --dag-id penguins_daily --from-date … --to-date … --max-active-runs 1`) train in order; a day
  without data fails its run at once, naming the partition, and clearing the run once the data
  has landed trains on it.
- `penguins_daily_on_new_data`: a data drop (the `penguins_daily_data` asset, its extra naming the
  files, e.g. `{"data": ".../dt=2024-01-05/part-0.csv"}`) retrains on the window ending with the
  drop's day, read from its partition directory.
"""

from tfpipe.airflow import build_dag, data_asset

dag = build_dag("penguins_daily")
on_new_data = build_dag(
    "penguins_daily",
    dag_id="penguins_daily_on_new_data",
    schedule=[data_asset("penguins_daily")],
)
