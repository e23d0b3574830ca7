"""The Airflow side of the public API: what a DAG file imports (needs apache-airflow).

``build_dag("penguins")`` turns a pipeline into an Airflow DAG; ``data_asset`` and
``pushed_model_asset`` are the assets a pipeline's DAGs consume and produce. (A DAG file that
imports from here also carries the words Airflow's safe-mode DAG discovery looks for.)
"""

from tfpipe.pipelines.airflow_dag import build_dag, data_asset, pushed_model_asset

__all__ = ["build_dag", "data_asset", "pushed_model_asset"]
