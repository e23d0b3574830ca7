"""A producer: lands a new penguins data file and announces it on the `penguins_data` asset."""

from datetime import datetime

from airflow.sdk import DAG, Param, task

from tfpipe import default_home
from tfpipe.airflow import data_asset

with DAG(
    dag_id="penguins_data_drop",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={
        "source": Param(
            "",
            type="string",
            description="a CSV to land (default: the "
            "penguins data shipped with the palmerpenguins package)",
        )
    },
    tags=["tfpipe", "producer"],
) as dag:

    @task(outlets=[data_asset("penguins")])
    def land(**context) -> str:
        import importlib.util
        import os
        import shutil
        import time

        # The example's data: the CSV inside the palmerpenguins package (found, not imported).
        package = importlib.util.find_spec("palmerpenguins")
        shipped = os.path.join(os.path.dirname(package.origin), "data", "penguins.csv")
        source = context["params"]["source"] or shipped
        target_dir = os.path.join(default_home(), "data", "penguins")
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, f"drop-{int(time.time() * 1000)}.csv")
        shutil.copy(source, target + ".tmp")
        os.rename(target + ".tmp", target)  # the file appears whole, or not at all
        context["outlet_events"][data_asset("penguins")].extra = {"data": target}
        return target

    land()
