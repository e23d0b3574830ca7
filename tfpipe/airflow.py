"""The Airflow side of the public API: what a DAG file imports (needs apache-airflow).

``build_dag("penguins")`` turns a pipeline into an Airflow DAG; ``build_scoring_dag("penguins")``
builds its scoring DAG (new data drops and new models → predictions). ``data_asset``,
``pushed_model_asset`` and ``predictions_asset`` are the assets a pipeline's DAGs consume and
produce. (A DAG file that imports from here also carries the words Airflow's safe-mode DAG
discovery looks for.)
"""

from tfpipe.pipelines.airflow_dag import (
    build_dag,
    data_asset,
    predictions_asset,
    pushed_model_asset,
)
from tfpipe.pipelines.airflow_scoring import build_scoring_dag

__all__ = [
    "build_dag",
    "build_scoring_dag",
    "data_asset",
    "predictions_asset",
    "pushed_model_asset",
]
