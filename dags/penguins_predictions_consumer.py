"""A consumer downstream of scoring (what a data team's DAG looks like): started by the
`penguins_predictions` asset, it reads the event's extra (the predictions' URI, files and model
version) and finds the files. Here it records what arrived; a real one would load them."""

from datetime import datetime

from airflow.sdk import DAG, task

from tfpipe import prediction_files
from tfpipe.airflow import predictions_asset

PREDICTIONS = predictions_asset("penguins")

with DAG(
    dag_id="penguins_predictions_consumer",
    schedule=[PREDICTIONS],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["tfpipe", "consumer"],
) as dag:

    @task(inlets=[PREDICTIONS])
    def receive(**context) -> list[dict]:
        import os

        received = []
        for event in context["triggering_asset_events"][PREDICTIONS]:
            extra = dict(event.extra or {})
            files = prediction_files(extra["uri"])  # local paths, in row order
            received.append(
                {
                    **extra,
                    "local_files": files,
                    "bytes": sum(os.path.getsize(f) for f in files),
                }
            )
        return received

    receive()
