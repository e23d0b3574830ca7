"""Penguins retraining: daily, and from the UI / REST API with a validated trigger form."""

from tfpipe.airflow import build_dag

dag = build_dag("penguins")
