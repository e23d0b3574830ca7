"""Penguins retraining on a rolling window: each daily run trains on the last three days' drops
(`$TFPIPE_HOME/data/penguins_daily/dt=YYYY-MM-DD/*.csv`), ending with the day before the run's
data interval ends. One run at a time, so a backfill (`airflow backfill create --dag-id
penguins_daily --from-date … --to-date … --max-active-runs 1`) trains the missed days in order; a
missing day fails its run at once, naming the partition."""

from tfpipe.airflow import build_dag

dag = build_dag("penguins_daily")
