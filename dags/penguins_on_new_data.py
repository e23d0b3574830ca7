"""Penguins retraining started by a data drop: any producer that updates the `penguins_data` asset
(a DAG outlet or `POST /api/v2/assets/events`, optionally with {"data": "<glob>"} as extra)."""

from tfpipe.airflow import build_dag, data_asset

dag = build_dag("penguins", dag_id="penguins_on_new_data", schedule=[data_asset("penguins")])
