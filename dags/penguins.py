"""Penguins retraining: daily, and from the UI / REST API with a validated trigger form."""

from pipelines.airflow_dag import build_dag

dag = build_dag("penguins")
