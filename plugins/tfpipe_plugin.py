"""Loads tfpipe's Airflow plugin (reports in the UI, trigger validation, run notes) from this repo's
plugins folder; a wheel install registers it through the ``airflow.plugins`` entry point."""

from tfpipe.pipelines.airflow_plugin import TfpipePlugin

__all__ = ["TfpipePlugin"]
