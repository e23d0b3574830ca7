"""Penguins scoring: each data drop (`penguins_data`) is scored with the served model, and each
pushed model (`penguins_pushed_model`) re-scores the latest drop; the predictions are announced on
the `penguins_predictions` asset."""

from tfpipe.airflow import build_scoring_dag

dag = build_scoring_dag("penguins")
